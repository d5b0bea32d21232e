"""Lab 01's public checks (retry with exponential backoff); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab01 as selfcheck
    selfcheck.exponential_backoff()   # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()            # every lab 01 check, and a Summary

Each check judges its own rule and nothing else. Where a rule builds on another, the check
measures it against what your own code does for the rule beneath: the cap and the jitter
against your own backoff, a server's delay against the wait your code makes without it,
the error you give up with against the attempts you made, the exponential waits with the
failures your own ``is_transient`` retries. Every check but ``single-retry-layer`` hands
you a client whose own retries are off; should it retry anyway, its retries get the answer
the request they repeat got and are not counted as your attempts. The clock is a detached
frozen clock: only the ``sleep`` you were handed moves it (``time.sleep``, the client's own
waits included, moves nothing), and ``time.time()`` stands still while it runs.
"""

from __future__ import annotations

import email.utils
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import ModuleType
from typing import Any

import httpx
import openai

from labs.kit.clock import PROCESS_START, FrozenClock
from labs.kit.fake_llm import Step, connect_error, failure, reply, timeout
from labs.kit.notebook import Run, Wait, load_lab, seconds
from labs.kit.selfcheck import (
    MAX_CALLS,
    TOLERANCE,
    GuardedLLM,
    RunawayError,
    Summary,
    WatchedClock,
    all_close,
    count,
    error_name,
    guarded_sleep,
    one_freeze,
    run_checks,
    short,
    status_error,
    verdict,
)

LAB01 = "lab01_retry"
PROMPT = [{"role": "user", "content": "web-1 is at 97% disk. Free some space, carefully."}]
#: The client every check but single-retry-layer hands over: its own retries off.
QUIET_CLIENT = {"max_retries": 0}


@dataclass
class Seen:
    """What one scenario produced: a value or an error, and what the server and clock saw."""

    value: Any = None
    error: BaseException | None = None
    run: Run | None = None
    calls: int = 0
    sleeps: tuple[float, ...] = ()
    runaway: str = ""
    own: tuple[Wait, ...] = ()
    """The waits made with the ``sleep`` handed over, in order (``time.sleep``, the OpenAI
    client's own waits included, moves nothing and is only noted in ``process_sleeps``)."""
    process_sleeps: tuple[float, ...] = ()
    given_max_retries: Any = None
    """The ``max_retries`` of the client handed over, read after the run."""

    @property
    def attempts(self) -> list[Any]:
        """The requests the code under check made (the client's own retries left out)."""
        return [r for r in self.run.requests if r.client_retry == 0] if self.run else []

    @property
    def client_retries(self) -> int:
        return sum(1 for r in self.run.requests if r.client_retry) if self.run else 0

    @property
    def own_seconds(self) -> list[float]:
        return [wait.seconds for wait in self.own]

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
    messages: Callable[[], Iterable[dict[str, Any]]] | None = None,
    options: dict[str, Any] | None = None,
) -> Seen:
    """One ``RetryingLLM(...).complete(PROMPT, **options)`` against ``script`` on a fresh
    clock. A retry of the OpenAI client's own gets the answer the request it repeats got
    (``replay_client_retries``), so the code under check sees the same failures either way."""
    seen = Seen()
    with WatchedClock() as clock, \
            GuardedLLM(script, clock=clock, replay_client_retries=True) as llm:
        client = llm.client(**(client_options if client_options is not None else QUIET_CLIENT))
        try:
            wrapper = lab.RetryingLLM(
                client, policy=lab.RetryPolicy(**policy), sleep=guarded_sleep(clock), rng=rng
            )
            sent = messages() if messages is not None else PROMPT
            seen.value = wrapper.complete(sent, **(options or {}))
        except NotImplementedError:
            raise
        except RunawayError as error:
            seen.runaway = str(error)
        except Exception as error:  # what the lab raised is the observation
            seen.error = error
        seen.run = clock.run(llm)
        seen.sleeps = tuple(clock.sleeps)
        seen.own = tuple(clock.waits)
        seen.process_sleeps = tuple(clock.process_sleeps)
        seen.given_max_retries = getattr(client, "max_retries", None)
    return seen


