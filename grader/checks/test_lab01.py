"""Checks for lab 01 (retry with exponential backoff), one group per checklist item."""

from __future__ import annotations

import random

import pytest

from grader.checks.expect import TOLERANCE, all_close, raised_type, seconds
from grader.scenarios.lab01 import JITTER_SEEDS

TRANSIENT_KINDS = ("408", "409", "429", "500", "502", "503", "504", "timeout", "connect")
PERMANENT = {
    "400": "openai.BadRequestError",
    "401": "openai.AuthenticationError",
    "403": "openai.PermissionDeniedError",
    "404": "openai.NotFoundError",
    "422": "openai.UnprocessableEntityError",
}


# -- lab01.retries-transient ------------------------------------------------------------


@pytest.mark.item("lab01.retries-transient")
def test_each_transient_failure_is_retried(observe):
    seen = observe("transient_kinds")
    wrong = [
        f"{kind}: {raised_type(seen[kind])} after {seen[kind]['requests']} request(s)"
        for kind in TRANSIENT_KINDS
        if seen[kind].get("returned") != f"recovered from {kind}" or seen[kind]["requests"] != 2
    ]
    assert not wrong, "one transient failure, then a success; expected the success after 2 " \
        "requests, got: " + "; ".join(wrong)


@pytest.mark.item("lab01.retries-transient")
def test_several_transient_failures_in_a_row(observe):
    seen = observe("transient_kinds")["two_in_a_row"]
    assert seen.get("returned") == "recovered twice" and seen["requests"] == 3, (
        f"503, 429, then a success: {raised_type(seen)} after {seen['requests']} requests; "
        "expected the success after 3"
    )


@pytest.mark.item("lab01.retries-transient")
def test_plain_function_transient_errors(observe):
    seen = observe("transient_kinds")["plain_function"]
    assert seen.get("returned") == 42 and seen["calls"] == 3, (
        f"retry_call over TimeoutError, ConnectionError, then 42: {raised_type(seen)} after "
        f"{seen['calls']} calls; expected 42 after 3"
    )


# -- lab01.exponential-backoff ------------------------------------------------------------


@pytest.mark.item("lab01.exponential-backoff")
def test_default_waits_double_from_one_second(observe):
    seen = observe("backoff_default")
    assert all_close(seen["gaps"], [1.0, 2.0, 4.0]), (
        f"default policy, 4 failing attempts: gaps between requests {seconds(seen['gaps'])}; "
        "expected 1, 2, 4 s"
    )


@pytest.mark.item("lab01.exponential-backoff")
def test_waits_follow_base_and_factor(observe):
    seen = observe("backoff_custom")
    expected = [0.25 * 3**n for n in range(5)]
    assert all_close(seen["gaps"], expected), (
        f"base 0.25 s, factor 3: gaps {seconds(seen['gaps'])}; expected {seconds(expected)}"
    )


# -- lab01.no-sleep-after-last ------------------------------------------------------------


def _waited_after_last(seen):
    arrivals = seen["arrivals"]
    return bool(arrivals) and seen["ended_at"] - arrivals[-1] > TOLERANCE


@pytest.mark.item("lab01.no-sleep-after-last")
def test_no_wait_after_the_final_attempt(observe):
    for name, seen in observe("give_up").items():
        if name == "plain_function":
            continue
        assert not _waited_after_last(seen), (
            f"the caller got the error {seen['ended_at'] - seen['arrivals'][-1]:g} s after the "
            "last request: a wait after the final attempt only delays the failure"
        )


@pytest.mark.item("lab01.no-sleep-after-last")
def test_never_more_attempts_than_the_limit(observe):
    seen = observe("give_up")
    counts = {name: seen[name]["requests"] for name in ("five", "one", "limit_before_success")}
    assert counts == {"five": 5, "one": 1, "limit_before_success": 3}, (
        f"requests made with limits of 5, 1 and 3 attempts: {counts['five']}, {counts['one']}, "
        f"{counts['limit_before_success']}"
    )
    late = seen["limit_before_success"]
    assert "raised" in late, "a success that would only come on attempt 4 of 3 was reached"


