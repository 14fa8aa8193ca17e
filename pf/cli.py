"""The `pf` command line.

Each sub-command lives in the module that holds its logic and exposes
`register(subparsers)`; that function adds its parser and sets `func` to a callable taking
the parsed arguments and returning an exit status. Modules are imported lazily so that the
light commands (exits, reports) never pay for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# command name -> module that registers it
COMMANDS: dict[str, str] = {
    "data": "pf.data.cli",
    "prepare": "pf.prepare",
    "train": "pf.train.cli",
    "outputs": "pf.outputs",
    "costs": "pf.costs",
    "evaluate": "pf.evaluate",
    "curve": "pf.curves",
    "latency": "pf.latency",
    "collect": "pf.reports.collect",
    "report": "pf.reports.cli",
    "diff": "pf.reports.diff",
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pf",
        description="Global Past-Future early exit: reproduction suite (Liao et al., NAACL 2021).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=f"(see `pf {name} --help`)")
            continue
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from pf.errors import PfError

    argv = list(sys.argv[1:] if argv is None else argv)
    # Import only the module of the command asked for (torch is slow to import).
    only = argv[0] if argv and argv[0] in COMMANDS else None
    parser = build_parser(only)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except PfError as err:
        print(f"pf {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.exit(main())
