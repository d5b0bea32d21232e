"""Checks for lab 03 (deadlines and budgets), one group per checklist item."""

from __future__ import annotations

import pytest

from grader.checks.expect import TOLERANCE, all_close, close, raised_type, seconds
from grader.scenarios.lab03 import RUN_MODEL
from labs.kit.devops import TOOL_SCHEMAS

#: The tools every request offers: call_llm's default, the kit's tool schemas.
KIT_TOOLS = [schema["function"]["name"] for schema in TOOL_SCHEMAS]


def _arrivals(seen):
    return [r["at"] for r in seen["requests"]]


def _read_timeouts(seen):
    return [r["timeout"].get("read") for r in seen["requests"]]


def _ended_as(seen, state, exhausted):
    """What is wrong with how a run ended, or ''."""
    if "raised" in seen:
        return f"run_agent raised {seen['raised']['type']}: {seen['raised']['message']}"
    if seen.get("returned") is not True:
        return "run_agent did not return the run it was given"
    run = seen["run"]
    if run["state"] != state or run["exhausted"] != exhausted:
        return (f"the run ended {run['state']} with exhausted={run['exhausted']!r}; expected "
                f"{state} with exhausted={exhausted!r}")
    return ""


# -- lab03.run-deadline-stops-loop --------------------------------------------------------


@pytest.mark.item("lab03.run-deadline-stops-loop")
def test_no_request_after_the_deadline_slow_model(observe):
    seen = observe("slow_model")["slow_turns"]
    late = [at for at in _arrivals(seen) if at is not None and at >= 300.0 - TOLERANCE]
    assert not late and len(seen["requests"]) == 3, (
        f"a 300 s run, each turn taking 100 s: requests at {seconds(_arrivals(seen))}; expected "
        "0, 100, 200 s and none once the deadline had passed"
    )


@pytest.mark.item("lab03.run-deadline-stops-loop")
def test_no_request_after_the_deadline_slow_tool(observe):
    seen = observe("slow_model")["slow_tool"]
    assert len(seen["requests"]) == 1, (
        f"a 300 s run whose first tool took until 300 s: requests at "
        f"{seconds(_arrivals(seen))}; expected only the first (check the deadline before "
        "every turn, not only around the request)"
    )


# -- lab03.deadline-exceeded-recorded -----------------------------------------------------


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_expiry_fails_the_run_and_says_why(observe):
    seen = observe("slow_model")["slow_turns"]
    problem = _ended_as(seen, "failed", "max_wall_time")
    assert not problem, f"a 300 s run that ran out of time: {problem}"
    error = seen["run"]["error"]
    assert isinstance(error, str) and error.startswith("DeadlineExceeded"), (
        f"the run's error is {error!r}; expected 'DeadlineExceeded: ...'"
    )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_expiry_keeps_the_progress(observe):
    run = observe("slow_model")["slow_turns"]["run"]
    expected = ["system", "user"] + ["assistant", "tool"] * 3
    assert run["steps"] == 3 and run["roles"] == expected, (
        f"after 3 finished turns the run holds {run['steps']} steps and messages "
        f"{run['roles']}; expected 3 steps and {expected}: the progress made is kept"
    )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_expired_deadline_is_its_own_error(observe):
    seen = observe("expired_call")
    raised = seen.get("raised")
    assert raised is not None and raised["is_deadline_exceeded"], (
        f"call_llm 31 s into a 30 s deadline: {raised_type(seen)} after "
        f"{len(seen['requests'])} request(s); expected your DeadlineExceeded and no request"
    )
    assert not raised["is_timeout_error"] and not seen["requests"], (
        "DeadlineExceeded must not be a TimeoutError (a retry loop would retry it), and no "
        "request may be sent"
    )


# -- lab03.step-timeout-sent --------------------------------------------------------------


