"""Public check-yourself functions: one per checklist item, one line per check.

Each function drives a lab module with the fake LLM and the frozen clock (a
:class:`~labs.kit.notebook.RecordingClock`, safe inside a Jupyter kernel) and prints one line,
``PASS`` or ``FAIL``, with the figures it saw and, on a failure, the figures it expected::

    PASS  exponential-backoff       waits 1.5, 3, 6 s (base 1.5 s, factor 2); ...
    FAIL  single-retry-layer        the server saw 6 requests for a limit of 2; expected 2 ...

It returns True when the check passed. :func:`lab01` runs every check of lab 01 and returns
a :class:`Summary`. Without an argument a check loads the module afresh with
:func:`labs.kit.notebook.load_lab` (so a notebook cell picks up your latest edits); pass a
module to check that one instead.

These checks are public and use other numbers and sequences than the hidden grader, which
observes the same behaviours in its own scenarios: passing here is a good sign, not the
verdict. A function you have not written yet raises NotImplementedError, which is let
through: the check stops and says which function is missing.
"""

from __future__ import annotations

import email.utils
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from types import ModuleType
from typing import Any

import httpx
import openai

from labs.kit.clock import DEFAULT_START, FrozenClock
from labs.kit.fake_llm import FakeLLM, Step, connect_error, failure, reply, timeout
from labs.kit.notebook import RecordingClock, Run, load_lab, seconds

LAB01 = "lab01_retry"
PROMPT = [{"role": "user", "content": "web-1 is at 97% disk. Free some space, carefully."}]
#: A retry loop that goes on past these has run away; the check stops it.
MAX_REQUESTS = 60
MAX_SLEEPS = 60
MAX_CALLS = 60
_TOLERANCE = 1e-3


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


@dataclass
class Seen:
    """What one scenario produced: a value or an error, and what the server and clock saw."""

    value: Any = None
    error: BaseException | None = None
    run: Run | None = None
    calls: int = 0
    sleeps: tuple[float, ...] = ()
    runaway: str = ""

    @property
    def requests(self) -> int:
        return len(self.run.requests) if self.run is not None else 0

    @property
    def gaps(self) -> list[float]:
        return self.run.gaps if self.run is not None else []

    @property
    def waited_after_last(self) -> bool:
        """True when the clock moved on after the last request arrived (a late wait)."""
        if self.run is None or not self.run.arrivals:
            return False
        return self.run.end - self.run.arrivals[-1] > _TOLERANCE

    @property
    def content(self) -> Any:
        try:
            return self.value.choices[0].message.content
        except (AttributeError, IndexError, TypeError):
            return None

    def outcome(self) -> str:
        """``returned 'text'`` or ``raised RetryError`` and so on, for a verdict line."""
        if self.runaway:
            return self.runaway
        if self.error is None:
            shown = self.content if self.run is not None else self.value
            return f"returned {_short(shown)}"
        overrun = self.run is not None and "overrun" in self.run.outcomes
        return f"raised {_error_name(self.error)}" + (
            " (the fake LLM's answer to more requests than scripted)" if overrun else ""
        )


# -- driving a lab module ----------------------------------------------------------------


class _GuardedLLM(FakeLLM):
    """The fake LLM, stopping a loop that sends far more requests than any check needs."""

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if len(self.requests) >= MAX_REQUESTS:
            raise RunawayError(f"did not stop: more than {MAX_REQUESTS} requests")
        return super()._answer(request)


def _guarded_sleep(clock: FrozenClock) -> Callable[[float], None]:
    def sleep(seconds_: float) -> None:
        if len(clock.sleeps) >= MAX_SLEEPS:
            raise RunawayError(f"did not stop: more than {MAX_SLEEPS} waits")
        clock.sleep(seconds_)

    return sleep


