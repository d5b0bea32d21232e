"""Lab 01 scenarios: the retry layer against scripted failures, on the frozen clock."""

from __future__ import annotations

import datetime as _dt
import email.utils
import random
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from grader.observe import describe_error, outcome, plain, type_name
from grader.scenarios import Registry
from labs.kit.clock import DEFAULT_START, FrozenClock
from labs.kit.fake_llm import FakeLLM, Step, connect_error, failure, reply, timeout

SCENARIOS = Registry()
PROMPT = [{"role": "user", "content": "Disk is full on web-1. Sort it out."}]


def _content(completion: Any) -> Any:
    """The reply's text; whatever else came back (None, say) is kept as plain data, so
    that a wrapper returning something other than a completion is an observation for the
    checks, not a crash of the whole scenario."""
    try:
        return plain(completion.choices[0].message.content)
    except Exception:  # noqa: BLE001 - not a completion: report what it was
        return plain(completion)


def _raised(error: BaseException, lab: ModuleType) -> dict[str, Any]:
    """An exception, with what a retry error carries when it is one."""
    seen = describe_error(error)
    seen["is_retry_error"] = isinstance(error, lab.RetryError)
    last = getattr(error, "last_error", None)
    seen["attempts"] = plain(getattr(error, "attempts", None))
    seen["last_error"] = None if last is None else type_name(last)
    seen["last_error_status"] = plain(getattr(last, "status_code", None))
    seen["cause_is_last_error"] = last is not None and error.__cause__ is last
    seen["status"] = plain(getattr(error, "status_code", None))
    return seen


