"""The one exception type users see.

Every check of user input (configs, data files, checkpoints, CLI values) raises `PfError`
with a message that names the file, field or value at fault. The CLI prints the message
alone (no traceback) and exits with status 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class PfError(Exception):
    """An error caused by the user's input or environment, with a message meant for them."""


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """' (did you mean 'x'?)' when `value` looks like a misspelling of one of `choices`."""
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def unknown(kind: str, value: str, choices: Iterable[str]) -> PfError:
    """The standard error for a name that is not in a registry."""
    choices = sorted(choices)
    return PfError(
        f"unknown {kind} '{value}'{did_you_mean(value, choices)}; "
        f"choose one of: {', '.join(choices)}"
    )
