"""Public check-yourself functions for the notebooks: one per checklist item, one line each.

Each lab has its module here (``labs.kit.selfcheck.lab01`` and so on). A check drives the
lab's module with the fake LLM and a frozen clock (a
:class:`~labs.kit.notebook.RecordingClock`, or a detached :class:`WatchedClock`; both are
safe inside a Jupyter kernel, where only the check's own thread has its ``time.sleep``
caught) and prints one line, ``PASS`` or ``FAIL``, with the figures it saw and, on a
failure, the figures it expected::

    PASS  exponential-backoff       waits 1.5, 3, 6 s (base 1.5 s, factor 2); ...
    FAIL  single-retry-layer        the server saw 6 requests for a limit of 2; expected 2 ...

It returns True when the check passed; each module's ``all_checks()`` runs them all and
returns a :class:`Summary`. Without an argument a check loads the lab's module afresh with
:func:`labs.kit.notebook.load_lab` (so a notebook cell picks up the latest edits); pass a
module to check that one instead.

These checks are public and use other numbers and sequences than the hidden grader, which
observes the same behaviours in its own scenarios: passing here is a good sign, not the
verdict. A function not written yet raises NotImplementedError, which is let through: the
check stops and says which function is missing.

Each check judges its own item's rule and nothing else (the README's "One mistake, one
item"): where a rule builds on another, it is judged against what the lab's own code does
for the rule beneath.

This module holds what the labs' checks share: the verdict line, the summary, guards that
stop a runaway loop, the detached clock a scenario runs on and the errors a plain function
raises in place of the OpenAI client.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import httpx
import openai

from labs.kit.clock import FrozenClock, process_clock_stopped
from labs.kit.fake_llm import FakeLLM
from labs.kit.notebook import Run, Wait

#: A loop that goes on past these has run away; the check stops it.
MAX_REQUESTS = 60
MAX_SLEEPS = 60
MAX_CALLS = 60
TOLERANCE = 1e-3
#: The item column of a verdict line: the longest item name, and two spaces.
ITEM_WIDTH = 28

Check = Callable[[ModuleType | None], bool]


class RunawayError(BaseException):
    """A retry loop went on far past its limit; raised to stop it.

    A BaseException, so that a loop catching ``Exception`` cannot swallow it.
    """


@dataclass
class Summary:
    """How a group of checks went."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.passed) + len(self.failed)

    def __bool__(self) -> bool:
        return not self.failed

    def __repr__(self) -> str:
        text = f"{len(self.passed)} of {self.total} checks passed"
        return text + (f"; failed: {', '.join(self.failed)}" if self.failed else "")


def run_checks(checks: Sequence[Check], lab: ModuleType) -> Summary:
    """Run ``checks`` on ``lab``, one verdict line each; how they went."""
    summary = Summary()
    for check in checks:
        name = check.__name__.replace("_", "-")
        (summary.passed if check(lab) else summary.failed).append(name)
    return summary


# -- guards --------------------------------------------------------------------------------


class GuardedLLM(FakeLLM):
    """The fake LLM, stopping a loop that sends far more requests than any check needs."""

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if len(self.requests) >= MAX_REQUESTS:
            raise RunawayError(f"did not stop: more than {MAX_REQUESTS} requests")
        return super()._answer(request)


def guarded_sleep(clock: FrozenClock) -> Callable[[float], None]:
    def sleep(seconds_: float) -> None:
        if len(clock.sleeps) >= MAX_SLEEPS:
            raise RunawayError(f"did not stop: more than {MAX_SLEEPS} waits")
        clock.sleep(seconds_)

    return sleep


class WatchedClock(FrozenClock):
    """A detached frozen clock for one scenario: it moves only when the code under check
    sleeps with the ``sleep`` it was handed or the fake LLM "thinks", and it notes every
    such wait where it began (``waits``).

    ``time.sleep``, the OpenAI client's own waits included, moves nothing (it is noted in
    ``process_sleeps``), and ``time.time()`` stands still at
    :data:`~labs.kit.clock.PROCESS_START`: code that waits or reads the time other than
    through what it was handed shows at once. Many started inside
    :func:`~labs.kit.clock.process_clock_stopped` (see :func:`one_freeze`) share one freeze
    of the process's clock.
    """

    def __init__(self) -> None:
        super().__init__(detached=True)
        self.waits: list[Wait] = []

    def sleep(self, seconds: float) -> None:
        start = self.elapsed()
        super().sleep(seconds)
        self.waits.append(Wait(start, self.sleeps[-1]))

    def run(self, llm: FakeLLM, label: str = "") -> Run:
        """What the scenario looked like: every request and every wait, where it was."""
        return Run(label, tuple(llm.requests), tuple(self.waits), self.elapsed())


def one_freeze(load: Callable[[ModuleType | None], ModuleType]) -> Callable[[Check], Check]:
    """A decorator: the check runs on ``load(lab)`` (loaded first, as without it) inside one
    freeze of the process's clock, which every detached clock it starts shares (a freeze
    costs tens of milliseconds, and a check starts a dozen clocks)."""

    def decorate(check: Check) -> Check:
        @functools.wraps(check)
        def frozen(lab: ModuleType | None = None) -> bool:
            module = load(lab)
            with process_clock_stopped():
                return check(module)

        return frozen

    return decorate


# -- the verdict lines -------------------------------------------------------------------


def verdict(item: str, problems: list[str], figures: str) -> bool:
    """Print ``PASS  item  figures`` or ``FAIL  item  first problem``; True on a pass."""
    if problems:
        print(f"FAIL  {item:<{ITEM_WIDTH}}{problems[0]}")
        for more in problems[1:]:
            print(f"      {'':<{ITEM_WIDTH}}{more}")
        return False
    print(f"PASS  {item:<{ITEM_WIDTH}}{figures}")
    return True


def all_close(seen: Sequence[float], expected: Sequence[float]) -> bool:
    return len(seen) == len(expected) and all(
        math.isclose(a, b, rel_tol=1e-6, abs_tol=TOLERANCE) for a, b in zip(seen, expected)
    )


def short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def status_error(status: int, message: str = "",
                 headers: dict[str, str] | None = None) -> openai.APIStatusError:
    """The error the OpenAI client raises for an HTTP ``status`` (``openai.RateLimitError``
    for a 429, ``openai.InternalServerError`` for a 5xx, ...), for a plain function to raise."""
    request = httpx.Request("POST", "https://api.openai.com/v1/chat/completions")
    text = message or f"HTTP {status}"
    response = httpx.Response(status, headers=headers or {}, request=request,
                              json={"error": {"message": text}})
    kinds: dict[int, type[openai.APIStatusError]] = {
        400: openai.BadRequestError, 401: openai.AuthenticationError,
        403: openai.PermissionDeniedError, 404: openai.NotFoundError, 409: openai.ConflictError,
        422: openai.UnprocessableEntityError, 429: openai.RateLimitError,
    }
    kind = kinds.get(status, openai.InternalServerError if status >= 500 else openai.APIStatusError)
    return kind(text, response=response, body={"message": text})


def error_name(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    name = type(error).__name__
    return f"{name} ({status})" if isinstance(status, int) else name