@pytest.mark.item("lab03.step-timeout-sent")
def test_every_request_carries_the_step_timeout(observe):
    seen = observe("step_timeouts")["roomy"]
    timeouts = _read_timeouts(seen)
    assert all_close(timeouts, [45.0, 45.0, 45.0]), (
        f"a 600 s run with a 45 s step timeout: the requests' read timeouts were "
        f"{seconds(timeouts)}; expected 45 s each (600 s would be the OpenAI default)"
    )
    too_long = [r["timeout"] for r in seen["requests"]
                if any(v is None or v > 45.0 + TOLERANCE for v in r["timeout"].values())]
    assert not too_long, f"a request's timeout allowed more than 45 s somewhere: {too_long[0]}"


@pytest.mark.item("lab03.step-timeout-sent")
def test_the_default_step_timeout_is_30_s(observe):
    seen = observe("request_options")
    for name, what in (("run", "run_agent"), ("call", "call_llm")):
        timeouts = _read_timeouts(seen[name])
        assert timeouts and all_close(timeouts, [30.0] * len(timeouts)), (
            f"{what} called without a step_timeout, 600 s to go: the requests' read timeouts "
            f"were {seconds(timeouts)}; expected 30 s each (the signature's default, "
            "step_timeout=30.0)"
        )


@pytest.mark.item("lab03.step-timeout-sent")
def test_every_request_carries_the_model_and_the_tools(observe):
    seen = observe("request_options")["run"]
    models = [r["model"] for r in seen["requests"]]
    assert models and all(model == RUN_MODEL for model in models), (
        f"run_agent(..., model={RUN_MODEL!r}): the requests asked for the models {models}; "
        f"expected {RUN_MODEL!r} each (run_agent passes model on to call_llm, and call_llm "
        "to create)"
    )
    wrong = [r["tools"] for r in seen["requests"] if r["tools"] != KIT_TOOLS]
    assert not wrong, (
        f"a request offered the tools {wrong[0]!r}; expected {KIT_TOOLS} with every request "
        "(create(model=..., messages=..., tools=..., timeout=...)): without them the model "
        "cannot call one"
    )


# -- lab03.timeout-shrinks-to-budget ---------------------------------------------------------


@pytest.mark.item("lab03.timeout-shrinks-to-budget")
def test_timeouts_shrink_to_the_time_left(observe):
    seen = observe("step_timeouts")["tight"]
    timeouts = _read_timeouts(seen)
    arrivals = _arrivals(seen)
    assert all_close(arrivals, [0.0, 30.0, 60.0, 90.0]) and all_close(
        timeouts, [45.0, 45.0, 40.0, 10.0]
    ), (
        f"a 100 s run, 45 s step timeout, turns of 30 s: requests at {seconds(arrivals)} with "
        f"timeouts {seconds(timeouts)}; expected 0, 30, 60, 90 s with 45, 45, 40, 10 s "
        "(the step timeout, or the time left when less)"
    )


@pytest.mark.item("lab03.timeout-shrinks-to-budget")
def test_no_request_outlives_the_deadline(observe):
    for name in ("roomy", "tight"):
        seen = observe("step_timeouts")[name]
        budget = seen["budget_s"]
        over = [
            f"{r['at']:g} s + {r['timeout'].get('read')!r} s"
            for r in seen["requests"]
            if not isinstance(r["timeout"].get("read"), (int, float))
            or r["at"] + r["timeout"]["read"] > budget + TOLERANCE
        ]
        assert not over, f"in a {budget:g} s run these requests could end after it: {over}"


@pytest.mark.item("lab03.timeout-shrinks-to-budget")
def test_the_last_half_second_is_used(observe):
    seen = observe("step_timeouts")["last_half_second"]
    arrivals, timeouts = _arrivals(seen), _read_timeouts(seen)
    situation = (f"a 100 s run, 60 s step timeout, two turns of 49.75 s and a last one of "
                 f"0.25 s: requests at {seconds(arrivals)} with timeouts {seconds(timeouts)}")
    problem = _ended_as(seen, "completed", None)
    assert not problem, (
        f"{situation}, and {problem} (with half a second left the deadline has not passed: "
        "the third request goes out with what is left)"
    )
    assert all_close(arrivals, [0.0, 49.75, 99.5]) and all_close(timeouts, [60.0, 50.25, 0.5]), (
        f"{situation}; expected 0, 49.75, 99.5 s with 60, 50.25, 0.5 s (the time left, to "
        "the fraction, when it is less than the step timeout)"
    )


