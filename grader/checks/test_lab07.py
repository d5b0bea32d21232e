"""Checks for lab 07 (the durable DevOps agent), one group per checklist item.

The capstone is graded on the student's own labs 01 to 06 together; each check says what
it saw, and the item's hint points to the earlier lab the trouble most likely comes from.
"""

from __future__ import annotations

import pytest

from grader.checks.expect import TOLERANCE

ANSWER = "web 2.4.1 is deployed and healthy"
ONCE = {"apply_deploy": 1, "build_config": 1, "clean_logs": 0}
BUDGET = 600.0
OK = "exited with status 0"
#: What the model must be told before its last turn: each tool's result, once, in order.
TOLD = [["call_st", "web: running, version none"],
        ["call_bc", "config #1 for web@2.4.1 built"],
        ["call_ap", "web@2.4.1 applied (deploy #1)"],
        ["call_vf", "web: healthy"]]
#: The settings ``transient_failures`` gives its agent, and the default step timeout.
MODEL = "gpt-4.1-mini"
POLICY_BASE_DELAY = 2.0
STEP_TIMEOUT = 60.0
#: The ``max_wall_time`` of the agent that replays the deploy from its first step.
SHORT_BUDGET = 90.0


def _completed(status):
    """What is wrong with a task's final status, or ''."""
    if status.get("ended") != OK:
        return f"reading its status failed: {status.get('ended')}"
    if (status.get("state"), status.get("result")) != ("completed", ANSWER):
        return (f"the task ended {status.get('state')!r} with result {status.get('result')!r} "
                f"and error {status.get('error')!r}")
    return ""


def _once(world):
    if world["deployed"] != ["web@2.4.1"] or world["side_effects"] != ONCE:
        return f"the server saw the deploys {world['deployed']} and side effects {world['side_effects']}"
    return ""


# -- lab07.exactly-once-under-kill -----------------------------------------------------------


@pytest.mark.item("lab07.exactly-once-under-kill")
def test_every_trial_completes_with_each_effect_once(observe):
    seen = observe("kill_trials")
    assert seen["events"], "an uninterrupted deploy produced no event (no reply, no side effect)"
    for number, trial in enumerate(seen["trials"], start=1):
        where = (f"trial {number}: killed with SIGKILL at event(s) {trial['kills']} of "
                 f"{len(seen['events'])}, restarted each time")
        assert trial["lives"][-1] == OK, f"{where}: the last life {trial['lives'][-1]}"
        problem = _once(trial["world"]) or _completed(trial["status"])
        assert not problem, f"{where}: {problem}"
        assert trial["answer"] == ANSWER, (
            f"{where}: the last life's run() returned {trial['answer']!r}; expected the final "
            f"answer, {ANSWER!r}"
        )


@pytest.mark.item("lab07.exactly-once-under-kill")
def test_the_model_is_told_every_result_once(observe):
    seen = observe("kill_trials")
    for number, trial in enumerate(seen["trials"], start=1):
        told = trial["told"]
        assert told == TOLD, (
            f"trial {number} (killed at event(s) {trial['kills']}): the model's last turn was "
            f"told the tool results {told}; expected each call's result once, in order: "
            f"{TOLD}: node 'tools' returns a tool_message for every call, and a restart "
            "neither loses nor repeats one"
        )


@pytest.mark.item("lab07.exactly-once-under-kill")
def test_a_completed_task_run_again_gives_its_result(observe):
    again = observe("kill_trials")["again"]
    assert again, "no trial ran, so no completed task could be run again"
    where = (f"the task of the trial killed at event(s) {again['kills']}, completed, run again "
             "after a restart")
    assert again["ended"] == OK and again["answer"] == ANSWER, (
        f"{where}: the run {again['ended']} and returned {again['answer']!r}; expected its "
        f"saved result, {ANSWER!r}"
    )
    problem = _once(again["world"])
    assert not again["requests"] and not problem, (
        f"{where}: it asked the model {again['requests']} time(s)"
        f"{'; ' + problem if problem else ''}; expected nothing run: a completed task is done"
    )


# -- lab07.transient-llm-retried -------------------------------------------------------------


