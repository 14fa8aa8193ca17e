"""The `pf` command line as a newcomer meets it: help everywhere, quiet closed pipes."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pf.cli import COMMANDS, EXIT_BROKEN_PIPE, build_parser

REPO = Path(__file__).resolve().parents[1]
# Commands whose help must show a worked example (an "example" section in the epilog).
MAIN_COMMANDS = ("data", "download", "prepare", "train", "outputs", "costs", "evaluate",
                 "curve", "latency", "collect", "report", "diff")


def _subparsers(parser: argparse.ArgumentParser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield action


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, parser, the help line its parent lists) of every (sub)command."""
    for action in _subparsers(parser):
        listed = {a.dest: a.help for a in action._choices_actions}
        for name, sub in action.choices.items():
            yield path + (name,), sub, listed.get(name)
            yield from walk(sub, path + (name,))


def test_every_command_has_description_and_every_option_help():
    parser = build_parser()
    commands = list(walk(parser))
    assert {p[0] for p, _, _ in commands} == set(COMMANDS)
    missing = []
    for path, sub, listed in commands:
        name = "pf " + " ".join(path)
        if not (listed or "").strip():
            missing.append(f"{name}: no help line in its parent's list")
        if not (sub.description or "").strip():
            missing.append(f"{name}: no description")
        for action in sub._actions:
            if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
                continue
            if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
                missing.append(f"{name}: {'/'.join(action.option_strings) or action.dest} "
                               f"has no help")
    assert not missing, "\n".join(missing)


def test_main_commands_show_an_example():
    parser = build_parser()
    epilogs = {path[0]: sub.epilog or "" for path, sub, _ in walk(parser) if len(path) == 1}
    lacking = [c for c in MAIN_COMMANDS if "example" not in epilogs[c].lower()
               or f"pf {c}" not in epilogs[c]]
    assert not lacking, f"no worked example in the help of: {lacking}"
    assert "example" in (parser.epilog or "")


def test_help_shows_defaults_and_keeps_example_layout():
    help_text = build_parser("prepare")._subparsers._group_actions[0].choices["prepare"].format_help()
    assert "(default: 128)" in help_text                     # --max-length
    assert "(default: 0.0)" in help_text                     # --heldout-fraction
    assert "\\\n      --backbone-json" in help_text           # the example keeps its lines


def test_pf_alone_prints_the_commands():
    res = subprocess.run([sys.executable, "-m", "pf"], capture_output=True, text=True,
                         cwd=REPO, timeout=120)
    assert res.returncode == 2 and res.stdout == ""
    assert "download" in res.stderr and "examples:" in res.stderr


# ---- a closed pipe ------------------------------------------------------------------

def _run_into_closed_pipe(args: list[str]) -> subprocess.CompletedProcess:
    """Run `python -m pf ARGS` with stdout a pipe whose reading end is already closed
    (what `| head -1` becomes once head has exited): every write gets EPIPE."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, "-m", "pf", *args], stdout=write_end,
                              stderr=subprocess.PIPE, text=True, cwd=REPO, timeout=120)
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [
    ["data", "summary", "--task", "all", "--source", "synthetic"],
    ["data", "summary", "--task", "rte", "--source", "synthetic", "--json"],
    ["costs", "--json"],
    ["download", "--config", "config/smoke.yaml"],
])
def test_closed_pipe_exits_quietly(args):
    res = _run_into_closed_pipe(args)
    assert res.stderr == "", res.stderr                     # no BrokenPipeError traceback
    assert res.returncode == EXIT_BROKEN_PIPE                # as a shell reports SIGPIPE


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_into_closed_pipe_is_quiet(command):
    res = _run_into_closed_pipe([command, "--help"] if command else ["--help"])
    assert res.stderr == "", res.stderr
    # argparse itself drops the OSError of a help text it cannot write (exit 0); what it
    # leaves in the buffer fails at our flush (141)
    assert res.returncode in (0, EXIT_BROKEN_PIPE)


def test_head_closes_the_pipe_quietly():
    """The issue's own command line, through a shell pipe into `head -1`."""
    cmd = (f"{sys.executable} -m pf data summary --task all --source synthetic | head -1; "
           f"echo status=${{PIPESTATUS[0]}}")
    res = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert res.stderr == "", res.stderr
    first, status = res.stdout.splitlines()
    assert first.startswith("mnli (synthetic)")
    # head may read everything before it exits (then the status is 0) or not (141)
    assert status in ("status=0", f"status={EXIT_BROKEN_PIPE}")


def test_open_pipe_reads_everything():
    res = subprocess.run([sys.executable, "-m", "pf", "data", "summary", "--task", "all",
                          "--source", "synthetic"], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout.count("(synthetic)") == 6