# -- lab03.child-deadline-min ---------------------------------------------------------------


@pytest.mark.item("lab03.child-deadline-min")
def test_child_deadline_is_the_earlier(observe):
    seen = observe("nested_deadlines")
    got = seen.get("returned")
    assert got is not None, f"Deadline raised {raised_type(seen)}"
    expected = {"short": 30.0, "long": 100.0}
    wrong = {k: got[k] for k in expected if not close(got[k], expected[k])}
    assert not wrong, (
        f"children of a 100 s deadline: child(30) has {got['short']!r} s left, child(300) "
        f"{got['long']!r} s; expected 30 and 100 (the earlier deadline wins)"
    )
    assert close(got["explicit_child"], 10.0), (
        f"Deadline(now + 10).child(20) has {got['explicit_child']!r} s left; expected 10"
    )


@pytest.mark.item("lab03.child-deadline-min")
def test_children_follow_the_clock(observe):
    got = observe("nested_deadlines").get("returned")
    assert got is not None, "Deadline raised"
    expected = {"parent_later": 20.0, "short_later": 0.0, "long_later": 20.0,
                "grandchild_short": 5.0, "grandchild_long": 20.0}
    wrong = [f"{k}={got[k]!r} (expected {v:g})" for k, v in expected.items()
             if not close(got[k], v)]
    assert not wrong and got["short_expired"] is True, (
        "80 s later, on a 100 s parent with children of 30 and 300 s (and grandchildren of "
        f"5 and 50 s under the long one): {', '.join(wrong) or 'child(30) not expired'}"
    )


# -- lab03.retry-respects-deadline ----------------------------------------------------------


@pytest.mark.item("lab03.retry-respects-deadline")
def test_backoff_past_the_deadline_is_not_slept(observe):
    seen = observe("retry_and_deadline")["backoff"]
    raised = seen.get("raised")
    assert raised is not None and raised["is_deadline_exceeded"], (
        f"a 10 s deadline, 500s, backoff 4 then 8 s: {raised_type(seen)}; expected your "
        "DeadlineExceeded"
    )
    assert seen["sleeps"] == [4.0] and close(seen["ended_at"], 4.0), (
        f"waits {seconds(seen['sleeps'])}, gave up at {seen['ended_at']:g} s; expected the "
        "4 s wait, then failing at once at 4 s instead of sleeping 8 s past the deadline"
    )


@pytest.mark.item("lab03.retry-respects-deadline")
def test_server_delay_past_the_deadline_is_not_slept(observe):
    seen = observe("retry_and_deadline")["server_delay"]
    raised = seen.get("raised")
    assert raised is not None and raised["is_deadline_exceeded"] and seen["sleeps"] == [15.0], (
        f"a 20 s deadline, retry-after 15 then 10: {raised_type(seen)} after waits "
        f"{seconds(seen['sleeps'])}; expected the 15 s wait (it fits), then DeadlineExceeded "
        "at once (10 s would not)"
    )


@pytest.mark.item("lab03.retry-respects-deadline")
def test_run_ends_when_a_wait_would_cross_its_deadline(observe):
    seen = observe("retry_and_deadline")["in_a_run"]
    problem = _ended_as(seen, "failed", "max_wall_time")
    assert not problem and close(seen["ended_at"], 20.0), (
        f"a 30 s run, 503s with a 20 s then 40 s backoff: "
        f"{problem or 'the run ended at ' + format(seen['ended_at'], 'g') + ' s'}; expected "
        "failed, max_wall_time, at 20 s"
    )