def _run_llm(
    lab: ModuleType,
    script: Sequence[Step],
    policy: dict[str, Any],
    *,
    rng: random.Random | None = None,
    client_options: dict[str, Any] | None = None,
) -> Seen:
    """One ``RetryingLLM(...).complete(PROMPT)`` against ``script`` on a fresh clock."""
    seen = Seen()
    with RecordingClock(patch_sleep=True) as clock, _GuardedLLM(script, clock=clock) as llm:
        client = llm.client(**(client_options or {}))
        try:
            wrapper = lab.RetryingLLM(
                client, policy=lab.RetryPolicy(**policy), sleep=_guarded_sleep(clock), rng=rng
            )
            seen.value = wrapper.complete(PROMPT)
        except NotImplementedError:
            raise
        except RunawayError as error:
            seen.runaway = str(error)
        except Exception as error:  # what the lab raised is the observation
            seen.error = error
        seen.run = Run.capture(llm, clock)
        seen.sleeps = tuple(clock.sleeps)
    return seen


def _run_call(
    lab: ModuleType, effects: Sequence[Callable[[int], Any]], policy: dict[str, Any]
) -> Seen:
    """``retry_call`` over a function whose n-th call (from 1) does ``effects[n - 1](n)``;
    the last effect repeats."""
    seen = Seen()

    def fn() -> Any:
        seen.calls += 1
        if seen.calls > MAX_CALLS:
            raise RunawayError(f"did not stop: more than {MAX_CALLS} calls")
        return effects[min(seen.calls, len(effects)) - 1](seen.calls)

    with RecordingClock(patch_sleep=True) as clock:
        try:
            seen.value = lab.retry_call(fn, lab.RetryPolicy(**policy), sleep=_guarded_sleep(clock))
        except NotImplementedError:
            raise
        except RunawayError as error:
            seen.runaway = str(error)
        except Exception as error:
            seen.error = error
        seen.sleeps = tuple(clock.sleeps)
    return seen


def _raise(make: Callable[[int], BaseException]) -> Callable[[int], Any]:
    def effect(call: int) -> Any:
        raise make(call)

    return effect


def _give(value: Any) -> Callable[[int], Any]:
    return lambda call: value


# -- the verdict lines -------------------------------------------------------------------


def _verdict(item: str, problems: list[str], figures: str) -> bool:
    """Print ``PASS  item  figures`` or ``FAIL  item  first problem``; True on a pass."""
    if problems:
        print(f"FAIL  {item:<26}{problems[0]}")
        for more in problems[1:]:
            print(f"      {'':<26}{more}")
        return False
    print(f"PASS  {item:<26}{figures}")
    return True


def _close(seen: Sequence[float], expected: Sequence[float]) -> bool:
    return len(seen) == len(expected) and all(
        math.isclose(a, b, rel_tol=1e-6, abs_tol=_TOLERANCE) for a, b in zip(seen, expected)
    )


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def _error_name(error: BaseException) -> str:
    status = getattr(error, "status_code", None)
    name = type(error).__name__
    return f"{name} ({status})" if isinstance(status, int) else name


def _lab(lab: ModuleType | None) -> ModuleType:
    return lab if lab is not None else load_lab(LAB01)


def _labels(script: Sequence[Step]) -> str:
    names = []
    for step in script:
        status = getattr(step, "status", None)
        names.append(str(status) if status else getattr(step, "kind", "200"))
    return ", ".join(names)


# -- lab 01 ------------------------------------------------------------------------------


def retries_transient(lab: ModuleType | None = None) -> bool:
    """Transient failures of every kind, one after another, then the reply."""
    lab = _lab(lab)
    script = [failure(502), connect_error(), failure(409), timeout(latency=5.0), failure(408),
              reply("Freed 41 GB in /var/log")]
    seen = _run_llm(lab, script, {"max_attempts": 6, "base_delay": 0.2})
    problems = []
    if seen.content != "Freed 41 GB in /var/log" or seen.requests != 6:
        problems.append(
            f"{_labels(script[:-1])}, then a reply: {seen.outcome()} after {seen.requests} "
            "request(s); expected the reply after 6"
        )
    plain = _run_call(
        lab,
        [_raise(lambda n: ConnectionResetError("peer reset")),
         _raise(lambda n: httpx.ConnectTimeout("no route")), _give(7)],
        {"max_attempts": 4, "base_delay": 0.2},
    )
    if plain.value != 7 or plain.error is not None or plain.calls != 3:
        problems.append(
            f"retry_call over ConnectionResetError, httpx.ConnectTimeout, then 7: "
            f"{plain.outcome()} after {plain.calls} call(s); expected 7 after 3"
        )
    return _verdict(
        "retries-transient", problems,
        f"{_labels(script[:-1])}, then the reply: 6 requests; retry_call: 7 after 3 calls",
    )


