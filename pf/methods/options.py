"""Typed, validated method options.

Every method declares a frozen dataclass of its options. `parse_options` turns the JSON
object a user wrote (config file or `--options`) into that dataclass and refuses, with a
PfError naming the method, the key and the value, anything unknown, mistyped or out of
range, suggesting the closest key on a misspelling. Checkpoints store `options_to_dict`, so
a model is rebuilt from exactly the options it was trained with.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

from pf.errors import PfError, did_you_mean

T = TypeVar("T")


class OptionError(PfError):
    """A bad option of a method; `option` names it (the config checks add it to the key)."""

    def __init__(self, message: str, option: str | None = None):
        super().__init__(message)
        self.option = option


# How an exit head reads a layer (`exit_pooling`, an option of every method): "cls" = the
# first token's hidden vector, as every original (BERT's pooler, DeeBERT, PABEE, the released
# Past-Future code); "mean" = the mean of the hidden vectors of the attended tokens (the
# attention mask's ones), for backbones trained to summarise a sentence that way
# (sentence-transformers' MiniLM, whose [CLS] is nearly constant across sentences).
EXIT_POOLINGS = ("cls", "mean")


@dataclasses.dataclass(frozen=True)
class MethodOptions:
    """Base of every method's options; subclasses add fields and override `check`.
    `exit_pooling` (every method; see EXIT_POOLINGS) is checked by `parse_options`."""

    exit_pooling: str = "cls"

    def check(self, method: str) -> None:  # pragma: no cover - overridden
        """Range and consistency checks beyond the field types."""


def _allowed_types(annotation: Any) -> tuple[type, ...]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: list[type] = []
        for arg in typing.get_args(annotation):
            out.extend(_allowed_types(arg))
        return tuple(out)
    if annotation is type(None):
        return (type(None),)
    return (origin or annotation,)


def _type_ok(value: Any, allowed: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in allowed
    if isinstance(value, int) and float in allowed and int not in allowed:
        return True
    return isinstance(value, allowed)


def parse_options(method: str, cls: type[T], raw: dict[str, Any] | None) -> T:
    """Build and validate `cls` from a JSON object (see module docstring)."""
    raw = {} if raw is None else raw
    if isinstance(raw, cls):
        check_choice(method, "exit_pooling", raw.exit_pooling, EXIT_POOLINGS)  # type: ignore[attr-defined]
        raw.check(method)  # type: ignore[attr-defined]
        return raw
    if not isinstance(raw, dict):
        raise PfError(f"method '{method}': options must be a JSON object, got {type(raw).__name__}")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    for key in raw:
        if key not in names:
            raise OptionError(f"method '{method}': unknown option '{key}'"
                              f"{did_you_mean(key, names)}; allowed: {', '.join(sorted(names))}",
                              key)
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        allowed = _allowed_types(hints[key])
        if not _type_ok(value, allowed):
            want = " or ".join("null" if t is type(None) else t.__name__ for t in allowed)
            raise OptionError(f"method '{method}': option '{key}' must be {want}, got {value!r}",
                              key)
        if isinstance(value, int) and not isinstance(value, bool) and float in allowed \
                and int not in allowed:
            value = float(value)
        values[key] = value
    opts = cls(**values)
    check_choice(method, "exit_pooling", opts.exit_pooling, EXIT_POOLINGS)  # type: ignore[attr-defined]
    opts.check(method)  # type: ignore[attr-defined]
    return opts


def check_choice(method: str, key: str, value: Any, choices: typing.Iterable[Any]) -> None:
    choices = list(choices)
    if value not in choices:
        raise OptionError(f"method '{method}': option '{key}' = {value!r} is not one of "
                          f"{', '.join(map(str, choices))}"
                          f"{did_you_mean(str(value), map(str, choices))}", key)


def check_range(method: str, key: str, value: float | int | None, lo: float | None = None,
                hi: float | None = None) -> None:
    if value is None:
        return
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        span = f"[{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]"
        raise OptionError(f"method '{method}': option '{key}' = {value!r} is outside {span}", key)


def options_to_dict(opts: Any) -> dict[str, Any]:
    return dataclasses.asdict(opts)