@pytest.mark.item("lab03.retry-respects-deadline")
def test_a_wait_ending_at_the_deadline_is_not_slept(observe):
    seen = observe("retry_and_deadline")["exactly_at_the_deadline"]
    raised = seen.get("raised")
    assert raised is not None and raised["is_deadline_exceeded"] and seen["sleeps"] == [] \
        and len(seen["requests"]) == 1, (
            f"a 10 s deadline, a 429 asking for 10 s at 0 s: {raised_type(seen)} after waits "
            f"{seconds(seen['sleeps'])} and {len(seen['requests'])} request(s); expected your "
            "DeadlineExceeded at once, no wait: a wait ending at the deadline leaves no time "
            "for the next attempt (wait >= time left)"
        )


@pytest.mark.item("lab03.retry-respects-deadline")
def test_a_run_waits_what_its_rng_draws(observe):
    seen = observe("retry_and_deadline")["jitter_in_a_run"]
    problem = _ended_as(seen, "completed", None)
    assert not problem and all_close(seen["sleeps"], [1.0, 2.0]), (
        f"a 300 s run, two 503s, jittered backoff (at most 4 s, then 8 s) and an rng that "
        f"always draws a quarter of the range: waits {seconds(seen['sleeps'])}"
        f"{'; ' + problem if problem else ''}; expected waits of 1 and 2 s and the run "
        "completed (run_agent passes its rng on to call_llm: the waits judged against the "
        "deadline are the ones it draws)"
    )


# -- lab03.llm-timeout-handled --------------------------------------------------------------


@pytest.mark.item("lab03.llm-timeout-handled")
def test_timed_out_request_is_retried(observe):
    seen = observe("llm_timeouts")["recovers"]
    assert seen.get("returned") == "ok after a timeout" and all_close(_arrivals(seen), [0.0, 21.0]), (
        f"one request timing out after its 20 s, then an answer: {raised_type(seen)}, "
        f"requests at {seconds(_arrivals(seen))}; expected the answer, requests at 0 and 21 s"
    )


@pytest.mark.item("lab03.llm-timeout-handled")
def test_timeouts_to_the_end_become_deadline_exceeded(observe):
    seen = observe("llm_timeouts")["runs_out"]
    raised = seen.get("raised")
    assert raised is not None and raised["is_deadline_exceeded"], (
        f"requests timing out until a 50 s deadline: {raised_type(seen)}; expected your "
        "DeadlineExceeded, not the raw timeout"
    )
    assert all_close(_arrivals(seen), [0.0, 21.0, 43.0]) and close(seen["ended_at"], 50.0), (
        f"requests at {seconds(_arrivals(seen))}, gave up at {seen['ended_at']:g} s; expected "
        "0, 21, 43 s (the last with only 7 s left) and the end at 50 s"
    )


@pytest.mark.item("lab03.llm-timeout-handled")
def test_run_ends_cleanly_on_timeouts(observe):
    seen = observe("llm_timeouts")["in_a_run"]
    problem = _ended_as(seen, "failed", "max_wall_time")
    assert not problem, f"a 50 s run whose requests all time out: {problem}"
    error = seen["run"]["error"]
    assert isinstance(error, str) and error.startswith("DeadlineExceeded") \
        and "Traceback" not in error, f"the run's error is {error!r}"


@pytest.mark.item("lab03.llm-timeout-handled")
def test_the_last_attempt_raises_retry_error(observe):
    seen = observe("llm_timeouts")["gives_up"]
    raised = seen.get("raised") or {}
    arrivals = _arrivals(seen)
    assert raised.get("retry_attempts") == 3 and all_close(arrivals, [0.0, 21.0, 43.0]) \
        and close(seen["ended_at"], 63.0), (
            f"max_attempts=3, 300 s to go, every request timing out after its 20 s: "
            f"{raised_type(seen)} (attempts={raised.get('retry_attempts')!r}), requests at "
            f"{seconds(arrivals)}, gave up at {seen['ended_at']:g} s; expected lab 01's "
            "RetryError with attempts=3, requests at 0, 21, 43 s and the end at 63 s (the "
            "third attempt's failure is raised at once, with no wait after it)"
        )