def _run_call(
    lab: ModuleType, effects: Sequence[Callable[[int], Any]], policy: dict[str, Any],
    *, rng: random.Random | None = None,
) -> Seen:
    """``retry_call`` over a function whose n-th call (from 1) does ``effects[n - 1](n)``;
    the last effect repeats."""
    seen = Seen()

    def fn() -> Any:
        seen.calls += 1
        if seen.calls > MAX_CALLS:
            raise RunawayError(f"did not stop: more than {MAX_CALLS} calls")
        return effects[min(seen.calls, len(effects)) - 1](seen.calls)

    with FrozenClock(detached=True) as clock:
        try:
            seen.value = lab.retry_call(fn, lab.RetryPolicy(**policy),
                                        sleep=guarded_sleep(clock), rng=rng)
        except NotImplementedError:
            raise
        except RunawayError as error:
            seen.runaway = str(error)
        except Exception as error:
            seen.error = error
        seen.sleeps = tuple(clock.sleeps)
        seen.process_sleeps = tuple(clock.process_sleeps)
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


def _transient(lab: ModuleType, error: BaseException) -> bool:
    """What your own ``is_transient`` says of ``error`` (an error it raises on: no)."""
    try:
        return lab.is_transient(error) is True
    except NotImplementedError:
        raise
    except Exception:  # noqa: BLE001 - a classifier that crashes did not say yes
        return False


def _request() -> httpx.Request:
    return httpx.Request("POST", "https://api.openai.com/v1/chat/completions")


def _numbers(values: Sequence[Any]) -> str:
    """Numbers as a person writes them; anything else as its repr."""
    return ", ".join(seconds(v, "") if isinstance(v, (int, float)) else short(v)
                     for v in values) + " s" if values else "none"


def _backoffs(lab: ModuleType, policy: Any, retries: Iterable[int],
              rng: random.Random | None = None) -> tuple[list[Any], str]:
    """``backoff_delay`` for each retry number in turn; what it raised, if it did."""
    found: list[Any] = []
    for retry in retries:
        try:
            found.append(lab.backoff_delay(retry, policy, rng))
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - reported by the check
            return found, f"backoff_delay({retry}) raised {error_name(error)}"
    return found, ""


def _hint_time_sleep(seen: Seen) -> str:
    if not seen.own and seen.process_sleeps and not seen.client_retries:
        return " (time.sleep was called: wait with the sleep you were handed)"
    return ""


# -- lab 01 ------------------------------------------------------------------------------


