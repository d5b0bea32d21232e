"""Helpers for scenarios: turn what a submission did into plain, trustworthy JSON.

Scenarios run in the sandboxed child next to the submission, so nothing a submission hands
back is trusted as it is. :func:`plain` keeps only values whose type is exactly a JSON type
(an ``int`` subclass whose ``__eq__`` says yes to everything is not an int here) and never
calls the submission's ``__eq__``, ``__hash__`` or ``__str__``; the parent compares only the
JSON. :func:`outcome` runs a call and records what it returned or raised.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

#: How deep and how long an observed value may be before it is cut.
MAX_DEPTH = 12
MAX_ITEMS = 1000
MAX_TEXT = 2000


class ScenarioAbort(Exception):
    """Stops a scenario without an observation: the submission could not be judged here.

    Raised by the helpers below for ``NotImplementedError``; the parent reports the
    message as the reason for every check that needed this scenario.
    """


def plain(value: Any, depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` built only from exact JSON types.

    Anything else becomes ``{"unserialisable": "<type name>"}``, which never equals an
    expected value. Floats that are not finite become their text (``"inf"``).
    """
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return value[:MAX_TEXT] if kind is str else value
    if kind is float:
        return value if math.isfinite(value) else repr(value)
    if depth >= MAX_DEPTH:
        return {"unserialisable": "too deep"}
    if kind is list or kind is tuple:
        return [plain(item, depth + 1) for item in value[:MAX_ITEMS]]
    if kind is dict:
        return {
            key: plain(item, depth + 1)
            for key, item in list(value.items())[:MAX_ITEMS]
            if type(key) is str
        }
    return {"unserialisable": type_name(value)}


def type_name(value: Any) -> str:
    """The qualified name of ``value``'s type, read without calling the submission.

    A type from a reference solution that stands in for an earlier lab is named as the
    student's code imports it (``labs.lab01_retry.RetryError``): what a student reads
    never mentions the hidden solutions."""
    kind = type(value)
    module = type.__getattribute__(kind, "__module__")
    name = type.__getattribute__(kind, "__qualname__")
    if isinstance(module, str) and module.startswith("solutions."):
        module = "labs." + module.removeprefix("solutions.")
    return name if module == "builtins" else f"{module}.{name}"


def describe_error(error: BaseException) -> dict[str, Any]:
    """An exception as data: its type, message, and the types of its ``__cause__`` chain.

    The message is read with ``BaseException.__str__`` so a submission's own ``__str__``
    cannot run or lie here.
    """
    causes = []
    seen = {id(error)}
    cause = error.__cause__
    while cause is not None and id(cause) not in seen and len(causes) < 5:
        causes.append(type_name(cause))
        seen.add(id(cause))
        cause = cause.__cause__
    try:
        message = BaseException.__str__(error)
    except Exception:  # a broken args tuple: report the type alone
        message = ""
    return {"type": type_name(error), "message": message[:MAX_TEXT], "causes": causes}


def outcome(
    call: Callable[[], Any],
    *,
    keep: Callable[[Any], Any] = plain,
    describe: Callable[[BaseException], dict[str, Any]] = describe_error,
) -> dict[str, Any]:
    """Run ``call()`` and record ``{"returned": keep(value)}`` or ``{"raised": describe(e)}``.

    ``NotImplementedError`` aborts the scenario (see :class:`ScenarioAbort`). Other
    exceptions, ``SystemExit`` and ``KeyboardInterrupt`` included, are observations: the
    checks decide what they mean.
    """
    try:
        value = required(call)
    except ScenarioAbort:
        raise
    except BaseException as error:  # noqa: BLE001 - every escape is an observation
        return {"raised": describe(error)}
    return {"returned": keep(value)}


def required(call: Callable[[], Any]) -> Any:
    """``call()``, for a step the scenario cannot go on without: ``NotImplementedError``
    aborts the scenario, anything else propagates."""
    try:
        return call()
    except NotImplementedError as error:
        raise not_implemented(describe_error(error)["message"]) from None


def not_implemented(what: str) -> ScenarioAbort:
    """The abort for a stub that raised ``NotImplementedError(what)``."""
    return ScenarioAbort(f"not implemented: {what or 'a stub'}")