@pytest.mark.item("lab07.transient-llm-retried")
def test_transient_failures_do_not_fail_the_task(observe):
    seen = observe("transient_failures")
    assert seen["ended"] == OK, (
        f"a 503, a 429 and a timeout from the model mid-deploy: the run {seen['ended']}"
    )
    problem = _completed(seen["status"]) or _once(seen["world"])
    assert not problem, f"a 503, a 429 and a timeout mid-deploy: {problem}"


@pytest.mark.item("lab07.transient-llm-retried")
def test_retries_wait_as_lab_01_says(observe):
    requests = observe("transient_failures")["requests"]
    second = [r for r in requests if r["turn"] == 1]
    fourth = [r for r in requests if r["turn"] == 3]
    assert [r["outcome"] for r in second] == ["503", "429", "200"], (
        f"the second turn's requests ended {[r['outcome'] for r in second]}; expected a 503, "
        "a 429, then the answer"
    )
    gaps = [round(b["at"] - a["at"], 3) for a, b in zip(second, second[1:])]
    assert gaps[0] >= POLICY_BASE_DELAY - TOLERANCE and abs(gaps[1] - 3.0) <= TOLERANCE, (
        f"waits between the second turn's attempts: {gaps} s; expected the backoff of the "
        f"agent's policy ({POLICY_BASE_DELAY:g} s, RetryPolicy(base_delay="
        f"{POLICY_BASE_DELAY:g})) after the 503, then the 3 s the 429's retry-after asked for"
    )
    assert [r["outcome"] for r in fourth] == ["timeout", "200"], (
        f"the fourth turn's requests ended {[r['outcome'] for r in fourth]}; expected a "
        "timeout, then the answer"
    )


@pytest.mark.item("lab07.transient-llm-retried")
def test_every_request_carries_the_agents_settings(observe):
    requests = observe("transient_failures")["requests"]
    assert requests, "the agent never asked the model"
    models = sorted({str(r["model"]) for r in requests})
    assert models == [MODEL], (
        f"an agent made with model={MODEL!r} asked the model(s) {models}; expected "
        f"{MODEL!r} every time: call_llm gets the agent's model"
    )
    # Every request of this run starts more than a minute before the deadline.
    timeouts = [r["read_timeout"] for r in requests]
    assert all(t == STEP_TIMEOUT for t in timeouts), (
        f"an agent made without a step_timeout sent its requests, each more than a minute "
        f"before its deadline, with the read timeouts {timeouts} s; expected "
        f"{STEP_TIMEOUT:g} s, the default step_timeout, every time"
    )


# -- lab07.deadline-survives-restart --------------------------------------------------------


@pytest.mark.item("lab07.deadline-survives-restart")
def test_a_late_restart_keeps_the_original_deadline(observe):
    seen = observe("deadline_restart")
    late, start = seen["late"], seen["start"]
    assert late["lives"][0] == "killed by SIGKILL", f"the first life {late['lives'][0]}"
    assert "DeadlineExceeded" in late["lives"][1], (
        f"restarted at 540 s of a 600 s budget, the run {late['lives'][1]}; expected it to "
        "raise DeadlineExceeded once it has saved the task failed (re-raise it)"
    )
    status = late["status"]
    assert status.get("state") == "failed" and str(status.get("error")).startswith(
        "DeadlineExceeded"), (
        f"killed at {late['killed_at'] - start:g} s and restarted at 540 s of a 600 s budget: "
        f"the task ended {status.get('state')!r} ({status.get('error')!r}); expected failed "
        "with DeadlineExceeded: the ten minutes count from the task's creation, not from the "
        "restart"
    )
    assert abs((status.get("deadline_at") or 0) - (start + BUDGET)) <= TOLERANCE, (
        f"the status says the deadline is at {status.get('deadline_at')!r}; expected "
        f"{start + BUDGET} (created at {start}, plus 600 s)"
    )


@pytest.mark.item("lab07.deadline-survives-restart")
def test_nothing_reaches_past_the_deadline(observe):
    seen = observe("deadline_restart")
    late = seen["late"]
    past = [f"turn {r['turn'] + 1} at {540 + r['at']:g} s with a {r['read_timeout']!r} s timeout"
            for r in late["requests"]
            if not isinstance(r["read_timeout"], (int, float))
            or 540 + r["at"] + r["read_timeout"] > BUDGET + TOLERANCE]
    assert not past, f"after the restart, requests that could run past 600 s: {past}"
    assert late["ended_at"] - seen["start"] <= BUDGET + TOLERANCE, (
        f"the restarted life went on until {late['ended_at'] - seen['start']:g} s"
    )