@one_freeze(_lab)
def retries_transient(lab: ModuleType | None = None) -> bool:
    """Transient failures of every kind, one after another, then the reply; a plain
    function's network errors; messages read once, the same on every attempt."""
    lab = _lab(lab)
    script = [failure(502), connect_error(), failure(409), timeout(latency=3.0), failure(408),
              failure(507), failure(503, headers={"x-should-retry": "false"}), failure(521),
              failure(429), reply("Freed 41 GB in /var/log")]
    policy = {"max_attempts": 14, "base_delay": 0.1, "factor": 1.5, "max_delay": 2.0}
    seen = _run_llm(lab, script, policy)
    problems = []
    attempts = len(seen.attempts)
    if seen.content != "Freed 41 GB in /var/log" or attempts != len(script):
        problems.append(
            f"{_labels(script[:-1])} (the 503 saying x-should-retry: false), then a reply, "
            f"limit 14: {seen.outcome()} after {count(attempts, 'attempt')}; expected the "
            f"reply after {len(script)}"
        )
    plain = _run_call(
        lab,
        [_raise(lambda n: ConnectionResetError("peer reset")),
         _raise(lambda n: httpx.ConnectTimeout("no route")),
         _raise(lambda n: httpx.ConnectError("connection refused")),
         _raise(lambda n: httpx.RemoteProtocolError("server hung up")),
         _raise(lambda n: TimeoutError("read timed out")), _give(7)],
        {"max_attempts": 9, "base_delay": 0.2},
    )
    if plain.value != 7 or plain.error is not None or plain.calls != 6:
        problems.append(
            "retry_call over ConnectionResetError, httpx.ConnectTimeout, httpx.ConnectError, "
            f"httpx.RemoteProtocolError, TimeoutError, then 7: {plain.outcome()} after "
            f"{count(plain.calls, 'call')}; expected 7 after 6"
        )
    once = _run_llm(lab, [failure(503), reply("Freed 9 GB")], {"base_delay": 0.3},
                    messages=lambda: (dict(m) for m in PROMPT))
    sent = [len(r.messages) for r in once.attempts]
    if once.content != "Freed 9 GB" or sent != [len(PROMPT)] * 2:
        problems.append(
            f"messages handed over as a generator, a 503, then a reply: {once.outcome()}; "
            f"the attempts sent {sent} message(s); expected the same {len(PROMPT)} every "
            "time (read them once)"
        )
    return verdict(
        "retries-transient", problems,
        f"{_labels(script[:-1])}, then the reply: {attempts} attempts; retry_call over 5 "
        "network errors: 7 after 6 calls; a generator of messages: the same on every attempt",
    )


@one_freeze(_lab)
def exponential_backoff(lab: ModuleType | None = None) -> bool:
    """The waits grow as base * factor ** n, taken with the sleep you were handed, and
    reach the cap; a base of 0 stays 0, however large n is."""
    lab = _lab(lab)
    timed_out = _transient(lab, openai.APITimeoutError(request=_request()))
    refused = _transient(lab, openai.APIConnectionError(request=_request()))
    slow = timeout(latency=2.0) if timed_out else failure(502)
    dropped = connect_error() if refused else failure(500)
    cases = [
        ({"max_attempts": 7, "base_delay": 0.4, "factor": 3.0, "max_delay": 500.0},
         [failure(503), failure(500), failure(429), failure(502), failure(504), reply("ok")]),
        ({"max_attempts": 6, "base_delay": 1.5, "factor": 2.0, "max_delay": 100.0},
         [slow, failure(500), dropped, failure(503), reply("ok")]),
    ]
    problems, shown = [], []
    for policy, script in cases:
        seen = _run_llm(lab, script, policy)
        expected = [policy["base_delay"] * policy["factor"] ** n for n in range(len(script) - 1)]
        label = (f"{_labels(script[:-1])}, base {seconds(policy['base_delay'])}, "
                 f"factor {seconds(policy['factor'], '')}")
        if not all_close(seen.own_seconds, expected):
            problems.append(
                f"{label}: waits {seconds(seen.own_seconds)}{_hint_time_sleep(seen)}; expected "
                f"{seconds(expected)} ({seen.outcome()})"
            )
        shown.append(f"{seconds(seen.own_seconds)} (base {seconds(policy['base_delay'])}, "
                     f"factor {seconds(policy['factor'], '')})")
    growth = lab.RetryPolicy(base_delay=0.05, factor=1.5, max_delay=40.0)
    found, broke = _backoffs(lab, growth, range(22))
    below = [(n, 0.05 * 1.5**n) for n in range(22) if 0.05 * 1.5**n < 40.0]
    wrong = [f"backoff_delay({n}) = {_numbers([found[n]])}, expected {seconds(value)}"
             for n, value in below if n < len(found) and not _close(found[n], value)]
    short_of_cap = [f"backoff_delay({n}) = {_numbers([found[n]])}"
                    for n in range(len(below), len(found)) if not _at_least(found[n], 40.0)]
    if broke or wrong or short_of_cap:
        problems.append(
            "base 0.05 s, factor 1.5, cap 40 s: "
            + "; ".join((wrong or short_of_cap or [broke])[:2])
            + ("" if wrong or broke else " stays below the cap (40 s); the waits grow until "
               "they reach it")
        )
    zero = lab.RetryPolicy(base_delay=0.0, factor=2.5, max_delay=15.0)
    flat, _ = _backoffs(lab, zero, (0, 9, 4000))
    if any(isinstance(v, (int, float)) and not _close(v, 0.0) for v in flat):
        problems.append(f"base 0 s: backoff_delay(0, 9, 4000) = {_numbers(flat)}; expected 0 "
                        "every time (0 * factor ** n is 0, however large n is)")
    return verdict(
        "exponential-backoff", problems,
        "waits " + "; ".join(shown) + "; base 0.05 s, factor 1.5 grows to the 40 s cap; "
        "base 0 stays 0",
    )


