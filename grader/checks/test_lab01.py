"""Checks for lab 01 (retry with exponential backoff), one group per checklist item.

Each item is judged on its own rule only, in every case where that rule decides something,
and relative to what the submission does elsewhere where the contract defines the rule that
way: a wait the server did not ask for must be the wait the submission computes by itself
(its twin run without headers), a jittered wait is drawn over the submission's own capped
backoff, how often a failure is retried follows the submission's own verdict on that kind of
failure. So one mistake costs the item whose rule it breaks, and no other.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from grader.checks.expect import TOLERANCE, close, raised_type, seconds
from grader.scenarios.lab01 import (BODY_CODES, FALSY_RESULTS, GIVE_UP_CALLS, GLOBAL_SEED,
                                    LAYER_CLIENTS, LAYER_POLICIES, MORE_PERMANENT_STATUSES,
                                    NOISE, PERMANENT_BODY_CODES, RAW_BODIES,
                                    PERMANENT_HTTPX_ERRORS, PERMANENT_KINDS,
                                    PERMANENT_OS_ERRORS, QUICK, SLOW_GROWTH, SUCCESS, TOO_LATE,
                                    TRANSIENT_HTTPX_ERRORS, TRANSIENT_KINDS,
                                    TRANSIENT_OS_ERRORS, Attempt, Case, backoff_twin,
                                    error_name, generated_cases, jitter_cases)
from grader.scenarios.lab01 import (FIXED_POINT, SERVER_PACED_ENDINGS, SERVER_PACED_LIMITS,
                                    fractional_cases, same_error_cases, slow_cases,
                                    timed_out_cases)
from grader.scenarios.lab01 import (CARRIED_POLICY, LARGE_LIMITS, LARGE_LLM_LIMIT,
                                    USED_ORDERS, SharedRng, carried_delays,
                                    carried_runs, conversation_cases, linked_errors,
                                    shared_rng_cases, timeout_cases)
from grader.scenarios.lab01 import (AFTER_CLIENTS, AFTER_ENDINGS, AS_RAISED_STATUSES,
                                    PREBUILT_PERMANENT, SAME_HEADER_CALLS,
                                    deep_cases, status_cases, unjittered_cases,
                                    zoned_cases)

#: What the OpenAI client raises for each kind of failure (its own mapping).
ERROR_TYPES = {
    "400": "openai.BadRequestError", "401": "openai.AuthenticationError",
    "403": "openai.PermissionDeniedError", "404": "openai.NotFoundError",
    "409": "openai.ConflictError", "422": "openai.UnprocessableEntityError",
    "429": "openai.RateLimitError", "timeout": "openai.APITimeoutError",
    "connect": "openai.APIConnectionError",
}
NAMED_TRANSIENT = ("openai.APITimeoutError", "openai.APIConnectionError", "httpx.ReadTimeout",
                   "httpx.ConnectError", "TimeoutError", "ConnectionError",
                   *map(error_name, TRANSIENT_OS_ERRORS + TRANSIENT_HTTPX_ERRORS))
NAMED_PERMANENT = ("ValueError", "KeyError", "FileNotFoundError", "PermissionError",
                   "json.JSONDecodeError", "RuntimeError from TimeoutError",
                   "ValueError about a timeout", "RuntimeError saying try again",
                   "httpx.HTTPStatusError 503", "openai.OpenAIError",
                   "openai.ContentFilterFinishReasonError", "RetryError of a 503",
                   *(("ExceptionGroup of timeouts",) if sys.version_info >= (3, 11) else ()),
                   *map(error_name, PERMANENT_OS_ERRORS + PERMANENT_HTTPX_ERRORS))


def error_type(kind: str) -> str:
    if kind in ERROR_TYPES:
        return ERROR_TYPES[kind]
    return "openai.InternalServerError" if int(kind) >= 500 else "openai.APIStatusError"


def status_of(kind: str) -> int | None:
    return int(kind) if kind.isdigit() else None


# -- reading a run -----------------------------------------------------------------------


def gaps_asked(run: dict[str, Any]) -> list[float]:
    """The wait asked for between each request and the next (every ``sleep`` and
    ``time.sleep`` of the submission's made meanwhile, added up; the OpenAI client's own
    waits are the single-layer item's)."""
    count = len(run["requests"])
    totals = [0.0] * max(count - 1, 0)
    for after, wait, via in run["waits"]:
        if via != "client" and 1 <= after < count:
            totals[after - 1] += wait if isinstance(wait, (int, float)) else float("nan")
    return totals


def asked_after_last(run: dict[str, Any]) -> float:
    count = len(run["requests"])
    return sum(w for after, w, via in run["waits"]
               if via != "client" and after >= count and isinstance(w, (int, float)))


def clock_gaps(run: dict[str, Any]) -> list[float]:
    times = [r["at"] for r in run["requests"]]
    return [round(b - a, 6) for a, b in zip(times, times[1:])]


def process_sleeps(run: dict[str, Any]) -> list[Any]:
    return [w for _after, w, via in run["waits"] if via == "time.sleep"]


def describe(case: Case) -> str:
    """A case in words: the policy and what the server does, request by request."""
    p = case.settings
    policy = (f"max_attempts={p['max_attempts']}, base {p['base_delay']:g} s, factor "
              f"{p['factor']:g}, cap {p['max_delay']:g} s" + (", jitter" if p["jitter"] else ""))
    steps = []
    for attempt in case.script:
        headers = ", ".join(f"{h.name}: {h.text}" for h in attempt.headers)
        steps.append(attempt.kind + (f" ({headers})" if headers else ""))
    return f"{case.name} [{policy}; the server: {', '.join(steps)}]"


def backoff(case: Case, n: int) -> float:
    """The contract's backoff before retry ``n`` without jitter: base * factor^n, capped."""
    p = case.settings
    try:
        exponential = p["base_delay"] * p["factor"] ** n
    except OverflowError:
        exponential = float("inf")
    return min(p["max_delay"], exponential)


def below_cap(case: Case, n: int) -> bool:
    p = case.settings
    return p["base_delay"] * p["factor"] ** n < p["max_delay"] - TOLERANCE


def wrong_backoff(case: Case, waits: Iterable[float]) -> tuple[int, str] | None:
    """The first of ``waits`` (computed backoffs, no jitter, no server delay) that is not the
    contract's, as its index and what is wrong with it, or None: wait ``n`` is
    base * factor ** n below the cap, and the cap once the formula has reached it."""
    cap = case.settings["max_delay"]
    for n, wait in enumerate(waits):
        if below_cap(case, n) and not close(wait, backoff(case, n)):
            return n, (f"wait {n + 1} was {wait:g} s; expected {backoff(case, n):g} s "
                       f"(base * factor ** {n})")
        if not below_cap(case, n) and not wait >= cap - TOLERANCE:
            return n, (f"wait {n + 1} was {wait:g} s; base * factor ** {n} has reached the "
                       f"cap, so expected the cap, {cap:g} s: the waits stopped growing")
    return None


def contract_gaps(case: Case) -> int:
    """How many waits the contract's course of ``case`` has: one between each request and
    the next, none after the last (nor after a permanent error)."""
    return min(trace(case, CONTRACT_RETRIED).requests, case.settings["max_attempts"]) - 1


def computed_form(case: Case, n: int, wait: float) -> bool:
    """Whether ``wait``, made before retry ``n`` where the server asked for nothing, has the
    form of a computed backoff: base * factor ** m (the cap once reached) for some m up to
    ``n``, not a value derived from an earlier wait. Which m is the right one (n, counting
    the failures whose wait the server chose too) is honours-retry-after's."""
    return any(close(wait, backoff(case, m)) if below_cap(case, m)
               else wait >= case.settings["max_delay"] - TOLERANCE for m in range(n + 1))


def chained_waits(case: Case, run: dict[str, Any]) -> list[str]:
    """The computed waits of a run with server delays that are no computed backoff at all
    (see :func:`computed_form`), after a failure that carries no header of any kind. A wait
    that repeats an earlier wait the server chose is that delay kept beyond its one wait,
    not a chained backoff: honours-retry-after's."""
    problems = []
    waits = gaps_asked(run)[:contract_gaps(case)]
    for n, wait in enumerate(waits):
        attempt = case.script[n]
        if attempt.headers or attempt.noise:
            continue  # a header, read right or wrong: honours-retry-after's
        if any(close(wait, waits[m]) for m in range(n) if case.script[m].headers):
            continue  # the server's delay kept for later waits: honours-retry-after's
        if not computed_form(case, n, wait):
            earlier = [f"{w:g}" for w in gaps_asked(run)[:n]]
            problems.append(f"{describe(case)}: after {attempt.kind} (no header) wait {n + 1} "
                            f"was {wait:g} s, after waits of {', '.join(earlier) or 'none'} s; "
                            f"expected base * factor ** {n} = {backoff(case, n):g} s, whatever "
                            "waits came before (a wait the server chose included): the backoff "
                            "is computed from the retry number, never chained from the last "
                            "wait")
            break
    return problems


# -- what the contract says a case does ----------------------------------------------------


@dataclass(frozen=True)
class Trace:
    """How a case ends by the contract: ``success``, ``raised`` (a failure not retried) or
    ``gave-up``, after ``requests`` requests; ``last`` is the attempt it ended on."""

    ending: str
    requests: int
    last: Attempt


def trace(case: Case, retried: set[str]) -> Trace:
    """The contract's course of ``case`` when the kinds in ``retried`` are retried."""
    limit = case.settings["max_attempts"]
    for index, attempt in enumerate(case.script):
        if attempt.kind == "ok":
            return Trace("success", index + 1, attempt)
        if attempt.kind not in retried:
            return Trace("raised", index + 1, attempt)
        if index + 1 == limit:
            return Trace("gave-up", index + 1, attempt)
    raise AssertionError(f"{case.name}: the script ends before the case does")


CONTRACT_RETRIED = set(TRANSIENT_KINDS)


def retried_kinds(observe) -> set[str]:
    """The kinds of failure the submission retries: by the contract, corrected by what it
    did with one failure of each kind followed by a success."""
    seen = observe("transient_kinds")
    retried = set()
    for kind in TRANSIENT_KINDS + PERMANENT_KINDS:
        run = seen[kind]
        if len(run["requests"]) >= 2:
            retried.add(kind)
    return retried


def runs(observe, *scenarios: str) -> Iterator[tuple[Case, dict[str, Any], bool]]:
    """``(case, run, is_twin)`` for every generated run of ``scenarios``."""
    for scenario in scenarios:
        seen = observe(scenario)
        cases = generated_cases() if scenario == "generated" else jitter_cases()
        for case in cases:
            if scenario == "generated" and backoff_raises(seen, case):
                continue  # backoff_delay itself raises here: exponential-backoff says so
            yield case, seen[case.name], False
            twin_name = f"{case.name}-twin"
            if twin_name in seen:
                twin = case.twin() if scenario == "generated" else backoff_twin(case)
                yield twin, seen[twin_name], True


def backoff_raises(seen: dict[str, Any], case: Case) -> bool:
    """Whether the submission's own backoff_delay raised for some retry of ``case``'s
    policy (asked directly): a run that then stops on it is exponential-backoff's."""
    return any("raised" in probe for probe in seen[f"{case.name}-backoff"])


def first(problems: list[str], situation: str) -> str:
    shown = "; ".join(problems[:2]) + (f" (and {len(problems) - 2} more)"
                                       if len(problems) > 2 else "")
    return f"{situation}: {shown}"


# -- lab01.retries-transient ------------------------------------------------------------


@pytest.mark.item("lab01.retries-transient")
def test_is_transient_says_yes_to_transient_failures(observe):
    seen = observe("classification")
    wrong = [name for name in (*[k for k in TRANSIENT_KINDS if k.isdigit()], *NAMED_TRANSIENT)
             if seen[name].get("returned") is not True]
    assert not wrong, (
        "is_transient said no (or raised) for: " + ", ".join(
            f"{name} ({raised_type(seen[name])})" for name in wrong)
        + "; 408, 409, 429, every 5xx, timeouts and connection errors are transient"
    )


@pytest.mark.item("lab01.retries-transient")
def test_each_transient_failure_is_retried(observe):
    seen = observe("transient_kinds")
    wrong = [
        f"{kind}: {raised_type(seen[kind])} after {len(seen[kind]['requests'])} request(s)"
        for kind in TRANSIENT_KINDS
        if seen[kind].get("returned") != SUCCESS or len(seen[kind]["requests"]) != 2
    ]
    assert not wrong, "one transient failure, then a success; expected the success after 2 " \
        "requests, got: " + "; ".join(wrong)


@pytest.mark.item("lab01.retries-transient")
def test_ignored_headers_do_not_stop_retries(observe):
    seen = observe("transient_kinds")
    wrong = [
        f"{status}: {raised_type(seen[name])} after {len(seen[name]['requests'])} request(s)"
        for status in ("429", "503")
        if (run := seen[(name := f"{status}-{NOISE}")]).get("returned") != SUCCESS
        or len(run["requests"]) != 2
    ]
    assert not wrong, (
        f"a transient failure carrying {NOISE}: false, then a success; expected the success "
        "after 2 requests (what is transient is the status's to say, not that header's), "
        "got: " + "; ".join(wrong)
    )


@pytest.mark.item("lab01.retries-transient")
def test_the_body_code_does_not_stop_retries(observe):
    seen = observe("transient_kinds")
    wrong = [
        f"{status} with code {code}: {raised_type(run)} after {len(run['requests'])} "
        "request(s)"
        for status, code in BODY_CODES
        if (run := seen[f"{status}-{code}"]).get("returned") != SUCCESS
        or len(run["requests"]) != 2
    ]
    assert not wrong, (
        "a transient status whose error body carries a code, then a success; expected the "
        "success after 2 requests (the status_code alone says what is transient), got: "
        + "; ".join(wrong)
    )


@pytest.mark.item("lab01.retries-transient")
def test_a_body_that_is_not_json_is_retried(observe):
    seen = observe("transient_kinds")
    wrong = [f"{status} with {what} body: {raised_type(run)} after {len(run['requests'])} "
             "request(s)"
             for status, what, _body in RAW_BODIES
             if (run := seen[f"{status}-{what}"]).get("returned") != SUCCESS
             or len(run["requests"]) != 2]
    assert not wrong, (
        "a transient failure whose body is not JSON (a proxy's HTML page, or nothing), then "
        "a success: " + "; ".join(wrong) + "; expected the success after 2 requests (read "
        "nothing from the body that may not be there)"
    )


@pytest.mark.item("lab01.retries-transient")
def test_any_result_is_a_success(observe):
    seen = observe("transient_kinds")["falsy_results"]
    wrong = [f"{name}: {raised_type(run)} after {run['calls']} call(s)"
             for name, run in seen.items()
             if "returned" not in run or run["calls"] != 1
             or repr(run["returned"]) != name]
    assert not wrong, (
        f"retry_call over a function returning {', '.join(map(repr, FALSY_RESULTS))} at once: "
        + "; ".join(wrong) + "; expected that result after 1 call (a return is a success, "
        "whatever it returns)"
    )


@pytest.mark.item("lab01.retries-transient")
def test_every_call_gets_its_own_retries(observe):
    seen = observe("transient_kinds")["after_give_ups"]
    limit = QUICK["max_attempts"]
    expected = [min(len(failures) + succeeds, limit) for failures, succeeds in GIVE_UP_CALLS]
    if any(made > limit for made in seen["made"]):
        return  # more attempts than the limit: no-sleep-after-last's
    wrong = [
        f"call {n + 1} ({', '.join(failures)}{', ok' if succeeds else ''}): "
        f"{raised_type(call)} after {made} request(s)"
        for n, ((failures, succeeds), call, made) in enumerate(
            zip(GIVE_UP_CALLS, seen["calls"], seen["made"]))
        if succeeds and (call.get("returned") != SUCCESS or made != expected[n])
    ]
    assert not wrong, (
        f"one RetryingLLM (max_attempts={limit}), three calls that give up, then two whose "
        "success the limit allows: " + "; ".join(wrong) + "; each call has its own "
        "max_attempts, whatever earlier calls went through"
    )


@pytest.mark.item("lab01.retries-transient")
def test_several_transient_failures_in_a_row(observe):
    seen = observe("transient_kinds")["two_in_a_row"]
    assert seen.get("returned") == SUCCESS and len(seen["requests"]) == 3, (
        f"503, 429, then a success: {raised_type(seen)} after {len(seen['requests'])} "
        "requests; expected the success after 3"
    )


@pytest.mark.item("lab01.retries-transient")
def test_plain_function_transient_errors(observe):
    seen = observe("transient_kinds")["plain_function"]
    assert seen.get("returned") == 42 and seen["calls"] == 3, (
        f"retry_call over TimeoutError, ConnectionError, then 42: {raised_type(seen)} after "
        f"{seen['calls']} calls; expected 42 after 3"
    )


@pytest.mark.item("lab01.retries-transient")
def test_a_retry_sends_the_same_request(observe):
    seen = observe("same_request")
    sent = seen["sent"]
    assert seen.get("returned") == SUCCESS and len(sent) == 2 and sent[0] == sent[1], (
        f"messages given as an iterator, a 503, then a success: {raised_type(seen)}; the "
        f"attempts sent {[len(m) if isinstance(m, list) else m for m in sent]} message(s): "
        "read the messages once, and send the same ones on every attempt"
    )


@pytest.mark.item("lab01.retries-transient")
def test_a_retry_sends_the_same_options(observe):
    seen = observe("same_options")
    carried = seen["carried"]
    expected = {"read_timeout": 12.5, "tools": ["restart_service"]}
    assert seen.get("returned") == SUCCESS and len(carried) == 2 \
            and all(c == expected for c in carried), (
        f"complete(messages, timeout=12.5, tools=[restart_service]), a 503, then a success: "
        f"{raised_type(seen)}; the attempts carried {carried}; expected {expected} on both "
        "(every attempt sends the same request, its options included)"
    )


@pytest.mark.item("lab01.retries-transient")
def test_success_within_the_limit_is_reached(observe):
    problems = []
    for case, run, _twin in runs(observe, "generated", "jitter"):
        expected = trace(case, CONTRACT_RETRIED)
        if expected.ending != "success" or case.has_headers:
            continue
        if run.get("returned") != SUCCESS or len(run["requests"]) != expected.requests:
            problems.append(f"{describe(case)}: {raised_type(run)} after "
                            f"{len(run['requests'])} request(s); expected the success after "
                            f"{expected.requests}")
    assert not problems, first(problems, "transient failures, then a success the limit allows")


# -- lab01.exponential-backoff ------------------------------------------------------------


@pytest.mark.item("lab01.exponential-backoff")
def test_default_waits_double_from_one_second(observe):
    seen = observe("backoff_default")
    asked = gaps_asked(seen)[:3]  # how many attempts are made: other items'
    assert asked and _all_close(asked, [min(30.0, 2.0**n) for n in range(len(asked))]), (
        f"default policy, 4 failing attempts: waits {seconds(asked)}; expected 1, 2, 4 s"
    )


@pytest.mark.item("lab01.exponential-backoff")
def test_waits_follow_base_and_factor(observe):
    seen = observe("backoff_custom")
    expected = [0.25 * 3**n for n in range(5)]
    asked = gaps_asked(seen)[:5]  # how many attempts are made: other items'
    assert asked and _all_close(asked, expected[:len(asked)]), (
        f"base 0.25 s, factor 3: waits {seconds(asked)}; expected {seconds(expected)}"
    )


@pytest.mark.item("lab01.exponential-backoff")
def test_a_dropped_connection_is_waited_on(observe):
    run = observe("backoff_after_resets")
    if run["calls"] != 4:
        return  # the dropped connections were not retried through: retries-transient's
    asked = [w for _after, w, via in run["waits"] if via != "client"][:3]
    expected = [0.5, 1.5, 4.5]
    assert _all_close(asked, expected), (
        f"retry_call (base 0.5 s, factor 3) over a connection reset, a broken pipe and an "
        f"aborted connection, then 42: {raised_type(run)} after {run['calls']} calls, waits "
        f"{seconds(asked)}; expected {seconds(expected)}: every transient failure waits its "
        "backoff, a dropped connection too"
    )


@pytest.mark.item("lab01.exponential-backoff")
def test_every_call_starts_from_the_base(observe):
    seen = observe("transient_kinds")["after_give_ups"]
    limit = QUICK["max_attempts"]
    if [min(len(f) + s, limit) for f, s in GIVE_UP_CALLS] != seen["made"]:
        return  # the calls made other attempts: the attempt items say so
    expected, asked, start = [], [], 0
    for made in seen["made"]:
        # the waits between this call's requests; one after its last is no-sleep-after-last's
        expected += [QUICK["base_delay"] * 2 ** n for n in range(made - 1)]
        asked += [w for after, w, via in seen["waits"]
                  if via != "client" and start < after < start + made]
        start += made
    assert _all_close(asked, expected), (
        f"one RetryingLLM (base 0.5 s, factor 2), three calls that give up, then two that "
        f"succeed: waits {seconds(asked)}; expected {seconds(expected)} (every call's "
        "backoff starts from base_delay)"
    )


@pytest.mark.item("lab01.exponential-backoff")
def test_backoff_delay_answers_for_every_generated_policy(observe):
    seen = observe("generated")
    broken = [f"{describe(case)}: backoff_delay({n}) {raised_type(probe)}"
              for case in generated_cases()
              for n, probe in enumerate(seen[f"{case.name}-backoff"]) if "raised" in probe]
    assert not broken, first(broken, "backoff_delay asked directly for each retry of the "
                                     "generated policies")


@pytest.mark.item("lab01.exponential-backoff")
def test_an_rng_does_not_jitter_without_jitter(observe):
    seen = observe("backoff_with_rng")
    expected = [0.25 * 3**n for n in range(5)]
    asked = gaps_asked(seen)[:5]  # how many attempts are made: other items'
    assert asked and _all_close(asked, expected[:len(asked)]), (
        f"base 0.25 s, factor 3, jitter off, a seeded rng handed over: waits "
        f"{seconds(asked)}; expected {seconds(expected)} (the rng is for jitter: with "
        "jitter off it changes nothing)"
    )


@pytest.mark.item("lab01.exponential-backoff")
def test_generated_waits_below_the_cap_are_exponential(observe):
    problems = []
    for case, run, _twin in runs(observe, "generated", "jitter"):
        if case.has_headers or case.has_noise or case.settings["jitter"]:
            continue  # what the server's headers do to a wait: honours-retry-after
        # built on the attempts being the contract's (permanent-not-retried's,
        # retries-transient's, no-sleep-after-last's): only the waits the contract's course
        # of the case has are judged, none after a permanent error sent again
        wrong = wrong_backoff(case, gaps_asked(run)[:contract_gaps(case)])
        if wrong:
            problems.append(f"{describe(case)}: {wrong[1]}")
    assert not problems, first(problems, "waits of base * factor ** n, up to the cap")


@pytest.mark.item("lab01.exponential-backoff")
def test_waits_go_through_the_sleep_given(observe):
    problems = []
    named = [(name, observe(name)) for name in ("backoff_default", "backoff_custom")]
    generated = [(case.name, run) for case, run, _ in runs(observe, "generated", "jitter")
                 if not case.has_headers]
    for name, run in named + generated:
        if process_sleeps(run):
            problems.append(f"{name}: time.sleep({', '.join(map(str, process_sleeps(run)))}) "
                            "was called")
        elif not _all_close(clock_gaps(run), gaps_asked(run)):
            problems.append(f"{name}: waits asked {seconds(gaps_asked(run))}, but the clock "
                            f"saw gaps of {seconds(clock_gaps(run))}")
        if problems:
            break
    assert not problems, first(
        problems, "every wait must go through the sleep you are given (the grader's moves the "
                  "clock; time.sleep would block a real program for nothing here)")


# -- lab01.no-sleep-after-last ------------------------------------------------------------


@pytest.mark.item("lab01.no-sleep-after-last")
def test_never_more_attempts_than_the_limit(observe):
    seen = observe("give_up")
    counts = {name: len(seen[name]["requests"]) for name in ("five", "one",
                                                               "limit_before_success")}
    limits = {"five": 5, "one": 1, "limit_before_success": 3}
    none = [name for name, count in counts.items() if count == 0]
    assert not none, (
        f"no request at all in {', '.join(none)} (ended: "
        f"{', '.join(raised_type(seen[name]) for name in none)}): the first attempt is always "
        "made, and the limit is judged on the attempts that follow it"
    )
    over = {name: count for name, count in counts.items() if count > limits[name]}
    assert not over, (
        "requests made with limits of 5, 1 and 3 attempts: "
        f"{counts['five']}, {counts['one']}, {counts['limit_before_success']}"
    )
    assert seen["limit_before_success"].get("returned") != TOO_LATE, (
        "a success that would only come on attempt 4 of 3 was reached"
    )
    assert seen["plain_function"]["calls"] <= 2, (
        f"retry_call with max_attempts=2 called the function {seen['plain_function']['calls']} "
        "times"
    )


@pytest.mark.item("lab01.no-sleep-after-last")
def test_the_policy_alone_sets_the_attempts(observe):
    seen = observe("single_layer")
    over = [f"max_attempts={policy['max_attempts']}, a client with max_retries="
            f"{options.get('max_retries', 2)}: {len(run['requests'])} attempts"
            for index, policy in enumerate(LAYER_POLICIES)
            for name, options in LAYER_CLIENTS.items()
            if len(run := seen[f"{index}-{name}-plain"]["requests"]) > policy["max_attempts"]]
    assert not over, (
        "against a server that keeps failing: " + "; ".join(over) + " (the policy's "
        "max_attempts is the limit, whatever retries the client was built with)"
    )


@pytest.mark.item("lab01.no-sleep-after-last")
def test_no_wait_after_the_final_attempt(observe):
    seen = observe("give_up")
    for name in ("five", "one", "limit_before_success", "plain_function"):
        run = seen[name]
        count = len(run["requests"]) if "requests" in run else run["calls"]
        after = sum(w for a, w, via in run["waits"]
                    if via != "client" and a >= count and isinstance(w, (int, float)))
        assert after <= TOLERANCE, (
            f"the caller waited {after:g} s more after the last attempt failed: a wait after "
            "the final attempt only delays the failure"
        )


@pytest.mark.item("lab01.no-sleep-after-last")
def test_generated_runs_stop_at_the_limit(observe):
    problems = []
    for case, run, _twin in runs(observe, "generated", "jitter"):
        limit = case.settings["max_attempts"]
        made = len(run["requests"])
        if not made:
            problems.append(f"{describe(case)}: no request at all ({raised_type(run)})")
        elif made > limit or run.get("returned") == TOO_LATE:
            problems.append(f"{describe(case)}: {made} requests "
                            f"({raised_type(run)}); the limit is {limit} attempts")
        elif asked_after_last(run) > TOLERANCE:
            how = "it succeeded" if "returned" in run else "it failed"
            problems.append(f"{describe(case)}: a wait of {asked_after_last(run):g} s after the "
                            f"last attempt ({how}): once a call has its answer, or nothing "
                            "more to try, it returns or raises at once")
    assert not problems, first(problems, "attempts and waits at the limit")


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
    five, one = seen["five"], seen["one"]
    assert five["requests"] or one["requests"], (
        f"no request at all with 5 attempts ({raised_type(five)}) or with 1 "
        f"({raised_type(one)}): there is no last attempt whose error could be given up with"
    )
    if len(five["requests"]) == 5:
        problem = _gave_up_properly(five, 5, "openai.InternalServerError", 503)
        assert not problem, f"5 attempts, five 5xx ending with a 503: {problem}"
    if len(one["requests"]) == 1:
        problem = _gave_up_properly(one, 1, "openai.RateLimitError", 429)
        assert not problem, f"1 attempt allowed, a 429: {problem}"


@pytest.mark.item("lab01.gives-up-with-last-error")
def test_giving_up_on_a_body_that_is_not_json(observe):
    run = observe("give_up")["html"]
    if len(run["requests"]) != 3:
        return  # the attempts are other items'
    problem = _gave_up_properly(run, 3, "openai.InternalServerError", 502)
    assert not problem, (
        f"3 attempts, three 502s whose body is a proxy's HTML page: {problem} (the body "
        "need not be JSON: read nothing from it)"
    )


@pytest.mark.item("lab01.gives-up-with-last-error")
def test_retry_error_from_plain_function(observe):
    seen = observe("give_up")["plain_function"]
    if observe("classification")["TimeoutError"].get("returned") is not True:
        return  # TimeoutError is not retried at all: retries-transient says so
    if seen["calls"] == 2:
        problem = _gave_up_properly(seen, 2, "TimeoutError", None)
        assert not problem, f"retry_call, 2 attempts, both TimeoutError: {problem}"


@pytest.mark.item("lab01.gives-up-with-last-error")
def test_generated_give_ups(observe):
    retried = retried_kinds(observe)
    problems = []
    for case, run, _twin in runs(observe, "generated", "jitter"):
        expected = trace(case, retried)
        made = len(run["requests"])
        if expected.ending != "gave-up" or made != expected.requests or case.has_headers \
                or case.has_noise:
            continue
        last = case.script[made - 1]
        if last.kind not in CONTRACT_RETRIED:
            continue  # a permanent error on the last attempt is raised as it is: another item
        problem = _gave_up_properly(run, made, error_type(last.kind), status_of(last.kind))
        if problem:
            problems.append(f"{describe(case)}: {problem}")
    assert not problems, first(problems, "every attempt failed")


# -- lab01.permanent-not-retried ------------------------------------------------------------


@pytest.mark.item("lab01.permanent-not-retried")
def test_is_transient_says_no_to_permanent_failures(observe):
    seen = observe("classification")
    wrong = [name for name in (*PERMANENT_KINDS, *MORE_PERMANENT_STATUSES, *NAMED_PERMANENT)
             if seen[name].get("returned") is not False]
    assert not wrong, (
        "is_transient did not say no for: " + ", ".join(
            f"{name} ({raised_type(seen[name])})" for name in wrong)
        + "; every 4xx but 408, 409 and 429, and programming errors, are permanent"
    )


@pytest.mark.item("lab01.permanent-not-retried")
def test_client_errors_raised_at_once(observe):
    seen = observe("permanent")
    runs_ = {**{status: status for status in PERMANENT_KINDS},
             **{f"{status}-{NOISE}": status for status in PERMANENT_KINDS},
             **{f"{status}-{code}": status for status, code in PERMANENT_BODY_CODES},
             **{f"{status}-asks-to-wait": status for status in ("400", "403")}}
    wrong = [
        f"{name.replace('-' + NOISE, f' (with {NOISE}: true)').replace('-asks-to-wait', ' (with retry-after: 2)')}: {raised_type(seen[name])} "
        f"after {len(seen[name]['requests'])} request(s) and {len(seen[name]['waits'])} wait(s)"
        for name, status in runs_.items()
        if raised_type(seen[name]) != error_type(status)
        or len(seen[name]["requests"]) != 1
        or [w for w in seen[name]["waits"] if w[2] != "client"]
    ]
    assert not wrong, "a permanent error must be raised as it is after 1 request, no wait; " \
        "got: " + "; ".join(wrong)


@pytest.mark.item("lab01.permanent-not-retried")
def test_programming_errors_raised_at_once(observe):
    seen = observe("permanent")
    for name, kind in (("value_error", "ValueError"), ("key_error", "KeyError"),
                       ("file_not_found", "FileNotFoundError"),
                       ("malformed_json", "json.decoder.JSONDecodeError"),
                       ("caused_by_a_timeout", "RuntimeError"),
                       ("http_status_error", "httpx.HTTPStatusError"),
                       ("http_status_error_503", "httpx.HTTPStatusError"),
                       ("message_says_timeout", "ValueError"),
                       ("keyboard_interrupt", "KeyboardInterrupt")):
        case = seen[name]
        assert raised_type(case) == kind and case["calls"] == 1 and not case["waits"], (
            f"a {kind} from the function: {raised_type(case)} after {case['calls']} call(s) "
            f"and {len(case['waits'])} wait(s); expected the {kind} itself after 1 call"
            + (" (only Exception is caught: Ctrl-C must stop the program)"
               if kind == "KeyboardInterrupt" else "")
        )


@pytest.mark.item("lab01.permanent-not-retried")
def test_a_permanent_error_keeps_its_cause(observe):
    run = observe("permanent")["with_a_cause"]
    raised = run.get("raised") or {}
    assert raised.get("type") == "ValueError" and raised.get("causes") == ["KeyError"] \
            and run["calls"] == 1, (
        f"a ValueError raised from a KeyError: {raised_type(run)} (from "
        f"{raised.get('causes')}) after {run['calls']} call(s); expected the ValueError as "
        "it is, its cause kept, after 1 call (re-raise it with a bare raise)"
    )


@pytest.mark.item("lab01.permanent-not-retried")
def test_a_permanent_error_on_the_last_attempt(observe):
    seen = observe("permanent")["last_attempt"]
    for name, kind, what, calls in (
            ("only", "openai.AuthenticationError", "max_attempts=1 and a 401", 1),
            ("third", "openai.NotFoundError", "max_attempts=3: 503, 503, then a 404", 3),
            ("plain_function", "ValueError", "retry_call, max_attempts=2: ConnectionError, "
                                             "then ValueError", 2)):
        run = seen[name]
        made = len(run["requests"]) if "requests" in run else run["calls"]
        if made != calls:
            continue  # attempts are other items'
        assert raised_type(run) == kind, (
            f"{what}: {raised_type(run)}; expected the {kind} itself: a permanent error is "
            "raised as it is, even on the last attempt (decide whether to retry before "
            "deciding whether attempts are left)"
        )


@pytest.mark.item("lab01.permanent-not-retried")
def test_generated_permanent_errors(observe):
    retried = retried_kinds(observe) - set(PERMANENT_KINDS)
    problems = []
    for case, run, _twin in runs(observe, "generated"):
        expected = trace(case, retried)
        if expected.ending != "raised" or expected.last.kind not in PERMANENT_KINDS \
                or case.has_headers:
            continue
        wanted = error_type(expected.last.kind)
        made = len(run["requests"])
        if (run.get("raised") or {}).get("is_retry_error") and made < expected.requests:
            continue  # gave up on the transient failures before: the count is another item's
        if raised_type(run) != wanted or made != expected.requests or asked_after_last(run):
            problems.append(f"{describe(case)}: {raised_type(run)} after {made} request(s); "
                            f"expected {wanted} as it is after {expected.requests}, no wait")
    assert not problems, first(problems, "a permanent error part-way")


# -- lab01.honours-retry-after ------------------------------------------------------------


def gives_up_early_without_headers(observe) -> bool:
    """The submission ends some run without delay headers with a retry error before the
    limit, where the contract would go on: its count of attempts is off (another item)."""
    for case, run, _twin in runs(observe, "generated", "jitter"):
        if case.has_headers:
            continue
        expected = trace(case, CONTRACT_RETRIED)
        raised = run.get("raised") or {}
        if raised.get("is_retry_error") and len(run["requests"]) < expected.requests:
            return True
    return False


def _server_waits(case: Case, run: dict[str, Any], twin: dict[str, Any] | None,
                  *, exact_fallback: bool, early: bool = False,
                  judge_count: bool = True) -> list[str]:
    """What is wrong with the waits of a run whose server asked for delays: each delay
    asked for is waited as it is (capped), through the sleep given; with ``twin`` (the same
    run without the headers), every other wait is the one the submission waits without
    them (the delay replaces the backoff for that one wait, and nothing else changes), and
    unless ``judge_count`` is False, the run goes on as far as the twin did."""
    problems = []
    if not run["requests"]:
        return [f"{describe(case)}: no request at all ({raised_type(run)}), so no delay the "
                "server asked for could be heard"]
    asked = gaps_asked(run)
    gaps = clock_gaps(run)
    fallback = gaps_asked(twin) if twin is not None else []
    made = len(run["requests"])
    last = case.script[made - 1].kind
    stopped_retrying = last != "ok" and raised_type(run) == error_type(last)
    if (judge_count or not stopped_retrying) and len(asked) < len(fallback) \
            and not (early and run.get("raised", {}).get("is_retry_error")):
        problems.append(f"{describe(case)}: {raised_type(run)} after {len(asked) + 1} "
                        f"request(s); without the headers your code went on to "
                        f"{len(fallback) + 1}")
    cap = case.settings["max_delay"]
    for n, wait in enumerate(asked[:case.settings["max_attempts"] - 1]):  # beyond: no-sleep's
        attempt = case.script[n]
        headers = ", ".join(f"{h.name}: {h.text}" for h in attempt.headers)
        requested = attempt.requested
        if requested is not None:
            expected = min(requested, cap)
            if not close(wait, expected):
                problems.append(f"{describe(case)}: after {attempt.kind} with {headers} the wait "
                                f"was {wait:g} s; expected {expected:g} s")
            elif n < len(gaps) and not close(gaps[n], wait):
                problems.append(f"{describe(case)}: after {attempt.kind} with {headers} the "
                                f"{wait:g} s wait took {gaps[n]:g} s on the clock: wait "
                                "with the sleep you are given, not time.sleep")
        elif exact_fallback and n < len(fallback) and not close(wait, fallback[n]):
            why = f"with {headers} (not a delay)" if headers else "with no delay header"
            problems.append(f"{describe(case)}: after {attempt.kind} {why} the wait was "
                            f"{wait:g} s; expected {fallback[n]:g} s, the wait your code makes "
                            "there when the server asks for nothing (a server's delay replaces "
                            "the backoff for its one wait only)")
    return problems


@pytest.mark.item("lab01.honours-retry-after")
def test_server_requested_delays(observe):
    seen = observe("generated")
    early = gives_up_early_without_headers(observe)
    # built on the computed waits being a backoff at all (exponential-backoff's): where some
    # wait the server did not choose is chained from an earlier wait, the waits that fall
    # back to the backoff cannot be told from ones a server's delay shifted, so only the
    # delays the server asked for are judged
    exact = not any(chained_waits(case, seen[case.name]) for case in generated_cases()
                    if case.has_headers and not backoff_raises(seen, case))
    problems = []
    for case in generated_cases():
        if case.has_headers or case.has_noise:
            # the twin has no header at all: where the server also sent some the contract
            # ignores, a run that stops sooner may have stopped retrying on one of them
            # (retries-transient's); the waits are this item's either way
            problems += _server_waits(case, seen[case.name], seen[f"{case.name}-twin"],
                                      exact_fallback=exact, early=early,
                                      judge_count=not case.has_noise)
    assert not problems, first(
        problems, "retry-after-ms (milliseconds, first), retry-after (seconds or an HTTP date, "
                  "never below 0), capped; what is unreadable falls back to the backoff")


@pytest.mark.item("lab01.honours-retry-after")
def test_a_date_is_read_against_the_local_clock(observe):
    seen = observe("server_clock")
    wrong = [f"server clock {name}: waits {seconds(gaps_asked(seen[name]))}"
             for name in ("behind", "ahead") if not _all_close(gaps_asked(seen[name])[:1], [20.0])]
    assert not wrong, (
        "a 503 with retry-after an HTTP date 20 s ahead of time.time(), and the server's own "
        "date header five minutes off: " + "; ".join(wrong) + "; expected a 20 s wait (the "
        "date is measured against time.time(), not the server's clock)"
    )
    asked = gaps_asked(seen["message_names_a_delay"])[:1]
    fallback = gaps_asked(seen["message_twin"])[:1]
    assert asked and _all_close(asked, fallback), (
        f"a 429 whose message says 'Please try again in 6.5s', with no delay header: waits "
        f"{seconds(asked)}; without that message your code waits {seconds(fallback)}: a "
        "delay is read from the retry-after-ms and retry-after headers only"
    )


@pytest.mark.item("lab01.honours-retry-after")
def test_any_error_with_a_response_has_a_delay(observe):
    seen = observe("other_errors_delay")
    wrong = [f"{what}: {raised_type(seen[name])}" for name, what in (
        ("httpx", "an httpx.HTTPStatusError"), ("own", "an error of your own with .response"))
        if not close(seen[name].get("returned"), 7.0)]
    assert not wrong, (
        "server_delay of errors that are not openai's, their response asking retry-after: 7: "
        + "; ".join(wrong) + "; expected 7 (any error with a response is read)"
    )


@pytest.mark.item("lab01.honours-retry-after")
def test_every_http_date_form_and_huge_delays(observe):
    seen = observe("server_clock")
    wrong = [f"retry-after: {seen[name]['text']}: waits {seconds(gaps_asked(seen[name]))}"
             for name in ("date-rfc850", "date-asctime", "date-numeric-zone")
             if not _all_close(gaps_asked(seen[name])[:1], [20.0])]
    assert not wrong, (
        "an HTTP date 20 s ahead in HTTP's other forms: " + "; ".join(wrong) + "; expected a "
        "20 s wait (an HTTP date is IMF-fixdate, RFC 850 or asctime, always GMT)"
    )
    wrong = [f"{name}: {raised_type(seen[name])}, waits {seconds(gaps_asked(seen[name]))}"
             for name in ("huge-seconds", "huge-ms")
             if not _all_close(gaps_asked(seen[name])[:1], [60.0])]
    assert not wrong, (
        "retry-after: 300000000000 and retry-after-ms: 1e15, cap 60 s: " + "; ".join(wrong)
        + "; expected the capped 60 s wait (a huge delay is a delay: capped, never an error)"
    )


@pytest.mark.item("lab01.honours-retry-after")
def test_server_delays_are_not_jittered(observe):
    seen = observe("jitter")
    problems = []
    jitter_in_bounds = not any(
        _jittered(case, seen[case.name], seen[f"{case.name}-twin"], None)
        for case in jitter_cases() if not case.has_headers)
    # built on the computed waits being a backoff at all (exponential-backoff's): a wait
    # the server did not choose, above the contract's backoff for it, was not drawn from
    # the backoff but from an earlier wait (chained), which no twin can bound
    jitter_in_bounds = jitter_in_bounds and not any(
        wait > backoff(case, n) + TOLERANCE
        for case in jitter_cases() if case.has_headers
        for n, wait in enumerate(gaps_asked(seen[case.name])[:contract_gaps(case)])
        if not case.script[n].headers and not case.script[n].noise)
    for case in jitter_cases():
        if case.has_headers:
            problems += _server_waits(case, seen[case.name], None, exact_fallback=False)
            problem = _jittered(case, seen[case.name], seen[f"{case.name}-twin"], None) \
                if jitter_in_bounds else ""
            if problem:
                problems.append(f"{problem}: the server's delay replaces the backoff for its "
                                "one wait only")
    assert not problems, first(problems, "with jitter on, the delay the server asked for is "
                                         "waited as it is (capped), not jittered")


# -- lab01.capped-with-jitter -------------------------------------------------------------


@pytest.mark.item("lab01.capped-with-jitter")
def test_waits_never_exceed_the_cap(observe):
    problems = []
    for case, run, _twin in runs(observe, "generated", "jitter"):
        cap = case.settings["max_delay"]
        # after a failure that says nothing more than its status: a header, read right or
        # wrong, is honours-retry-after's
        over = [w for n, w in enumerate(gaps_asked(run))
                if not case.script[n].headers and not case.script[n].noise
                and not w <= cap + TOLERANCE]
        if over:
            problems.append(f"{describe(case)}: a backoff wait of {over[0]:g} s")
    assert not problems, first(problems, "no backoff wait may exceed the cap (max_delay)")


@pytest.mark.item("lab01.capped-with-jitter")
def test_a_huge_retry_number_is_capped(observe):
    seen = observe("huge_retry")
    huge, far = seen["plain"], seen["far"]
    assert isinstance(far.get("returned"), (int, float)), (
        f"backoff_delay(200, cap 45 s): {raised_type(far)}; expected a number of seconds"
    )
    assert "returned" in huge and huge["returned"] == far.get("returned"), (
        f"backoff_delay(5000, cap 45 s): {raised_type(huge)}, while backoff_delay(200) "
        f"{raised_type(far)}; 2.0 ** 5000 overflows a float, yet the cap still applies: the "
        "same capped wait"
    )
    int_factor = seen["int_factor"]
    assert int_factor.get("returned") == far.get("returned"), (
        f"backoff_delay(5000) with factor=2 (an int): {raised_type(int_factor)}; expected the "
        "cap, as with 2.0 (2 ** 5000 is an int too large for a float)"
    )
    zero_draw = seen["after_a_zero_draw"].get("returned") or {}
    capped = zero_draw.get("capped")
    if isinstance(capped, list) and all(isinstance(c, (int, float)) for c in capped):
        rng = random.Random(21)  # against your own capped backoffs (exponential-backoff's)
        expected_pair = [rng.uniform(0.0, bound) for bound in capped]
        assert _all_close(zero_draw.get("draws"), expected_pair), (
            f"backoff_delay on one rng (seed 21) twice, first with base 0 (your capped "
            f"backoff {capped[0]:g}), then base 1 s: {raised_type(seen['after_a_zero_draw'])}"
            f"; expected {seconds(expected_pair)}: one draw per call, rng.uniform(0, 0) "
            "included"
        )
    expected = random.Random(7).uniform(0.0, far["returned"])
    value = seen["jittered"].get("returned")
    assert isinstance(value, (int, float)) and close(value, expected), (
        f"backoff_delay(5000, cap 45 s, jitter, seed 7): {raised_type(seen['jittered'])}; "
        f"expected {expected:g}, rng.uniform(0, capped) as for any other retry number"
    )


@pytest.mark.item("lab01.exponential-backoff")
def test_far_out_with_a_factor_near_one(observe):
    seen = observe("huge_retry")["slow_growth"]
    wrong = []
    for retry, factor in SLOW_GROWTH:
        expected = min(45.0, factor ** retry)
        got = seen[str(retry)].get("returned")
        if not close(got, expected) and not (isinstance(got, float) and abs(got - expected) <= 1e-9 * expected):
            wrong.append(f"backoff_delay({retry}) with factor {factor:g}: "
                         f"{raised_type(seen[str(retry)])}, expected {expected:g}")
    assert not wrong, "base 1 s, cap 45 s: " + "; ".join(wrong) + " (the formula decides " \
        "for every retry number: a shortcut past some n is right only for factor 2)"


@pytest.mark.item("lab01.exponential-backoff")
def test_a_zero_base_stays_zero(observe):
    zero = observe("huge_retry")["zero_base"]
    assert zero.get("returned") == 0.0, (
        f"backoff_delay(5000) with base_delay 0: {raised_type(zero)}; expected 0 "
        "(0 * factor ** n is 0 however large n is; the overflow must not turn it into the cap)"
    )


def _jittered(case: Case, run: dict[str, Any], twin: dict[str, Any],
              rng: random.Random | None) -> str:
    """What is wrong with a jittered run against its twin's capped backoff, or ''. With
    ``rng`` the draws must be exactly ``rng.uniform(0, backoff)``, one per wait, in order."""
    bounds = gaps_asked(twin)
    asked = gaps_asked(run)
    for n, (wait, bound) in enumerate(zip(asked, bounds)):
        if case.script[n].requested is not None:
            continue  # the server's delay: honours-retry-after
        if bound <= 0:  # no backoff here at all: exponential-backoff says so; whether
            rng = None  # a draw was made for it cannot be told, so later draws are judged
            continue    # by their bounds alone
        if not -TOLERANCE <= wait <= bound + TOLERANCE:
            return (f"{describe(case)}: wait {n + 1} was {wait:g} s, outside [0, {bound:g}] "
                    "(your capped backoff for it)")
        if rng is not None:
            expected = rng.uniform(0.0, bound)
            if not close(wait, expected):
                return (f"{describe(case)}: wait {n + 1} was {wait:g} s; expected "
                        f"{expected:g} s, rng.uniform(0, {bound:g}) from the rng you were "
                        "given, one draw per wait, in order")
    return ""


@pytest.mark.item("lab01.capped-with-jitter")
def test_full_jitter_draws_from_the_seeded_rng(observe):
    seen = observe("jitter")
    problems = []
    for case in jitter_cases():
        if case.has_headers:
            continue  # the server's delays among them: honours-retry-after
        problem = _jittered(case, seen[case.name], seen[f"{case.name}-twin"],
                            random.Random(case.seed))
        if problem:
            problems.append(problem)
    assert not problems, first(problems, "full jitter: each wait uniform in [0, capped backoff]")


@pytest.mark.item("lab01.capped-with-jitter")
def test_one_rng_goes_on_across_calls(observe):
    seen = observe("jitter")
    case = jitter_cases()[0]
    run, twin = seen["two_calls"], seen["two_calls_twin"]
    rng = random.Random(case.seed)
    split = run["first_call_requests"]
    limit = case.settings["max_attempts"]
    if any(after == split and via != "client" for after, _w, via in run["waits"]) \
            or split > limit or len(run["requests"]) - split > limit \
            or len(twin["requests"]) != len(run["requests"]):
        return  # attempts beyond the limit, or a wait after the last: no-sleep-after-last's
    # each wait against the same wait of the two calls without jitter: your capped backoff
    bounds = [w for _after, w, via in twin["waits"] if via != "client"]
    asked, expected = [], []
    for wait, bound in zip([w for _a, w, via in run["waits"] if via != "client"], bounds):
        if bound <= 0:  # no backoff here: whether a draw was made for it cannot be
            break       # told, so the draws after it are not compared
        asked.append(wait)
        expected.append(rng.uniform(0.0, bound))
    assert _all_close(asked, expected), (
        f"{describe(case)} twice in a row through one RetryingLLM and its rng: waits "
        f"{seconds(asked)}; expected {seconds(expected)}, the second call drawing on from "
        "where the first left the rng"
    )


@pytest.mark.item("lab01.capped-with-jitter")
def test_jitter_is_reproducible_and_falls_back_to_random(observe):
    seen = observe("jitter")
    case = jitter_cases()[0]
    first_run, again = gaps_asked(seen[case.name]), gaps_asked(seen["again"])
    assert _all_close(again, first_run), (
        f"{describe(case)} twice with the same seed (the random module reseeded in between): "
        f"waits {seconds(first_run)}, then {seconds(again)}: draw from the rng you were given"
    )
    problem = _jittered(case, seen["global"], seen[f"{case.name}-twin"], random.Random(GLOBAL_SEED))
    assert not problem, f"jitter without an rng draws from the random module: {problem}"


# -- lab01.single-retry-layer -------------------------------------------------------------


@pytest.mark.item("lab01.single-retry-layer")
def test_server_sees_exactly_the_attempts(observe):
    seen = observe("single_layer")
    for index, policy in enumerate(LAYER_POLICIES):
        for name, options in LAYER_CLIENTS.items():
            for call in ("plain", "timeout"):
                run = seen[f"{index}-{name}-{call}"]
                extra = run["client_retries"]
                how = "complete(messages)" if call == "plain" else "complete(messages, timeout=30)"
                assert run["requests"], (
                    f"{how} against a server that keeps failing sent no request at all "
                    f"(it ended: {raised_type(run)}): there is no request whose retries could be judged"
                )
                assert extra == 0, (
                    f"{len(run['requests'])} attempt(s) of yours, {how}, against a server "
                    f"that keeps failing, through a client left with max_retries="
                    f"{options.get('max_retries', 2)}: the client sent {extra} more "
                    "request(s) by itself"
                )
                client = run["caller_client"]
                assert client["during"] in ([], [str(client["before"])]), (
                    f"while RetryingLLM waited between attempts, the caller's client had "
                    f"max_retries={', '.join(client['during'])} (it was "
                    f"{client['before']!r}): the caller's client is never changed, not even "
                    "for the length of a call"
                )
                assert client["before"] == client["after"], (
                    f"the caller's client had max_retries={client['before']!r} and, after "
                    f"RetryingLLM took it, {client['after']!r}: keep a copy with its retries "
                    "off (client.with_options(max_retries=0)) and leave the caller's as it was"
                )


@pytest.mark.item("lab01.single-retry-layer")
def test_the_copy_is_the_wrappers_own(observe):
    run = observe("single_layer")["changed_later"]
    assert run["requests"] and run["client_retries"] == 0, (
        f"a client handed over with max_retries=0, then set by its caller to 2: against a "
        f"failing server the client sent {run['client_retries']} request(s) again by itself "
        "(keep a copy of your own, client.with_options(max_retries=0), even of a client "
        "whose retries are off)"
    )


@pytest.mark.item("lab01.single-retry-layer")
def test_the_callers_client_still_works(observe):
    seen = observe("single_layer")["caller_after"]
    if seen["wrapper"].get("returned") != SUCCESS:
        return  # the wrapper's own call failed: other items say why
    assert seen["caller"].get("returned") == "the caller's own", (
        f"once a RetryingLLM built on it was gone, the caller's own request through its "
        f"client: {raised_type(seen['caller'])}; the caller's client is left as it was, "
        "open and working (the copy shares its connections: closing the copy closes them)"
    )


@pytest.mark.item("lab01.single-retry-layer")
def test_no_run_is_retried_underneath(observe):
    for scenario in ("backoff_default", "give_up", "generated"):
        seen = observe(scenario)
        views = [seen] if "requests" in seen else [r for r in seen.values() if "requests" in r]
        extra = sum(run.get("client_retries", 0) for run in views)
        assert any(run["requests"] for run in views), (
            f"{scenario}: no request reached the server, so there is nothing to judge"
        )
        assert extra == 0, (
            f"{scenario}: the OpenAI client sent {extra} request(s) again by itself under "
            "your retry loop: turn its retries off with with_options(max_retries=0)"
        )


def _all_close(actual: Any, expected: list[float]) -> bool:
    return (isinstance(actual, list) and len(actual) == len(expected)
            and all(close(a, e) for a, e in zip(actual, expected)))


# -- round 10: linked errors, per-call timeouts, large limits, long conversations, linked
# -- delays, one rng across calls, a client used before it was handed over ----------------

#: What the linked errors' own permanent kinds are raised as (their type's name).
LINKED_PERMANENT_TYPES = {"ssl.SSLError": "ssl.SSLError", "PermissionError": "PermissionError",
                          "OSError": "OSError", "FileNotFoundError": "FileNotFoundError",
                          "ValueError": "ValueError", "KeyError": "KeyError"}


def _linked_words(name: str) -> str:
    """``ConnectionError from ValueError`` / ``... during ...`` as a hint says it."""
    return name.replace(" during ", " raised while handling ")


@pytest.mark.item("lab01.retries-transient")
def test_a_transient_error_is_transient_whatever_it_is_linked_to(observe):
    seen = observe("classification")
    wrong = [name for link in linked_errors() if link.transient
             if seen[(name := link.name)].get("returned") is not True]
    assert not wrong, (
        "is_transient said no (or raised) for: " + ", ".join(
            f"{_linked_words(name)} ({raised_type(seen[name])})" for name in wrong[:4])
        + (f" (and {len(wrong) - 4} more)" if len(wrong) > 4 else "")
        + "; an error is classified by its own type and status: a ConnectionError, a "
        "timeout or a 503 stays transient whatever its __cause__ or __context__ is"
    )


@pytest.mark.item("lab01.retries-transient")
def test_a_transient_error_linked_to_a_permanent_one_is_retried(observe):
    seen = observe("linked")
    wrong = [f"{_linked_words(link.name)}: {raised_type(run)} after {run['calls']} call(s)"
             for link in linked_errors() if link.transient
             if (run := seen[link.name]).get("returned") != 42 or run["calls"] != 2]
    assert not wrong, first(wrong, "retry_call over a transient error linked to a permanent "
                                   "one (raised from it, or while handling it), then 42; "
                                   "expected 42 after 2 calls (the error's own type decides, "
                                   "not its __cause__ or __context__)")


@pytest.mark.item("lab01.permanent-not-retried")
def test_a_permanent_error_is_permanent_whatever_it_is_linked_to(observe):
    seen = observe("classification")
    wrong = [name for link in linked_errors() if not link.transient
             if seen[(name := link.name)].get("returned") is not False]
    assert not wrong, (
        "is_transient did not say no for: " + ", ".join(
            f"{_linked_words(name)} ({raised_type(seen[name])})" for name in wrong[:4])
        + (f" (and {len(wrong) - 4} more)" if len(wrong) > 4 else "")
        + "; an error is classified by its own type and status: a ValueError or a 400 "
        "stays permanent whatever transient error its __cause__ or __context__ is"
    )


@pytest.mark.item("lab01.permanent-not-retried")
def test_a_permanent_error_linked_to_a_transient_one_is_raised(observe):
    seen = observe("linked")
    wrong = []
    for link in linked_errors():
        if link.transient:
            continue
        run = seen[link.name]
        wanted = LINKED_PERMANENT_TYPES.get(link.error) or error_type(link.error)
        if raised_type(run) != wanted or run["calls"] != 1 or run["waits"]:
            wrong.append(f"{_linked_words(link.name)}: {raised_type(run)} after "
                         f"{run['calls']} call(s) and {len(run['waits'])} wait(s)")
    assert not wrong, first(wrong, "retry_call over a permanent error linked to a transient "
                                   "one: expected it raised as it is after 1 call, no wait "
                                   "(the error's own type decides, not what it is linked to)")


def _timed_words(timed) -> str:
    return f"{describe(timed.case)}, complete(messages, timeout={timed.timeout:g})"


@pytest.mark.item("lab01.exponential-backoff")
def test_a_call_timeout_does_not_shorten_the_backoff(observe):
    seen = observe("call_timeout")
    problems = []
    for timed in timeout_cases():
        case = timed.case
        if case.has_headers:
            continue  # the server's delays: honours-retry-after
        run = seen[case.name]
        # how many attempts are made: other items'
        wrong = wrong_backoff(case, gaps_asked(run)[:case.settings["max_attempts"] - 1])
        if wrong:
            problems.append(f"{_timed_words(timed)}: {wrong[1]}")
    assert not problems, first(problems, "a request's own timeout is the request's: the waits "
                                         "between attempts stay base * factor ** n up to "
                                         "max_delay, whatever timeout the call passes on")


@pytest.mark.item("lab01.honours-retry-after")
def test_a_call_timeout_does_not_cut_the_servers_delay(observe):
    seen = observe("call_timeout")
    problems = []
    for timed in timeout_cases():
        case = timed.case
        if not case.has_headers:
            continue
        run = seen[case.name]
        cap = case.settings["max_delay"]
        for n, wait in enumerate(gaps_asked(run)[:case.settings["max_attempts"] - 1]):
            attempt = case.script[n]
            if attempt.requested is None:
                continue  # a backoff wait: exponential-backoff's
            expected = min(attempt.requested, cap)
            if not close(wait, expected):
                header = attempt.headers[0]
                problems.append(f"{_timed_words(timed)}: after {attempt.kind} with "
                                f"{header.name}: {header.text} the wait was {wait:g} s; "
                                f"expected {expected:g} s")
                break
    assert not problems, first(problems, "the server's delay is capped at max_delay only: the "
                                         "timeout a call passes on is the request's, not a "
                                         "cap on the waits")


@pytest.mark.item("lab01.no-sleep-after-last")
def test_large_limits_stop_at_the_limit(observe):
    seen = observe("large_limits")
    problems = []
    for name, limit in [*((str(n), n) for n in LARGE_LIMITS), ("llm", LARGE_LLM_LIMIT)]:
        run = seen[name]
        made = len(run["requests"]) if "requests" in run else run["calls"]
        how = "RetryingLLM, 503s" if name == "llm" else "retry_call, ConnectionErrors"
        if made > limit:
            problems.append(f"max_attempts={limit} ({how}): {made} attempts")
            continue
        raised = run.get("raised") or {}
        if made < limit and not raised.get("is_retry_error"):
            # stopped before the limit without giving up (a RecursionError, say): the wait
            # before it was one between attempts, with one still to come; the other items'
            continue
        after = sum(w for a, w, via in run["waits"]
                    if via != "client" and a >= made and isinstance(w, (int, float)))
        if after > TOLERANCE:
            problems.append(f"max_attempts={limit} ({how}): a wait of {after:g} s after the "
                            "last attempt")
    assert not problems, first(problems, "every attempt fails, under limits past 256 too: the "
                                         "last attempt is the max_attempts-th, whatever the "
                                         "number (compare numbers with ==, never with is)")


@pytest.mark.item("lab01.gives-up-with-last-error")
def test_large_limits_give_up_with_the_last_error(observe):
    seen = observe("large_limits")
    problems = []
    for limit in LARGE_LIMITS:
        run = seen[str(limit)]
        if run["calls"] != limit:
            continue  # the attempts made: other items'
        problem = _gave_up_properly(run, limit, "ConnectionError", None)
        if not problem and not run["raised"].get("last_is_final"):
            problem = "last_error is not the error of the final attempt"
        if problem:
            problems.append(f"retry_call, max_attempts={limit}, every call a ConnectionError: "
                            f"{problem}")
    run = seen["llm"]
    if len(run["requests"]) == LARGE_LLM_LIMIT:
        problem = _gave_up_properly(run, LARGE_LLM_LIMIT, "openai.InternalServerError", 503)
        if problem:
            problems.append(f"RetryingLLM, max_attempts={LARGE_LLM_LIMIT}, 503s: {problem}")
    assert not problems, first(problems, "giving up after a limit past 256 attempts is giving "
                                         "up like any other (compare numbers with ==, never "
                                         "with is)")


@pytest.mark.item("lab01.permanent-not-retried")
def test_a_long_conversation_refused_is_not_sent_again(observe):
    seen = observe("long_conversations")
    retried = retried_kinds(observe) - set(PERMANENT_KINDS)
    problems = []
    for conversation in conversation_cases():
        case = conversation.case
        expected = trace(case, retried)
        if expected.ending != "raised" or expected.last.kind not in PERMANENT_KINDS:
            continue  # a transient failure before it not retried: retries-transient's
        run = seen[case.name]
        made = len(run["requests"])
        if (run.get("raised") or {}).get("is_retry_error") and made < expected.requests:
            continue  # gave up on the transient failures before: the count is another item's
        wanted = error_type(expected.last.kind)
        if raised_type(run) != wanted or made != expected.requests or asked_after_last(run):
            problems.append(
                f"{describe(case)}, a conversation of {conversation.size} messages, the "
                f"{expected.last.kind} with code {conversation.code}: {raised_type(run)} after "
                f"{made} request(s) (of {run['sizes']} messages); expected {wanted} as it is "
                f"after {expected.requests}, no wait")
    assert not problems, first(problems, "a permanent error is raised at once, whatever its "
                                         "code says: a request refused as too long is not "
                                         "trimmed and sent again by the retry layer")


@pytest.mark.item("lab01.honours-retry-after")
def test_a_delay_is_read_from_the_errors_own_response(observe):
    seen = observe("carried_delay")
    direct = seen["direct"]
    wrong = [f"{_linked_words(delay.name)}: {raised_type(direct[delay.name])}"
             for delay in carried_delays() if direct[delay.name].get("returned", 0) is not None]
    assert not wrong, first(wrong, "server_delay of an error without a response of its own, "
                                   "linked to one whose response asks for a delay: expected "
                                   "None (only the failed error's own response is read, not "
                                   "its __cause__'s or __context__'s)")
    for number, (one, two) in enumerate(carried_runs()):
        run, twin = seen[f"run-{number + 1}"], seen[f"run-{number + 1}-twin"]
        fallback = [w for _a, w, via in twin["waits"] if via != "client"]
        if run["calls"] != twin["calls"]:
            continue  # the linked errors are not retried as the plain ones: retries-transient's
        asked = [w for _a, w, via in run["waits"] if via != "client"]
        assert _all_close(asked, fallback), (
            f"retry_call (base {CARRIED_POLICY['base_delay']:g} s) over "
            f"{_linked_words(one.name)}, then {_linked_words(two.name)}, then 42: waits "
            f"{seconds(asked)}; the same errors without a link wait {seconds(fallback)} in "
            "your code: a delay the linked error's response asks for is not this error's"
        )


def _shared_expected(case: SharedRng) -> list[int]:
    """The requests each call of ``case`` makes by the contract."""
    limit = case.settings["max_attempts"]
    made = []
    for call in case.calls:
        count = 0
        for attempt in call:
            count += 1
            if attempt.kind == "ok" or attempt.kind in PERMANENT_KINDS or count == limit:
                break
        made.append(count)
    return made


def _shared_words(case: SharedRng) -> str:
    p = case.settings
    calls = "; ".join(", ".join(a.kind for a in call) or "-" for call in case.calls)
    via = "one RetryingLLM" if case.via == "llm" else "retry_call, the same rng each time"
    return (f"{case.name} [max_attempts={p['max_attempts']}, base {p['base_delay']:g} s, "
            f"factor {p['factor']:g}, cap {p['max_delay']:g} s, jitter, seed {case.seed}; "
            f"{len(case.calls)} calls through {via}: {calls}]")


@pytest.mark.item("lab01.capped-with-jitter")
def test_calls_sharing_an_rng_draw_once_per_wait_made(observe):
    seen = observe("shared_rng")
    problems = []
    for case in shared_rng_cases():
        run, twin = seen[case.name], seen[f"{case.name}-twin"]
        expected_made = _shared_expected(case)
        if run["made"] != expected_made or twin["made"] != expected_made:
            continue  # the calls made other attempts: the attempt items say so
        ends = [sum(expected_made[:i + 1]) for i in range(len(expected_made))]
        if any(after in ends and via != "client" for after, _w, via in
               run["waits"] + twin["waits"]):
            continue  # a wait after a call's last attempt: no-sleep-after-last's
        rng = random.Random(case.seed)
        # each wait against the same wait without jitter: your own capped backoff
        bounds = [w for _a, w, via in twin["waits"] if via != "client"]
        asked = [w for _a, w, via in run["waits"] if via != "client"]
        if len(asked) != len(bounds):
            continue  # other waits than without jitter: the waits are other checks'
        draws, wanted = [], []
        for wait, bound in zip(asked, bounds):
            if not isinstance(bound, (int, float)) or bound <= 0:
                break  # no backoff here: whether a draw was made for it cannot be told
            draws.append(wait)
            wanted.append(rng.uniform(0.0, bound))
        if not _all_close(draws, wanted):
            problems.append(f"{_shared_words(case)}: waits {seconds(draws)}; expected "
                            f"{seconds(wanted)}")
    assert not problems, first(problems, "calls sharing one seeded rng wait the rng's next "
                                         "uniform(0, capped) draws, one for each wait made, "
                                         "when it is made (no draws planned ahead for waits "
                                         "that never come)")


@pytest.mark.item("lab01.single-retry-layer")
def test_a_client_used_before_is_not_retried_underneath(observe):
    seen = observe("single_layer")
    for name, options in LAYER_CLIENTS.items():
        for order in USED_ORDERS:
            run = seen[f"used-{order}-{name}"]
            if run.get("caller", {}).get("returned") != "the caller's own":
                continue  # the caller's own request failed: nothing of the wrapper's
            when = ("a client its caller had already sent a request through" if order ==
                    "before" else "a client its caller sent a request through after "
                    "building the wrapper")
            retries = options.get("max_retries", 2)
            assert run["client_retries"] == 0, (
                f"RetryingLLM on {when} (max_retries={retries}), against a failing server: "
                f"the client sent {run['client_retries']} request(s) again by itself (the "
                "client caches client.chat on first use, bound to itself: a copy.copy shares "
                "it; build the copy with client.with_options(max_retries=0))"
            )
            caller = run["caller_retries"]
            assert caller["before"] == caller["after"], (
                f"the caller's client had max_retries={caller['before']!r} and, after "
                f"RetryingLLM took it, {caller['after']!r}: leave the caller's as it was"
            )


# -- round 11: one error object raised again, timed-out attempts under a timeout option,
# -- computed waits after a server-chosen one, slow attempts, a clock at a fractional
# -- second, giving up on a server-paced failure, an rng whose uniform is its own ---------


@pytest.mark.item("lab01.retries-transient")
def test_the_same_error_object_is_retried_again(observe):
    seen = observe("same_error")
    wrong = []
    for case in same_error_cases():
        run = seen[case.name]
        expected = len(case.pattern) + 1
        if run.get("returned") != 42 or run["calls"] != expected:
            order = ", ".join(f"{case.kinds[i]} #{i + 1}" for i in case.pattern)
            wrong.append(f"max_attempts={case.max_attempts}, the very same objects {order}, "
                         f"then 42: {raised_type(run)} after {run['calls']} call(s); expected "
                         f"42 after {expected}")
    assert not wrong, first(wrong, "retry_call over a function that raises one prebuilt error "
                                   "object again and again: the error's type and status say "
                                   "whether it is retried, not whether it is the same object "
                                   "as last time (a remembered error proves no cached failure)")


@pytest.mark.item("lab01.retries-transient")
def test_a_timed_out_attempt_is_retried_under_a_timeout_option(observe):
    seen = observe("timed_out_with_timeout")
    wrong = []
    for timed in timed_out_cases():
        expected = trace(timed.case, CONTRACT_RETRIED)
        run = seen[timed.case.name]
        if run.get("returned") != SUCCESS or len(run["requests"]) != expected.requests:
            wrong.append(f"{_timed_words(timed)}: {raised_type(run)} after "
                         f"{len(run['requests'])} request(s); expected the success after "
                         f"{expected.requests}")
    assert not wrong, first(wrong, "an attempt that timed out under the timeout a call passes "
                                   "on is retried like any other timeout: that option is the "
                                   "request's, not a budget for the call (the policy alone "
                                   "decides what is retried)")


@pytest.mark.item("lab01.exponential-backoff")
def test_computed_waits_after_a_server_chosen_wait(observe):
    seen = observe("generated")
    problems = []
    for case in generated_cases():
        if case.has_headers and not backoff_raises(seen, case):
            problems += chained_waits(case, seen[case.name])
    assert not problems, first(problems, "where the server asks for nothing, the wait is the "
                                         "computed backoff, base * factor ** n (capped), "
                                         "after a wait the server chose too")


@pytest.mark.item("lab01.exponential-backoff")
def test_a_slow_attempt_does_not_shorten_the_backoff(observe):
    seen = observe("slow_attempts")
    problems = []
    for slow in slow_cases():
        case = slow.case
        if case.settings["jitter"]:
            continue  # the draws: capped-with-jitter's
        run = seen[case.name]
        wrong = wrong_backoff(case, gaps_asked(run)[:contract_gaps(case)])
        if wrong:
            n, what = wrong
            problems.append(f"{describe(case)}: after a {case.script[n].kind} that took "
                            f"{slow.latency[n]:g} s, {what}")
    assert not problems, first(problems, "failed attempts that take time on the clock: the "
                                         "wait after one is its full backoff, counted from "
                                         "the failure, not less the time the attempt took "
                                         "(time.monotonic() has no say in the waits)")


@pytest.mark.item("lab01.capped-with-jitter")
def test_jitter_after_a_slow_attempt_is_the_draw(observe):
    seen = observe("slow_attempts")
    problems = []
    for slow in slow_cases():
        case = slow.case
        if not case.settings["jitter"]:
            continue
        run, twin = seen[case.name], seen[backoff_twin(case).name]
        if len(run["requests"]) != len(twin["requests"]):
            continue  # the attempts made: other items'
        problem = _jittered(case, run, twin, random.Random(case.seed))
        if problem:
            problems.append(f"{problem} (each attempt took {seconds(list(slow.latency))})")
    assert not problems, first(problems, "full jitter after attempts that take time: each wait "
                                         "is exactly rng.uniform(0, capped), whatever the "
                                         "attempt before it took")


@pytest.mark.item("lab01.honours-retry-after")
def test_a_date_on_a_clock_at_a_fractional_second(observe):
    seen = observe("fractional_now")
    wrong = []
    for case in fractional_cases():
        run = seen[case.name]
        asked = gaps_asked(run)[:1]
        direct = run["direct"]
        if not _all_close(asked, [case.expected]) or not close(direct.get("returned"),
                                                              case.expected):
            wrong.append(f"time.time() at {case.fraction:g} s past a whole second, retry-after: "
                         f"{run['text']} ({case.ahead} s after that whole second): waits "
                         f"{seconds(asked)}, server_delay {raised_type(direct)}; expected "
                         f"{case.expected:g} s")
    assert not wrong, first(wrong, "the seconds until an HTTP date are counted from "
                                   "time.time() as it is, its fraction of a second included "
                                   "(the date has whole seconds; now need not)")


@pytest.mark.item("lab01.gives-up-with-last-error")
def test_giving_up_on_a_failure_that_asks_to_wait(observe):
    seen = observe("server_paced_give_up")
    problems = []
    for limit in SERVER_PACED_LIMITS:
        for number, (status, (name, text)) in enumerate(SERVER_PACED_ENDINGS):
            run = seen[f"{limit}-{number + 1}"]
            if len(run["requests"]) != limit:
                continue  # the attempts made: other items'
            problem = _gave_up_properly(run, limit, error_type(status), int(status))
            if problem:
                value = "an HTTP date 7 s ahead" if text == "date" else text
                problems.append(f"max_attempts={limit}, every attempt failing, the last a "
                                f"{status} with {name}: {value}: {problem}")
    assert not problems, first(problems, "when the last attempt fails with a transient error, "
                                         "it is RetryError(attempts, last_error) from it, "
                                         "whether or not the server asked for a delay (the "
                                         "caller finds the headers on last_error)")


@pytest.mark.item("lab01.capped-with-jitter")
def test_jitter_is_the_rngs_own_uniform(observe):
    seen, jittered = observe("own_uniform"), observe("jitter")
    problems = []
    for name, probe in seen["direct"].items():
        capped, value = probe["capped"].get("returned"), probe["jittered"].get("returned")
        if not isinstance(capped, (int, float)):
            continue  # backoff_delay without jitter fails: exponential-backoff's
        if not close(value, capped * FIXED_POINT):
            problems.append(f"backoff_delay({name}), base 0.5 s, factor 3, cap 20 s, jitter, "
                            f"an rng whose uniform(a, b) answers a + (b - a) * {FIXED_POINT:g}: "
                            f"{raised_type(probe['jittered'])}; expected "
                            f"{capped * FIXED_POINT:g}, its uniform(0, {capped:g})")
    cases = [case for case in jitter_cases() if not case.has_headers][:5]
    for name, run in [(case.name, seen[case.name]) for case in cases] + [
            ("no rng, random.uniform patched", seen["patched_module"])]:
        case = cases[0] if name.startswith("no rng") else next(c for c in cases
                                                                 if c.name == name)
        twin = jittered[f"{case.name}-twin"]
        if len(run["requests"]) != len(twin["requests"]):
            continue  # the attempts made: other items'
        bounds, asked = gaps_asked(twin), gaps_asked(run)
        wanted = [bound * FIXED_POINT for bound in bounds]
        if not _all_close(asked, wanted):
            how = name if name.startswith("no rng") else \
                f"an rng whose uniform(a, b) answers a + (b - a) * {FIXED_POINT:g}"
            problems.append(f"{describe(case)}, {how}: waits {seconds(asked)}; expected {seconds(wanted)}, its uniform "
                            "over your capped backoffs")
    assert not problems, first(problems, "with jitter, each wait is exactly rng.uniform(0, "
                                         "capped) (random.uniform without an rng): that very "
                                         "call, not another draw scaled to the same range")


# -- round 12: statuses no registry lists, the same headers on every attempt, limits past
# -- the recursion limit, the very error object, HTTP dates off UTC, no draw without
# -- jitter, calls after a give-up on a client with retries of its own ----------------------


def contract_transient_status(status: str) -> bool:
    """Whether the contract calls an HTTP status transient: 408, 409, 429 or any 5xx,
    whether or not a registry lists it."""
    return int(status) in (408, 409, 429) or int(status) >= 500


@pytest.mark.item("lab01.retries-transient")
def test_every_5xx_is_transient_listed_or_not(observe):
    seen = observe("unlisted_statuses")
    wrong = []
    for status in status_cases():
        if not contract_transient_status(status):
            continue
        direct, run = seen[status]["direct"], seen[status]["llm"]
        if direct.get("returned") is not True:
            wrong.append(f"is_transient of the client's {status} error: {raised_type(direct)}")
        elif run.get("returned") != SUCCESS or len(run["requests"]) != 2:
            wrong.append(f"a {status}, then a success, through RetryingLLM: {raised_type(run)} "
                         f"after {len(run['requests'])} request(s)")
    assert not wrong, first(wrong, "408, 409, 429 and every 5xx are transient, statuses no "
                                   "registry lists (509, 520-527, 598, 599) included: compare "
                                   "the status_code as a number; expected True, and the "
                                   "success after 2 requests")


@pytest.mark.item("lab01.permanent-not-retried")
def test_an_unlisted_4xx_is_permanent_and_raised_as_it_is(observe):
    seen = observe("unlisted_statuses")
    wrong = []
    for status in status_cases():
        if contract_transient_status(status):
            continue
        direct, run = seen[status]["direct"], seen[status]["llm"]
        raised = run.get("raised") or {}
        if direct.get("returned") is not False:
            wrong.append(f"is_transient of the client's {status} error: {raised_type(direct)}")
        elif raised_type(run) != error_type(status) or raised.get("status") != int(status) \
                or len(run["requests"]) != 1 \
                or [w for w in run["waits"] if w[2] != "client"]:
            wrong.append(f"a {status} through RetryingLLM: {raised_type(run)} (status "
                         f"{raised.get('status')!r}) after {len(run['requests'])} request(s) "
                         f"and {len([w for w in run['waits'] if w[2] != 'client'])} wait(s)")
        elif not run["as_raised"]:
            wrong.append(f"a {status} through RetryingLLM: not the error the client raised "
                         f"(message {raised.get('message')!r}, from {raised.get('causes')})")
    assert not wrong, first(wrong, "a 4xx other than 408, 409 and 429 is permanent, a status "
                                   "no registry lists (444, 460, 499) too: expected "
                                   "is_transient False, and the client's own "
                                   "APIStatusError raised as it is after 1 request, no wait")


@pytest.mark.item("lab01.retries-transient")
def test_every_attempt_sends_the_same_headers(observe):
    seen = observe("same_headers")
    wrong = []
    for name, options, failures in SAME_HEADER_CALLS:
        run = seen[name]
        sent = run["headers"][:len(failures) + 1]
        if len(sent) < 2:
            continue  # not retried at all: the other checks of this item say so
        for number, headers in enumerate(sent[1:], start=2):
            changed = sorted(key for key in set(headers) | set(sent[0])
                             if headers.get(key) != sent[0].get(key))
            if changed:
                how = ", ".join(f"{key}: {sent[0].get(key)!r} then {headers.get(key)!r}"
                                for key in changed[:3])
                words = ", ".join(f"{k}={v!r}" for k, v in options.items())
                wrong.append(f"complete(messages{', ' + words if words else ''}) over "
                             f"{', '.join(failures)}, then a success: attempt {number} sent "
                             f"other headers than attempt 1 ({how})")
                break
    assert not wrong, first(wrong, "every attempt sends the same request: no header, option "
                                   "or parameter added or changed per attempt (an "
                                   "x-stainless-retry-count of your own included: a server "
                                   "takes that for the client's own retry of the request)")


@pytest.mark.item("lab01.retries-transient")
def test_a_success_past_the_recursion_limit_is_reached(observe):
    seen = observe("deep_limits")
    wrong = []
    for case in deep_cases():
        if case.succeeds_at is None:
            continue
        run = seen[case.name]
        if run.get("returned") != 42 or run["calls"] != case.succeeds_at:
            wrong.append(f"retry_call, max_attempts={case.max_attempts}, base 0 s, "
                         f"ConnectionErrors until call {case.succeeds_at} returns 42: "
                         f"{raised_type(run)} after {run['calls']} call(s)")
    assert not wrong, first(wrong, "a limit far past Python's recursion limit is a limit like "
                                   "any other: expected 42 on the call that returns it (loop "
                                   "over the attempts; a recursive retry runs out of stack)")


@pytest.mark.item("lab01.gives-up-with-last-error")
def test_giving_up_past_the_recursion_limit(observe):
    seen = observe("deep_limits")
    problems = []
    for case in deep_cases():
        if case.succeeds_at is not None:
            continue
        run, limit = seen[case.name], case.max_attempts
        raised = run.get("raised") or {}
        if run["calls"] > limit or (run["calls"] < limit and raised.get("is_retry_error")):
            continue  # other attempts than the limit's: the attempt items say so
        if run["calls"] < limit and raised.get("type") == "ConnectionError":
            continue  # a ConnectionError raised as it is, not retried: retries-transient's
        problem = _gave_up_properly(run, limit, "ConnectionError", None)
        if not problem and not raised.get("last_is_final"):
            problem = "last_error is not the error of the final attempt"
        if problem:
            problems.append(f"retry_call, max_attempts={limit}, base 0 s, every call a "
                            f"ConnectionError: {problem} (after {run['calls']} call(s))")
    assert not problems, first(problems, "giving up after thousands of attempts is "
                                         "RetryError(max_attempts, last error) as after four "
                                         "(loop over the attempts; a recursive retry runs out "
                                         "of stack)")


@pytest.mark.item("lab01.permanent-not-retried")
def test_a_permanent_error_is_the_very_object_raised(observe):
    seen = observe("as_raised")
    wrong = []
    for status in AS_RAISED_STATUSES:
        for name, made, what in ((f"llm-{status}", 1, f"a {status}"),
                                 (f"llm-503-503-{status}", 3, f"503, 503, then a {status}")):
            run = seen[name]
            if raised_type(run) != error_type(status) or len(run["requests"]) != made:
                continue  # another error, or other requests: the checks above say so
            if not run["as_raised"]:
                raised, own = run["raised"], run["client_error"] or {}
                wrong.append(f"{what} through RetryingLLM: a {raised['type']} with message "
                             f"{raised['message']!r} (from {raised['causes']}), not the one "
                             f"the client raised ({own.get('message')!r}, from "
                             f"{own.get('causes')})")
    for name in PREBUILT_PERMANENT:
        for after in (0, 1):
            run = seen[f"call-{after}-{name}"]
            if raised_type(run) != run["error"]["type"] or run["calls"] != after + 1:
                continue  # another error, or other calls: the checks above say so
            if not (run["as_raised"] and run["same_cause"]):
                raised = run["raised"]
                what = "a ConnectionError, then " if after else ""
                wrong.append(f"retry_call over {what}a {name}: a {raised['type']} with message "
                             f"{raised['message']!r} (from {raised['causes']}), not the very "
                             f"error the function raised (message "
                             f"{run['error']['message']!r}, from {run['error']['causes']})")
    assert not wrong, first(wrong, "a permanent error is raised at once, as it is: the very "
                                   "exception object raised, not a copy of its class, nor "
                                   "with another message or a __cause__ it did not have "
                                   "(re-raise it with a bare raise)")


@pytest.mark.item("lab01.honours-retry-after")
def test_a_date_is_gmt_in_any_timezone(observe):
    seen = observe("dates_off_utc")
    wrong = []
    for case in zoned_cases():
        run = seen[case.name]
        direct = run["direct"]
        asked = gaps_asked(run)[:1]
        retried = len(run["requests"]) >= 2
        if not close(direct.get("returned"), float(case.ahead)) \
                or (retried and not _all_close(asked, [float(case.ahead)])):
            wrong.append(f"TZ={case.zone}, retry-after: {run['text']} ({case.ahead} s after "
                         f"time.time()): server_delay {raised_type(direct)}, waits "
                         f"{seconds(asked)}; expected {case.ahead} s")
    assert not wrong, first(wrong, "an HTTP date is GMT whatever the machine's timezone: read "
                                   "it with its zone (email.utils.parsedate_to_datetime, or "
                                   "mktime_tz), never as local time (time.mktime)")


@pytest.mark.item("lab01.capped-with-jitter")
def test_no_draw_without_jitter(observe):
    seen = observe("rng_without_jitter")
    wrong = []
    for case in unjittered_cases():
        run, twin = seen[case.name], seen[f"{case.name}-twin"]
        made = len(run["requests"]) if "requests" in run else run["calls"]
        made_twin = len(twin["requests"]) if "requests" in twin else twin["calls"]
        asked = [w for _a, w, via in run["waits"] if via != "client"]
        fallback = [w for _a, w, via in twin["waits"] if via != "client"]
        if made != made_twin or not _all_close(asked, fallback):
            continue  # the rng changed the attempts or the waits: exponential-backoff's
        if not run["rng_unchanged"]:
            via = "RetryingLLM" if case.via == "llm" else "retry_call"
            p = case.settings
            wrong.append(f"{via}, max_attempts={p['max_attempts']}, base {p['base_delay']:g} "
                         f"s, factor {p['factor']:g}, cap {p['max_delay']:g} s, jitter off, a "
                         f"seeded rng: {', '.join(case.failures)}, then a success: the rng was "
                         "drawn from")
    for n, probe in seen["direct"].items():
        if "returned" in probe and probe["returned"] == probe["without_rng"].get("returned") \
                and not probe["rng_unchanged"]:
            wrong.append(f"backoff_delay({n}), jitter off, a seeded rng: the rng was drawn from")
    assert not wrong, first(wrong, "without jitter the rng is not used at all: no draw (its "
                                   "state after the call is what it was before), so that an "
                                   "rng shared with jittered calls goes on where they left it")


@pytest.mark.item("lab01.single-retry-layer")
def test_later_calls_are_not_retried_underneath(observe):
    seen = observe("calls_after_endings")
    wrong = []
    for sequence, calls in AFTER_ENDINGS.items():
        for client_name, options in AFTER_CLIENTS.items():
            run = seen[f"{sequence}-{client_name}"]
            retried = run["client_retries_per_call"]
            if any(retried):
                shown = "; ".join(f"call {n + 1} ({', '.join(call)}): {made} request(s) of "
                                  f"yours, {extra} more by the client"
                                  for n, (call, made, extra) in enumerate(
                                      zip(calls, run["made"], retried)) if extra)
                wrong.append(f"one RetryingLLM on a client with max_retries="
                             f"{options.get('max_retries', 2)}, {len(calls)} calls in a row: "
                             f"{shown}")
    assert not wrong, first(wrong, "every call sends one request per attempt, also after an "
                                   "earlier call gave up or raised a permanent error: send "
                                   "every request through the retries-off copy, always")
