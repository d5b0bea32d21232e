"""Scenarios: what the grader makes a submission do, in the sandboxed child.

A scenario takes the imported lab module, drives it with the fake LLM and the frozen clock,
and returns what it saw as plain JSON (see :mod:`grader.observe`). It holds no expected
value and no assertion: the checks in :mod:`grader.checks`, in the trusted parent, judge.

Each lab's module (``grader/scenarios/lab01.py``) fills a :class:`Registry` named
``SCENARIOS``; its names are what checks ask for.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import os
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

from labs.kit.clock import process_clock_stopped

Scenario = Callable[[ModuleType], dict[str, Any]]
Raised = TypeVar("Raised", bound=BaseException)


def raised_from(error: Raised, cause: BaseException) -> Raised:
    """``error`` as ``raise error from cause`` leaves it: with its ``__cause__`` and a
    traceback, as a submission's code would meet it."""
    try:
        raise error from cause
    except BaseException as raised:  # noqa: BLE001 - it is the one raised just above
        return raised  # type: ignore[return-value]


class Registry(dict[str, Scenario]):
    """The scenarios of one lab, by name, in the order they were declared.

    With ``process_clock_stopped=True`` every scenario runs with the process's clock
    stopped (:func:`labs.kit.clock.process_clock_stopped`), for labs whose runs use
    detached clocks: one freeze per scenario instead of one per run.
    """

    def __init__(self, *, process_clock_stopped: bool = False) -> None:
        super().__init__()
        self.process_clock_stopped = process_clock_stopped

    def scenario(self, fn: Scenario) -> Scenario:
        """Register ``fn`` under its own name."""
        if fn.__name__ in self:
            raise ValueError(f"scenario {fn.__name__!r} declared twice")
        if self.process_clock_stopped:
            self[fn.__name__] = _with_process_clock_stopped(fn)
        else:
            self[fn.__name__] = fn
        return fn


def _with_process_clock_stopped(fn: Scenario) -> Scenario:
    @functools.wraps(fn)
    def scenario(lab: ModuleType) -> dict[str, Any]:
        with process_clock_stopped():
            return fn(lab)

    return scenario


def fresh_folder(prefix: str) -> Path:
    """A new empty folder in the sandbox's working folder: ``<prefix>-1``, ``<prefix>-2``,
    ... Numbered, not random, so that a path a submission puts in a message reads the same
    on every grading run."""
    for number in itertools.count(1):
        folder = Path(os.getcwd()) / f"{prefix}-{number}"
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise AssertionError("unreachable")


def scenarios_of(lab_id: str) -> Registry:
    """The registry of ``lab_id`` (``"lab01"``)."""
    module = importlib.import_module(f"grader.scenarios.{lab_id}")
    return module.SCENARIOS


def warm_up() -> None:
    """Make one request to a fake LLM on a frozen clock, here and now.

    The OpenAI client imports much of itself on its first request. A scenario that runs
    agents in forked children calls this first, so that every child starts from a
    process that has paid for that once, instead of paying for it again in each child.
    """
    from labs.kit.clock import FrozenClock
    from labs.kit.fake_llm import FakeLLM, reply

    with FrozenClock() as clock, FakeLLM([reply("ready")], clock=clock) as llm:
        llm.client(max_retries=0).chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "ready?"}]
        )