def exponential_backoff(lab: ModuleType | None = None) -> bool:
    """The gaps between requests grow as base * factor ** n."""
    lab = _lab(lab)
    cases = [
        ({"max_attempts": 4, "base_delay": 1.5, "factor": 2.0, "max_delay": 60.0},
         [failure(500), failure(429), failure(503), reply("ok")]),
        ({"max_attempts": 5, "base_delay": 0.3, "factor": 4.0, "max_delay": 100.0},
         [connect_error(), failure(504), failure(500), failure(429), reply("ok")]),
    ]
    problems, shown = [], []
    for policy, script in cases:
        seen = _run_llm(lab, script, policy)
        expected = [policy["base_delay"] * policy["factor"] ** n for n in range(len(script) - 1)]
        label = f"base {seconds(policy['base_delay'])}, factor {seconds(policy['factor'], '')}"
        if not _close(seen.gaps, expected):
            problems.append(
                f"{label}: gaps between requests {seconds(seen.gaps)}; expected "
                f"{seconds(expected)} ({seen.outcome()})"
            )
        shown.append(f"{seconds(seen.gaps)} ({label})")
    return _verdict("exponential-backoff", problems, "waits " + "; ".join(shown))


def no_sleep_after_last(lab: ModuleType | None = None) -> bool:
    """No wait after the final attempt, and never more attempts than the limit."""
    lab = _lab(lab)
    cases = [
        ({"max_attempts": 2, "base_delay": 3.0}, [failure(504), failure(429), reply("too late")]),
        ({"max_attempts": 5, "base_delay": 0.1}, [failure(500)] * 5 + [reply("too late")]),
    ]
    problems, shown = [], []
    for policy, script in cases:
        seen = _run_llm(lab, script, policy)
        limit = policy["max_attempts"]
        late = seen.waited_after_last
        if seen.requests != limit or late or len(seen.sleeps) != limit - 1:
            after = " and a wait after the last one" if late else ""
            problems.append(
                f"limit {limit}, every attempt failing: {_count(seen.requests, 'request')}, "
                f"{_count(len(seen.sleeps), 'wait')}{after}; expected "
                f"{_count(limit, 'request')}, {_count(limit - 1, 'wait')}, none after the last"
            )
        shown.append(f"limit {limit}: {_count(seen.requests, 'request')}, "
                     f"{_count(len(seen.sleeps), 'wait')}")
    return _verdict("no-sleep-after-last", problems, "; ".join(shown) + "; none after the last")


def gives_up_with_last_error(lab: ModuleType | None = None) -> bool:
    """After the last attempt: the lab's RetryError, with the count and the last error."""
    lab = _lab(lab)
    problems = []
    script = [failure(500), failure(503), failure(429), failure(502)]
    seen = _run_llm(lab, script, {"max_attempts": 4, "base_delay": 0.1})
    error = seen.error
    last = getattr(error, "last_error", None)
    if not isinstance(error, lab.RetryError):
        problems.append(f"{_labels(script)}, limit 4: {seen.outcome()}; expected RetryError")
    elif error.attempts != 4 or getattr(last, "status_code", None) != 502:
        problems.append(
            f"{_labels(script)}, limit 4: RetryError(attempts={_short(error.attempts)}, "
            f"last_error={_error_name(last) if last is not None else None}); expected "
            "attempts=4 and the last error, the 502"
        )
    elif error.__cause__ is not last:
        problems.append("the RetryError's __cause__ is not its last_error: raise it 'from' it")
    plain = _run_call(
        lab, [_raise(lambda n: ConnectionError(f"attempt {n} refused"))], {"max_attempts": 3}
    )
    error = plain.error
    last = getattr(error, "last_error", None)
    if not isinstance(error, lab.RetryError) or error.attempts != 3 \
            or str(last) != "attempt 3 refused" or error.__cause__ is not last:
        detail = (
            f"RetryError(attempts={_short(error.attempts)}, last_error={_short(str(last))}, "
            f"cause {'chained' if error.__cause__ is last else 'missing'})"
            if isinstance(error, lab.RetryError) else plain.outcome()
        )
        problems.append(
            f"retry_call, 3 refused connections: {detail}; expected attempts=3, the third "
            "error as last_error and as __cause__"
        )
    return _verdict(
        "gives-up-with-last-error", problems,
        "RetryError(attempts=4, last error the 502), cause chained; "
        "retry_call: attempts=3, last 'attempt 3 refused'",
    )


