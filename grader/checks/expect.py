"""Small helpers the checks share: tolerant comparisons of observed JSON, and messages
that show the figures (what was seen against what was expected)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: The frozen clock ticks in microseconds; waits are compared to that precision.
TOLERANCE = 2e-6


def is_number(value: Any) -> bool:
    return type(value) in (int, float)


def close(actual: Any, expected: float) -> bool:
    """``actual`` is a number within :data:`TOLERANCE` of ``expected``."""
    return is_number(actual) and abs(actual - expected) <= TOLERANCE


def all_close(actual: Any, expected: Sequence[float]) -> bool:
    """``actual`` is a list of numbers, as long as ``expected`` and close to it."""
    return (
        isinstance(actual, list)
        and len(actual) == len(expected)
        and all(close(a, e) for a, e in zip(actual, expected))
    )


def seconds(values: Any) -> str:
    """``[1.0, 2.5]`` as ``1, 2.5 s``; anything else as it is."""
    if isinstance(values, list) and all(is_number(v) for v in values):
        return (", ".join(f"{v:g}" for v in values) or "none") + " s"
    return repr(values)


def raised_type(seen: dict[str, Any]) -> str:
    """What a call ended with: the exception type, or ``returned <value>``."""
    if "raised" in seen:
        return str(seen["raised"].get("type"))
    return f"returned {seen.get('returned')!r}"
