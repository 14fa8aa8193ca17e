"""The `pf` command line.

Each sub-command lives in the module that holds its logic and exposes
`register(subparsers)`; that function adds its parser and sets `func` to a callable taking
the parsed arguments and returning an exit status. Modules are imported lazily so that the
light commands (exits, reports) never pay for importing torch.

Plug-ins (pf/plugins.py) are imported before any command is built, so the methods and rules
they register are choices of every command: `pf --plugin MODULE COMMAND ...` (repeatable)
and the modules named in PF_PLUGINS (what the workflow's jobs get).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys

# command name -> module that registers it
COMMANDS: dict[str, str] = {
    "data": "pf.data.cli",
    "download": "pf.download",
    "prepare": "pf.prepare",
    "train": "pf.train.cli",
    "train-many": "pf.train.many",
    "outputs": "pf.outputs",
    "costs": "pf.costs",
    "evaluate": "pf.evaluate",
    "curve": "pf.curves",
    "latency": "pf.latency",
    "collect": "pf.reports.collect",
    "report": "pf.reports.cli",
    "diff": "pf.reports.diff",
}

EPILOG = """\
examples:
  pf data summary --task all --source synthetic      what the offline stand-in data holds
  pf download --config config/paper.yaml             fetch a config's hub models and data
  pf costs --hidden 768 --layers 12                  parameters and FLOPs of every exit head
  pf --plugin my_methods costs                      a plug-in's methods too (README)
  snakemake all --cores 4 --configfile config/smoke.yaml   the whole DAG (see README.md)

`pf COMMAND --help` describes a command, with an example. The workflow's rules call these
commands; a run of the whole suite goes through Snakemake.
"""

# What a shell reports for a process killed by SIGPIPE (`yes | head -1` under pipefail).
EXIT_BROKEN_PIPE = 128 + signal.SIGPIPE


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of multi-line descriptions and examples (wrapping one-line ones),
    and appends an option's default when it has one and its help does not mention it."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" not in text.strip():
            return argparse.HelpFormatter._fill_text(self, text, width, indent)
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (not action.option_strings or "default" in text.lower() or default is None
                or default is False or default == [] or default == argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """ArgumentParser whose help keeps example layouts and shows defaults (HelpFormatter).

    A command that asks for argparse's plain or raw-description formatter gets
    HelpFormatter, which refines both; sub-commands' parsers are of this class too."""

    def __init__(self, *args, formatter_class=HelpFormatter, **kwargs):
        if issubclass(HelpFormatter, formatter_class):
            formatter_class = HelpFormatter
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = Parser(
        prog="pf",
        description="Global Past-Future early exit: reproduction suite (Liao et al., NAACL 2021).",
        epilog=EPILOG,
    )
    parser.add_argument("--plugin", action="append", default=[], metavar="MODULE",
                        help="import MODULE first: a plug-in that registers methods and exit "
                             "rules (repeatable; also $PF_PLUGINS, comma-separated)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=f"(see `pf {name} --help`)")
            continue
        importlib.import_module(module).register(sub)
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null: the reader has gone, and the interpreter's final flush of
    what is still buffered must not raise BrokenPipeError again at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout already closed or not a real file
        pass


def _flush_stdout() -> bool:
    """Flush stdout; False (and stdout silenced) when its reader has gone."""
    try:
        sys.stdout.flush()
        return True
    except BrokenPipeError:
        _silence_stdout()
        return False


def split_plugins(argv: list[str]) -> tuple[list[str], str | None]:
    """(the modules of the leading `--plugin MODULE` options, the command after them)."""
    plugins, i = [], 0
    while i < len(argv):
        if argv[i] == "--plugin" and i + 1 < len(argv):
            plugins.append(argv[i + 1])
            i += 2
        elif argv[i].startswith("--plugin="):
            plugins.append(argv[i].partition("=")[2])
            i += 1
        else:
            break
    return plugins, (argv[i] if i < len(argv) else None)


def main(argv: list[str] | None = None) -> int:
    from pf.errors import PfError
    from pf.plugins import from_env, load_plugins

    argv = list(sys.argv[1:] if argv is None else argv)
    plugins, first = split_plugins(argv)
    # Import only the module of the command asked for (torch is slow to import).
    only = first if first in COMMANDS else None
    command = only or "pf"
    try:
        load_plugins([*from_env(), *plugins], "plug-in")
        parser = build_parser(only)
        if not argv:  # a newcomer typing `pf` gets the commands and examples, not one line
            parser.print_help(sys.stderr)
            return 2
        args = parser.parse_args(argv)
        command = args.command
        status = int(args.func(args) or 0)
    except BrokenPipeError:
        # The reader of our output went away (`pf ... | head -1`): stop quietly, like any
        # Unix tool killed by SIGPIPE. Files are written atomically, so nothing is half-done.
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except SystemExit:
        # argparse printed --help or a usage error; the pipe may have closed meanwhile.
        if not _flush_stdout():
            return EXIT_BROKEN_PIPE
        raise
    except PfError as err:
        print(f"pf {command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    # What is still buffered goes out now, where a closed pipe is handled, not at exit.
    return status if _flush_stdout() else EXIT_BROKEN_PIPE


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