def _run_llm(
    lab: ModuleType,
    script: Sequence[Step],
    policy: dict[str, Any],
    *,
    rng: random.Random | None = None,
    client_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``RetryingLLM.complete`` against ``script``; what the server and clock saw."""
    with FrozenClock(patch_sleep=True) as clock, FakeLLM(script, clock=clock) as llm:
        client = llm.client(**(client_options or {}))

        def complete() -> Any:
            wrapper = lab.RetryingLLM(
                client, policy=lab.RetryPolicy(**policy), sleep=clock.sleep, rng=rng
            )
            return wrapper.complete(PROMPT)

        seen = outcome(complete, keep=_content, describe=lambda e: _raised(e, lab))
        seen["requests"] = len(llm.requests)
        seen["arrivals"] = llm.arrivals()
        seen["gaps"] = llm.gaps()
        seen["sleeps"] = [round(s, 6) for s in clock.sleeps]
        seen["ended_at"] = clock.elapsed()
        return seen


def _run_call(
    lab: ModuleType, effects: Sequence[Callable[[], Any]], policy: dict[str, Any]
) -> dict[str, Any]:
    """``retry_call`` over a plain function whose n-th call does ``effects[n]``."""
    calls = 0

    def fn() -> Any:
        nonlocal calls
        calls += 1
        return effects[min(calls, len(effects)) - 1]()

    with FrozenClock(patch_sleep=True) as clock:
        seen = outcome(
            lambda: lab.retry_call(fn, lab.RetryPolicy(**policy), sleep=clock.sleep),
            describe=lambda e: _raised(e, lab),
        )
        seen["calls"] = calls
        seen["sleeps"] = [round(s, 6) for s in clock.sleeps]
        return seen


def _raise(error: BaseException) -> Callable[[], Any]:
    def effect() -> Any:
        raise error

    return effect


QUICK = {"max_attempts": 3, "base_delay": 0.5}


@SCENARIOS.scenario
def transient_kinds(lab: ModuleType) -> dict[str, Any]:
    """One transient failure of each kind, then a success."""
    kinds: dict[str, Step] = {str(s): failure(s) for s in (408, 409, 429, 500, 502, 503, 504)}
    kinds["timeout"] = timeout()
    kinds["connect"] = connect_error()
    seen = {
        kind: _run_llm(lab, [step, reply(f"recovered from {kind}")], QUICK)
        for kind, step in kinds.items()
    }
    seen["two_in_a_row"] = _run_llm(
        lab, [failure(503), failure(429), reply("recovered twice")], {"max_attempts": 4}
    )
    seen["plain_function"] = _run_call(
        lab,
        [_raise(TimeoutError("slow disk")), _raise(ConnectionError("reset")), lambda: 42],
        QUICK,
    )
    return seen


@SCENARIOS.scenario
def backoff_default(lab: ModuleType) -> dict[str, Any]:
    """The default policy against a server that keeps failing."""
    return _run_llm(lab, [failure(500)] * 4, {})


@SCENARIOS.scenario
def backoff_custom(lab: ModuleType) -> dict[str, Any]:
    """A non-default base and factor, far from any cap."""
    policy = {"max_attempts": 6, "base_delay": 0.25, "factor": 3.0, "max_delay": 1000.0}
    return _run_llm(lab, [failure(502)] * 6, policy)


@SCENARIOS.scenario
def give_up(lab: ModuleType) -> dict[str, Any]:
    """Every attempt fails: the attempts used, the error raised, the time spent."""
    return {
        "five": _run_llm(
            lab,
            [failure(500), failure(502), failure(504), failure(500), failure(503)],
            {"max_attempts": 5, "base_delay": 0.5},
        ),
        "one": _run_llm(lab, [failure(429)], {"max_attempts": 1}),
        "limit_before_success": _run_llm(
            lab, [failure(500)] * 3 + [reply("too late")], {"max_attempts": 3, "base_delay": 2.0}
        ),
        "plain_function": _run_call(
            lab, [_raise(ConnectionError("down"))] * 2 + [lambda: "late"], {"max_attempts": 2}
        ),
    }


@SCENARIOS.scenario
def permanent(lab: ModuleType) -> dict[str, Any]:
    """Errors no retry can cure, from the server and from the code itself."""
    seen = {
        str(status): _run_llm(lab, [failure(status), reply("should not be asked")], QUICK)
        for status in (400, 401, 403, 404, 422)
    }
    seen["value_error"] = _run_call(
        lab, [_raise(ValueError("negative disk size")), lambda: "no"], QUICK
    )
    seen["key_error"] = _run_call(lab, [_raise(KeyError("service")), lambda: "no"], QUICK)
    return seen


@SCENARIOS.scenario
def retry_after(lab: ModuleType) -> dict[str, Any]:
    """The server says how long to wait, in milliseconds, seconds, too long, or both."""
    script = [
        failure(429, retry_after_ms=2500),
        failure(503, retry_after=7),
        failure(429, retry_after=120),
        failure(429, retry_after_ms=300, retry_after=9),
        reply("finally"),
    ]
    return _run_llm(lab, script, {"max_attempts": 5, "base_delay": 1.0, "max_delay": 20.0})


def _http_date(seconds_from_start: float) -> str:
    """An HTTP date (RFC 9110) ``seconds_from_start`` after the frozen clock's start."""
    when = DEFAULT_START + _dt.timedelta(seconds=seconds_from_start)
    return email.utils.format_datetime(when, usegmt=True)


@SCENARIOS.scenario
def retry_after_forms(lab: ModuleType) -> dict[str, Any]:
    """``retry-after`` as an HTTP date (ahead, then past), and values to ignore: unreadable,
    infinite, negative; and a plain zero, which is an answer (retry now)."""
    script = [
        failure(503, retry_after=_http_date(12)),
        failure(503, retry_after=_http_date(-86400)),
        failure(503, retry_after="soon"),
        failure(503, retry_after="0"),
        failure(503, retry_after="inf"),
        failure(503, retry_after="-5"),
        reply("after all of them"),
    ]
    return _run_llm(lab, script, {"max_attempts": 7, "base_delay": 1.0, "max_delay": 20.0})


@SCENARIOS.scenario
def capped(lab: ModuleType) -> dict[str, Any]:
    """Backoff that would grow past the cap."""
    policy = {"max_attempts": 7, "base_delay": 1.0, "factor": 3.0, "max_delay": 10.0}
    return _run_llm(lab, [failure(500)] * 7, policy)


#: The seed of each run of the ``jitter`` scenario.
JITTER_SEEDS = {"first": 2024, "again": 2024, "other": 77}


@SCENARIOS.scenario
def jitter(lab: ModuleType) -> dict[str, Any]:
    """Full jitter: the same seed twice (with the global random module disturbed in
    between), then another seed."""
    policy = {"max_attempts": 6, "base_delay": 1.0, "factor": 2.0, "max_delay": 5.0, "jitter": True}
    runs = {}
    for disturbance, (name, seed) in enumerate(JITTER_SEEDS.items(), 1):
        random.seed(disturbance)
        runs[name] = _run_llm(lab, [failure(500)] * 6, policy, rng=random.Random(seed))
    return runs


@SCENARIOS.scenario
def single_layer(lab: ModuleType) -> dict[str, Any]:
    """A client left with its default retries (max_retries=2) handed to the wrapper."""
    return _run_llm(lab, [failure(500)] * 12, {"max_attempts": 3, "base_delay": 0.5})