@one_freeze(_lab)
def no_sleep_after_last(lab: ModuleType | None = None) -> bool:
    """Never more attempts than the limit, and no wait after the last, whether the server
    said how long to wait or not."""
    lab = _lab(lab)
    cases = [
        ("every attempt failing", {"max_attempts": 3, "base_delay": 0.2},
         [failure(500), failure(503)] * 5),
        ("every attempt failing", {"max_attempts": 1, "base_delay": 2.0}, [failure(502)] * 4),
        ("every failure with retry-after 1.5 s", {"max_attempts": 4, "base_delay": 0.1},
         [failure(429, retry_after=1.5)] * 10),
    ]
    problems, shown = [], []
    for label, policy, script in cases:
        seen = _run_llm(lab, script, policy)
        limit = policy["max_attempts"]
        late = seen.run.waits_after_last() if seen.run is not None else []
        attempts = len(seen.attempts)
        if attempts != limit or late:
            after = (f" and a {seconds(late[0].seconds)} wait after the last one" if late else "")
            problems.append(
                f"limit {limit}, {label}: {count(attempts, 'attempt')}{after}; expected "
                f"{count(limit, 'attempt')}, no wait after the last ({seen.outcome()})"
            )
        shown.append(f"limit {limit}: {count(attempts, 'attempt')}")
    return verdict("no-sleep-after-last", problems,
                   "; ".join(shown) + " (with retry-after too); no wait after the last")


@one_freeze(_lab)
def gives_up_with_last_error(lab: ModuleType | None = None) -> bool:
    """After the last attempt: your RetryError, with the attempts you made and the last
    error, chained as its cause."""
    lab = _lab(lab)
    problems = []
    statuses = [500, 503, 429, 502, 504, 500, 503, 429, 502]
    script = [failure(s, message=f"backend busy (answer {i + 1})") for i, s in enumerate(statuses)]
    for limit in (4, 1):
        seen = _run_llm(lab, script, {"max_attempts": limit, "base_delay": 0.1})
        problems += _gave_up(lab, seen.error, len(seen.attempts), seen.outcome(),
                             f"limit {limit}, 5xx and 429 failing every time",
                             lambda made: (statuses[made - 1], f"(answer {made})"))
    errors = [status_error(502, f"gateway down (call {n})") for n in range(1, 9)]
    plain = _run_call(lab, [_raise(lambda n: errors[min(n, 8) - 1])], {"max_attempts": 3})
    error, last = plain.error, errors[min(max(plain.calls, 1), 8) - 1]
    if not isinstance(error, lab.RetryError) or error.attempts != plain.calls \
            or error.last_error is not last or error.__cause__ is not last:
        detail = (
            f"RetryError(attempts={short(error.attempts)}, last_error="
            f"{short(str(getattr(error, 'last_error', None)), 30)}), cause "
            f"{'chained' if error.__cause__ is last else 'not the last error'}"
            if isinstance(error, lab.RetryError) else plain.outcome()
        )
        problems.append(
            f"retry_call, limit 3, each call raising a 502: {detail} after "
            f"{count(plain.calls, 'call')}; expected attempts={plain.calls}, the last call's "
            "error as last_error and as __cause__"
        )
    return verdict(
        "gives-up-with-last-error", problems,
        "limit 4: RetryError(attempts=4, the last 502), cause chained; limit 1: "
        "RetryError(attempts=1); retry_call: the third error as last_error and cause",
    )


