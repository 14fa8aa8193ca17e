"""JSON command-line arguments: JSON text, or the path of a JSON file."""

from __future__ import annotations

import json
from typing import Any

from pf.errors import PfError


def json_arg(flag: str, text: str | None, kind: type | None = dict) -> Any:
    """The value of `flag`: `text` parsed as JSON when it starts with '{' or '[', else the
    JSON file it names; None stays None. `kind` (default: an object) is the type the value
    must have; PfError naming the flag otherwise."""
    from pf.io import read_json

    if text is None:
        return None
    if text.lstrip().startswith(("{", "[")):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise PfError(f"{flag}: not valid JSON ({err})") from None
    else:
        value = read_json(text)
    if kind is not None and not isinstance(value, kind):
        what = "a JSON object" if kind is dict else f"JSON of type {kind.__name__}"
        raise PfError(f"{flag}: expected {what}, got {type(value).__name__}")
    return value