def permanent_not_retried(lab: ModuleType | None = None) -> bool:
    """Permanent errors are raised at once, as they are, after one request."""
    lab = _lab(lab)
    expected = {
        422: openai.UnprocessableEntityError,
        404: openai.NotFoundError,
        401: openai.AuthenticationError,
        403: openai.PermissionDeniedError,
        400: openai.BadRequestError,
    }
    problems = []
    for status, kind in expected.items():
        seen = _run_llm(lab, [failure(status), reply("should not be asked")],
                        {"max_attempts": 5, "base_delay": 0.4})
        if type(seen.error) is not kind or seen.requests != 1 or seen.sleeps:
            problems.append(
                f"{status}: {seen.outcome()} after {seen.requests} request(s) and "
                f"{len(seen.sleeps)} wait(s); expected {kind.__name__} at once, 1 request"
            )
    programming_errors = (
        lambda n: TypeError("disk size must be int"),
        lambda n: ZeroDivisionError("0 nodes"),
    )
    for make in programming_errors:
        plain = _run_call(lab, [_raise(make), _give("no")], {"max_attempts": 5, "base_delay": 0.4})
        name = type(make(0)).__name__
        if type(plain.error).__name__ != name or plain.calls != 1 or plain.sleeps:
            problems.append(
                f"retry_call over {name}: {plain.outcome()} after {plain.calls} call(s) and "
                f"{len(plain.sleeps)} wait(s); expected the {name} itself at once"
            )
    return _verdict(
        "permanent-not-retried", problems,
        "422, 404, 401, 403, 400, TypeError, ZeroDivisionError: raised at once, one call each",
    )


def honours_retry_after(lab: ModuleType | None = None) -> bool:
    """A server-requested delay replaces the backoff for that wait, and is capped."""
    lab = _lab(lab)
    problems = []
    policy = {"max_attempts": 5, "base_delay": 5.0, "factor": 2.0, "max_delay": 12.0}
    script = [
        failure(429, retry_after_ms=750),                # 0.75 s
        failure(503, retry_after="soon"),                # unreadable: the backoff, 10 s
        failure(500, retry_after=45),                    # capped: 12 s
        failure(429, retry_after=2, retry_after_ms=1250),  # milliseconds first: 1.25 s
        reply("ok"),
    ]
    expected = [0.75, 10.0, 12.0, 1.25]
    seen = _run_llm(lab, script, policy)
    if not _close(seen.gaps, expected):
        problems.append(
            "retry-after-ms 750, retry-after 'soon', retry-after 45 (cap 12), both 2 s and "
            f"1250 ms: waits {seconds(seen.gaps)}; expected {seconds(expected)} ({seen.outcome()})"
        )
    when = email.utils.format_datetime(DEFAULT_START + timedelta(seconds=4), usegmt=True)
    dated = _run_llm(lab, [failure(503, retry_after=when), reply("ok")], {"base_delay": 0.5})
    if not _close(dated.gaps, [4.0]):
        problems.append(
            f"retry-after as an HTTP date 4 s ahead ({when}): wait {seconds(dated.gaps)}; "
            "expected 4 s"
        )
    return _verdict(
        "honours-retry-after", problems,
        f"waits {seconds(seen.gaps)} (ms, unreadable -> backoff, 45 capped at 12, ms before s); "
        f"HTTP date: {seconds(dated.gaps)}",
    )


