"""Checks for lab 03 (deadlines and budgets), one group per checklist item."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import pytest

from grader.checks.expect import TOLERANCE, all_close, close, raised_type, seconds
from grader.scenarios.lab03 import (
    RUN_MODEL,
    Answer,
    CallCase,
    DelayCase,
    RunCase,
    call_cases,
    delay_cases,
    run_cases,
)
from labs.kit.devops import TOOL_SCHEMAS

#: The tools every request offers: call_llm's default, the kit's tool schemas.
KIT_TOOLS = [schema["function"]["name"] for schema in TOOL_SCHEMAS]


def _arrivals(seen):
    return [r["at"] for r in seen["requests"]]


def _read_timeouts(seen):
    return [r["timeout"].get("read") for r in seen["requests"]]


def _timeouts_leave_room(seen, most):
    """Every request carried a read timeout of at most ``most`` seconds (so the scenario's
    timeouts, not the budget, decide how the call goes)."""
    reads = _read_timeouts(seen)
    return bool(reads) and all(isinstance(r, (int, float)) and r <= most for r in reads)


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
    for name, what in (("slow_turns", "each turn's answer taking 100 s"),
                       ("slow_tool_turns", "each turn's tool taking 100 s")):
        seen = observe("slow_model")[name]
        late = [at for at in _arrivals(seen) if at is not None and at >= 300.0 - TOLERANCE]
        assert not late, (
            f"a 300 s run, {what}: requests at {seconds(_arrivals(seen))}; none may go out "
            "once the deadline has passed (at 300 s no time is left)"
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


def _stopped_in_time(seen: dict[str, Any], deadline: float) -> bool:
    """No request went out at or after ``deadline`` (else that is the loop's item)."""
    return all(r["at"] < deadline - TOLERANCE for r in seen["requests"])


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_expiry_fails_the_run_and_says_why(observe):
    seen = observe("slow_model")["slow_tool_turns"]
    if not _stopped_in_time(seen, 300.0):
        return  # the loop went on past the deadline: run-deadline-stops-loop says so
    problem = _ended_as(seen, "failed", "max_wall_time")
    assert not problem, f"a 300 s run that ran out of time: {problem}"
    error = seen["run"]["error"]
    assert isinstance(error, str) and error.startswith("DeadlineExceeded"), (
        f"the run's error is {error!r}; expected 'DeadlineExceeded: ...'"
    )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_expiry_keeps_the_progress(observe):
    seen = observe("slow_model")["slow_tool_turns"]
    if not _stopped_in_time(seen, 300.0):
        return  # the loop went on past the deadline: run-deadline-stops-loop says so
    if len(seen["requests"]) < 3:
        # the contract starts a turn at 0, 100 and 200 s (time is left at each, and the
        # timeout shrinks to it); a turn not started is timeout-shrinks-to-budget's, and
        # this run's progress is judged only once they were
        return
    run = seen["run"]
    expected = ["system", "user"] + ["assistant", "tool"] * 3
    assert run["steps"] == 3 and run["roles"] == expected, (
        f"a 300 s run, each turn's tool taking 100 s: after 3 finished turns the run holds "
        f"{run['steps']} steps and messages {run['roles']}; expected 3 steps and {expected}: "
        "the progress made is kept"
    )


#: Runs whose every turn reports usage.
TOKEN_RUNS = {"other_budgets.steps", "other_budgets.tokens", "other_budgets.tokens_exact",
              "simultaneous_budgets.steps_and_tokens"}


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_every_failed_run_keeps_its_finished_turns(observe):
    within = observe("other_budgets")["within"]["run"]
    counts_tokens = within["state"] == "completed" and (within["llm_tokens"] or 0) > 0
    for name, seen in _all_runs(observe):
        run = seen.get("run")
        if not run or run["state"] != "failed":
            continue
        deadline = seen["budget_s"]
        answered = sum(r["outcome"] == "200" and r["at"] < deadline - TOLERANCE
                       for r in seen["requests"])
        if any(r["at"] >= deadline - TOLERANCE for r in seen["requests"]):
            continue  # a request after the deadline: run-deadline-stops-loop says so
        steps = run["steps"] - seen["spent_before"][0]
        # how many steps a turn counts is budget-enforced's; here: none lost, none for a
        # turn whose answer never came
        # the turns of these runs report usage: a failed run keeps the tokens it spent
        tokens_lost = counts_tokens and name in TOKEN_RUNS and answered > 0 \
            and not (run["llm_tokens"] or 0) > seen["spent_before"][1]
        if run["roles"].count("assistant") != answered or (answered > 0) != (steps > 0) \
                or tokens_lost:
            raise AssertionError(
                f"{name}: the run failed after {answered} answered turn(s) but holds "
                f"{run['steps']} step(s), {run['llm_tokens']!r} tokens and the messages "
                f"{run['roles']}: a turn counts once its answer is in, and what was done "
                "before the failure (messages, steps, tokens) is kept"
            )


@pytest.mark.item("lab03.run-deadline-stops-loop")
def test_no_request_from_an_expired_call(observe):
    seen = observe("expired_call")
    assert not seen["requests"], (
        f"call_llm 31 s into a 30 s deadline sent {len(seen['requests'])} request(s); "
        "expected none (take the timeout from the deadline first: it raises once no time is "
        "left)"
    )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_expired_deadline_is_its_own_error(observe):
    seen = observe("expired_call")
    if seen["requests"]:
        return  # a request was sent: run-deadline-stops-loop says so
    raised = seen.get("raised")
    assert raised is not None and raised["is_deadline_exceeded"], (
        f"call_llm 31 s into a 30 s deadline: {raised_type(seen)}; expected your "
        "DeadlineExceeded"
    )
    assert not raised["is_timeout_error"], (
        "DeadlineExceeded must not be a TimeoutError (a retry loop would retry it)"
    )


# -- lab03.step-timeout-sent --------------------------------------------------------------


@pytest.mark.item("lab03.step-timeout-sent")
def test_every_request_carries_the_step_timeout(observe):
    for name, step in (("roomy", 45.0), ("tight", 45.0), ("last_half_second", 60.0)):
        seen = observe("step_timeouts")[name]
        problems = [step_timeout_problem(r["at"], r["timeout"], seen["budget_s"], step)
                    for r in seen["requests"]]
        problems = [p for p in problems if p]
        assert not problems, (
            f"a {seen['budget_s']:g} s run with a {step:g} s step timeout: {problems[0]} (600 s "
            "would be the OpenAI default)"
        )


@pytest.mark.item("lab03.step-timeout-sent")
def test_the_last_steps_turn_carries_the_step_timeout(observe):
    seen = observe("last_steps")
    for steps in (1, 2, 3):
        run = seen[f"max_steps_{steps}"]
        problems = [step_timeout_problem(r["at"], r["timeout"], run["budget_s"], 30.0)
                    for r in run["requests"]]
        problems = [p for p in problems if p]
        assert not problems, (
            f"a 600 s run with max_steps={steps} and a 30 s step timeout, the model never "
            f"finishing (requests at {seconds(_arrivals(run))} with timeouts "
            f"{seconds(_read_timeouts(run))}): {problems[0]}: every request's timeout is the "
            "step timeout or the time left, whichever is less, the request of the turn that "
            "will use the last step included (nothing after it makes it a turn of its own)"
        )


@pytest.mark.item("lab03.step-timeout-sent")
def test_the_step_timeout_decides_whatever_the_client(observe):
    seen = observe("request_options")
    problems = []
    for name, what, wanted in (
            ("short_client_far", "a client built with timeout=5, step timeout 20 s, 300 s "
                                 "left", 20.0),
            ("zero_step", "step_timeout=0, 300 s left", 0.0)):
        reads = _read_timeouts(seen[name])
        if reads[:1] != [wanted] and not (reads and close(reads[0], wanted)):
            problems.append(f"{what}: the request carried {reads[:1] or 'no request'}; "
                            f"expected {wanted:g}")
    assert not problems, "; ".join(problems) + " (the step timeout, sent with the request, " \
        "decides: not the client's own setting, and 0 is 0, not 'none')"


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
    own = observe("request_options")["own_tools"]
    offered = [r["tools"] for r in own["requests"]]
    assert offered == [["restart_service"]], (
        f"call_llm(..., tools=[restart_service]): the request offered {offered}; expected the "
        "tools it was given"
    )
    wrong = [r["tools"] for r in seen["requests"] if r["tools"] != KIT_TOOLS]
    assert not wrong, (
        f"a request offered the tools {wrong[0]!r}; expected {KIT_TOOLS} with every request "
        "(create(model=..., messages=..., tools=..., timeout=...)): without them the model "
        "cannot call one"
    )


# -- lab03.timeout-shrinks-to-budget ---------------------------------------------------------


def step_timeout_problem(at: float, fields: dict[str, Any], deadline: float,
                         step: float) -> str:
    """What breaks step-timeout-sent in one request, or '': each of its timeouts is at most
    the step timeout, and exactly the step timeout while at least twice that is left."""
    values = [fields.get(name) for name in ("connect", "read", "write", "pool")]
    if not all(isinstance(v, (int, float)) and v <= step + TOLERANCE for v in values):
        return f"the request at {at:g} s carried {fields}: each timeout is at most {step:g} s"
    if deadline - at >= 2 * step and not all(close(v, step) for v in values):
        return (f"the request at {at:g} s, with {deadline - at:g} s left, carried {fields}; "
                f"expected the step timeout, {step:g} s")
    return ""


def shrink_problem(at: float, fields: dict[str, Any], deadline: float, step: float) -> str:
    """What breaks timeout-shrinks-to-budget in one request, or '': no timeout above the
    time left; and within twice the step timeout of the deadline, exactly the step timeout
    or the time left, whichever is less."""
    if at >= deadline - TOLERANCE:
        return ""  # sent once no time was left: run-deadline-stops-loop says so
    left = max(deadline - at, 0.0)
    values = [fields.get(name) for name in ("connect", "read", "write", "pool")]
    if any(isinstance(v, (int, float)) and v > left + TOLERANCE for v in values):
        return (f"the request at {at:g} s, with {left:g} s left, carried {fields}: more than "
                "the time left")
    read = fields.get("read")
    if not isinstance(read, (int, float)) or deadline - at >= 2 * step:
        return ""
    if left < step and not close(read, left):
        return (f"the request at {at:g} s, with {left:g} s left, carried a {read:g} s timeout; "
                f"expected {left:g} s, the time left (computed again for every attempt)")
    if left >= step and not close(read, step):
        return (f"the request at {at:g} s, with {left:g} s left, carried a {read:g} s timeout; "
                f"expected the step timeout, {step:g} s (it fits; the time left is more)")
    return ""


@pytest.mark.item("lab03.timeout-shrinks-to-budget")
def test_timeouts_shrink_to_the_time_left(observe):
    for name, step in (("tight", 45.0), ("last_half_second", 60.0), ("roomy", 45.0)):
        seen = observe("step_timeouts")[name]
        problems = [shrink_problem(r["at"], r["timeout"], seen["budget_s"], step)
                    for r in seen["requests"]]
        problems = [p for p in problems if p]
        assert not problems, (
            f"a {seen['budget_s']:g} s run, {step:g} s step timeout: {problems[0]} (requests at "
            f"{seconds(_arrivals(seen))} with timeouts {seconds(_read_timeouts(seen))})"
        )


@pytest.mark.item("lab03.timeout-shrinks-to-budget")
def test_the_time_left_decides_whatever_the_client(observe):
    seen = observe("request_options")
    problems = []
    for name, what, wanted in (
            ("short_client_near", "a client built with timeout=5, step timeout 20 s, 15 s "
                                  "left", 15.0),
            ("infinite_step", "step_timeout=inf, 100 s left", 100.0)):
        reads = _read_timeouts(seen[name])
        if not (reads and isinstance(reads[0], (int, float)) and close(reads[0], wanted)):
            problems.append(f"{what}: the request carried {reads[:1] or 'no request'}; "
                            f"expected {wanted:g}")
    assert not problems, "; ".join(problems) + " (the step timeout or the time left, " \
        "whichever is less, sent with the request)"


@pytest.mark.item("lab03.timeout-shrinks-to-budget")
def test_the_last_half_second_is_used(observe):
    seen = observe("step_timeouts")["last_half_second"]
    arrivals, timeouts = _arrivals(seen), _read_timeouts(seen)
    if any(shrink_problem(r["at"], r["timeout"], 100.0, 60.0) for r in seen["requests"]):
        return  # the timeouts themselves are wrong: the check above says how
    problem = _ended_as(seen, "completed", None)
    assert not problem and len(arrivals) == 3 and close(arrivals[-1], 99.5), (
        f"a 100 s run, 60 s step timeout, two turns of 49.75 s and a last one of 0.25 s: "
        f"requests at {seconds(arrivals)} with timeouts {seconds(timeouts)}"
        f"{', and ' + problem if problem else ''}; expected a third request at 99.5 s with "
        "the 0.5 s left, and the run completed (half a second before the deadline, it has "
        "not passed)"
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
    for name, seconds_ in (("child_of_passed_at", 15), ("negative_child_of_passed_at", -5)):
        assert close(got[name], 0.0), (
            f"child({seconds_}) of a deadline that passed 20 s ago has at = parent's at + "
            f"{got[name]!r}; expected the parent's instant (it comes first: compare the "
            "instants, not the time left, which is 0 for both)"
        )
    assert close(got["zero_child"], 0.0), (
        f"child(0) of a deadline 20 s away has {got['zero_child']!r} s left; expected 0 (0 s "
        "from now comes first)"
    )


@pytest.mark.item("lab03.child-deadline-min")
def test_children_follow_the_clock(observe):
    got = observe("nested_deadlines").get("returned")
    assert got is not None, "Deadline raised"
    # what a passed deadline says (remaining 0, expired) is run-deadline-stops-loop's:
    # the passed child is judged by its instant
    expected = {"parent_later": 20.0, "long_later": 20.0, "grandchild_short": 5.0,
                "grandchild_long": 20.0, "short_at": 30.0, "grandchild_short_at": 85.0,
                "grandchild_long_at": 100.0}
    wrong = [f"{k}={got[k]!r} (expected {v:g})" for k, v in expected.items()
             if not close(got[k], v)]
    assert not wrong, (
        "80 s later, on a 100 s parent with children of 30 and 300 s (and grandchildren of "
        f"5 and 50 s under the long one; *_at in seconds from the start): {', '.join(wrong)}"
    )


@pytest.mark.item("lab03.child-deadline-min")
def test_a_negative_child_lies_in_the_past(observe):
    got = observe("nested_deadlines").get("returned")
    assert got is not None, "Deadline raised"
    assert close(got["negative_child_at"], 75.0), (
        f"80 s into a 100 s deadline, child(-5) has its instant at "
        f"{got['negative_child_at']!r} s from the start; expected 75 (5 s before now: "
        "seconds from now, the earlier one winning, whatever the sign)"
    )


@pytest.mark.item("lab03.child-deadline-min")
def test_a_child_of_a_passed_deadline_is_the_earlier_instant(observe):
    got = observe("nested_deadlines").get("returned")
    assert got is not None, "Deadline raised"
    for case in got["passed_children"]:
        ago, seconds_ = case["ago"], case["seconds"]
        # the parent's at is 0 here; now is `ago` after it: the earlier of the two wins
        expected = min(0.0, ago + seconds_)
        what = (f"child({seconds_:g}) of a deadline that passed {ago:g} s ago" if ago
                else f"child({seconds_:g}) of a deadline passing right now")
        for at, is_parent, which in ((case["at"], case["is_parent"], "the child"),
                                     (case["again_at"], case["again_is_parent"],
                                      "the same child asked again")):
            assert not is_parent, (
                f"{what}: {which} is the parent object itself; expected a new Deadline (at "
                "the earlier of the parent's instant and now + seconds): child() makes a new "
                "one for every deadline, a passed one included"
            )
            assert close(at, expected), (
                f"{what}: {which} has at = parent's at + {at!r}; expected {expected:g} (the "
                "earlier of the parent's instant and now + seconds, whatever time is left: "
                "a passed deadline's child is still compared by instants)"
            )
        assert close(case["grandchild_at"], expected), (
            f"{what}: its child({seconds_:g}) has at = parent's at + "
            f"{case['grandchild_at']!r}; expected {expected:g} (never later than its parent)"
        )


@pytest.mark.item("lab03.child-deadline-min")
def test_a_child_of_a_child_is_bounded_by_its_parent(observe):
    got = observe("nested_deadlines").get("returned")
    assert got is not None, "Deadline raised"
    for chain in got["chains"]:
        root, parent, asked = chain["root"], 0.0, []
        for level in chain["levels"]:
            # instants from the root's own: the level's parent at `parent`, now at
            # `since - root` (the root was made `root` s before its instant)
            expected = min(parent, level["since"] - root + level["seconds"])
            asked.append(f"child({level['seconds']:g}) {level['since']:g} s in")
            assert close(level["at"], expected), (
                f"Deadline.after({root:g}), then {' of '.join(reversed(asked))}: the last "
                f"has at = root's at + {level['at']!r}; expected {expected:g}, the earlier of "
                "its own parent's instant and now + seconds (a child of a child is bounded by "
                "its parent, which may be earlier than the root, not by the root alone)"
            )
            parent = expected


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
    # how the end is raised and recorded is deadline-exceeded-recorded's; when is this item's
    assert close(seen["ended_at"], 20.0) and seen["sleeps"] == [20.0], (
        f"a 30 s run, 503s with a 20 s then 40 s backoff: waits {seconds(seen['sleeps'])}, "
        f"the run ended at {seen['ended_at']:g} s; expected the 20 s wait, then the end at "
        "20 s (40 s more would cross the deadline)"
    )


@pytest.mark.item("lab03.retry-respects-deadline")
def test_a_wait_in_a_later_turn_meets_the_runs_deadline(observe):
    seen = observe("retry_and_deadline")["in_a_later_turn"]
    first = seen["requests"][:1]
    if any(step_timeout_problem(r["at"], r["timeout"], 30.0, 20.0)
           or shrink_problem(r["at"], r["timeout"], 30.0, 20.0) for r in first):
        # the first turn's 15 s answer comes in only under the timeout the contract sends
        # it with (20 s); with another, the run this check is built on never happens:
        # step-timeout-sent and timeout-shrinks-to-budget say what was sent
        return
    assert close(seen["ended_at"], 15.0) and seen["sleeps"] == [], (
        f"a 30 s run, a first turn taking 15 s, then 503s with a 20 s backoff: waits "
        f"{seconds(seen['sleeps'])}, the run ended at {seen['ended_at']:g} s; expected no wait "
        "and the end at 15 s: 15 s are left of the run's one deadline, and 20 s do not fit"
    )


@pytest.mark.item("lab03.retry-respects-deadline")
def test_a_server_asking_for_no_wait_is_retried_at_once(observe):
    seen = observe("retry_and_deadline")["zero_server_delay"]
    assert "raised" not in seen and len(seen["requests"]) == 2 and sum(seen["sleeps"]) == 0, (
        f"a 10 s deadline, a 429 with retry-after: 0, a 20 s backoff: {raised_type(seen)} "
        f"after {len(seen['requests'])} request(s) and waits {seconds(seen['sleeps'])}; "
        "expected the answer after 2 requests and no wait: the server's 0 s replaces the "
        "backoff, and it fits"
    )


@pytest.mark.item("lab03.retry-respects-deadline")
def test_run_with_an_even_backoff_ends_at_the_crossing(observe):
    seen = observe("retry_and_deadline")["in_a_run_even"]
    assert close(seen["ended_at"], 20.0) and seen["sleeps"] == [20.0], (
        f"a 30 s run, 503s with a 20 s backoff every time: waits {seconds(seen['sleeps'])}, "
        f"ended at {seen['ended_at']:g} s; expected one 20 s wait, then the end at 20 s (the "
        "second 20 s wait would cross the deadline, measured on the clock the run was given)"
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
def test_a_zero_wait_at_the_deadline_is_not_slept(observe):
    seen = observe("retry_and_deadline")["zero_wait_at_the_deadline"]
    if len(seen["requests"]) != 1 or seen["requests"][0]["outcome"] != "429":
        return  # the first request went otherwise: the timeout items say why
    raised = seen.get("raised") or {}
    assert raised.get("is_deadline_exceeded") and raised.get("causes") \
            and seen["sleeps"] == [], (
        f"a 10 s deadline, a 429 asking for no wait that came back at 10 s: "
        f"{raised_type(seen)} (from {raised.get('causes')}) after waits "
        f"{seconds(seen['sleeps'])}; expected your DeadlineExceeded from the 429 at once, no "
        "sleep at all: with no time left even a 0 s wait does not end before the deadline"
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


#: What the OpenAI client raises for the statuses of :func:`delay_cases`.
DELAY_ERRORS = {429: "openai.RateLimitError", 503: "openai.InternalServerError"}


def _fraction_problem(case: DelayCase, seen: dict[str, Any]) -> str:
    """What is wrong with the wait after one server delay with a fraction, or ''."""
    requests = seen["requests"]
    if not requests or requests[0]["outcome"] != str(case.status) \
            or not close(requests[0]["at"], case.late):
        return ""  # the first request went otherwise: the timeout and deadline items say why
    if shrink_problem(case.late, requests[0]["timeout"], case.late + case.left, 20.0):
        # the time left as the submission sees it (its first timeout) is off: whether a
        # wait fits is built on it, and it is timeout-shrinks-to-budget's
        return ""
    raised = seen.get("raised") or {}
    if raised.get("retry_attempts") is not None or raised.get("type") == DELAY_ERRORS[case.status]:
        return ""  # the failure was not retried: what is retried is llm-timeout-handled's
    wait = min(case.delay, 60.0)
    what = (f"{case.name}: a {case.status} asking for {case.header}: {case.value!r} "
            f"({case.delay:g} s), {case.left:g} s before the deadline")
    if wait >= case.left:
        if raised.get("is_deadline_exceeded") and not seen["sleeps"] and len(requests) == 1:
            return ""
        return (f"{what}: {raised_type(seen)} after waits {seconds(seen['sleeps'])} and "
                f"{len(requests)} request(s); expected your DeadlineExceeded at once, no wait: "
                f"the {wait:g} s the server asked for, fraction included, would not end before "
                "the deadline")
    later = requests[1]["at"] if len(requests) > 1 else None
    if all_close(seen["sleeps"], [wait]) and later is not None \
            and close(later, case.late + wait):
        return ""
    then = f"a request at {later:g} s" if later is not None else raised_type(seen)
    return (f"{what}: waits {seconds(seen['sleeps'])}, then {then}; "
            f"expected a {wait:g} s wait, the server's delay as given, fraction included (not "
            "whole seconds), then the next attempt")


@pytest.mark.item("lab03.retry-respects-deadline")
def test_a_server_delay_is_waited_with_its_fraction(observe):
    seen = observe("fractional_delays")
    problems = [problem for case in delay_cases()
                for problem in [_fraction_problem(case, seen[case.name])] if problem]
    assert not problems, problems[0] if problems else ""


# -- lab03.llm-timeout-handled --------------------------------------------------------------


def _timeout_specific(observe, name, problem_of) -> str:
    """``problem_of(run, raw)`` for the ``llm_timeouts`` run ``name``, unless its twin (the
    same server answering a 503 wherever it timed out) has a problem too: then the
    mistake is not one of timeouts, and other items say what it is. ``raw`` is the type
    the failure itself has in that run."""
    seen = observe("llm_timeouts")
    problem = problem_of(seen[name], "openai.APITimeoutError")
    if problem and problem_of(seen[f"{name}-twin"], "openai.InternalServerError"):
        return ""
    return problem


def _recovers(run, raw):
    first = run["requests"][0]["timeout"].get("read") if run["requests"] else None
    if not isinstance(first, (int, float)) or first > 250.0:
        return ""  # the request's timeout used up the budget: the timeout items say so
    if run.get("returned") == "ok after a timeout" and len(run["requests"]) == 2:
        return ""
    return (f"one request timing out after its 20 s, then an answer, 300 s to go: "
            f"{raised_type(run)} after {len(run['requests'])} request(s); expected the answer "
            "after 2 (a timeout is transient: retry it while time remains)")


def _runs_out(run, raw):
    raised = run.get("raised")
    if raised is None or not (raised["is_deadline_exceeded"]
                              or raised["retry_attempts"] is not None):
        return (f"requests timing out until a 50 s deadline: {raised_type(run)}; expected "
                "your DeadlineExceeded, not the raw timeout")
    first = run["requests"][0]["timeout"].get("read") if run["requests"] else None
    if len(run["requests"]) < 2 and isinstance(first, (int, float)) and first <= 40.0:
        return (f"requests at {seconds(_arrivals(run))}: a timed-out request is retried "
                "while time remains")
    return ""


def _in_a_run(run, raw):
    problem = _ended_as(run, "failed", run["run"]["exhausted"])
    if problem:
        return f"a 50 s run whose requests all time out: {problem}"
    error = run["run"]["error"]
    if run["run"]["exhausted"] == "max_wall_time":
        return ""  # the record of a deadline is deadline-exceeded-recorded's
    short = raw.rsplit(".", 1)[-1]
    if not isinstance(error, str) or "Traceback" in error or error.startswith(short):
        return (f"a 50 s run whose requests all time out: the run's error is {error!r}; "
                "expected the deadline (or lab 01's RetryError) as '<ExceptionType>: "
                "<message>', not the raw timeout")
    return ""


def _gives_up(run, raw):
    if not _timeouts_leave_room(run, 90.0):
        return ""  # each request's timeout eats the budget: the timeout items say so
    raised = run.get("raised") or {}
    if raised.get("is_deadline_exceeded") and len(run["requests"]) < 3:
        return ""  # the call's time ran out before its attempts: the deadline items judge it
    if raised.get("retry_attempts") == 3 and len(run["requests"]) == 3 \
            and raw in raised.get("causes", []):
        return ""
    return (f"max_attempts=3, 300 s to go, every request {_failing(raw)}: "
            f"{raised_type(run)} (attempts={raised.get('retry_attempts')!r}, from "
            f"{raised.get('causes')}) after {len(run['requests'])} request(s); expected lab 01's "
            "RetryError with attempts=3, raised from the last failure, after 3 requests")


def _failing(raw: str) -> str:
    return "timing out after its 20 s" if raw.endswith("TimeoutError") else "failing with a 503"


def _gives_up_in_a_run(run, raw):
    if not _timeouts_leave_room(run, 90.0):
        return ""
    problem = _ended_as(run, "failed", None)
    error = run["run"]["error"]
    if str(error).startswith("DeadlineExceeded") and len(run["requests"]) < 3:
        return ""  # the call's time ran out before its attempts: the deadline items judge it
    if not problem and not (isinstance(error, str) and error.startswith("RetryError: ")):
        problem = f"the error is {error!r}"
    if not problem and len(run["requests"]) != 3:
        problem = (f"{len(run['requests'])} requests were sent: the policy handed to "
                   "run_agent decides the attempts")
    if problem:
        return (f"a 300 s run, every request {_failing(raw)}, max_attempts=3: {problem}; "
                "expected it failed with 'RetryError: <message>' after 3 requests, nothing "
                "recorded as exhausted (no budget ran out)")
    return ""


@pytest.mark.item("lab03.llm-timeout-handled")
def test_timed_out_request_is_retried(observe):
    problem = _timeout_specific(observe, "recovers", _recovers)
    assert not problem, problem


@pytest.mark.item("lab03.llm-timeout-handled")
def test_timeouts_to_the_end_become_deadline_exceeded(observe):
    problem = _timeout_specific(observe, "runs_out", _runs_out)
    assert not problem, problem


@pytest.mark.item("lab03.llm-timeout-handled")
def test_run_ends_cleanly_on_timeouts(observe):
    problem = _timeout_specific(observe, "in_a_run", _in_a_run)
    assert not problem, problem


@pytest.mark.item("lab03.llm-timeout-handled")
def test_the_last_attempt_raises_retry_error(observe):
    # how call_llm's retries end is this item's whatever the failure: both runs are judged
    seen = observe("llm_timeouts")
    problem = (_gives_up(seen["gives_up"], "openai.APITimeoutError")
               or _gives_up(seen["gives_up-twin"], "openai.InternalServerError"))
    assert not problem, problem


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
def test_the_servers_x_should_retry_changes_nothing(observe):
    seen = observe("server_verdicts")
    problem = _gives_up(seen["transient_told_not_to"], "openai.InternalServerError")
    assert not problem, (
        f"every 503 sent with x-should-retry: false: {problem} (is_transient alone decides "
        "what call_llm retries; the server's headers change nothing)"
    )
    told_to = seen["permanent_told_to"]
    raised = told_to.get("raised") or {}
    assert raised.get("type") == "openai.BadRequestError" and len(told_to["requests"]) == 1 \
            and told_to["sleeps"] == [], (
        f"a 400 sent with x-should-retry: true: {raised_type(told_to)} after "
        f"{len(told_to['requests'])} request(s) and waits {seconds(told_to['sleeps'])}; "
        "expected openai.BadRequestError itself, at once, after 1 request and no wait "
        "(is_transient alone decides what is retried; the server's x-should-retry changes "
        "nothing)"
    )


@pytest.mark.item("lab03.llm-timeout-handled")
def test_a_permanent_error_before_sending_is_raised_as_it_is(observe):
    seen = observe("llm_timeouts")["unsendable"]
    assert raised_type(seen).startswith("TypeError") and not seen["requests"] \
            and seen["sleeps"] == [], (
        f"a message the client cannot turn into JSON (TypeError before anything is sent): "
        f"{raised_type(seen)} after {len(seen['requests'])} request(s) and waits "
        f"{seconds(seen['sleeps'])}; expected the TypeError itself, at once: is_transient "
        "decides for every error, not only HTTP ones"
    )


@pytest.mark.item("lab03.llm-timeout-handled")
def test_other_failures_end_the_run_cleanly(observe):
    seen = observe("llm_timeouts")
    problem = (_gives_up_in_a_run(seen["gives_up_in_a_run"], "openai.APITimeoutError")
               or _gives_up_in_a_run(seen["gives_up_in_a_run-twin"], "openai.InternalServerError"))
    assert not problem, problem
    cases = (("permanent_in_a_run", "BadRequestError", "a 400 on the first request"),)
    for name, error_type, what in cases:
        seen = observe("llm_timeouts")[name]
        problem = _ended_as(seen, "failed", None)
        assert not problem, f"a 300 s run, {what}: {problem}"
        error = seen["run"]["error"]
        assert isinstance(error, str) and error.startswith(f"{error_type}: "), (
            f"a 300 s run, {what}: the run's error is {error!r}; expected "
            f"'{error_type}: <message>'"
        )


@pytest.mark.item("lab03.llm-timeout-handled")
def test_any_failure_in_the_loop_ends_the_run_cleanly(observe):
    for scenario, name, error_type, what in (
            ("no_time", "tool_fails", "ToolFailure",
             "a run whose second turn's tool raises ToolFailure"),
            ("llm_timeouts", "unsendable_in_a_run", "TypeError",
             "a run holding a message the client cannot turn into JSON (a TypeError from "
             "create)")):
        seen = observe(scenario)[name]
        problem = _ended_as(seen, "failed", None)
        error = (seen.get("run") or {}).get("error")
        if not problem and not (isinstance(error, str) and error.startswith(f"{error_type}: ")):
            problem = f"the run's error is {error!r}"
        assert not problem, (
            f"{what}: {problem}; expected run_agent to return the run failed with "
            f"'{error_type}: <message>' and nothing recorded as exhausted: the run never "
            "raises, whatever the failure (catch every Exception around the loop, not only "
            "the ones call_llm is known to raise)"
        )


# -- lab03.budget-enforced ------------------------------------------------------------------


@pytest.mark.item("lab03.budget-enforced")
def test_max_steps_stops_the_run(observe):
    seen = observe("other_budgets")["steps"]
    problem = _ended_as(seen, "failed", "max_steps")
    assert not problem, f"max_steps=2, a model that never finishes: {problem}"
    assert len(seen["requests"]) == 2, (
        f"max_steps=2, a model that never finishes: {len(seen['requests'])} requests; "
        "expected 2"
    )


@pytest.mark.item("lab03.budget-enforced")
def test_the_last_steps_tools_run_before_the_run_stops(observe):
    for scenario, name, calls, what in (
            ("other_budgets", "steps", 1, "max_steps=2, a model that never finishes"),
            ("other_budgets", "already_spent", 1, "max_steps=4, a run handed in with 2 steps "
                                                  "already taken"),
            ("other_budgets", "two_calls_a_turn", 2, "max_steps=4, every reply asking for two "
                                                     "tools"),
            ("simultaneous_budgets", "steps_and_tokens", 1, "max_steps=2 and "
                                                            "max_llm_tokens=1200 both reached "
                                                            "after two turns")):
        seen = observe(scenario)[name]
        if _ended_as(seen, "failed", "max_steps"):
            continue  # how the run ended: the checks of max_steps above say so
        answered = sum(r["outcome"] == "200" for r in seen["requests"])
        expected = ["system", "user"] + (["assistant"] + ["tool"] * calls) * answered
        roles = seen["run"]["roles"]
        if roles.count("assistant") != answered or roles[:2] != expected[:2]:
            continue  # the run lost turns it was answered: the progress a failed run
            # keeps is deadline-exceeded-recorded's
        assert roles == expected, (
            f"{what}: after {answered} answered turn(s) the run holds the messages {roles}; "
            f"expected {expected}: the tool calls of the turn that used the last step are run "
            "and their results kept; max_steps stops the run before the next request, not "
            "before the tools"
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


# -- the deadline object, budgets together, the only retry layer, the clock and sleep given --


@pytest.mark.item("lab03.child-deadline-min")
def test_a_deadline_knows_its_instant(observe):
    seen = observe("deadline_object")
    got = seen.get("returned")
    assert got is not None, f"Deadline raised {raised_type(seen)}"
    assert close(got["at_offset"], 50.0), (
        f"Deadline.after(50) has at = now + {got['at_offset']!r}; expected now + 50 on the "
        "clock it was given"
    )
    assert close(got["past_offset"], -5.0), (
        f"Deadline.after(-5) has at = now + {got['past_offset']!r}; expected now - 5 (seconds "
        "from now, whatever the sign: a deadline already past)"
    )
    wrong = []
    for moment, left, expired in (("start", 50.0, False), ("forty", 10.0, False)):
        case = got[moment]
        if not close(case["remaining"].get("returned"), left) \
                or case["expired"].get("returned") is not expired:
            wrong.append(f"{moment}: remaining {raised_type(case['remaining'])}, expired "
                         f"{raised_type(case['expired'])}; expected {left:g} and {expired}")
    assert not wrong, "a 50 s deadline at 0 and 40 s: " + "; ".join(wrong)


@pytest.mark.item("lab03.run-deadline-stops-loop")
def test_check_raises_once_no_time_is_left(observe):
    got = observe("deadline_object").get("returned")
    assert got is not None, "Deadline raised"
    for moment, when in (("at", "exactly at 50 s"), ("past", "15 s past it")):
        case = got[moment]
        assert case["expired"].get("returned") is True \
                and close(case["remaining"].get("returned"), 0.0), (
            f"a 50 s deadline {when}: expired {raised_type(case['expired'])}, remaining "
            f"{raised_type(case['remaining'])}; expected True and 0: at the deadline itself "
            "and after it no time is left (never a negative time, nor a growing one)"
        )
    before = [m for m in ("start", "forty") if "raised" in got[m]["check"]]
    after = [f"{call}() at {m}" for m in ("at", "past") for call in ("check", "timeout")
             if "raised" not in got[m][call]]
    assert not before and not after, (
        f"on a 50 s deadline, check() raised at {before or 'no time before it'}, and "
        f"{', '.join(after) or 'nothing'} did not raise: once no time is left (at 50 s and "
        "later) both raise, so that no request goes out; never before"
    )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_a_passed_deadline_raises_deadline_exceeded(observe):
    got = observe("deadline_object").get("returned")
    assert got is not None, "Deadline raised"
    other = [f"{call}() at {m}: {raised_type(got[m][call])}"
             for m in ("at", "past") for call in ("check", "timeout")
             if "raised" in got[m][call] and not got[m][call]["raised"]["is_deadline_exceeded"]]
    assert not other, (
        f"on a passed 50 s deadline {'; '.join(other)}; expected your DeadlineExceeded, the "
        "error that says which budget ran out"
    )


@pytest.mark.item("lab03.timeout-shrinks-to-budget")
def test_deadline_timeout_is_the_step_or_what_is_left(observe):
    got = observe("deadline_object").get("returned")
    assert got is not None, "Deadline raised"
    start, forty = got["start"]["timeout"], got["forty"]["timeout"]
    value = start.get("returned")
    assert isinstance(value, (int, float)) and value >= 30.0 - TOLERANCE \
        and close(forty.get("returned"), 10.0), (
            f"Deadline.after(50).timeout(30): {raised_type(start)} at the start and "
            f"{raised_type(forty)} 40 s in; expected 30 (it fits), then 10 (what is left)"
        )


@pytest.mark.item("lab03.step-timeout-sent")
def test_deadline_timeout_is_at_most_the_step(observe):
    got = observe("deadline_object").get("returned")
    assert got is not None, "Deadline raised"
    start = got["start"]["timeout"]
    value = start.get("returned")
    assert isinstance(value, (int, float)) and value <= 30.0 + TOLERANCE, (
        f"Deadline.after(50).timeout(30) at the start: {raised_type(start)}; expected 30 "
        "(never more than the step timeout)"
    )



def _sees_a_passed_deadline(observe) -> bool:
    """The submission's Deadline says no time is left once it has passed (else that is
    run-deadline-stops-loop's, and a record built on it is not judged)."""
    got = observe("deadline_object").get("returned") or {}
    past = got.get("past") or {}
    return (past.get("expired") or {}).get("returned") is True \
        and close((past.get("remaining") or {}).get("returned"), 0.0)


@pytest.mark.item("lab03.run-deadline-stops-loop")
def test_no_time_at_all_sends_nothing(observe):
    for name, given in (("zero", "0"), ("negative", "-5")):
        seen = observe("no_time")[name]
        assert not seen["requests"], (
            f"a run given max_wall_time={given}: requests at {seconds(_arrivals(seen))}; "
            f"expected none ({given} s from the start is no time at all, not 'no limit')"
        )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_no_time_at_all_is_recorded_first(observe):
    seen = observe("no_time")
    zero = seen["zero"]
    if zero["requests"]:
        return  # a request was sent: run-deadline-stops-loop says so
    problem = _ended_as(zero, "failed", "max_wall_time")
    assert not problem, f"a run given max_wall_time=0: {problem}"
    for name, what in (("zero_and_no_steps", "its max_steps=2 already taken"),
                       ("zero_and_no_tokens", "its max_llm_tokens=1200 already spent")):
        run = seen[name]
        problem = _ended_as(run, "failed", "max_wall_time")
        assert not problem and not run["requests"], (
            f"a run given max_wall_time=0 with {what}: "
            f"{problem or str(len(run['requests'])) + ' request(s)'}; expected it failed with "
            "exhausted='max_wall_time' and no request (the deadline is checked first)"
        )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_a_turns_tools_all_run_before_the_deadline_ends_it(observe):
    seen = observe("no_time")
    expected = ["system", "user", "assistant", "tool", "tool"]
    for name, what in (("answer_at_the_deadline", "whose answer, asking for two tools, came "
                                                  "at the deadline itself"),
                       ("tool_overruns", "whose first tool of two ran past the deadline")):
        run = seen[name]
        if len(run["requests"]) != 1:
            continue  # another request, or none: the deadline and timeout items say so
        problem = _ended_as(run, "failed", "max_wall_time")
        assert not problem and run["run"]["roles"] == expected, (
            f"a 100 s run {what}: {problem or 'the run holds the messages ' + str(run['run']['roles'])}; "
            f"expected it failed with exhausted='max_wall_time' holding {expected}: the "
            "turn's tools all run and their results are kept; the deadline is checked before "
            "the next turn"
        )


@pytest.mark.item("lab03.budget-enforced")
def test_a_turn_whose_tool_fails_is_counted(observe):
    seen = observe("no_time")["tool_fails"]
    run = seen["run"]
    if "raised" in seen or run["state"] != "failed" or len(seen["requests"]) != 2:
        return  # how a failing tool ends the run is llm-timeout-handled's
    if not run["steps"]:
        return  # the steps were lost with the failure: deadline-exceeded-recorded's
    assert run["steps"] == 2 and run["llm_tokens"] == 120, (
        f"a run whose second turn's tool failed: steps={run['steps']!r}, "
        f"llm_tokens={run['llm_tokens']!r} after 2 answered turns of 60 tokens; expected 2 "
        "and 120 (a turn counts once its answer is in, whatever its tools then do)"
    )


def _together(seen, expected, what):
    problem = _ended_as(seen, "failed", expected)
    assert not problem and len(seen["requests"]) == 2, (
        f"{what}: {problem or str(len(seen['requests'])) + ' requests'}; expected the run "
        f"failed with exhausted={expected!r} after 2 requests (the budgets are checked in the "
        "order the contract lists them: the deadline, then max_steps, then max_llm_tokens)"
    )


@pytest.mark.item("lab03.budget-enforced")
def test_steps_and_tokens_running_out_together(observe):
    _together(observe("simultaneous_budgets")["steps_and_tokens"], "max_steps",
              "max_steps=2 and max_llm_tokens=1200 both reached after two turns of 600 tokens")


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_the_deadline_and_the_steps_running_out_together(observe):
    alone = observe("slow_model")["slow_tool_turns"]
    if _ended_as(alone, "failed", "max_wall_time") or not _stopped_in_time(alone, 300.0) \
            or not _sees_a_passed_deadline(observe):
        return  # the deadline alone is not enforced or recorded: the checks above say so
    together = observe("simultaneous_budgets")["deadline_and_steps"]
    if (together.get("run") or {}).get("roles", [])[-1:] == ["assistant"]:
        # the last turn's tool (which takes the run past its deadline) was not run: that
        # the tools of the turn using the last step run is budget-enforced's, and this
        # check is built on it
        return
    _together(together, "max_wall_time",
              "a 199 s run with max_steps=2, two turns of 100 s: the deadline has passed "
              "when the steps run out")


@pytest.mark.item("lab03.budget-enforced")
def test_budgets_count_what_the_run_already_spent(observe):
    seen = observe("other_budgets")
    for name, budget, requests, what in (
            ("already_spent", "max_steps", 2, "max_steps=4, a run handed in with 2 steps "
                                              "already taken"),
            ("tokens_already_spent", "max_llm_tokens", 1, "max_llm_tokens=1200, a run "
                                                          "handed in with 900 tokens spent, "
                                                          "600 a turn"),
            ("two_calls_a_turn", "max_steps", 4, "max_steps=4, every reply asking for two "
                                                 "tools"),
            ("no_steps_left", "max_steps", 0, "max_steps=0"),
            ("no_tokens_left", "max_llm_tokens", 0, "max_llm_tokens=1200, a run handed in "
                                                    "with all 1200 spent"),
            ("zero_tokens", "max_llm_tokens", 0, "max_llm_tokens=0"),
            ("steps_overspent", "max_steps", 0, "max_steps=4, a run handed in with 5 steps "
                                                "taken"),
            ("tokens_overspent", "max_llm_tokens", 0, "max_llm_tokens=1200, a run handed in "
                                                      "with 1500 spent")):
        problem = _ended_as(seen[name], "failed", budget)
        assert not problem and len(seen[name]["requests"]) == requests, (
            f"{what}: {problem or str(len(seen[name]['requests'])) + ' requests'}; expected "
            f"{requests} request(s), then the run failed with exhausted={budget!r} (the budgets "
            "count the run's steps and tokens, one step per LLM turn)"
        )


def _all_runs(observe):
    """Every run and call of the lab's scenarios, by name."""
    found = []

    def visit(name, value):
        if isinstance(value, dict) and "requests" in value and "process_sleeps" in value:
            found.append((name, value))
        elif isinstance(value, dict):
            for key, inner in value.items():
                visit(f"{name}.{key}", inner)

    for scenario in ("slow_model", "expired_call", "step_timeouts", "request_options",
                     "retry_and_deadline", "llm_timeouts", "other_budgets",
                     "simultaneous_budgets", "one_retry_layer", "generated_calls", "no_time"):
        visit(scenario, observe(scenario))
    return found


@pytest.mark.item("lab03.retry-respects-deadline")
def test_waits_go_through_the_sleep_given(observe):
    used = [(name, run["process_sleeps"]) for name, run in _all_runs(observe)
            if run["process_sleeps"]]
    assert not used, (
        f"{used[0][0]}: time.sleep({', '.join(map(str, used[0][1]))}) was called; wait only "
        "with the sleep you are given (on it the clock moves, and the deadline with it)"
    )


@pytest.mark.item("lab03.retry-respects-deadline")
def test_the_client_does_not_retry_underneath(observe):
    retried = [(name, run["client_retries"]) for name, run in _all_runs(observe)
               if run["client_retries"]]
    assert not retried, (
        f"{retried[0][0]}: the OpenAI client sent {retried[0][1]} request(s) again by itself, "
        "with waits of its own that know nothing of the deadline: call_llm turns its retries "
        "off (client.with_options(max_retries=0)) and is the only retry layer"
    )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_a_deadline_running_out_in_a_call_is_recorded(observe):
    for scenario, name, what in (
            ("llm_timeouts", "in_a_run", "a 50 s run whose requests all time out"),
            ("retry_and_deadline", "in_a_run", "a 30 s run of 503s whose second wait would "
                                               "cross the deadline")):
        seen = observe(scenario)[name]
        if "raised" in seen or seen["run"]["state"] != "failed":
            continue  # how the run ended is the other checks'
        run = seen["run"]
        error = run["error"]
        if run["exhausted"] == "max_wall_time":
            assert isinstance(error, str) and error.startswith("DeadlineExceeded: "), (
                f"{what}: the run records exhausted='max_wall_time' with the error {error!r}; "
                "expected 'DeadlineExceeded: <message>', the error that says the deadline "
                "ran out, not the failure it cut short"
            )
            continue
        if not (isinstance(error, str) and error.startswith("DeadlineExceeded")):
            continue
        assert run["exhausted"] == "max_wall_time", (
            f"{what}: the run failed with {error!r} but exhausted={run['exhausted']!r}; "
            "expected 'max_wall_time' (a DeadlineExceeded from inside call_llm is a budget "
            "running out like any other)"
        )


@pytest.mark.item("lab03.deadline-exceeded-recorded")
def test_the_run_is_running_while_it_runs(observe):
    seen = observe("other_budgets")["within"]
    states = seen["states_while_running"]
    assert states and all(state == "running" for state in states), (
        f"while run_agent ran, each reply found the run {states}; expected 'running' "
        "throughout (set run.state to running before the loop)"
    )


# -- generated calls near the deadline ------------------------------------------------------
#
# Each item judges its own rule, relative to what was observed: a request's timeout against
# the time left when it went out, a wait against when the failure before it came. Far from
# the deadline (at least twice the step timeout left) a request carries the step timeout
# (step-timeout-sent); nearer, the step timeout or the time left, whichever is less
# (timeout-shrinks-to-budget). A wait that would not end before the deadline is never slept
# (retry-respects-deadline), a wait that fits is slept as lab 01 computes it, after a
# timeout (llm-timeout-handled) as after any other failure (retry-respects-deadline).


@dataclass(frozen=True)
class Attempted:
    """One observed attempt: when it started, the timeout it carried, when its failure came
    (or its answer), and what the server did."""

    at: float
    timeout: float | None
    fields: dict[str, Any]
    ended: float
    answer: Answer
    timed_out: bool


def attempts_of(case: CallCase, run: dict[str, Any]) -> list[Attempted]:
    """The observed requests of a generated call, with when each ended by the fake's rules
    (a reply slower than the request's timeout times out at the timeout)."""
    found = []
    for request, answer in zip(run["requests"], case.answers):
        timeout = request["timeout"].get("read")
        at = request["at"]
        limit = timeout if isinstance(timeout, (int, float)) else float("inf")
        timed_out = answer.kind == "timeout" or answer.latency > limit
        ended = at + (limit if timed_out else answer.latency)
        found.append(Attempted(at, timeout, request["timeout"], ended, answer, timed_out))
    return found


def waits_of(case: CallCase, attempts: list[Attempted]) -> list[float]:
    """The contract's wait after each observed failure that is not the last attempt: the
    server's delay (capped), or lab 01's backoff, drawn once from the case's rng with
    jitter on."""
    p = case.settings
    rng = random.Random(case.seed) if case.seed is not None else None
    if case.random_seed is not None:  # no rng given: the random module, seeded just before
        rng = random.Random(case.random_seed)
    waits = []
    for number, attempt in enumerate(attempts[:p["max_attempts"] - 1]):
        if not transient(attempt):
            break
        capped = min(p["max_delay"], p["base_delay"] * p["factor"] ** number)
        if attempt.answer.retry_after is not None and not attempt.timed_out:
            waits.append(min(float(attempt.answer.retry_after), p["max_delay"]))
        elif rng is not None:
            waits.append(rng.uniform(0.0, capped))
        else:
            waits.append(capped)
    return waits


def transient(attempt: Attempted) -> bool:
    return attempt.timed_out or attempt.answer.kind in ("503", "429", "500", "408", "409",
                                                        "connect")


#: What the OpenAI client raises for each failure of a twin call (timeouts answered 503).
TWIN_ERRORS = {"503": ["openai.InternalServerError", 503], "500": ["openai.InternalServerError", 500],
               "429": ["openai.RateLimitError", 429], "408": ["openai.APIStatusError", 408],
               "409": ["openai.ConflictError", 409], "connect": ["openai.APIConnectionError", None]}


def twin_error(attempt: Attempted) -> list[Any]:
    """The error of a failed attempt of a twin call, as ``[type, status]``."""
    return TWIN_ERRORS["503" if attempt.timed_out else attempt.answer.kind]


def describe_call(case: CallCase) -> str:
    p = case.settings
    answers = ", ".join(
        a.kind + (f" after {a.latency:g} s" if a.latency else "")
        + (f" (retry-after {a.retry_after})" if a.retry_after else "") for a in case.answers)
    jitter = f", jitter (seed {case.seed})" if case.seed is not None else ""
    if case.random_seed is not None:
        jitter = f", jitter without an rng (the random module seeded {case.random_seed})"
    return (f"{case.name} [a {case.deadline:g} s deadline entered {case.late:g} s in, step "
            f"timeout {case.step_timeout:g} s, max_attempts={p['max_attempts']}, base "
            f"{p['base_delay']:g} s{jitter}; the server: {answers}]")


def _generated(observe, *, twins: bool = False):
    """``(case, run, attempts)`` of every generated call, or of every twin (timeouts
    answered as 503s at the same moment)."""
    seen = observe("generated_calls")
    for case in call_cases():
        run = seen[f"{case.name}-twin" if twins else case.name]
        yield case, run, attempts_of(case, run)


@pytest.mark.item("lab03.run-deadline-stops-loop")
def test_generated_calls_send_nothing_past_the_deadline(observe):
    problems = [f"{describe_call(case)}: a request at {a.at:g} s"
                for case, run, attempts in _generated(observe)
                for a in attempts if a.at >= case.deadline - TOLERANCE]
    assert not problems, "no request once the deadline has passed (at the deadline itself " \
        f"no time is left): {problems[0] if problems else ''}"


@pytest.mark.item("lab03.step-timeout-sent")
def test_generated_calls_carry_the_step_timeout(observe):
    problems = [f"{describe_call(case)}: {problem}"
                for case, run, attempts in _generated(observe) for a in attempts
                for problem in [step_timeout_problem(a.at, a.fields, case.deadline,
                                                     case.step_timeout)] if problem]
    assert not problems, problems[0] if problems else ""


@pytest.mark.item("lab03.timeout-shrinks-to-budget")
def test_generated_calls_shrink_each_timeout(observe):
    problems = [f"{describe_call(case)}: {problem}"
                for case, run, attempts in _generated(observe) for a in attempts
                for problem in [shrink_problem(a.at, a.fields, case.deadline,
                                               case.step_timeout)] if problem]
    assert not problems, problems[0] if problems else ""


def gives_up_early(observe) -> bool:
    """The submission ends some twin call with a RetryError before its last attempt where
    another would fit: its count of attempts is off (llm-timeout-handled says so)."""
    for case, run, attempts in _generated(observe, twins=True):
        raised = run.get("raised") or {}
        made = raised.get("retry_attempts")
        if made is not None and made < case.settings["max_attempts"] and attempts:
            last = attempts[-1]
            waits = waits_of(case, attempts)
            if len(waits) >= len(attempts) and waits[-1] < case.deadline - last.ended - TOLERANCE:
                return True
    return False


def _wait_problems(case: CallCase, run: dict[str, Any], attempts: list[Attempted],
                   *, early: bool = False) -> list[str]:
    """What is wrong with the waits of one call: one that would not end before the deadline
    is never slept (DeadlineExceeded at once, from the failure); one that fits is slept as
    computed, then the next attempt goes out."""
    waits = waits_of(case, attempts)
    for number, (attempt, wait) in enumerate(zip(attempts, waits)):
        left = case.deadline - attempt.ended
        later = attempts[number + 1] if number + 1 < len(attempts) else None
        what = "slow failure" if attempt.timed_out else attempt.answer.kind
        if wait >= left - TOLERANCE:
            raised = run.get("raised") or {}
            if later is not None:
                return [f"{describe_call(case)}: after the {what} ending at {attempt.ended:g} s, "
                        f"a {wait:g} s wait would not end before the deadline ({left:g} s "
                        f"left), yet another request went out at {later.at:g} s"]
            if early and raised.get("retry_attempts") is not None:
                return []  # the attempts are counted wrong: llm-timeout-handled says so
            if not raised.get("is_deadline_exceeded"):
                return [f"{describe_call(case)}: {raised_type(run)} after the {what} ending at "
                        f"{attempt.ended:g} s; a {wait:g} s wait would not end before the "
                        f"deadline ({left:g} s left): expected your DeadlineExceeded at once"]
            if raised.get("causes", [None])[:1] != [twin_error(attempt)[0]]:
                return [f"{describe_call(case)}: DeadlineExceeded was raised from "
                        f"{raised.get('causes') or 'nothing'}, not from the "
                        f"{twin_error(attempt)[0]} it cut short (raise DeadlineExceeded(...) "
                        "from error)"]
            if raised.get("is_deadline_exceeded") and len(run["sleeps"]) > number:
                return [f"{describe_call(case)}: waits {seconds(run['sleeps'])} before giving "
                        f"up; the {wait:g} s wait after the {what} would not have ended "
                        "before the deadline: raise at once, without it"]
            return []
        if later is None:
            if "returned" in run or (run.get("raised") or {}).get("retry_attempts") is not None:
                return []
            if (run.get("raised") or {}).get("type") == twin_error(attempt)[0]:
                return []  # the failure itself escaped, not retried: llm-timeout-handled's
            return [f"{describe_call(case)}: {raised_type(run)} after the {what} ending at "
                    f"{attempt.ended:g} s; a {wait:g} s wait fits ({left:g} s left): wait, "
                    "then try again"]
        if not close(later.at, attempt.ended + wait):
            return [f"{describe_call(case)}: after the {what} ending at {attempt.ended:g} s the "
                    f"next request went out at {later.at:g} s; expected a {wait:g} s wait "
                    f"first (it fits: {left:g} s left)"]
    return []


@pytest.mark.item("lab03.retry-respects-deadline")
def test_generated_calls_wait_only_what_fits(observe):
    early = gives_up_early(observe)
    problems = [problem for case, run, attempts in _generated(observe, twins=True)
                for problem in _wait_problems(case, run, attempts, early=early)]
    assert not problems, problems[0] if problems else ""


def _ending(run: dict[str, Any]) -> str:
    """How a call ended, in the terms both a call and its twin can share."""
    if "returned" in run:
        return f"returned {run['returned']!r}"
    raised = run["raised"]
    if raised["is_deadline_exceeded"]:
        return "DeadlineExceeded"
    if raised["retry_attempts"] is not None:
        return f"RetryError(attempts={raised['retry_attempts']})"
    kind = raised["type"]
    return "the raw failure" if kind in ("openai.APITimeoutError",
                                          "openai.InternalServerError") else kind


def waits_carry_over(observe) -> bool:
    """Some twin call, whose first failure is an HTTP error, waits after it otherwise than
    that failure asks for (a fixed backoff, no jitter): its waits depend on more than the
    call's own failures (an earlier call's, say). That is retry-respects-deadline's, and a
    call and its twin, made one after the other, can then differ for that alone."""
    for case, run, attempts in _generated(observe, twins=True):
        p = case.settings
        if p.get("jitter") or len(attempts) < 2 or p["max_attempts"] < 2:
            continue
        first = attempts[0]
        if first.answer.kind == "connect" or not transient(first):
            continue
        waits = waits_of(case, attempts)
        if waits and waits[0] < case.deadline - first.ended - TOLERANCE \
                and not close(attempts[1].at, first.ended + waits[0]):
            return True
    return False


@pytest.mark.item("lab03.llm-timeout-handled")
def test_generated_timeouts_are_handled_like_any_failure(observe):
    seen = observe("generated_calls")
    if waits_carry_over(observe):
        return  # a call's waits hang on more than its own failures: retry-respects-deadline's
    for case in call_cases():
        run, twin = seen[case.name], seen[f"{case.name}-twin"]
        if _wait_problems(case, twin, attempts_of(case, twin)) or (
                case.random_seed is not None and not _all_close_lists(
                    twin["sleeps"], waits_of(case, attempts_of(case, twin))[:len(twin["sleeps"])])):
            continue  # its waits are off: retry-respects-deadline says so
        sent = [[(r["at"], r["timeout"]) for r in seen_["requests"]] for seen_ in (run, twin)]
        if sent[0] == sent[1] and _all_close_lists(run["sleeps"], twin["sleeps"]) \
                and _ending(run) == _ending(twin):
            continue
        raise AssertionError(
            f"{describe_call(case)}: against it your call_llm made requests at "
            f"{seconds(_arrivals(run))}, waited {seconds(run['sleeps'])} and ended with "
            f"{_ending(run)}; against the same server answering a 503 wherever it timed out, "
            f"requests at {seconds(_arrivals(twin))}, waits {seconds(twin['sleeps'])}, ending "
            f"{_ending(twin)}: a timed-out request is a transient failure like any other"
        )


def _all_close_lists(a: Any, b: Any) -> bool:
    return isinstance(a, list) and isinstance(b, list) and all_close(a, b)


@pytest.mark.item("lab03.llm-timeout-handled")
def test_generated_calls_end_as_the_contract_says(observe):
    problems = []
    for case, run, attempts in _generated(observe, twins=True):
        if not attempts:
            continue
        number, last = len(attempts) - 1, attempts[-1]
        raised = run.get("raised")
        waits = waits_of(case, attempts)
        if last.answer.kind == "ok" and not last.timed_out:
            wanted, right = "the answer", run.get("returned") == "answered"
        elif last.answer.kind == "400" and not last.timed_out:
            wanted = "openai.BadRequestError as it is"
            right = raised is not None and raised["type"] == "openai.BadRequestError"
        elif number + 1 >= case.settings["max_attempts"]:
            last_error = twin_error(last)
            wanted = (f"lab 01's RetryError with attempts={number + 1}, carrying the last "
                      f"attempt's {last_error[0]}" + (f" ({last_error[1]})" if last_error[1]
                                                       else "") + " and raised from it")
            right = raised is not None and raised.get("retry_attempts") == number + 1 \
                and raised.get("retry_last_error") == last_error \
                and raised.get("retry_from_last") is True
        elif raised is not None and transient(last) \
                and (raised.get("retry_attempts") is not None
                     or raised.get("type") == twin_error(last)[0]) \
                and number < len(waits) and waits[number] < case.deadline - last.ended - TOLERANCE:
            wanted = (f"another attempt (attempt {number + 2} of "
                      f"{case.settings['max_attempts']}, after a {waits[number]:g} s wait that "
                      "fits)")
            right = False
        else:
            continue  # a wait, or a DeadlineExceeded instead of one: the waits' checks say so
        if not right:
            problems.append(f"{describe_call(case)}: {raised_type(run)} after "
                            f"{len(attempts)} request(s); expected {wanted}")
            break
    assert not problems, problems[0] if problems else ""


# -- generated runs: what each request sends, what each turn costs ---------------------------


def _describe_run(case: RunCase) -> str:
    tools = [len(names) for names, _ in case.turns[:-1]]
    usages = [p + c for _, (p, c) in case.turns]
    budget = "roomy" if case.max_llm_tokens >= 10**9 else f"{case.max_llm_tokens}"
    failing = f", a 503 first at turn(s) {[n + 1 for n in case.failing_first]}" \
        if case.failing_first else ""
    return (f"{case.name} [{len(tools)} tool turn(s) asking for {tools} tool(s), then the "
            f"answer; usage {usages} tokens a turn{failing}; max_llm_tokens {budget}]")


def _roles(messages: list[Any]) -> str:
    return ", ".join(str(m[0]) for m in messages) if messages else "nothing"


@pytest.mark.item("lab03.step-timeout-sent")
def test_every_request_sends_the_whole_conversation(observe):
    seen = observe("generated_runs")
    for case in run_cases():
        run = seen[case.name]
        held = run["run"].get("messages") or []
        answered = sum(r["outcome"] == "200" for r in run["requests"])
        starts = [n for n, m in enumerate(held) if m[0] == "assistant"]
        if len(starts) != answered or len(run["sent"]) != len(run["requests"]):
            continue  # the run does not hold the turns it was answered: the progress a
            # run keeps is deadline-exceeded-recorded's, and what it counts budget-enforced's
        turn = 0
        for request, sent in zip(run["requests"], run["sent"]):
            expected = held[:starts[turn]] if turn < len(starts) else held
            assert sent == expected, (
                f"{_describe_run(case)}: the request at {request['at']:g} s (turn {turn + 1}) "
                f"sent {len(sent)} message(s) ({_roles(sent)}) where the run held "
                f"{len(expected)} ({_roles(expected)}): every request sends the run's whole "
                "conversation so far, run.messages as it stands, in order: no window, no "
                "trimming, no message left out or added"
            )
            turn += request["outcome"] == "200"


@pytest.mark.item("lab03.step-timeout-sent")
def test_every_request_sends_the_messages_as_given(observe):
    seen = observe("generated_runs")
    for case in run_cases():
        run = seen[case.name]
        held = run["run"].get("messages") or []
        exact = run["run"].get("messages_as_held") or []
        answered = sum(r["outcome"] == "200" for r in run["requests"])
        starts = [n for n, m in enumerate(held) if m[0] == "assistant"]
        if len(starts) != answered or len(run["sent_as_given"]) != len(run["requests"]) \
                or len(exact) != len(held):
            continue  # the run does not hold the turns it was answered: the progress a
            # run keeps is deadline-exceeded-recorded's, and what it counts budget-enforced's
        turn = 0
        for request, sent in zip(run["requests"], run["sent_as_given"]):
            expected = exact[:starts[turn]] if turn < len(starts) else exact
            wrong = [(n, got, want) for n, (got, want) in enumerate(zip(sent, expected))
                     if got != want]
            if len(sent) == len(expected) and not wrong:
                turn += request["outcome"] == "200"
                continue
            detail = (f"message {wrong[0][0] + 1} went out as {wrong[0][1]!r} where the run "
                      f"holds {wrong[0][2]!r}" if wrong else
                      f"{len(sent)} message(s) went out where the run held {len(expected)}")
            raise AssertionError(
                f"{_describe_run(case)}: the request at {request['at']:g} s (turn "
                f"{turn + 1}): {detail}: every request carries the run's messages as given, "
                "key for key: no key dropped (a \"content\": None of an assistant message "
                "asking for tools included), none added, no value changed"
            )


def _conversation_problem(seen: dict[str, Any]) -> str:
    """What differs between the messages each request of a run sent and the run's own
    conversation at that turn, or '' (also when the run does not hold the turns it was
    answered: the progress a run keeps is deadline-exceeded-recorded's)."""
    held = seen["run"].get("messages") or []
    answered = sum(r["outcome"] == "200" for r in seen["requests"])
    starts = [n for n, m in enumerate(held) if m[0] == "assistant"]
    if len(starts) != answered or len(seen["sent"]) != len(seen["requests"]):
        return ""
    if any(state in ("failed", "completed") for state in seen["states_at_requests"]):
        return ""  # a request sent once the run had ended (a wrap-up after its deadline,
        # say): that no request follows the end is run-deadline-stops-loop's
    turn = 0
    for request, sent in zip(seen["requests"], seen["sent"]):
        expected = held[:starts[turn]] if turn < len(starts) else held
        if sent != expected:
            return (f"the request at {request['at']:g} s (turn {turn + 1}) sent {len(sent)} "
                    f"message(s) ({_roles(sent)}) where the run held {len(expected)} "
                    f"({_roles(expected)})")
        turn += request["outcome"] == "200"
    return ""


@pytest.mark.item("lab03.step-timeout-sent")
def test_every_request_sends_the_conversation_near_the_deadline_too(observe):
    for name, seen in _all_runs(observe):
        if "sent" not in seen or not isinstance(seen.get("run"), dict):
            continue
        problem = _conversation_problem(seen)
        left = [f"{seen['budget_s'] - r['at']:g}" for r in seen["requests"]]
        assert not problem, (
            f"{name} (a {seen['budget_s']:g} s run, requests with {', '.join(left) or 'no'} "
            f"s left): {problem}: every request sends the run's whole conversation, "
            "run.messages as it stands, and nothing else: no message added, near the "
            "deadline or the end of a budget included"
        )


#: What a request's body holds: the contract's create(model, messages, tools, timeout)
#: (the timeout goes with the HTTP request, not in the body).
CONTRACT_PARAMS = ["messages", "model", "tools"]


@pytest.mark.item("lab03.step-timeout-sent")
def test_requests_carry_only_the_contracts_parameters(observe):
    runs = _all_runs(observe) + [(f"generated_runs.{name}", seen)
                                 for name, seen in observe("generated_runs").items()]
    for name, seen in runs:
        extra = [(r["at"], more) for r in seen["requests"]
                 for more in [[p for p in r.get("params", []) if p not in CONTRACT_PARAMS]]
                 if more]
        assert not extra, (
            f"{name}: the request at {extra[0][0]:g} s carried the parameters "
            f"{extra[0][1]} besides {CONTRACT_PARAMS}; expected only create(model=..., "
            "messages=..., tools=..., timeout=...): no max_tokens or other option, whatever "
            "budget is left"
        )


def _token_run(case: RunCase) -> tuple[str, int, int]:
    """What the contract makes of a generated run: how it ends (``"completed"`` or the
    budget that runs out), its steps (one per answered request) and its tokens (each
    turn's ``usage.total_tokens`` as reported: 0 is 0)."""
    tokens = steps = 0
    for _, (prompt, completion) in case.turns:
        if tokens >= case.max_llm_tokens:
            return "max_llm_tokens", steps, tokens
        steps += 1
        tokens += prompt + completion
    return "completed", steps, tokens


@pytest.mark.item("lab03.budget-enforced")
def test_generated_runs_count_the_tokens_reported(observe):
    seen = observe("generated_runs")
    for case in run_cases():
        run = seen[case.name]
        ending, steps, tokens = _token_run(case)
        state, exhausted = ("completed", None) if ending == "completed" else ("failed", ending)
        problem = _ended_as(run, state, exhausted)
        got = run.get("run") or {}
        answered = sum(r["outcome"] == "200" for r in run["requests"])
        if problem and got.get("state") == "failed" and got.get("exhausted") is None:
            continue  # the run failed otherwise than by a budget (an error, a retry given
            # up): the deadline and timeout items say why
        # what a failed run keeps of its steps and tokens is deadline-exceeded-recorded's:
        # a failed run is judged by when it stopped, a completed one by what it counted too
        counted = ending != "completed" or (got.get("steps") == steps
                                            and got.get("llm_tokens") == tokens)
        ended = "completed" if ending == "completed" else f"failed with exhausted={ending!r}"
        assert not problem and answered == steps and counted, (
            f"{_describe_run(case)}: {answered} answered request(s), steps="
            f"{got.get('steps')!r}, llm_tokens={got.get('llm_tokens')!r}"
            f"{'; ' + problem if problem else ''}; expected {steps} answered request(s), "
            f"{steps} steps and {tokens} tokens, the run {ended}: llm_tokens adds up each "
            "response's usage.total_tokens as reported (a usage of 0 tokens counts 0, never "
            "an estimate; cached prompt tokens and reasoning tokens, which this server "
            "reports in prompt_tokens_details and completion_tokens_details, are in the "
            "total already: nothing is added for them, nothing taken off), and "
            "max_llm_tokens stops the run only once they reach it"
        )