def _gave_up(lab: ModuleType, error: BaseException | None, made: int, outcome: str,
             label: str, last: Callable[[int], tuple[int, str]]) -> list[str]:
    """Whether ``error`` is the RetryError of ``made`` attempts whose last one failed as
    ``last(made)`` (its status, and a text of its message) says."""
    if not isinstance(error, lab.RetryError):
        return [f"{label}: {outcome} after {count(made, 'attempt')}; expected your RetryError"]
    status, text = last(made) if made else (None, "")
    final = getattr(error, "last_error", None)
    if error.attempts != made or getattr(final, "status_code", None) != status \
            or text not in str(final):
        return [
            f"{label}: RetryError(attempts={short(error.attempts)}, last_error="
            f"{error_name(final) if final is not None else None}) after "
            f"{count(made, 'attempt')}; expected attempts={made} and the last attempt's "
            f"error, the {status} {text}"
        ]
    if error.__cause__ is not final:
        return [f"{label}: the RetryError's __cause__ is not its last_error: raise it 'from' it"]
    return []


@one_freeze(_lab)
def permanent_not_retried(lab: ModuleType | None = None) -> bool:
    """Permanent errors are raised at once, as they are, whenever they come: after one
    request, after transient failures, on the last attempt, whatever the headers say."""
    lab = _lab(lab)
    kinds = {
        422: openai.UnprocessableEntityError, 404: openai.NotFoundError,
        401: openai.AuthenticationError, 403: openai.PermissionDeniedError,
        400: openai.BadRequestError,
    }
    cases: list[tuple[str, list[Step], int, int, int]] = [
        (str(status), [failure(status), reply("should not be asked")], 6, status, 1)
        for status in kinds
    ]
    cases += [
        ("400 saying x-should-retry: true",
         [failure(400, headers={"x-should-retry": "true"}), reply("no")], 6, 400, 1),
        ("503, then 404", [failure(503), failure(404), reply("no")], 6, 404, 2),
        ("limit 1, a 422", [failure(422), reply("no")], 1, 422, 1),
        ("limit 2, a 500, then a 401", [failure(500), failure(401), reply("no")], 2, 401, 2),
    ]
    problems = []
    for label, script, limit, status, made in cases:
        seen = _run_llm(lab, script, {"max_attempts": limit, "base_delay": 0.4})
        waited = len(seen.own) - (made - 1)
        if type(seen.error) is not kinds[status] or len(seen.attempts) != made or waited:
            problems.append(
                f"{label}: {seen.outcome()} after {count(len(seen.attempts), 'attempt')}"
                f"{' and a wait after it' if waited > 0 else ''}; expected "
                f"{kinds[status].__name__} itself at once, after {count(made, 'attempt')}"
            )
    request = _request()
    programming_errors: dict[str, Callable[[int], BaseException]] = {
        "TypeError": lambda n: TypeError("disk size must be int"),
        "ZeroDivisionError": lambda n: ZeroDivisionError("0 nodes"),
        "FileNotFoundError": lambda n: FileNotFoundError(2, "No such file", "/etc/agent.yml"),
        "PermissionError": lambda n: PermissionError(13, "Permission denied", "/var/log"),
        "httpx.HTTPStatusError": lambda n: httpx.HTTPStatusError(
            "404 Not Found", request=request, response=httpx.Response(404, request=request)),
    }
    for name, make in programming_errors.items():
        plain = _run_call(lab, [_raise(make), _give("no")], {"max_attempts": 5, "base_delay": 0.4})
        if type(plain.error) is not type(make(0)) or plain.calls != 1 or plain.sleeps:
            problems.append(
                f"retry_call over {name}: {plain.outcome()} after {plain.calls} call(s) and "
                f"{len(plain.sleeps)} wait(s); expected the {name} itself at once"
            )
    late = _run_call(lab, [_raise(lambda n: status_error(503)), _raise(lambda n: KeyError("node")),
                           _give("no")], {"max_attempts": 5, "base_delay": 0.4})
    if type(late.error) is not KeyError or late.calls != 2:
        problems.append(f"retry_call over a 503, then a KeyError: {late.outcome()} after "
                        f"{late.calls} call(s); expected the KeyError itself after 2")
    return verdict(
        "permanent-not-retried", problems,
        "422, 404, 401, 403, 400 (x-should-retry or not), a 404 after a 503, a 422 or 401 on "
        "the last attempt, TypeError, ZeroDivisionError, OSErrors, HTTPStatusError, KeyError: "
        "raised at once, as they are",
    )


