"""Lab 01's public checks (retry with exponential backoff); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab01 as selfcheck
    selfcheck.exponential_backoff()   # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()            # every lab 01 check, and a Summary
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any

import httpx
import openai

from labs.kit.clock import DEFAULT_START
from labs.kit.fake_llm import Step, connect_error, failure, reply, timeout
from labs.kit.notebook import RecordingClock, Run, load_lab, seconds
from labs.kit.selfcheck import (
    MAX_CALLS,
    TOLERANCE,
    GuardedLLM,
    RunawayError,
    Summary,
    all_close,
    count,
    error_name,
    guarded_sleep,
    run_checks,
    short,
    verdict,
)

LAB01 = "lab01_retry"
PROMPT = [{"role": "user", "content": "web-1 is at 97% disk. Free some space, carefully."}]


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
        return self.run.end - self.run.arrivals[-1] > TOLERANCE

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
            return f"returned {short(shown)}"
        overrun = self.run is not None and "overrun" in self.run.outcomes
        return f"raised {error_name(self.error)}" + (
            " (the fake LLM's answer to more requests than scripted)" if overrun else ""
        )


# -- driving a lab module ----------------------------------------------------------------


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
    with RecordingClock(patch_sleep=True) as clock, GuardedLLM(script, clock=clock) as llm:
        client = llm.client(**(client_options or {}))
        try:
            wrapper = lab.RetryingLLM(
                client, policy=lab.RetryPolicy(**policy), sleep=guarded_sleep(clock), rng=rng
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
            seen.value = lab.retry_call(fn, lab.RetryPolicy(**policy), sleep=guarded_sleep(clock))
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
    return verdict(
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
        if not all_close(seen.gaps, expected):
            problems.append(
                f"{label}: gaps between requests {seconds(seen.gaps)}; expected "
                f"{seconds(expected)} ({seen.outcome()})"
            )
        shown.append(f"{seconds(seen.gaps)} ({label})")
    return verdict("exponential-backoff", problems, "waits " + "; ".join(shown))


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
                f"limit {limit}, every attempt failing: {count(seen.requests, 'request')}, "
                f"{count(len(seen.sleeps), 'wait')}{after}; expected "
                f"{count(limit, 'request')}, {count(limit - 1, 'wait')}, none after the last"
            )
        shown.append(f"limit {limit}: {count(seen.requests, 'request')}, "
                     f"{count(len(seen.sleeps), 'wait')}")
    return verdict("no-sleep-after-last", problems, "; ".join(shown) + "; none after the last")


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
            f"{_labels(script)}, limit 4: RetryError(attempts={short(error.attempts)}, "
            f"last_error={error_name(last) if last is not None else None}); expected "
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
            f"RetryError(attempts={short(error.attempts)}, last_error={short(str(last))}, "
            f"cause {'chained' if error.__cause__ is last else 'missing'})"
            if isinstance(error, lab.RetryError) else plain.outcome()
        )
        problems.append(
            f"retry_call, 3 refused connections: {detail}; expected attempts=3, the third "
            "error as last_error and as __cause__"
        )
    return verdict(
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
    return verdict(
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
    if not all_close(seen.gaps, expected):
        problems.append(
            "retry-after-ms 750, retry-after 'soon', retry-after 45 (cap 12), both 2 s and "
            f"1250 ms: waits {seconds(seen.gaps)}; expected {seconds(expected)} ({seen.outcome()})"
        )
    when = email.utils.format_datetime(DEFAULT_START + timedelta(seconds=4), usegmt=True)
    dated = _run_llm(lab, [failure(503, retry_after=when), reply("ok")], {"base_delay": 0.5})
    if not all_close(dated.gaps, [4.0]):
        problems.append(
            f"retry-after as an HTTP date 4 s ahead ({when}): wait {seconds(dated.gaps)}; "
            "expected 4 s"
        )
    return verdict(
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
    if not all_close(capped.gaps, [2.0, 6.0, 7.0, 7.0]):
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
        if not -TOLERANCE <= w <= c + TOLERANCE
    ]
    if len(first) != 5:
        problems.append(f"jitter on, 6 failing attempts: {len(first)} waits; expected 5")
    elif outside:
        problems.append(
            f"jitter on (base 0.5 s, factor 3, cap 6 s): waits {seconds(first)}; each must lie in "
            f"[0, {seconds(ceilings)}] in turn ({', '.join(outside)})"
        )
    elif all_close(first, ceilings):
        problems.append(f"jitter on: waits {seconds(first)} are the capped backoff itself; "
                        "expected random draws below it")
    elif all(w >= c / 2 for w, c in zip(first, ceilings)):
        problems.append(
            f"jitter on: waits {seconds(first)} all keep at least half of the capped backoff "
            f"({seconds(ceilings)}); full jitter draws from all of [0, capped backoff]"
        )
    elif not all_close(runs["again"].gaps, first):
        problems.append(
            f"jitter with seed 31 twice: {seconds(first)}, then {seconds(runs['again'].gaps)}; "
            "expected the same waits (draw from the rng you were given)"
        )
    elif all_close(runs["other"].gaps, first):
        problems.append("jitter with seeds 31 and 8 gave the same waits; expected different ones")
    return verdict(
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
    return verdict("single-retry-layer", problems, "; ".join(shown))


#: Every lab 01 check, in the checklist's order.
CHECKS: tuple[Callable[[ModuleType | None], bool], ...] = (
    retries_transient,
    exponential_backoff,
    no_sleep_after_last,
    gives_up_with_last_error,
    permanent_not_retried,
    honours_retry_after,
    capped_with_jitter,
    single_retry_layer,
)


def all_checks(lab: ModuleType | None = None) -> Summary:
    """Run every lab 01 check on one fresh load of the module; print a line each."""
    return run_checks(CHECKS, _lab(lab))