def capped_with_jitter(lab: ModuleType | None = None) -> bool:
    """No wait above the cap; full jitter in [0, capped backoff], reproducible by seed."""
    lab = _lab(lab)
    problems = []
    capped_policy = {"max_attempts": 5, "base_delay": 2.0, "factor": 3.0, "max_delay": 7.0}
    capped = _run_llm(lab, [failure(500)] * 5, capped_policy)
    if not _close(capped.gaps, [2.0, 6.0, 7.0, 7.0]):
        problems.append(
            f"base 2 s, factor 3, cap 7 s: waits {seconds(capped.gaps)}; expected 2, 6, 7, 7 s"
        )
    policy = {"max_attempts": 6, "base_delay": 0.5, "factor": 3.0, "max_delay": 6.0, "jitter": True}
    ceilings = [min(6.0, 0.5 * 3.0**n) for n in range(5)]
    runs = {}
    for name, seed, disturbance in (("first", 31, 5), ("again", 31, 6), ("other", 8, 7)):
        random.seed(disturbance)  # the global random module must not matter
        runs[name] = _run_llm(lab, [failure(503)] * 6, policy, rng=random.Random(seed))
    first = runs["first"].gaps
    outside = [
        f"{seconds(w)} > {seconds(c)}"
        for w, c in zip(first, ceilings)
        if not -_TOLERANCE <= w <= c + _TOLERANCE
    ]
    if len(first) != 5:
        problems.append(f"jitter on, 6 failing attempts: {len(first)} waits; expected 5")
    elif outside:
        problems.append(
            f"jitter on (base 0.5 s, factor 3, cap 6 s): waits {seconds(first)}; each must lie in "
            f"[0, {seconds(ceilings)}] in turn ({', '.join(outside)})"
        )
    elif _close(first, ceilings):
        problems.append(f"jitter on: waits {seconds(first)} are the capped backoff itself; "
                        "expected random draws below it")
    elif all(w >= c / 2 for w, c in zip(first, ceilings)):
        problems.append(
            f"jitter on: waits {seconds(first)} all keep at least half of the capped backoff "
            f"({seconds(ceilings)}); full jitter draws from all of [0, capped backoff]"
        )
    elif not _close(runs["again"].gaps, first):
        problems.append(
            f"jitter with seed 31 twice: {seconds(first)}, then {seconds(runs['again'].gaps)}; "
            "expected the same waits (draw from the rng you were given)"
        )
    elif _close(runs["other"].gaps, first):
        problems.append("jitter with seeds 31 and 8 gave the same waits; expected different ones")
    return _verdict(
        "capped-with-jitter", problems,
        f"cap 7 s: {seconds(capped.gaps)}; full jitter (seed 31): {seconds(first)}, within "
        "[0, capped backoff], the same again with seed 31, different with seed 8",
    )


def single_retry_layer(lab: ModuleType | None = None) -> bool:
    """The OpenAI client's own retries are off: the server sees the policy's limit."""
    lab = _lab(lab)
    problems, shown = [], []
    for client_retries, limit in ((2, 2), (4, 3)):
        seen = _run_llm(
            lab, [failure(503)] * 30, {"max_attempts": limit, "base_delay": 0.1},
            client_options={"max_retries": client_retries},
        )
        label = f"client max_retries={client_retries}, limit {limit}"
        if seen.requests != limit:
            problems.append(
                f"{label}: the server saw {seen.requests} requests; expected {limit} "
                "(two retry layers multiply)"
            )
        shown.append(f"{label}: {seen.requests} requests")
    return _verdict("single-retry-layer", problems, "; ".join(shown))


#: Every lab 01 check, in the checklist's order.
LAB01_CHECKS: tuple[Callable[[ModuleType | None], bool], ...] = (
    retries_transient,
    exponential_backoff,
    no_sleep_after_last,
    gives_up_with_last_error,
    permanent_not_retried,
    honours_retry_after,
    capped_with_jitter,
    single_retry_layer,
)


def lab01(lab: ModuleType | None = None) -> Summary:
    """Run every lab 01 check on one fresh load of the module; print a line each."""
    lab = _lab(lab)
    summary = Summary()
    for check in LAB01_CHECKS:
        name = check.__name__.replace("_", "-")
        (summary.passed if check(lab) else summary.failed).append(name)
    return summary