@one_freeze(_lab)
def honours_retry_after(lab: ModuleType | None = None) -> bool:
    """A server-requested delay replaces the backoff for that one wait, capped; an unusable
    one leaves the decision to the other header or to your own backoff."""
    lab = _lab(lab)
    problems = []
    policy = {"max_attempts": 12, "base_delay": 1.0, "factor": 2.0, "max_delay": 40.0}
    headers: list[tuple[int, dict[str, str], str, float | None]] = [
        (429, {"retry-after-ms": "750"}, "ms 750", 0.75),
        (503, {"retry-after": "soon"}, "'soon'", None),
        (429, {"retry-after-ms": "inf", "retry-after": "1e999"}, "infinite", None),
        (500, {"retry-after": "-6"}, "-6 s", None),
        (500, {"retry-after": "400"}, "400 s (cap 40)", 40.0),
        (429, {"retry-after": "2", "retry-after-ms": "2750.25"}, "2 s and ms 2750.25", 2.75025),
        (503, {"retry-after": "0"}, "0 s", 0.0),
        (502, {"retry-after-ms": "soon-ish", "retry-after": "3"}, "ms 'soon-ish' and 3 s", 3.0),
        (503, {"retry-after-ms": "-400", "retry-after": "4"}, "ms -400 and 4 s", 4.0),
    ]
    plain = _run_llm(lab, [failure(s) for s, _, _, _ in headers] + [reply("ok")], policy)
    own = plain.own_seconds
    backoff = [own[n] if n < len(own) else _one(lab, n, policy) for n in range(len(headers))]
    told = _run_llm(lab, [failure(s, headers=h) for s, h, _, _ in headers] + [reply("ok")], policy)
    expected = [backoff[n] if delay is None else delay for n, (_, _, _, delay) in
                enumerate(headers)]
    waits = told.own_seconds
    if not all_close(waits, expected) or told.content != "ok":
        wrong = [f"{label}: {seconds(got)} (expected {seconds(want)})"
                 for (_, _, label, _), got, want in zip(headers, waits, expected)
                 if not all_close([got], [want])]
        problems.append(
            f"retry-after headers, base 1 s, factor 2, cap 40 s: waits with your sleep "
            f"{seconds(waits)}; expected {seconds(expected)} (your own backoff where no header "
            f"is usable) ({told.outcome()})" + (f"; first wrong: {wrong[0]}" if wrong else "")
        )
    dates = []
    for label, offset in (("4 s ahead", 4.0), ("30 s ago", -30.0)):
        # time.time() stands still at PROCESS_START while the check's clock runs
        when = email.utils.format_datetime(PROCESS_START + timedelta(seconds=offset), usegmt=True)
        dated = _run_llm(lab, [failure(503, retry_after=when), reply("ok")],
                         {"base_delay": 0.5, "max_delay": 40.0})
        waits = dated.own_seconds
        dates.append(seconds(waits))
        delay = max(0.0, offset)
        if not all_close(waits, [delay]) or dated.content != "ok":
            problems.append(
                f"retry-after as an HTTP date {label} ({when}): waits {seconds(waits)}, "
                f"{dated.outcome()}; expected {seconds(delay)}"
            )
    return verdict(
        "honours-retry-after", problems,
        f"waits {seconds(expected)} (ms, unusable -> your backoff, 400 capped at 40, ms before "
        f"s, 0, unusable ms -> s); HTTP dates: {', '.join(dates)}",
    )


