"""Plug-ins: the user's own modules that register methods and exit rules.

A plug-in is a Python module that, when imported, registers what it adds:
`pf.methods.registry.register_method(MethodSpec(...))` and
`pf.exits.registry.register_rule(ExitRule(...))` (README, "Add your own method"). It is named
by its module name (`my_methods`, `lab.early_exit`) and imported from the import path
(PYTHONPATH) or from the working directory, which is added to the end of the import path
(Snakemake runs every job in its working directory, so a module beside the Snakefile, or in
the `--directory` given to it, is found by every job, on a cluster node as well).

Every process that reads a method or a rule name imports the same plug-ins:
- the workflow: the config's `plugins:` list, imported before the config is checked, and
  exported to every job as the environment variable PF_PLUGINS (workflow/rules/common.smk
  puts `export PF_PLUGINS=...` in front of every job's command, so a SLURM job's script
  carries it too);
- `pf` by hand: `pf --plugin MODULE COMMAND ...` (repeatable) and/or PF_PLUGINS
  (comma-separated module names).
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable

ENV_VAR = "PF_PLUGINS"


def from_env(environ: dict[str, str] | None = None) -> list[str]:
    """The module names in PF_PLUGINS (comma- or space-separated)."""
    text = (os.environ if environ is None else environ).get(ENV_VAR, "")
    return [name for name in text.replace(",", " ").split() if name]


def env_value(names: Iterable[str]) -> str:
    """PF_PLUGINS for `names` (what the workflow exports to its jobs)."""
    return ",".join(names)


def load_plugins(names: Iterable[str], where: str = "plug-in") -> list[str]:
    """Import each module of `names` once (it registers its methods and rules); the module
    names, in order. PfError naming the module and `where` it was asked for when one cannot
    be imported."""
    from pf.errors import PfError

    names = list(dict.fromkeys(str(n).strip() for n in names if str(n).strip()))
    if not names:
        return []
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.append(cwd)
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise PfError(f"{where} '{name}': cannot import it ({err}); a plug-in is a module "
                          f"importable from PYTHONPATH or from the working directory "
                          f"({cwd})") from None
    return names
