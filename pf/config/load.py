"""`load_config` / `check_config`: a validated config with its defaults filled in.

Validation has two layers: the JSON Schema (pf/config/schema.py; all its errors at once) and
the checks JSON Schema cannot express (pf/config/checks.py), run on a config that passed the
schema. The config's plug-ins (`plugins:`) are imported first, so the methods and rules they
register are known to the checks.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

from pf.config.checks import semantic_errors
from pf.config.schema import coerce_scalar_strings, fill_defaults, load_schema, schema_errors
from pf.errors import PfError
from pf.io import read_yaml
from pf.plugins import load_plugins


def load_config(source: str | os.PathLike | Mapping[str, Any],
                overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Read (if a path), validate and complete a workflow configuration; PfError if invalid."""
    if isinstance(source, Mapping):
        config, where = copy.deepcopy(dict(source)), "config"
    else:
        config, where = read_yaml(source), str(source)
    if overrides:
        config = merge(config, overrides)
    return check_config(config, where)


def merge(base: Any, extra: Mapping[str, Any]) -> Any:
    out = copy.deepcopy(base) if isinstance(base, dict) else {}
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def check_config(config: Any, where: str = "config") -> dict[str, Any]:
    """Validate against the schema, fill defaults, import the plug-ins, run the semantic
    checks; return the config.

    All schema errors are reported at once (one per line); semantic checks run only on a
    config that passed the schema.
    """
    if not isinstance(config, dict):
        raise PfError(f"{where}: expected a mapping at the top level, got {type(config).__name__}")
    config = coerce_scalar_strings(config)     # a copy: the caller's config is untouched
    errors = schema_errors(config, where)
    if errors:
        raise PfError("invalid configuration:\n  " + "\n  ".join(errors))
    fill_defaults(config, load_schema(), load_schema())
    # Snakemake and the shell commands of its rules take paths as written: a leading '~'
    # would make a folder named '~' in the checkout (make clean-results expands it the same way)
    for key in ("results_dir", "reports_dir", "logs_dir"):
        config[key] = os.path.expanduser(config[key])
    if config["data"].get("glue_dir"):
        config["data"]["glue_dir"] = os.path.expanduser(config["data"]["glue_dir"])
    load_plugins(config["plugins"], f"{where}: plugins: plug-in")
    errors = semantic_errors(config, where)
    if errors:
        raise PfError("invalid configuration:\n  " + "\n  ".join(errors))
    return config