def _one(lab: ModuleType, retry: int, policy: dict[str, Any]) -> float:
    found, _ = _backoffs(lab, lab.RetryPolicy(**policy), [retry])
    value = found[0] if found else float("nan")
    return value if isinstance(value, (int, float)) else float("nan")


def _close(value: Any, expected: float) -> bool:
    return isinstance(value, (int, float)) and all_close([value], [expected])


def _at_least(value: Any, floor: float) -> bool:
    return isinstance(value, (int, float)) and value >= floor - TOLERANCE


def _within(value: Any, ceiling: float) -> bool:
    return isinstance(value, (int, float)) and -TOLERANCE <= value <= ceiling + TOLERANCE


@one_freeze(_lab)
def capped_with_jitter(lab: ModuleType | None = None) -> bool:
    """No wait above the cap, even for a huge retry number; with jitter each wait is one
    draw of ``rng.uniform(0, capped)`` over your own capped backoff, from the rng you were
    given (or the random module)."""
    lab = _lab(lab)
    problems = []
    capped_policy = {"max_attempts": 6, "base_delay": 2.0, "factor": 3.0, "max_delay": 7.0}
    capped = _run_llm(lab, [failure(500)] * 10, capped_policy)
    if not all(_within(w, 7.0) for w in capped.own_seconds):
        problems.append(f"base 2 s, factor 3, cap 7 s: waits {seconds(capped.own_seconds)}; "
                        "none may be longer than 7 s")
    steady = lab.RetryPolicy(base_delay=2.0, factor=3.0, max_delay=7.0)
    found, broke = _backoffs(lab, steady, range(12))
    if broke or not all(_within(v, 7.0) for v in found):
        problems.append(broke or f"base 2 s, factor 3, cap 7 s: backoff_delay(0..11) = "
                                 f"{_numbers(found)}; none may be above 7 s")
    for label, policy in (("factor=3 (an int)", lab.RetryPolicy(base_delay=0.8, factor=3,
                                                                max_delay=25.0)),
                          ("factor 1.75", lab.RetryPolicy(base_delay=0.8, factor=1.75,
                                                          max_delay=25.0))):
        huge, broke = _backoffs(lab, policy, [7000])
        if broke or not _within(huge[0], 25.0):
            problems.append(f"backoff_delay(7000), {label}, cap 25 s: "
                            f"{broke or _numbers(huge)}; expected the cap at most, no error")
    problems += _jitter_draws(lab)
    plain_policy = {"max_attempts": 6, "base_delay": 0.7, "factor": 2.0, "max_delay": 5.0}
    plain = _run_llm(lab, [failure(503)] * 10, plain_policy)
    random.seed(9)  # the global random module must not matter
    drawn = _run_llm(lab, [failure(503)] * 10, {**plain_policy, "jitter": True},
                     rng=random.Random(44))
    source = random.Random(44)
    expected = [source.uniform(0.0, c) for c in plain.own_seconds]
    if not all_close(drawn.own_seconds, expected):
        problems.append(
            f"RetryingLLM with jitter and rng=Random(44): waits {seconds(drawn.own_seconds)}; "
            f"expected {seconds(expected)}, one draw rng.uniform(0, capped) per wait over your "
            f"own waits without jitter ({seconds(plain.own_seconds)})"
        )
    call_policy = {"max_attempts": 5, "base_delay": 0.9, "factor": 2.0, "max_delay": 4.0}
    effects = [_raise(lambda n: status_error(503))]
    steady_call = _run_call(lab, effects, call_policy)
    random.seed(71)
    free = _run_call(lab, effects, {**call_policy, "jitter": True})
    random.seed(71)
    expected_free = [random.uniform(0.0, c) for c in steady_call.sleeps]
    if not all_close(free.sleeps, expected_free):
        problems.append(
            f"retry_call with jitter and no rng, after random.seed(71): waits "
            f"{seconds(free.sleeps)}; expected {seconds(expected_free)} (the random "
            "module's uniform when rng is None)"
        )
    return verdict(
        "capped-with-jitter", problems,
        f"cap 7 s: waits {seconds(capped.own_seconds)}, backoff_delay(7000) within the cap; "
        f"jitter (rng=Random(44)): {seconds(drawn.own_seconds)}, rng.uniform(0, your capped "
        "backoff) each; no rng: the random module's draws",
    )