@pytest.mark.item("lab07.deadline-survives-restart")
def test_no_side_effect_after_the_deadline(observe):
    seen = observe("deadline_restart")["between_tools"]
    assert seen["lives"][0] == "killed by SIGKILL", f"the first life {seen['lives'][0]}"
    applied = seen["world"]["side_effects"].get("apply_deploy", 0)
    assert applied == 0, (
        f"killed between building the config and applying it, restarted at 660 s of a 600 s "
        f"budget: the deploy was applied {applied} time(s) after the deadline; expected "
        "none: check the deadline before the tools run, not only before the model is asked"
    )
    assert not seen["requests"], (
        f"restarted past the deadline, the run asked the model {len(seen['requests'])} time(s)"
    )
    status = seen["status"]
    assert status.get("state") == "failed" and str(status.get("error")).startswith(
        "DeadlineExceeded"), (
        f"restarted past the deadline, the task ended {status.get('state')!r} "
        f"({status.get('error')!r}); expected failed with DeadlineExceeded"
    )


@pytest.mark.item("lab07.deadline-survives-restart")
def test_an_early_restart_still_finishes(observe):
    early = observe("deadline_restart")["early"]
    problem = _completed(early["status"]) or _once(early["world"])
    assert not problem, f"restarted at 360 s of a 600 s budget: {problem}"


# -- lab07.status-visible --------------------------------------------------------------------


@pytest.mark.item("lab07.status-visible")
def test_status_of_a_new_task(observe):
    seen = observe("status_midway")
    assert seen["started"] == OK, (
        f"DurableAgent on a folder that does not exist yet (nor does its parent), then "
        f"start(): {seen['started']}; expected the folder made, parents included"
    )
    before = seen["before"]
    assert before.get("ended") == OK and before.get("is_status"), (
        f"another process reading the status of a task just started: {before.get('ended')}"
    )
    assert (before.get("state"), before.get("step")) == ("pending", 0), (
        f"a task started and not run yet read as {before.get('state')!r} at step "
        f"{before.get('step')!r}; expected 'pending' at step 0 (no checkpoint yet)"
    )
    assert abs((before.get("deadline_at") or 0) - (seen["start"] + BUDGET)) <= TOLERANCE, (
        f"a task created at {seen['start']}: its status says the deadline is at "
        f"{before.get('deadline_at')!r}; expected {seen['start'] + BUDGET}"
    )


@pytest.mark.item("lab07.status-visible")
def test_an_unknown_task_is_not_found(observe):
    unknown = observe("status_midway")["unknown"]
    assert unknown.get("ended") == OK, f"asking for a task never started: {unknown.get('ended')}"
    raised = {what: str(unknown.get(what)) for what in ("status", "run")}
    wrong = [f"{what}() returned" if got == "nothing" else f"{what}() raised {got}"
             for what, got in raised.items() if not got.endswith("TaskNotFound")]
    assert not wrong, (
        f"for a task no one started: {', '.join(wrong)}; expected lab 02's TaskNotFound"
    )
    assert not unknown.get("requests"), (
        f"run() of a task no one started asked the model {unknown.get('requests')} time(s)"
    )


@pytest.mark.item("lab07.status-visible")
def test_status_read_from_another_process_midway(observe):
    seen = observe("status_midway")
    assert seen["paused"], "the run never reached the point where it was to be held"
    midway = seen["midway"]
    assert midway.get("ended") == OK and midway.get("is_status"), (
        f"another process reading the status mid-run: {midway.get('ended')}"
    )
    assert (midway.get("state"), midway.get("step")) == ("running", 4), (
        f"held while the model thought about its third turn, the task read as "
        f"{midway.get('state')!r} at step {midway.get('step')!r}; expected 'running' at step 4 "
        "(check status, then build the config: four steps saved)"
    )
    assert abs((midway.get("deadline_at") or 0) - (seen["start"] + BUDGET)) <= TOLERANCE, (
        f"the deadline read mid-run: {midway.get('deadline_at')!r}"
    )
    problem = _completed(seen["after"])
    assert seen["ended"] == OK and not problem, f"let go, the run {seen['ended']}: {problem}"


