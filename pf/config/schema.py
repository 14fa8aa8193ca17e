"""Loading a workflow config: YAML, the JSON Schema (errors naming the key path, with a
"did you mean" from difflib over the keys allowed at that place) and its defaults.

The schema is `workflow/schemas/config.schema.yaml` (`additionalProperties: false` on every
object); the Snakefile validates against it too.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pf.errors import did_you_mean
from pf.io import read_yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"


def key_path(path: Iterable[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


_SCHEMA_CACHE: dict[str, Any] = {}


def load_schema() -> dict[str, Any]:
    key = str(SCHEMA_PATH)
    if key not in _SCHEMA_CACHE:
        _SCHEMA_CACHE[key] = read_yaml(SCHEMA_PATH)
    return _SCHEMA_CACHE[key]


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    while isinstance(schema, Mapping) and "$ref" in schema:
        ref = schema["$ref"]
        assert ref.startswith("#/"), ref
        node: Any = root
        for part in ref[2:].split("/"):
            node = node[part]
        schema = node
    return schema


def _allowed_keys(schema: Mapping[str, Any], root: Mapping[str, Any]) -> list[str]:
    schema = _resolve(schema, root)
    return sorted((schema.get("properties") or {}).keys())


def _schema_at(path: Iterable[Any], root: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The (resolved) sub-schema that applies to the instance at `path`."""
    node: Any = _resolve(root, root)
    for part in path:
        if isinstance(part, int):
            node = node.get("items")
        elif part in (node.get("properties") or {}):
            node = node["properties"][part]
        elif isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return None
        if node is None:
            return None
        node = _resolve(node, root)
    return node


def fill_defaults(instance: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> None:
    """Insert the schema's `default`s into `instance` (recursively), like snakemake.validate."""
    schema = _resolve(schema, root)
    if not isinstance(instance, dict):
        return
    props = schema.get("properties") or {}
    for key, sub in props.items():
        sub_r = _resolve(sub, root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        elif key not in instance and "default" in sub_r:
            instance[key] = copy.deepcopy(sub_r["default"])
        if key in instance:
            fill_defaults(instance[key], sub_r, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        for key, value in instance.items():
            if key not in props:
                fill_defaults(value, extra, root)


# Scalar JSON types a string may stand for (Snakemake's --config reads every value inside a
# YAML mapping with PyYAML's BaseLoader, so `--config 'training={defaults: {epochs: 10}}'`
# arrives as the string "10").
_SCALAR_TYPES = {"integer": (int,), "number": (int, float), "boolean": (bool,),
                 "null": (type(None),)}


def _scalar_of(text: str, wanted: list[str]) -> tuple[bool, Any]:
    """(True, value) when `text` spells a value of one of the `wanted` JSON types."""
    import math

    import yaml

    if text.strip().lower() in ("yes", "no", "on", "off", "y", "n"):
        return False, None      # YAML 1.1 booleans: a JSON-minded user means a word
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return False, None
    if isinstance(value, str) and "number" in wanted:
        try:            # PyYAML reads 5e-5 (no dot) as a string; Python's float does not
            value = float(text)
        except ValueError:
            return False, None
    for kind in wanted:
        types = _SCALAR_TYPES.get(kind, ())
        if isinstance(value, types) and not (isinstance(value, bool) and kind != "boolean"):
            if isinstance(value, float) and not math.isfinite(value):
                return False, None
            return True, value
    return False, None


def coerce_scalar_strings(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of `config` in which each string that stands where the schema wants a number,
    an integer, a boolean or null, and spells one, is that value ("10" -> 10, "5e-5" ->
    5e-05, "true" -> True); every other value is left for the schema to judge."""
    import jsonschema

    config = copy.deepcopy(config)
    validator = jsonschema.Draft202012Validator(load_schema())
    for _ in range(10_000):     # one value per pass: a change can move the other errors
        for err in validator.iter_errors(config):
            wanted = err.validator_value if err.validator == "type" else None
            if isinstance(wanted, str):
                wanted = [wanted]
            if not (isinstance(err.instance, str) and wanted and err.absolute_path):
                continue
            ok, value = _scalar_of(err.instance, list(wanted))
            if ok:
                *parents, last = err.absolute_path
                node: Any = config
                for part in parents:
                    node = node[part]
                node[last] = value
                break
        else:
            return config
    return config


def schema_errors(config: Any, where: str) -> list[str]:
    import jsonschema

    schema = load_schema()
    validator = jsonschema.Draft202012Validator(schema)
    messages: list[str] = []
    for err in sorted(validator.iter_errors(config), key=lambda e: (len(e.path), list(map(str, e.path)))):
        path = list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            sub = _schema_at(path, schema) or {}
            allowed = _allowed_keys(sub, schema)
            bad = [k for k in err.instance if k not in allowed]
            for key in bad:
                messages.append(
                    f"{where}: unknown key '{key_path(path + [key])}'"
                    f"{did_you_mean(key, allowed)}; allowed here: {', '.join(allowed)}")
            continue
        if err.validator == "required":
            messages.append(f"{where}: {key_path(path)}: {err.message}")
            continue
        if err.validator == "oneOf" and err.validator_value and path and path[0] == "backbones":
            messages.append(
                f"{where}: {key_path(path)}: give exactly one of 'pretrained' (with "
                f"'n_layers') and 'tiny'")
            continue
        if err.validator in ("exclusiveMinimum", "minimum"):
            strict = err.validator == "exclusiveMinimum"
            bound = err.validator_value
            what = "target speed-up " if any(str(p).startswith("target") for p in path) else ""
            hint = " (the full model is 1.00x)" if what and bound == 1 else ""
            messages.append(
                f"{where}: {key_path(path)}: {what}{err.instance!r} must be "
                f"{'greater than' if strict else 'at least'} {bound}{hint}")
            continue
        if err.validator == "enum":
            choices = [str(c) for c in err.validator_value]
            messages.append(
                f"{where}: {key_path(path)}: {err.instance!r} is not one of "
                f"{', '.join(choices)}{did_you_mean(str(err.instance), choices)}")
            continue
        messages.append(f"{where}: {key_path(path)}: {err.message}")
    return list(dict.fromkeys(messages))


def _report_keys() -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """(tables, figures, curve figures): the keys the schema allows under `tables:` and
    `figures:`, in its order (its one home)."""
    root = load_schema()
    tables = tuple(root["properties"]["tables"]["properties"])
    figure_props = root["properties"]["figures"]["properties"]
    figures = tuple(k for k, v in figure_props.items()
                    if str(v.get("$ref", "")).endswith(("/curve_figure", "/exit_figure")))
    curves = tuple(k for k in figures if figure_props[k]["$ref"].endswith("/curve_figure"))
    return tables, figures, curves


TABLES, FIGURES, CURVE_FIGURES = _report_keys()