def _jitter_draws(lab: ModuleType) -> list[str]:
    """backoff_delay with jitter, called in turn with one rng (a retry number twice in a
    row included), against rng.uniform(0, your own capped backoff) from the same seed."""
    shape = {"base_delay": 0.5, "factor": 3.0, "max_delay": 6.0}
    steady, jittery = lab.RetryPolicy(**shape), lab.RetryPolicy(**shape, jitter=True)
    retries = [0, 1, 2, 2, 3, 4, 4, 9, 6000]
    ceilings, broke = _backoffs(lab, steady, retries)
    if broke:
        return [f"base 0.5 s, factor 3, cap 6 s, no jitter: {broke}"]
    random.seed(5)
    draws, broke = _backoffs(lab, jittery, retries, random.Random(23))
    source = random.Random(23)
    expected = [source.uniform(0.0, c) if isinstance(c, (int, float)) else float("nan")
                for c in ceilings]
    if broke or not all(_close(d, e) for d, e in zip(draws, expected)):
        return [
            f"backoff_delay(n) with jitter, n = {', '.join(map(str, retries))}, one "
            f"Random(23) throughout: {broke or _numbers(draws)}; expected {seconds(expected)}, "
            f"exactly rng.uniform(0, capped) each time, capped being your own waits without "
            f"jitter ({_numbers(ceilings)})"
        ]
    random.seed(61)
    free, broke = _backoffs(lab, jittery, [1, 1, 3])
    random.seed(61)
    expected_free = [random.uniform(0.0, c) for c in (ceilings[1], ceilings[1], ceilings[4])]
    if broke or not all(_close(d, e) for d, e in zip(free, expected_free)):
        return [f"backoff_delay(1), (1), (3) with jitter and no rng, after random.seed(61): "
                f"{broke or _numbers(free)}; expected {seconds(expected_free)} (the random "
                "module's uniform)"]
    return []


@one_freeze(_lab)
def single_retry_layer(lab: ModuleType | None = None) -> bool:
    """The OpenAI client's own retries are off for every request, a timeout option
    included, and the caller's client is left as it was."""
    lab = _lab(lab)
    problems, shown = [], []
    cases = [
        (3, 3, {}, "complete(messages)"),
        (2, 2, {"timeout": 20.0}, "complete(messages, timeout=20)"),
    ]
    for client_retries, limit, options, label in cases:
        seen = _run_llm(
            lab, [failure(503)] * 30, {"max_attempts": limit, "base_delay": 0.1},
            client_options={"max_retries": client_retries}, options=options,
        )
        what = f"{label}, client max_retries={client_retries}, limit {limit}"
        if seen.client_retries:
            problems.append(
                f"{what}: the client sent {count(seen.client_retries, 'request')} more by "
                f"itself ({len(seen.run.requests)} in all for "
                f"{count(len(seen.attempts), 'attempt')} of yours); two retry layers multiply"
            )
        if seen.given_max_retries != client_retries:
            problems.append(
                f"{what}: the client you were handed now has max_retries="
                f"{short(seen.given_max_retries)}; leave it as it was and keep a copy "
                "(client.with_options(max_retries=0))"
            )
        shown.append(f"{label}: {count(len(seen.run.requests), 'request')}, "
                     f"{count(len(seen.attempts), 'attempt')}")
    return verdict("single-retry-layer", problems,
                   "; ".join(shown) + "; no retry of the client's own, its max_retries kept")


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