@pytest.mark.item("lab03.llm-timeout-handled")
def test_a_permanent_error_is_raised_as_it_is(observe):
    seen = observe("llm_timeouts")["permanent"]
    raised = seen.get("raised") or {}
    assert str(raised.get("type")).endswith("BadRequestError") and len(seen["requests"]) == 1 \
        and seen["sleeps"] == [], (
            f"a 400 (bad request) on the first attempt: {raised_type(seen)} after "
            f"{len(seen['requests'])} request(s) and waits {seconds(seen['sleeps'])}; expected "
            "openai.BadRequestError itself, at once, after 1 request and no wait (only a "
            "transient failure, such as a timeout, is retried)"
        )


@pytest.mark.item("lab03.llm-timeout-handled")
def test_other_failures_end_the_run_cleanly(observe):
    cases = (("gives_up_in_a_run", "RetryError", "every request timing out, max_attempts=3"),
             ("permanent_in_a_run", "BadRequestError", "a 400 on the first request"))
    for name, error_type, what in cases:
        seen = observe("llm_timeouts")[name]
        problem = _ended_as(seen, "failed", None)
        assert not problem, f"a 300 s run, {what}: {problem}"
        error = seen["run"]["error"]
        assert isinstance(error, str) and error.startswith(f"{error_type}: "), (
            f"a 300 s run, {what}: the run's error is {error!r}; expected "
            f"'{error_type}: <message>'"
        )


# -- lab03.budget-enforced ------------------------------------------------------------------


@pytest.mark.item("lab03.budget-enforced")
def test_max_steps_stops_the_run(observe):
    seen = observe("other_budgets")["steps"]
    problem = _ended_as(seen, "failed", "max_steps")
    assert not problem, f"max_steps=2, a model that never finishes: {problem}"
    assert len(seen["requests"]) == 2 and seen["run"]["steps"] == 2, (
        f"max_steps=2, a model that never finishes: {len(seen['requests'])} requests and "
        f"{seen['run']['steps']} steps; expected 2 and 2"
    )


@pytest.mark.item("lab03.budget-enforced")
def test_max_llm_tokens_stops_the_run(observe):
    seen = observe("other_budgets")["tokens"]
    problem = _ended_as(seen, "failed", "max_llm_tokens")
    assert not problem, f"max_llm_tokens=1000, 600 tokens a turn (usage): {problem}"
    assert len(seen["requests"]) == 2 and seen["run"]["llm_tokens"] == 1200, (
        f"max_llm_tokens=1000, 600 tokens a turn (usage): {len(seen['requests'])} requests, "
        f"llm_tokens={seen['run']['llm_tokens']!r}; expected 2 requests and 1200 tokens counted"
    )


@pytest.mark.item("lab03.budget-enforced")
def test_max_llm_tokens_reached_exactly_stops_the_run(observe):
    seen = observe("other_budgets")["tokens_exact"]
    problem = _ended_as(seen, "failed", "max_llm_tokens")
    assert not problem and len(seen["requests"]) == 2, (
        f"max_llm_tokens=1200, 600 tokens a turn: {len(seen['requests'])} requests"
        f"{'; ' + problem if problem else ''}; expected 2 requests and the run failed with "
        "exhausted='max_llm_tokens' (after two turns the 1200 tokens have reached the budget: "
        "no third request)"
    )


@pytest.mark.item("lab03.budget-enforced")
def test_a_run_within_budget_completes(observe):
    seen = observe("other_budgets")["within"]
    problem = _ended_as(seen, "completed", None)
    assert not problem, f"max_steps=3 and a model done in 3 turns: {problem}"
    run = seen["run"]
    assert run["steps"] == 3 and run["result"] == "done" and run["llm_tokens"] == 180, (
        f"max_steps=3 and a model done in 3 turns of 60 tokens: steps={run['steps']!r}, "
        f"tokens={run['llm_tokens']!r}, result={run['result']!r}; expected 3, 180 and 'done'"
    )