@pytest.mark.item("lab01.no-sleep-after-last")
def test_one_wait_fewer_than_attempts(observe):
    seen = observe("give_up")
    waits = {name: len(seen[name]["sleeps"]) for name in ("five", "one", "plain_function")}
    assert waits == {"five": 4, "one": 0, "plain_function": 1}, (
        f"waits with 5, 1 and 2 failing attempts: {waits['five']}, {waits['one']}, "
        f"{waits['plain_function']}; expected 4, 0, 1"
    )


# -- lab01.gives-up-with-last-error -------------------------------------------------------


def _error_name(kind, status):
    return kind if status is None else f"{kind} ({status})"


def _gave_up_properly(seen, attempts, last_error, status):
    raised = seen.get("raised")
    if raised is None:
        return f"returned {seen.get('returned')!r} instead of raising"
    problems = []
    if not raised["is_retry_error"]:
        problems.append(f"raised {raised['type']}, not the lab's RetryError")
    if raised["attempts"] != attempts:
        problems.append(f"attempts={raised['attempts']!r}, expected {attempts}")
    if raised["last_error"] != last_error or raised["last_error_status"] != status:
        problems.append(
            f"last_error={_error_name(raised['last_error'], raised['last_error_status'])}, "
            f"expected {_error_name(last_error, status)}"
        )
    if not raised["cause_is_last_error"]:
        problems.append("__cause__ is not the last error (raise ... from last_error)")
    return "; ".join(problems)


@pytest.mark.item("lab01.gives-up-with-last-error")
def test_retry_error_after_all_attempts(observe):
    seen = observe("give_up")
    problem = _gave_up_properly(seen["five"], 5, "openai.InternalServerError", 503)
    assert not problem, f"5 attempts, five 5xx ending with a 503: {problem}"
    problem = _gave_up_properly(seen["one"], 1, "openai.RateLimitError", 429)
    assert not problem, f"1 attempt allowed, a 429: {problem}"


@pytest.mark.item("lab01.gives-up-with-last-error")
def test_retry_error_from_plain_function(observe):
    seen = observe("give_up")["plain_function"]
    problem = _gave_up_properly(seen, 2, "ConnectionError", None)
    assert not problem, f"retry_call, 2 attempts, both ConnectionError: {problem}"


# -- lab01.permanent-not-retried ------------------------------------------------------------


@pytest.mark.item("lab01.permanent-not-retried")
def test_client_errors_raised_at_once(observe):
    seen = observe("permanent")
    wrong = [
        f"{status}: {raised_type(seen[status])} after {seen[status]['requests']} request(s) "
        f"and {len(seen[status]['sleeps'])} wait(s)"
        for status, kind in PERMANENT.items()
        if raised_type(seen[status]) != kind
        or seen[status]["requests"] != 1
        or seen[status]["sleeps"]
    ]
    assert not wrong, "a permanent error must be raised as it is after 1 request, no wait; " \
        "got: " + "; ".join(wrong)


@pytest.mark.item("lab01.permanent-not-retried")
def test_programming_errors_raised_at_once(observe):
    seen = observe("permanent")
    for name, kind in (("value_error", "ValueError"), ("key_error", "KeyError")):
        case = seen[name]
        assert raised_type(case) == kind and case["calls"] == 1 and not case["sleeps"], (
            f"a {kind} from the function: {raised_type(case)} after {case['calls']} call(s) "
            f"and {len(case['sleeps'])} wait(s); expected the {kind} itself after 1 call"
        )


# -- lab01.honours-retry-after ------------------------------------------------------------


@pytest.mark.item("lab01.honours-retry-after")
def test_server_requested_delays(observe):
    seen = observe("retry_after")
    assert all_close(seen["gaps"], [2.5, 7.0, 20.0, 0.3]), (
        "retry-after-ms 2500, retry-after 7, retry-after 120 over a 20 s cap, then both "
        f"retry-after-ms 300 and retry-after 9: gaps {seconds(seen['gaps'])}; "
        "expected 2.5, 7, 20, 0.3 s"
    )
    assert seen.get("returned") == "finally", f"the final success was lost: {raised_type(seen)}"