# -- lab07.single-runner ---------------------------------------------------------------------


@pytest.mark.item("lab07.single-runner")
def test_a_second_runner_does_not_run_the_task(observe):
    seen = observe("two_runners")
    assert seen["paused"], "the first runner never reached the point where it was to be held"
    second = seen["second"]
    assert seen["second_while_first_held"] and "AlreadyRunning" in second, (
        f"a second process run on the task while the first held it: {second}; expected your "
        "AlreadyRunning at once (the lock is taken without waiting: LOCK_EX | LOCK_NB)"
    )
    assert not seen["second_requests"], (
        f"the second process asked the model {len(seen['second_requests'])} time(s): it ran "
        "the task beside the first"
    )
    problem = _once(seen["world"]) or _completed(seen["status"])
    assert seen["first"] == OK and not problem, f"the first runner {seen['first']}: {problem}"


# -- lab07.replayable-history ----------------------------------------------------------------


@pytest.mark.item("lab07.replayable-history")
def test_history_lists_every_step(observe):
    seen = observe("replay")
    assert seen["whole"] == OK and seen["listed"] == OK, (
        f"the deploy {seen['whole']}, reading its history {seen['listed']}"
    )
    steps = [c["step"] for c in seen["history"]]
    assert steps == list(range(9, -1, -1)), (
        f"the history of a whole deploy (4 tool turns and an answer) gave the steps {steps}; "
        "expected 9 down to 0, newest first"
    )


@pytest.mark.item("lab07.replayable-history")
def test_checkpoints_are_timed_on_the_agents_clock(observe):
    seen = observe("replay")
    start, ended = seen["start"] + 1.0, seen["whole_ended_at"]
    times = [c["created_at"] for c in reversed(seen["history"])]
    wrong = [t for t in times
             if type(t) not in (int, float) or not start - TOLERANCE <= t <= ended + TOLERANCE]
    shown = times if len(times) <= 4 else [*times[:2], "...", *times[-2:]]
    assert times and not wrong and times == sorted(times), (
        f"the checkpoints of a deploy run from {start} to {ended} on the agent's clock were "
        f"saved at {shown}, oldest first; expected times in that span, in order: the "
        "checkpointed graph reads the agent's clock (clock=), never the machine's"
    )


@pytest.mark.item("lab07.replayable-history")
def test_a_replay_runs_from_its_checkpoint(observe):
    seen = observe("replay")
    agent_steps = [c["step"] for c in seen["history"] if c["ran"] == ["agent"]]
    wrong = []
    for replay in seen["replays"]:
        expected = sum(1 for step in agent_steps if step > replay["from_step"])
        if replay["requests"] != expected:
            wrong.append(f"from step {replay['from_step']}: {replay['requests']} request(s), "
                         f"expected {expected}")
    assert not wrong, (
        "replaying from a checkpoint asks the model for the turns after it, and only those: "
        + "; ".join(wrong[:3])
    )


@pytest.mark.item("lab07.replayable-history")
def test_replays_from_every_checkpoint_agree(observe):
    seen = observe("replay")
    wrong = [f"from step {r['from_step']}: {r['ended']}, answer {r['answer']!r}"
             for r in seen["replays"] if r["ended"] != OK or r["answer"] != ANSWER]
    assert seen["replays"] and not wrong, (
        f"replaying the deploy from each of its checkpoints: {'; '.join(wrong[:2]) or 'none'}; "
        f"expected {ANSWER!r} every time"
    )
    problem = _once(seen["world"])
    assert not problem, (
        f"after {len(seen['replays'])} replays {problem}: a replayed side effect must be "
        "answered from the server's record"
    )


@pytest.mark.item("lab07.replayable-history")
def test_a_replay_has_its_own_deadline(observe):
    short = observe("replay")["short"]
    assert short, "the deploy left no checkpoint to replay from"
    assert "DeadlineExceeded" in short["ended"] and short["answer"] is None, (
        f"an agent with max_wall_time={SHORT_BUDGET:g} replaying the deploy from step "
        f"{short['from_step']} (about 170 s of work): the replay {short['ended']} with the "
        f"answer {short['answer']!r}; expected DeadlineExceeded once its {SHORT_BUDGET:g} s "
        "have passed: a replay's deadline is max_wall_time from now, on the agent's clock"
    )