@pytest.mark.item("lab01.honours-retry-after")
def test_http_dates_and_values_to_ignore(observe):
    seen = observe("retry_after_forms")
    expected = [12.0, 0.0, 4.0, 0.0, 16.0, 20.0]
    assert all_close(seen["gaps"], expected), (
        "retry-after as an HTTP date 12 s ahead, a date in the past, 'soon', '0', 'inf', "
        f"'-5' (base 1 s, factor 2, cap 20 s): gaps {seconds(seen['gaps'])}; expected "
        f"{seconds(expected)}: a date counts from now, never below 0; '0' means retry now; "
        "what is unreadable, infinite or negative falls back to the computed backoff"
    )
    assert seen.get("returned") == "after all of them", (
        f"the final success was lost: {raised_type(seen)}"
    )


# -- lab01.capped-with-jitter -------------------------------------------------------------


@pytest.mark.item("lab01.capped-with-jitter")
def test_waits_never_exceed_the_cap(observe):
    seen = observe("capped")
    assert all_close(seen["gaps"], [1.0, 3.0, 9.0, 10.0, 10.0, 10.0]), (
        f"base 1 s, factor 3, cap 10 s: gaps {seconds(seen['gaps'])}; expected 1, 3, 9, 10, 10, 10 s"
    )


JITTER_BOUNDS = [min(5.0, 2.0**n) for n in range(5)]


@pytest.mark.item("lab01.capped-with-jitter")
def test_full_jitter_within_bounds(observe):
    for run in ("first", "other"):
        gaps = observe("jitter")[run]["gaps"]
        assert isinstance(gaps, list) and len(gaps) == 5, f"expected 5 jittered waits, saw {gaps!r}"
        outside = [
            (g, b) for g, b in zip(gaps, JITTER_BOUNDS) if not -TOLERANCE <= g <= b + TOLERANCE
        ]
        assert not outside, "jittered waits must lie in [0, capped backoff]; " + ", ".join(
            f"{g:g} s outside [0, {b:g}]" for g, b in outside
        )
        assert not all_close(gaps, JITTER_BOUNDS), "with jitter on, the waits are the plain backoff"


@pytest.mark.item("lab01.capped-with-jitter")
def test_full_jitter_spans_the_range(observe):
    seen = observe("jitter")
    shares = [
        g / b
        for run in ("first", "other")
        if isinstance(seen[run]["gaps"], list)
        for g, b in zip(seen[run]["gaps"], JITTER_BOUNDS)
        if isinstance(g, (int, float))
    ]
    assert any(share < 0.5 for share in shares), (
        f"none of {len(shares)} jittered waits fell in the lower half of [0, capped backoff]: "
        "full jitter draws the whole wait, it does not keep part of the backoff fixed"
    )


@pytest.mark.item("lab01.capped-with-jitter")
def test_jitter_draws_uniform_from_zero_to_the_cap(observe):
    seen = observe("jitter")
    for run in ("first", "other"):
        rng = random.Random(JITTER_SEEDS[run])
        expected = [rng.uniform(0.0, bound) for bound in JITTER_BOUNDS]
        assert all_close(seen[run]["gaps"], expected), (
            f"seed {JITTER_SEEDS[run]}: gaps {seconds(seen[run]['gaps'])}; expected "
            f"{seconds(expected)}, one rng.uniform(0, capped backoff) per wait, in order"
        )


@pytest.mark.item("lab01.capped-with-jitter")
def test_jitter_comes_from_the_seeded_source(observe):
    seen = observe("jitter")
    assert all_close(seen["again"]["gaps"], seen["first"]["gaps"]), (
        f"the same seed gave {seconds(seen['first']['gaps'])} then {seconds(seen['again']['gaps'])}"
        ": draw from the rng you were given, not the global random module"
    )
    assert not all_close(seen["other"]["gaps"], seen["first"]["gaps"]), (
        "two different seeds gave the same waits: the rng you were given is not used"
    )


# -- lab01.single-retry-layer -------------------------------------------------------------


@pytest.mark.item("lab01.single-retry-layer")
def test_server_sees_exactly_the_attempts(observe):
    seen = observe("single_layer")
    assert seen["requests"] == 3, (
        f"3 attempts through a client left at its defaults reached the server as "
        f"{seen['requests']} requests; expected 3"
    )
