"""Checks for lab 02 (idempotent tasks), one group per checklist item."""

from __future__ import annotations

import json

import pytest

from grader.checks.expect import close, raised_type

# -- lab02.task-lifecycle ------------------------------------------------------------------


def _states(history):
    return [entry.get("state") if isinstance(entry, dict) else entry for entry in history]


@pytest.mark.item("lab02.task-lifecycle")
def test_every_state_change_is_saved(observe):
    seen = observe("lifecycle")
    for name, final in (("success", "completed"), ("failure", "failed")):
        states = _states(seen[name]["history"])
        assert states == ["pending", "running", final], (
            f"a task that ends {final}: the store saw the states {states}; expected pending "
            f"(created), running (claimed), {final}, each saved as it happened"
        )


@pytest.mark.item("lab02.task-lifecycle")
def test_timestamps_come_from_the_clock(observe):
    seen = observe("lifecycle")
    t0 = seen["t0"]
    for name, work in (("success", 42.0), ("failure", 7.0)):
        case = seen[name]
        start = t0 + case["start"]
        history = case["history"]
        if len(history) != 3:
            continue  # the states check says what is missing
        created = [entry["created_at"] for entry in history]
        updated = [entry["updated_at"] for entry in history]
        expected = [start, start + 5.0, start + 5.0 + work]
        assert all(close(c, start) for c in created) and all(
            close(u, e) for u, e in zip(updated, expected)
        ), (
            f"created 5 s before the claim, worked {work:g} s: created_at "
            f"{_offsets(created, t0)}, updated_at {_offsets(updated, t0)} (seconds on the "
            f"clock); expected created_at {_offsets([start] * 3, t0)} throughout and "
            f"updated_at {_offsets(expected, t0)}, read from the now() you were given"
        )


def _offsets(values, t0):
    return ", ".join(f"{v - t0:g}" if isinstance(v, (int, float)) else repr(v) for v in values)


@pytest.mark.item("lab02.task-lifecycle")
def test_result_and_error_are_recorded(observe):
    seen = observe("lifecycle")
    success, failure = seen["success"], seen["failure"]
    assert success["executed"].get("returned") == "Freed 20GB on web-1", (
        f"execute_task returned {raised_type(success['executed'])}; expected the work's result"
    )
    final = success["history"][-1] if success["history"] else {}
    assert final.get("result") == "Freed 20GB on web-1" and final.get("error") is None, (
        f"the completed task holds result={final.get('result')!r}, error={final.get('error')!r}"
    )
    raised = failure["executed"].get("raised")
    assert raised is not None and raised["expected_type"], (
        f"work that raised ToolFailure('disk is busy'): execute_task "
        f"{raised_type(failure['executed'])}; expected the ToolFailure itself, re-raised"
    )
    final = failure["history"][-1] if failure["history"] else {}
    error = final.get("error")
    assert error == "ToolFailure: disk is busy" and final.get("result") is None, (
        f"the failed task holds error={error!r}, result={final.get('result')!r}; expected the "
        "error's type and message ('ToolFailure: disk is busy')"
    )
    chained = seen["chained"]["history"][-1] if seen["chained"]["history"] else {}
    assert chained.get("error") == "ToolFailure: apply_deploy failed", (
        f"work raising ToolFailure('apply_deploy failed') from ConnectionResetError: the failed "
        f"task holds error={chained.get('error')!r}; expected the error the work raised, "
        "'ToolFailure: apply_deploy failed'"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_every_kind_of_failure_is_recorded(observe):
    from grader.scenarios.lab02 import failure_kinds
    seen = observe("lifecycle")["failures"]
    problems = []
    for name, error in failure_kinds().items():
        case = seen[name]
        expected = f"{type(error).__name__}: {error}"
        raised = case["executed"].get("raised") or {}
        if case["states"] != ["pending", "running", "failed"] \
                or case["final"].get("error") != expected:
            problems.append(f"work raising {type(error).__name__}({str(error)!r}): the store saw "
                            f"{case['states']}, ending with error={case['final'].get('error')!r}; "
                            f"expected running, then failed with error={expected!r}")
        elif not raised.get("itself"):
            problems.append(f"work raising {type(error).__name__}({str(error)!r}): execute_task "
                            f"{raised_type(case['executed'])}; expected that exception itself, "
                            "re-raised")
    assert not problems, (
        problems[0] + " (every Exception the work raises fails the task, and the error names "
        "its class by __name__; an exception group too: its own type and text, not those of "
        "an exception inside it)"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_stamps_are_now_even_behind_the_stored_ones(observe):
    seen = observe("lifecycle")["clock_behind"]
    now, ahead, history = seen["now"], seen["ahead"], seen["history"]
    stamps = [(entry.get("state"), entry.get("created_at"), entry.get("updated_at"))
              for entry in history]
    expected = [("running", ahead, now), ("completed", ahead, now + 4.0)]
    assert len(stamps) == 2 and all(
        s == e[0] and close(c, e[1]) and close(u, e[2])
        for (s, c, u), e in zip(stamps, expected)), (
            f"a task stamped by a clock an hour ahead, executed (4 s of work): the store saw "
            f"{[(s, _offsets([c], now), _offsets([u], now)) for s, c, u in stamps]} (state, "
            "created_at, updated_at, in seconds from now); expected running with updated_at "
            "now, then completed 4 s later, created_at kept: updated_at is now(), whatever "
            "the task held before"
        )


@pytest.mark.item("lab02.task-lifecycle")
def test_results_and_stamps_are_kept_as_they_are(observe):
    seen = observe("lifecycle")
    edges = seen["edges"]
    history = edges["history"]
    assert edges["returned"].get("returned") == "  Freed 20GB on web-1\n" \
            and history and history[-1].get("result") == "  Freed 20GB on web-1\n", (
        f"a work returning '  Freed 20GB on web-1\\n': execute_task "
        f"{raised_type(edges['returned'])}, the task holds "
        f"{history[-1].get('result') if history else None!r}; expected the result as the work "
        "returned it, spaces and newline included"
    )
    assert all(entry.get("created_at") == 0.0 for entry in history), (
        f"a task created at 0.0 (the epoch), executed: its versions' created_at were "
        f"{[entry.get('created_at') for entry in history]}; created_at never changes, "
        "whatever its value"
    )
    chained = seen["chained"]["executed"].get("raised") or {}
    assert chained.get("causes") == ["ConnectionResetError"], (
        f"work raising ToolFailure from ConnectionResetError: execute_task raised "
        f"{chained.get('type')} from {chained.get('causes')}; expected the ToolFailure "
        "itself, its cause kept (re-raise it with a bare raise)"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_a_failed_task_of_any_error_runs_again(observe):
    seen = observe("claimed_elsewhere")["failed_of_every_kind"]
    wrong = [f"{error!r}: {raised_type(case)}, the work ran {case['work_runs']} time(s)"
             for error, case in seen.items()
             if case.get("returned") != "deployed this time" or case["work_runs"] != 1]
    assert not wrong, (
        "failed tasks executed again: " + "; ".join(wrong) + "; expected each claimed and "
        "run (a failed task runs again, whatever its error said)"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_the_work_gets_the_running_task(observe):
    seen = observe("lifecycle")["success"]
    given = seen["work_given"]
    assert isinstance(given, dict) and given.get("state") == "running" \
        and given.get("user_input") == "Free disk (success)", (
            f"the work was handed {given!r}; expected the task as claimed: running"
        )


@pytest.mark.item("lab02.task-lifecycle")
def test_tasks_created_in_one_instant_get_their_own_ids(observe):
    seen = observe("lifecycle")["same_instant"]
    assert not seen["raised"], f"create_task raised {seen['raised'][0]['type']}"
    assert seen["distinct_ids"] and seen["stored"] == 6, (
        f"six tasks created in the same frozen instant, four of them for the same request, "
        f"the last two by your module loaded afresh in two other processes: {seen['stored']} "
        "stored; their ids collide (an id built from the clock, as the seed's "
        "task-<UnixNano>, repeats while time stands still; one built from the request repeats "
        "when a user asks twice; a counter starts again in every process)"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_ids_stay_unique_when_random_is_seeded_again(observe):
    seen = observe("lifecycle")["reseeded"]
    if seen["raised"]:
        return  # create_task raised: the same-instant check says so
    assert seen["distinct_ids"] and seen["stored"] == seen["created"], (
        f"{seen['created']} tasks created with the process's random module seeded again before "
        "each one, mostly with the same seed (random.seed(7), as a notebook making lab 01's "
        f"jitter reproducible does), the last by your module loaded afresh: {seen['stored']} "
        "stored; their ids repeat, and a task is saved over another (an id drawn from the "
        "random module repeats whenever it is seeded again; uuid4 reads the operating "
        "system's randomness, which no seed resets)"
    )


# -- lab02.completed-not-rerun -----------------------------------------------------------------


@pytest.mark.item("lab02.task-lifecycle")
def test_create_returns_the_task_it_saved(observe):
    seen = observe("lifecycle")["success"]
    created, saved = seen["created"].get("returned"), seen["history"][:1]
    assert saved and created == saved[0], (
        f"create_task returned {created!r} but saved {saved[0] if saved else 'nothing'}: "
        "return the task you saved"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_failed_task_runs_again_with_its_error_cleared(observe):
    seen = observe("claimed_elsewhere")["failed_again"]
    during = seen["stored_during_work"]
    assert seen.get("returned") == "deployed on the second try", (
        f"executing a failed task again: {raised_type(seen)}; expected the work's result"
    )
    assert during and during[0]["state"] == "running" and during[0]["error"] is None, (
        f"while a failed task runs again the store holds {during[0] if during else None}; "
        "expected it running with the old error cleared (error=None)"
    )
    assert seen["final"]["error"] is None, f"completed, yet the error stays: {seen['final']}"
    assert len(set(seen["created_at"])) == 1, (
        f"executing a failed task again, its versions' created_at were {seen['created_at']}; "
        "created_at never changes"
    )
    assert seen["states"] == ["running", "completed"], (
        f"executing a failed task again, the store saw the states {seen['states']} after "
        "failed; expected running (claimed straight from failed), then completed"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_a_failed_task_failing_again_records_this_runs_error(observe):
    from grader.scenarios.lab02 import retry_failures
    runs = observe("claimed_elsewhere")["failed_fails_again"]
    problems = []
    for number, (error, run) in enumerate(zip(retry_failures(), runs), 1):
        expected = f"{type(error).__name__}: {error}"
        got = run["final"].get("error")
        if run["states"] != ["running", "failed"] or got != expected:
            problems.append(f"run {number}, whose work raised {type(error).__name__}"
                            f"({str(error)!r}): the store saw {run['states']}, ending with "
                            f"error={got!r}; expected running, then failed with "
                            f"error={expected!r}")
            break
    assert not problems, (
        "a failed task executed again and again, its work failing each time: " + problems[0]
        + " (the error is this run's, the exception its work raised: not added to the error "
        "of an earlier run, which the claim cleared)"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_the_claim_keeps_the_conversation(observe):
    seen = observe("claimed_elsewhere")["with_messages"]
    wrong = [f"{name.replace('_', ' ')}: the versions {case['states']} held {case['held']} "
             f"message(s){'' if all(case['others_kept']) else ', another id, input or created_at'}"
             f", the work got them: {case['work_got_them']}"
             for name, case in seen.items()
             if not all(case["kept"]) or not all(case["others_kept"])
             or case["work_got_them"] != [True]]
    assert not wrong, (
        "tasks carrying their conversation so far (4 messages), executed: " + "; ".join(wrong)
        + "; expected every version from the claim on to keep the 4 messages, and the work "
        "to be handed them: the claim changes the state, the error and updated_at only, "
        "every other field is kept (dataclasses.replace on the task you read, not a new Task "
        "listing some fields)"
    )


@pytest.mark.item("lab02.completed-not-rerun")
def test_completed_task_returns_the_stored_result(observe):
    seen = observe("completed_rerun")
    expected = "Incident summary: disk full at 03:12"
    assert seen["first"].get("returned") == expected, (
        f"the first execution {raised_type(seen['first'])}; expected {expected!r}"
    )
    again = [raised_type(call) for call in seen["again"]]
    assert all(call.get("returned") == expected for call in seen["again"]), (
        f"executing the completed task twice more, then three days later: {again}; expected "
        "the stored result each time (a completed task stays done)"
    )
    assert seen["work_runs"] == 1, (
        f"the work ran {seen['work_runs']} times for one task executed three times; expected 1"
    )


@pytest.mark.item("lab02.completed-not-rerun")
def test_a_completed_task_without_a_result_is_done(observe):
    seen = observe("completed_rerun")["no_result"]
    assert seen["work_runs"] == 0 and seen["saves"] == 0, (
        f"a task stored completed with result=None, executed: the work ran "
        f"{seen['work_runs']} time(s), {seen['saves']} save(s); expected neither (completed "
        "is the state)"
    )
    replayed = seen["replayed"]
    assert "returned" in replayed and replayed["returned"] in (None, ""), (
        f"a task stored completed with result=None, executed: {raised_type(replayed)}; "
        "expected its stored result, None (or ''): not a text made of it"
    )


@pytest.mark.item("lab02.completed-not-rerun")
def test_an_empty_result_is_a_result(observe):
    seen = observe("completed_rerun")["empty_result"]
    calls = [raised_type(call) for call in seen["calls"]]
    assert seen["work_runs"] == 1 and all(c.get("returned") == "" for c in seen["calls"]), (
        f"a task whose work returned '' executed three times: the work ran "
        f"{seen['work_runs']} time(s), the calls {calls}; expected one run and '' each time "
        "(completed is the state, not a non-empty result)"
    )


@pytest.mark.item("lab02.task-lifecycle")
def test_an_empty_result_is_stored_as_it_is(observe):
    seen = observe("completed_rerun")["empty_result"]
    stored = seen["stored"]
    if not isinstance(stored, dict) or stored.get("state") != "completed":
        return  # not completed at all: the other lifecycle checks say so
    assert stored["result"] == "", (
        f"a work that returned '' left the task completed with result={stored['result']!r}; "
        "the result is saved as the work returned it"
    )


@pytest.mark.item("lab02.completed-not-rerun")
def test_completed_task_is_left_as_it_is(observe):
    seen = observe("completed_rerun")
    written = seen["saves_after_again"] - seen["saves_after_first"]
    assert written == 0 and seen["final"].get("state") == "completed", (
        f"re-executing a completed task wrote {written} more version(s) of it and left it "
        f"{seen['final'].get('state')}; expected no write at all"
    )


@pytest.mark.item("lab02.completed-not-rerun")
def test_a_completed_task_with_a_leftover_error_is_done(observe):
    seen = observe("completed_rerun")["completed_with_an_error"]
    wrong = [f"result {case['stored_result']!r}: {[raised_type(c) for c in case['calls']]}, "
             f"the work ran {case['work_runs']} time(s), {case['saves']} save(s)"
             for case in seen.values()
             if case["work_runs"] or case["saves"]
             or any(c.get("returned") != case["stored_result"] for c in case["calls"])]
    assert not wrong, (
        "tasks stored completed that still carry an error text (left over, written by hand "
        "or by another executor), executed twice: " + "; ".join(wrong) + "; expected the "
        "stored result each time, no work and no save: the state decides (completed is "
        "completed, whatever else the task carries)"
    )


# -- lab02.unknown-task-error ----------------------------------------------------------------


@pytest.mark.item("lab02.unknown-task-error")
def test_unknown_id_is_a_not_found_error(observe):
    seen = observe("unknown_task")
    raised = seen.get("raised")
    assert raised is not None and raised["expected_type"], (
        f"executing an unknown task id: {raised_type(seen)}; expected your TaskNotFound"
    )
    assert raised["names_the_id"], (
        f"the error says {raised['message']!r}; it should name the id that was not found"
    )


@pytest.mark.item("lab02.unknown-task-error")
def test_an_id_is_unknown_as_it_is_given(observe):
    seen = observe("unknown_task")
    wrong = [f"{unknown if len(unknown) < 40 else unknown[:30] + '...'!r}: "
             f"{raised_type(case)}, {case['saves']} save(s)"
             + ("" if (case.get("raised") or {}).get("names_the_id", True) else
                " (the error does not name the whole id: its message and task_id)")
             for unknown, case in seen["near"].items()
             if not (case.get("raised") or {}).get("expected_type") or case["saves"]
             or not case["raised"]["names_the_id"]]
    assert not wrong and seen["work_runs_near"] == 0, (
        "the store holds task-known-1 only; executing these ids: " + "; ".join(wrong)
        + f" (the work ran {seen['work_runs_near']} time(s)); expected your TaskNotFound for "
        "each, no work and no save: an id is looked up exactly as it is given, the empty one "
        "too"
    )


@pytest.mark.item("lab02.unknown-task-error")
def test_unknown_id_changes_nothing(observe):
    seen = observe("unknown_task")
    assert seen["work_runs"] == 0 and seen["saves"] == 0 and not seen["missing_created"], (
        f"executing an unknown id ran the work {seen['work_runs']} time(s) and saved "
        f"{seen['saves']} task(s); expected neither"
    )


@pytest.mark.item("lab02.unknown-task-error")
def test_an_unknown_id_in_any_task_store(observe):
    seen = observe("unknown_task")["protocol_store"]
    wrong = [f"{name}: {raised_type(case)}, {case['saves']} save(s), the work ran "
             f"{case['work_runs']} time(s)" for name, case in seen.items()
             if not (case.get("raised") or {}).get("expected_type")
             or not case["raised"]["names_the_id"] or case["saves"] or case["work_runs"]]
    assert not wrong, (
        "executing task-9f2c-missing with a task store that has only the methods of the "
        "TaskStore protocol (get, save, compare_and_set), as lab 04's stores: "
        + "; ".join(wrong) + "; expected your TaskNotFound naming the id, no work and no "
        "save (ask the store with get only: saves and history are MemoryTaskStore's, not "
        "every store's)"
    )


# -- lab02.tool-calls-deduplicated -----------------------------------------------------------


def _tool_replies(run):
    return {m["tool_call_id"]: m["content"] for m in run["tool_messages"]}


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_repeated_deploy_runs_once(observe):
    seen = observe("tool_dedup")
    if not seen["same_key"]["sequential"]:
        return  # your idempotency_key tells the two calls apart: key-is-deterministic says so
    run = seen["sequential"]
    assert "raised" not in run, f"the agent run raised {raised_type(run)}"
    deploys = run["calls"].get("apply_deploy", 0)
    assert deploys == 1 and run["deployed"] == ["web@2.4.1"], (
        f"the model asked twice for apply_deploy(web, 2.4.1), the second time with another "
        f"tool_call_id and its arguments reordered and re-spaced: the deploy ran {deploys} "
        "times; expected once"
    )
    replies = _tool_replies(run)
    assert replies.get("call_k2") == replies.get("call_k3") is not None, (
        f"the two deploy calls were answered {replies.get('call_k2')!r} and "
        f"{replies.get('call_k3')!r}; the repeat should get the first call's reply"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_same_call_twice_in_one_reply_runs_once(observe):
    seen = observe("tool_dedup")
    if not seen["same_key"]["parallel"]:
        return  # your idempotency_key tells the two calls apart: key-is-deterministic says so
    run = seen["parallel"]
    assert "raised" not in run, f"the agent run raised {raised_type(run)}"
    cleans = run["calls"].get("clean_logs", 0)
    replies = _tool_replies(run)
    assert cleans == 1 and replies.get("call_d2") == replies.get("call_d3") is not None, (
        f"one reply asked for clean_logs twice (ids call_d2, call_d3): it ran {cleans} times "
        f"and answered {replies.get('call_d2')!r} and {replies.get('call_d3')!r}; expected "
        "one run and one answer for both"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_every_side_effect_runs_once(observe):
    seen = observe("tool_dedup")
    if not seen["same_key"]["every_tool"] or not seen["every_tool_keys_distinct"]:
        return  # your idempotency_key mixes these calls up: key-is-deterministic says so
    run = seen["every_tool"]
    assert "raised" not in run, f"the agent run raised {raised_type(run)}"
    calls = {tool: run["calls"].get(tool, 0) for tool in ("build_config", "apply_deploy",
                                                          "clean_logs")}
    replies = _tool_replies(run)
    pairs = (("call_b1", "call_b2"), ("call_b3", "call_b5"), ("call_b4", "call_b6"))
    differ = [pair for pair in pairs if replies.get(pair[0]) != replies.get(pair[1])
              or replies.get(pair[0]) is None]
    assert calls == {"build_config": 1, "apply_deploy": 1, "clean_logs": 1} and not differ, (
        f"the model asked twice each for build_config, apply_deploy and clean_logs: they ran "
        f"{calls}; replies that differ: {differ}; every side-effecting tool runs once, and "
        "the repeat gets the first call's reply as it was"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_a_fresh_executor_remembers_nothing_of_another(observe):
    worlds = observe("tool_dedup")["two_worlds"]
    deployed = [world["deployed"] for world in worlds]
    assert deployed == [["web@2.4.1"], ["web@2.4.1"]], (
        f"the same task and call in two separate worlds (each its own tools and its own key "
        f"store): the deploys were {deployed}; expected one in each (what an executor "
        "remembers lives in its key store, not in the process)"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_read_only_tools_are_not_cached(observe):
    seen = observe("tool_dedup")
    reads = (seen["sequential"]["calls"].get("check_status", 0),
             seen["parallel"]["calls"].get("check_disk", 0))
    replies = _tool_replies(seen["parallel"])
    before, after = replies.get("call_d1"), replies.get("call_d4")
    assert reads == (2, 2) and after is not None and after != before, (
        f"check_status ran {reads[0]} and check_disk {reads[1]} of 2 times each; the check "
        f"after the clean said {after!r}, as the one before it did. Read-only tools run every "
        "time, or the agent sees the disk as it was before the clean"
    )


# -- lab02.key-is-deterministic --------------------------------------------------------------


@pytest.mark.item("lab02.key-is-deterministic")
def test_same_call_same_key(observe):
    seen = observe("key_determinism")
    keys = seen.get("returned")
    assert keys is not None, f"idempotency_key raised {raised_type(seen)}"
    assert keys["is_text"], "idempotency_key must return a non-empty str"
    differs = [name for name in ("reordered", "respaced", "mapping") if not keys["same_as_base"][name]]
    assert not differs, (
        f"the same call written differently ({', '.join(differs)}) got another key; the key "
        "must come from the canonical arguments"
    )
    assert keys["stable"], (
        "the same calls got other keys an hour later on the clock, with the random module "
        "reseeded and hash() salting strings as another process would: the key depends on "
        "the time, on randomness or on hash()"
    )


@pytest.mark.item("lab02.key-is-deterministic")
def test_different_calls_different_keys(observe):
    keys = observe("key_determinism").get("returned")
    assert keys is not None, "idempotency_key raised"
    shared = [name for name in ("other_args", "other_task", "other_tool", "joined")
              if keys["same_as_base"][name]]
    assert not shared, (
        "these calls share the key of apply_deploy(web, 2.4.1) in task-7: "
        + ", ".join({"other_args": "another version", "other_task": "another task",
                     "other_tool": "another tool",
                     "joined": "task 'task-7apply' with tool '_deploy' (the parts run together)"}[n]
                    for n in shared)
    )
    split = keys["split_elsewhere_same"]
    assert not split, (
        "task 'task-7" + split[0] + "apply' with tool 'deploy' has the key of task 'task-7' "
        "with tool 'apply" + split[0] + "deploy': the parts of a key must stay apart whatever "
        "characters they hold (a separator they may contain does not)"
    )


@pytest.mark.item("lab02.key-is-deterministic")
def test_canonical_arguments_agree(observe):
    keys = observe("key_determinism").get("returned")
    assert keys is not None, "canonical_arguments or idempotency_key raised"
    assert keys["canonical_is_text"] and keys["canonical_agree"], (
        "canonical_arguments gave different texts for one set of arguments written with "
        "another key order and spacing"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_executor_keys_by_task_and_arguments(observe):
    seen = observe("key_determinism")
    executor = seen["executor"]
    deployed = executor.get("returned")
    keys = seen.get("returned")
    if keys is None or not seen["key_repeatable"] \
            or any(keys["same_as_base"][n] for n in ("other_args", "other_task")):
        return  # your keys do not tell these calls apart: key-is-deterministic says so
    assert isinstance(deployed, list) and deployed[:3] == ["web@2.4.1", "web@2.4.2", "web@2.4.1"], (
        f"task-7 deploys 2.4.1, then 2.4.2, then task-8 deploys 2.4.1: the tools deployed "
        f"{deployed if deployed is not None else raised_type(executor)}; expected all three "
        "(another version or another task is another call)"
    )
    assert seen["executor_uses_the_key"], (
        "IdempotentTools did not store the call under idempotency_key(task_id, name, arguments)"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_executor_runs_a_repeat_once(observe):
    seen = observe("key_determinism")
    deployed = seen["executor"].get("returned")
    if not seen["repeat_same_key"] or not isinstance(deployed, list) or len(deployed) < 3:
        return  # the keys, or the separate calls, are checked elsewhere
    assert deployed == ["web@2.4.1", "web@2.4.2", "web@2.4.1"], (
        f"after task-7 deployed 2.4.1 (and 2.4.2, and task-8 2.4.1), task-7 asked for 2.4.1 "
        f"again with its keys in another order: the tools deployed {deployed}; the repeat "
        "should get the first call's result"
    )


@pytest.mark.item("lab02.key-is-deterministic")
def test_generated_arguments_in_every_form(observe):
    seen = observe("generated_keys")
    from grader.scenarios.lab02 import (CASE_PAIRS, CHARACTER_PAIRS, SWAPPED_PARTS,
                                        TYPE_PAIRS, argument_forms)
    problems = []
    for number, (case, got) in enumerate(zip(argument_forms(), seen["cases"]), 1):
        texts = [c.get("returned") for c in got["canonical"]]
        keys = [k.get("returned") for k in got["keys"]]
        shown = json.dumps(case["value"], ensure_ascii=False)
        if not all(type(x) is str and x for x in texts + keys):
            problems.append(f"arguments {shown}: canonical_arguments or idempotency_key "
                            f"gave {texts + keys} (raised or not a str)")
        elif len(set(texts)) != 1 or len(set(keys)) != 1:
            problems.append(f"arguments {shown}, written as {case['forms'][0]!r} and "
                            f"{case['forms'][1]!r} and as a mapping: "
                            f"{len(set(texts))} canonical text(s), {len(set(keys))} key(s); "
                            "expected one (key order and spacing at every depth do not matter)")
        elif got["neighbour_key"].get("returned") in keys or \
                got["neighbour_canonical"].get("returned") in texts:
            problems.append(f"arguments {shown} and "
                            f"{json.dumps(case['neighbour'], ensure_ascii=False)} got the same "
                            "canonical text or key: they are other arguments")
        if problems:
            break
    assert not problems, problems[0]
    empty = seen["empty"]
    texts = [c.get("returned") for c in empty["canonical"]]
    keys = [k.get("returned") for k in empty["keys"]]
    assert len(set(map(str, texts))) == 1 and len(set(map(str, keys))) == 1 \
        and all(type(k) is str for k in keys), (
            f"no arguments, written '', '{{}}' and {{}}: canonical texts {texts}, keys "
            f"{len(set(map(str, keys)))} distinct; an empty arguments text means no arguments"
        )
    same_but_type = [pair for pair, got in zip(TYPE_PAIRS, seen["type_pairs"])
                     if got[0].get("returned") == got[1].get("returned")]
    assert not same_but_type, (
        f"the arguments {same_but_type[0][0]} and {same_but_type[0][1]} got one key; a number, "
        "a boolean or null is not the string that spells it"
    )
    same_but_case = [pair for pair, got in zip(CASE_PAIRS, seen["case_pairs"])
                     if got[0].get("returned") == got[1].get("returned")]
    assert not same_but_case, (
        f"the calls {same_but_case[0][0]} and {same_but_case[0][1]} got one key; they differ in "
        "case, and case is part of a task id, a tool name and a string"
    )
    merged = [pair for pair, got in zip(CHARACTER_PAIRS, seen["character_pairs"])
              if got["same_key"].get("returned") is not False
              or got["same_canonical"].get("returned") is not False]
    shown = [text if len(text) < 60 else f"{text[:24]}...{text[-12:]} ({len(text)} characters)"
             for text in (merged[0] if merged else ())]
    assert not merged, (
        f"the arguments {shown[0]} and {shown[1]} got one key or one canonical text (or "
        "raised); they are other arguments: every character of a string is part of them, "
        "however long (no Unicode normalisation, no truncation), and every digit of a number"
    )
    swapped = [pair for pair, got in zip(SWAPPED_PARTS, seen["swapped_parts"])
               if got[0].get("returned") == got[1].get("returned")]
    assert not swapped, (
        f"the calls {swapped[0][0]} and {swapped[0][1]} (task id, tool) got one key; the "
        "parts keep their places (a combination in which the parts can swap or cancel out "
        "is not a key of the three parts)"
    )
    unpaired = [k.get("returned") for k in seen["unpaired_surrogates"]]
    assert all(type(k) is str and k for k in unpaired) and unpaired[0] != unpaired[1], (
        f"arguments holding a lone surrogate ('\\ud83d', half an emoji, as a model may send): "
        f"idempotency_key {[raised_type(k) for k in seen['unpaired_surrogates']]}; expected a "
        "key for each, and two keys for two characters (any JSON string is arguments)"
    )
    before, after, fresh = seen["changed_mapping"]
    assert after == fresh and after != before, (
        f"a dict of arguments, changed after a first canonical_arguments: its text was "
        f"{raised_type(before)}, then {raised_type(after)}; a fresh dict of the new arguments "
        f"gives {raised_type(fresh)}: the text is always that of the arguments as they are"
    )
    kinds = seen["mapping_kinds"]
    as_dict = kinds["dict"]
    unlike = [f"{name}: {raised_type(got['canonical'])}"
              for name, got in kinds.items() if name != "dict"
              and (got["canonical"] != as_dict["canonical"] or got["key"] != as_dict["key"]
                   or "returned" not in got["key"])]
    assert not unlike, (
        "the same arguments handed over as a mapping that is not a dict gave another canonical "
        "text or key than the dict: " + "; ".join(unlike) + " (any Mapping is arguments)"
    )
    run_together = [k.get("returned") for k in seen["run_together"]]
    assert len(set(map(str, run_together))) == len(run_together), (
        "the calls (task-7, apply_deploy), (task-7apply, _deploy), (task-, 7apply_deploy) and "
        "(task-7a, pply_deploy) share a key: keep the parts apart"
    )


def _short(text):
    return text if len(text) < 50 else f"{text[:30]}...{text[-10:]} ({len(text)} characters)"


@pytest.mark.item("lab02.key-is-deterministic")
def test_any_json_value_is_arguments_as_itself(observe):
    seen = observe("generated_keys")
    from grader.scenarios.lab02 import json_value_forms, spelled_pairs
    for case, got in zip(json_value_forms(), seen["json_values"]):
        texts = [c.get("returned") for c in got["canonical"]]
        keys = [k.get("returned") for k in got["keys"]]
        shown = json.dumps(case["value"], ensure_ascii=False)
        assert all(type(x) is str and x for x in texts + keys) \
                and len(set(texts)) == 1 and len(set(keys)) == 1, (
            f"arguments that are a JSON {type(case['value']).__name__}, {shown}, written as "
            f"{case['forms'][0]!r} and {case['forms'][1]!r}: canonical texts "
            f"{[raised_type(c) for c in got['canonical']]}, {len(set(map(str, keys)))} "
            "key(s); expected one text and one key (any JSON value is arguments, "
            "canonicalised as itself)"
        )
    merged = [pair for pair, got in zip(spelled_pairs(), seen["spelled"])
              if got["same_key"].get("returned") is not False
              or got["same_canonical"].get("returned") is not False]
    assert not merged, (
        f"the arguments {_short(merged[0][0])} and {_short(merged[0][1])} got one canonical "
        "text or one key (or raised); they are other arguments: a JSON string is that string, "
        "even when it spells an object (it is not decoded again), and an array, null or a "
        "string is not the empty object"
    )


@pytest.mark.item("lab02.key-is-deterministic")
def test_arguments_named_like_ids_are_arguments(observe):
    seen = observe("generated_keys")["id_named"]
    from grader.scenarios.lab02 import id_named_pairs
    merged = [pair for pair, got in zip(id_named_pairs(), seen)
              if got["same_key"].get("returned") is not False
              or got["same_canonical"].get("returned") is not False]
    assert not merged, (
        f"the arguments {merged[0][0]} and {merged[0][1]} got one canonical text or one key "
        "(or raised); another argument gives another key, whatever its name: an argument "
        "named id, call_id or tool_call_id is the resource the tool acts on (the model's "
        "tool_call_id is not in the arguments: leave the arguments whole)"
    )


# -- lab02.params-mismatch-conflict ---------------------------------------------------------


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_key_reused_with_other_params_is_a_conflict(observe):
    seen = observe("params_mismatch")
    first, second, third = seen["calls"]
    assert first.get("returned") == "refunded 10 EUR", f"first call: {raised_type(first)}"
    raised = second.get("raised")
    assert raised is not None and raised["expected_type"], (
        f"key idem-42 reused with refund:99 after refund:10: {raised_type(second)}; expected "
        "your IdempotencyConflict (returning the 10 EUR refund for a 99 EUR request hides a bug)"
    )
    assert raised["names_the_key"], f"the conflict says {raised['message']!r}; name the key"
    assert raised["stored_then_given"], (
        f"the conflict says {raised['message']!r}: IdempotencyConflict(key, stored, given) "
        "takes the params the key was first used with (refund:10), then the ones given now "
        "(refund:99)"
    )
    assert seen["runs"] == [10], f"the refunds that ran: {seen['runs']}; expected only the first"


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_conflict_leaves_the_first_record(observe):
    seen = observe("params_mismatch")
    third = seen["calls"][2]
    conflict = third.get("raised", {}).get("expected_type")
    assert not conflict and seen["runs"] == [10] and seen["record_params"] == "refund:10", (
        f"after the conflict, the original request (refund:10) again got {raised_type(third)}; "
        f"the refunds that ran: {seen['runs']}; the key holds params "
        f"{seen['record_params']!r}: the conflict must leave the first record as it was"
    )


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_first_params_empty_still_conflict(observe):
    first, second = observe("params_mismatch")["empty_first"]
    assert "returned" in first and second.get("raised", {}).get("expected_type"), (
        f"a key first used with params '' (no arguments), then with '{{\"force\":true}}': "
        f"{raised_type(first)}, then {raised_type(second)}; expected your IdempotencyConflict "
        "the second time (empty params are params too)"
    )


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_empty_params_given_later_still_conflict(observe):
    first, second = observe("params_mismatch")["empty_second"]
    if "returned" not in first:
        return  # the first use failed: other items say why
    assert second.get("raised", {}).get("expected_type"), (
        f"a key first used with '{{\"force\":true}}', then with params '' (no arguments): "
        f"{raised_type(second)} the second time; expected your IdempotencyConflict (empty "
        "params are params too)"
    )


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_a_key_finished_with_an_empty_result_conflicts(observe):
    seen = observe("params_mismatch")["quiet_then_other"]
    first, second = seen["calls"]
    if first.get("returned") != "":
        return  # the first call failed: other items say why
    assert (second.get("raised") or {}).get("expected_type"), (
        f"run_once(idem-52) with rotate:quiet, whose action returned '', then with "
        f"rotate:loud: {raised_type(second)} the second time; expected your "
        "IdempotencyConflict (the key is finished with its params, whatever its result)"
    )


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_params_are_compared_as_texts(observe):
    from grader.scenarios.lab02 import LOOK_ALIKE_PARAMS
    wrong = []
    for pair, case in zip(LOOK_ALIKE_PARAMS, observe("params_mismatch")["look_alike"]):
        first, second = case["calls"]
        if first.get("returned") != "ok":
            continue  # the first call failed: other items say why
        if not (second.get("raised") or {}).get("expected_type") or case["ran"] != [pair[0]]:
            wrong.append(f"{pair[0]} then {pair[1]}: {raised_type(second)}")
    assert not wrong, (
        "one key, first used with one params text, then with another: " + "; ".join(wrong)
        + "; expected your IdempotencyConflict, the action run once: params are the texts "
        "given, not what Python's == makes of them (true is not 1, 1 is not 1.0), nor a short "
        "fingerprint of them (two texts may share a CRC-32: compare the texts themselves)"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_a_finished_key_with_an_empty_result(observe):
    seen = observe("params_mismatch")["silent_replay"]
    first, second = seen["calls"]
    if first.get("returned") != "":
        return  # the first call failed: other items say why
    assert second.get("returned") == "" and seen["runs"] == 1, (
        f"run_once(idem-51) twice over an action that returns '': {raised_type(second)} the "
        f"second time, the action ran {seen['runs']} time(s); expected '' without running "
        "again (a finished key is finished whatever its result)"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_a_long_result_is_replayed_whole(observe):
    seen = observe("params_mismatch")["long_replay"]
    first, second = seen["calls"]
    if not (first.get("returned") or {}).get("whole"):
        return  # the first call failed: other items say why
    got = second.get("returned") or {}
    assert got.get("whole") and seen["runs"] == 1, (
        f"run_once(idem-53) twice over an action returning {seen['length']} characters: the "
        f"second call {'returned ' + str(got.get('length')) + ' characters' if got else raised_type(second)}"
        f", the action ran {seen['runs']} time(s); expected the whole result again, as it "
        "was, without running"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_the_key_store_is_the_executors_only_memory(observe):
    seen = observe("failure_not_cached")["cleared"]
    assert seen.get("returned") == ["web@3.1", "web@3.1"], (
        f"an executor deploys web 3.1, its key store is then cleared, and it is asked again: "
        f"the tools deployed {seen.get('returned', raised_type(seen))}; expected a second "
        "deploy (what is done lives in the key store: ask it every time)"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_an_empty_reply_is_returned_as_it_is(observe):
    seen = observe("failure_not_cached")["quiet_replies"]
    replies = seen.get("returned")
    assert replies == ["", "", ""], (
        f"a side-effecting tool that replies '' (clean_logs) through IdempotentTools, three "
        f"times: {replies if replies is not None else raised_type(seen)}; expected '' each "
        "time: the reply is returned as the tool gave it"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_a_finished_key_returns_its_result(observe):
    seen = observe("params_mismatch")["replay"]
    first, second = seen["calls"]
    assert first.get("returned") == second.get("returned") == "scaled to 5" \
        and seen["runs"] == 1, (
            f"run_once(idem-50, scale:5) twice: {raised_type(first)}, then "
            f"{raised_type(second)}, the action ran {seen['runs']} time(s); expected the "
            "stored result the second time, without running again"
        )


@pytest.mark.item("lab02.concurrent-once")
def test_an_executor_never_runs_a_key_still_running(observe):
    seen = observe("executor_meets_a_running_key")
    if not seen["learned"]:
        return  # no one stable key per call, or a memory beside it: the other checks say so
    assert seen["deployed"] == [] and seen.get("raised", {}).get("expected_type"), (
        f"the executor asked for a deploy whose key is claimed and still running: "
        f"{raised_type(seen)}, the tools deployed {seen['deployed']}; expected your "
        "KeyInProgress and no deploy (the call in progress is not this one's to run)"
    )


# -- lab02.failure-not-cached -----------------------------------------------------------------


@pytest.mark.item("lab02.failure-not-cached")
def test_failed_action_runs_again(observe):
    seen = observe("failure_not_cached")
    shown = [raised_type(call) for call in seen["calls"]]
    first, second, third = seen["calls"]
    assert first.get("raised", {}).get("expected_type"), (
        f"an action raising ToolFailure: run_once {shown[0]}; expected the ToolFailure itself"
    )
    after = seen["attempts_after"]
    assert second.get("returned") == "charged on attempt 2" and after[1] == 2, (
        f"after one failure, the same key and params: {shown[1]} with {after[1]} attempt(s) "
        "so far; expected the action to run again and succeed"
    )


@pytest.mark.item("lab02.failure-not-cached")
def test_timed_out_action_runs_again(observe):
    first, second = observe("failure_not_cached")["after_timeout"]
    assert first.get("raised", {}).get("expected_type") and second.get("returned") == (
        "paid after the timeout"
    ), (
        f"an action raising TimeoutError, then the same key again: {raised_type(first)}, "
        f"then {raised_type(second)}; expected the TimeoutError itself, then the action run "
        "again (a failure of any kind is not a result: release the key)"
    )


@pytest.mark.item("lab02.failure-not-cached")
def test_the_labs_own_errors_release_the_key(observe):
    seen = observe("failure_not_cached")["own_errors"]
    wrong = [f"{name}: then {raised_type(second)}" for name, (_first, second) in seen.items()
             if second.get("returned") != "ran after the inner error"]
    assert not wrong, (
        "an action that itself raises one of the lab's errors (a keyed call nested in it), "
        "then the same key again: " + "; ".join(wrong) + "; expected the action to run "
        "again: whatever the action raises, the key is released"
    )


@pytest.mark.item("lab02.failure-not-cached")
def test_the_failure_is_re_raised_as_it_was(observe):
    raised = observe("failure_not_cached")["chained"].get("raised") or {}
    assert raised.get("type") == "labs.kit.devops.ToolFailure" \
            and raised.get("cause") == "ConnectionResetError", (
        f"an action raising ToolFailure from ConnectionResetError: run_once raised "
        f"{raised.get('type')} with __cause__ {raised.get('cause')}; expected the "
        "ToolFailure itself, its cause kept: "
        "release the key and re-raise with a bare raise"
    )


@pytest.mark.item("lab02.failure-not-cached")
def test_a_store_of_copies_releases_the_key(observe):
    first, second = observe("failure_not_cached")["copying_store"]
    assert (first.get("raised") or {}).get("expected_type") \
            and second.get("returned") == "charged through a store of copies", (
        f"a key store that hands out copies of its records (as one on disk does), an action "
        f"failing once: {raised_type(first)}, then {raised_type(second)}; expected the "
        "failure, then the action run again (release the key by its name, not by the "
        "record object you hold)"
    )


@pytest.mark.item("lab02.failure-not-cached")
def test_after_a_failure_other_params_run(observe):
    from grader.scenarios.lab02 import OTHER_PARAMS_AFTER_FAILURE
    seen = observe("failure_not_cached")["other_after_failure"]
    wrong = []
    for name, sequence in OTHER_PARAMS_AFTER_FAILURE.items():
        case = seen[name]
        expected = [params for params, _fails in sequence]
        right = case["ran"] == expected and all(
            (call.get("raised") or {}).get("expected_type") if fails
            else call.get("returned") == f"done with {params}"
            for (params, fails), call in zip(sequence, case["calls"]))
        if not right:
            wrong.append(" then ".join(f"{params or repr(params)} ({'fails' if fails else 'works'})"
                                       for params, fails in sequence)
                         + f": {[raised_type(call) for call in case['calls']]}, the actions "
                         f"that ran {case['ran']}")
    assert not wrong, (
        "one key whose action failed, then used with other params: " + "; ".join(wrong)
        + "; expected each call to run its action (the failures re-raised, the last one "
        "returning): a failed call leaves nothing under its key, so other params are no "
        "conflict (delete the key when the action raises)"
    )


@pytest.mark.item("lab02.failure-not-cached")
def test_any_stop_releases_the_key(observe):
    seen = observe("failure_not_cached")["interrupted_otherwise"]
    wrong = [f"{name}: then {raised_type(second)}" for name, (_first, second) in seen.items()
             if second.get("returned") != "ran after the stop"]
    assert not wrong, (
        "an action stopped once by an exception that is not an Exception, then the same key "
        "again: " + "; ".join(wrong) + "; expected the action to run again (release the key "
        "whatever was raised: BaseException, not a list of its kinds)"
    )


@pytest.mark.item("lab02.failure-not-cached")
def test_interrupted_action_runs_again(observe):
    seen = observe("failure_not_cached")
    first, second = seen["after_interrupt"]
    assert first.get("raised", {}).get("expected_type") and second.get("returned") == (
        "exported after the interrupt"
    ), (
        f"an action interrupted by KeyboardInterrupt, then the same key again: "
        f"{raised_type(first)}, then {raised_type(second)}; expected the interrupt to pass "
        "through and the second call to run the action (release the key whatever was raised)"
    )


@pytest.mark.item("lab02.failure-not-cached")
def test_failed_deploy_is_retried_through_the_executor(observe):
    seen = observe("failure_not_cached")
    executor = seen["executor"].get("returned")
    assert executor is not None, f"IdempotentTools raised {raised_type(seen['executor'])}"
    shown = [raised_type(call) for call in executor]
    assert (
        executor[0].get("raised", {}).get("expected_type")
        and executor[1].get("returned") == "web@3.0 applied (deploy #1)"
        and seen["deployed"] == ["web@3.0"]
    ), (
        f"a deploy that failed once, then asked for again: {shown[0]}, then {shown[1]}; the "
        f"tools deployed {seen['deployed']}; expected the ToolFailure, then one real deploy"
    )


# -- lab02.concurrent-once ---------------------------------------------------------------------


def _race_problems(rounds, result, in_progress, *, any_reply=False):
    """What went wrong in the races: a hang, a second run, or a racer that got something
    else than ``result`` or ``in_progress``. With ``any_reply`` (a finished key does not
    give its result back even alone: another item's), whatever a racer returned is let
    pass; the runs, hangs and errors are still judged."""
    problems = []
    for number, round_ in enumerate(rounds, start=1):
        if round_["hung"]:
            problems.append(f"round {number}: a thread did not return within 5 s (a deadlock?)")
            break
        if round_["work_runs"] != 1:
            problems.append(f"round {number}: the work ran {round_['work_runs']} times")
        for seen in round_["outcomes"]:
            if seen.get("returned") == result or (any_reply and "returned" in seen):
                continue
            raised = seen.get("raised")
            if raised is None or not raised["expected_type"]:
                problems.append(
                    f"round {number}: a racer got {raised_type(seen)}; expected {result!r} "
                    f"or your {in_progress}"
                )
        if problems:
            break
    return problems


@pytest.mark.item("lab02.concurrent-once")
def test_two_executors_run_a_task_once(observe):
    rounds = observe("concurrency")["tasks"]
    problems = _race_problems(rounds, "deployed web@2.4.1", "TaskInProgress")
    assert not problems, (
        f"two threads executing one task at the same moment, {len(rounds)} rounds: "
        f"{problems[0]} (check-then-set: claim with compare_and_set)"
    )


@pytest.mark.item("lab02.concurrent-once")
def test_two_executors_run_a_failed_task_once(observe):
    alone = observe("claimed_elsewhere")["failed_again"]
    if alone.get("returned") != "deployed on the second try":
        return  # a failed task does not run again even alone: task-lifecycle says so
    rounds = observe("concurrency")["failed_tasks"]
    problems = _race_problems(rounds, "deployed web@2.4.1", "TaskInProgress")
    assert not problems, (
        f"two threads executing one failed task again at the same moment, {len(rounds)} "
        f"rounds: {problems[0]} (claim it with compare_and_set(expected=failed), the state "
        "you read)"
    )


@pytest.mark.item("lab02.concurrent-once")
def test_two_callers_run_a_key_once(observe):
    rounds = observe("concurrency")["keys"]
    # built on tool-calls-deduplicated's: a finished key gives its result back, alone; if
    # it does not, a racer arriving after the first finished gets what that gives
    replay = observe("params_mismatch")["replay"]
    replays = replay["runs"] == 1 and all(call.get("returned") == "scaled to 5"
                                          for call in replay["calls"])
    problems = _race_problems(rounds, "charged 5 EUR", "KeyInProgress",
                              any_reply=not replays)
    assert not problems, (
        f"two threads running one key at the same moment, {len(rounds)} rounds: "
        f"{problems[0]} (check-then-set: claim with put_if_absent)"
    )


def _replays_alone(seen):
    """Whether a key finished through a shared-table handle returns its result to a later
    caller without running again, one caller after the other (no race)."""
    replay = seen["replay_alone"]
    return replay["runs"] == 1 and all(call.get("returned") == "charged once"
                                       for call in replay["calls"])


@pytest.mark.item("lab02.concurrent-once")
def test_two_handles_on_one_table_run_a_key_once(observe):
    seen = observe("shared_table")
    if not _replays_alone(seen):
        return  # built on tool-calls-deduplicated: a finished key runs again even alone
    for name, shown in (("two_handles", "each through its own handle on one table"),
                        ("two_processes", "each through its own handle on one table, from "
                                          "two processes (your module loaded twice)")):
        rounds = seen[name]
        problems = _race_problems(rounds, "charged 5 EUR", "KeyInProgress")
        assert not problems, (
            f"two callers running one key at the same moment, {shown}, {len(rounds)} "
            f"round(s): {problems[0]} (the claim is only what keys.put_if_absent says: a "
            "lock of your own, or a get then a put, leaves another handle or another process "
            "free to claim the same key)"
        )


@pytest.mark.item("lab02.concurrent-once")
def test_two_callers_retry_a_failed_key_once(observe):
    seen = observe("shared_table")
    alone = seen["retry_alone"]
    if alone["calls"][1].get("returned") != "charged on the retry" or alone["runs"] != 2:
        return  # built on failure-not-cached: a failed key does not run again even alone
    if not _replays_alone(seen):
        return  # built on tool-calls-deduplicated: a finished key runs again even alone
    for name, shown in (("failed_key", "through one store"),
                        ("failed_key_two_handles", "each through its own handle")):
        rounds = seen[name]
        problems = _race_problems(rounds, "charged 5 EUR", "KeyInProgress")
        assert not problems, (
            f"a key whose action failed once, then retried by two callers at the same "
            f"moment, {shown}, {len(rounds)} round(s): {problems[0]} (after the failure the "
            "key is gone: the retry claims it again with put_if_absent, and only one caller "
            "gets it)"
        )


@pytest.mark.item("lab02.concurrent-once")
def test_no_second_run_while_the_result_is_stored(observe):
    seen = observe("finished_record")
    assert "late" not in seen["runs"], (
        f"run_once over an action that succeeded: the key was free while its result was "
        f"being stored, and a caller arriving then ran the action again "
        f"({raised_type(seen['late'][0])}); store the finished record over the claim, "
        "never delete it first"
    )


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_two_callers_with_other_params_race(observe):
    rounds = observe("concurrency")["other_params"]
    for number, round_ in enumerate(rounds, 1):
        if round_["hung"] or round_["work_runs"] != 1:
            continue  # a deadlock or a second run: concurrent-once's
        outcomes = round_["outcomes"]
        ran = [o for o in outcomes if o.get("returned") == "charged"]
        conflicts = [o for o in outcomes if (o.get("raised") or {}).get("expected_type")]
        assert len(ran) == 1 and len(conflicts) == 1, (
            f"two threads running one key at the same moment, one with charge:5, the other "
            f"charge:7, round {number}: {[raised_type(o) for o in outcomes]}; expected one "
            "'charged' and your IdempotencyConflict for the other (other params are a "
            "conflict, whoever claimed first and however far it has got)"
        )


@pytest.mark.item("lab02.concurrent-once")
def test_a_task_claimed_elsewhere_is_not_run(observe):
    seen = observe("claimed_elsewhere")
    expected = {
        "already_running": "your TaskInProgress (another executor is running it)",
        "overtaken_running": "your TaskInProgress (compare_and_set lost to an executor "
                             "still running it)",
        "overtaken_completed": "'rotated by the other executor' (compare_and_set lost to "
                               "an executor that completed it)",
    }
    expected["overtaken_completed_quietly"] = (
        "'' (compare_and_set lost to an executor that completed it with an empty result: "
        "completed is the state)")
    expected["overtaken_failed"] = ("your TaskInProgress (compare_and_set lost to an "
                                    "executor whose run then failed: not this one's to retry)")
    expected["running_for_long"] = ("your TaskInProgress (another executor has been running "
                                    "it for ten minutes: running is running, however long)")
    for name, wanted in expected.items():
        case = seen[name]
        if name == "overtaken_completed":
            right = case.get("returned") == "rotated by the other executor"
        elif name == "overtaken_completed_quietly":
            right = case.get("returned") == ""
        else:
            right = "raised" in case and case["raised"]["expected_type"]
        assert right and case["work_runs"] == 0 and case["saves"] == 0, (
            f"{name.replace('_', ' ')}: {raised_type(case)}, the work ran "
            f"{case['work_runs']} time(s), {case['saves']} save(s); expected {wanted}, no "
            "work and no save"
        )


@pytest.mark.item("lab02.concurrent-once")
def test_a_key_still_running_is_in_progress(observe):
    seen = observe("key_in_progress")
    same = seen["same"]
    assert seen["claim_kept"], (
        "run_once on a key whose operation is still running: the claim was gone afterwards; "
        "a caller turned away must leave the running caller's claim alone"
    )
    assert same.get("raised", {}).get("expected_type") and seen["runs"] == 0, (
        f"run_once on a key whose operation is still running (same params): "
        f"{raised_type(same)}, the action ran {seen['runs']} time(s); expected your "
        "KeyInProgress and no run"
    )


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_other_params_on_a_running_key_conflict(observe):
    seen = observe("key_in_progress")
    other = seen["other"]
    record = seen["record"] or {}
    assert other.get("raised", {}).get("expected_type") and record.get("params") == "restart:web", (
            f"run_once with other params on a key still running: {raised_type(other)}; the "
            f"key holds {seen['record']}; expected your IdempotencyConflict, the record "
            "left as it was"
        )


# -- round 11: the clock read once and as it is; the lab's own errors; Unicode params;
#    failures carrying output; repeats after another call failed; a claim lost to a run
#    that finished ---------------------------------------------------------------------


def _stamps(history):
    return [(entry.get("state"), entry.get("created_at"), entry.get("updated_at"))
            for entry in history]


@pytest.mark.item("lab02.task-lifecycle")
def test_a_new_task_is_stamped_with_one_reading_of_now(observe):
    runs = observe("ticking_clock")["runs"]
    for run in runs:
        history, readings = run["history"], run["readings"]
        if not history or history[0].get("state") != "pending":
            continue  # nothing saved pending: the states check says so
        made = readings[:run["after_create"]]
        created, updated = history[0]["created_at"], history[0]["updated_at"]
        assert created == updated and created in made, (
            f"create_task with a now() that moves on at every reading (by fractions of a "
            f"second; it read {made}): the pending task was saved with created_at "
            f"{created!r} and updated_at {updated!r}; expected both to be one reading of "
            "now(), as read (read the clock once and stamp both with it; no rounding)"
        )


@pytest.mark.item("lab02.task-lifecycle")
def test_stamps_are_now_as_read_with_a_clock_that_ticks(observe):
    runs = observe("ticking_clock")["runs"]
    for run in runs:
        history, readings = run["history"], run["readings"]
        executions, work_at = run["executions"], run["work_at"]
        finals = ["failed" if "raised" in e else "completed" for e in executions]
        expected_states = ["pending"] + [s for final in finals for s in ("running", final)]
        if [entry.get("state") for entry in history] != expected_states \
                or len(work_at) != len(executions):
            continue  # the states, and the runs of the work, are checked elsewhere
        created = history[0]["created_at"]
        problems = []
        for number, (execution, at) in enumerate(zip(executions, work_at)):
            running, final = history[1 + 2 * number], history[2 + 2 * number]
            before = readings[execution["before"]:at]
            after = readings[at:execution["after"]]
            if running["updated_at"] not in before:
                problems.append(f"saved running with updated_at {running['updated_at']!r}, "
                                f"not one of the readings before the work {before}")
            if final["updated_at"] not in after:
                problems.append(f"saved {final['state']} with updated_at "
                                f"{final['updated_at']!r}, not one of the readings after the "
                                f"work {after}")
            if running["created_at"] != created or final["created_at"] != created:
                problems.append(f"created_at became {running['created_at']!r}, then "
                                f"{final['created_at']!r}; it was {created!r}")
        assert not problems, (
            f"a task that {run['ending']}, with a now() that moves on at every reading, by "
            f"fractions of a second: {problems[0]}; every stamp is now() as read, fractions "
            "of a second included (no int(), no round()), and created_at never changes"
        )


@pytest.mark.item("lab02.task-lifecycle")
def test_the_labs_own_errors_from_the_work_fail_the_task(observe):
    seen = observe("lifecycle")["own_failures"]
    problems = []
    for name, case in seen.items():
        raised = case["work_raised"]
        if raised is None:
            continue  # the sub-task or keyed call did not raise: other items say why
        expected = f"{raised['type']}: {raised['text']}"
        if case["states"] != ["pending", "running", "failed"] \
                or case["final"].get("error") != expected:
            problems.append(f"a work that {name} ({raised['type']}): the store saw "
                            f"{case['states']}, ending with error="
                            f"{case['final'].get('error')!r}; expected running, then failed "
                            f"with error={expected!r}")
        elif not (case["executed"].get("raised") or {}).get("itself"):
            problems.append(f"a work that {name}: execute_task "
                            f"{raised_type(case['executed'])}; expected the {raised['type']} "
                            "the work raised, re-raised itself")
    assert not problems, (
        problems[0] + " (every Exception the work raises fails the task, the lab's own "
        "TaskNotFound, TaskInProgress, KeyInProgress and IdempotencyConflict included: they "
        "are the work's failure, not how this task was called; let none pass the except "
        "that records the failure)"
    )


@pytest.mark.item("lab02.concurrent-once")
def test_a_claim_lost_to_a_run_that_finished_gets_its_end(observe):
    seen = observe("lost_to_a_finished_run")
    for name, case in seen.items():
        other, result = case["other"], case["other_result"]
        if other is None:
            continue  # no compare_and_set to lose: the race checks say so
        ended = "failed" if result is None else "completed"
        if case["other_states"] != ["running", ended] or (
                other.get("returned") != result if result is not None
                else not (other.get("raised") or {}).get("expected_type")):
            continue  # the other executor's run alone went wrong: task-lifecycle says so
        lost = case["lost"]
        if result is None:
            right = (lost.get("raised") or {}).get("expected_type")
            wanted = "your TaskInProgress (its run failed: not this executor's to retry)"
        else:
            right = lost.get("returned") == result
            wanted = f"{result!r}, the result it saved (completed is the state)"
        assert right and case["work_runs"] == 0 and case["saves_after_other"] == 0, (
            f"a task {name.split(',')[0]}, executed by two executors: the other one claimed "
            f"it between this one's read and its compare_and_set and ran it to its end "
            f"({ended}, saved by your own execute_task); this one then "
            f"{raised_type(lost)}, its work ran {case['work_runs']} time(s), "
            f"{case['saves_after_other']} save(s); expected {wanted}, no work and no save "
            "(the completed state your execute_task saves must be found completed again: "
            "save the TaskState member itself, and compare the state read back with it)"
        )


@pytest.mark.item("lab02.concurrent-once")
def test_a_key_still_running_with_unicode_params_is_in_progress(observe):
    seen = observe("key_in_progress")
    from grader.scenarios.lab02 import unicode_params
    wrong = [f"{params}: {raised_type(got)}"
             for (params, _other), got in zip(unicode_params(), seen["unicode_same"])
             if not (got.get("raised") or {}).get("expected_type")]
    assert not wrong and seen["unicode_runs"] == 0, (
        "run_once on keys still running, with params that hold characters outside ASCII "
        "(the same params as the running call's): " + "; ".join(wrong or ["-"])
        + f", the action ran {seen['unicode_runs']} time(s); expected your KeyInProgress "
        "for each, no run (params are any Unicode text: compare them with ==; "
        "hmac.compare_digest refuses a str that is not ASCII)"
    )


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_unicode_params_mismatch_is_a_conflict(observe):
    from grader.scenarios.lab02 import unicode_params
    wrong = []
    for (params, other), case in zip(unicode_params(), observe("params_mismatch")["unicode"]):
        for order, (first, second) in (("as generated", (params, other)),
                                       ("the other way round", (other, params))):
            calls, ran = case[order]["calls"], case[order]["ran"]
            if calls[0].get("returned") != f"refunded with {first}":
                continue  # the first call failed: other items say why
            if not (calls[1].get("raised") or {}).get("expected_type") or ran != [first]:
                wrong.append(f"{first} then {second}: {raised_type(calls[1])}")
    assert not wrong, (
        "one key used with params holding characters outside ASCII, then with other params: "
        + "; ".join(wrong) + "; expected your IdempotencyConflict, the action run once "
        "(params are any Unicode text: compare them with ==; hmac.compare_digest refuses a "
        "str that is not ASCII with TypeError)"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_a_finished_key_with_unicode_params_returns_its_result(observe):
    from grader.scenarios.lab02 import unicode_params
    wrong = []
    for (params, _other), case in zip(unicode_params(), observe("params_mismatch")["unicode"]):
        first, second = case["replay"]["calls"]
        if first.get("returned") != f"refunded with {params}":
            continue  # the first call failed: other items say why
        if second.get("returned") != first["returned"] or case["replay"]["ran"] != [params]:
            wrong.append(f"{params}: {raised_type(second)}, the action ran "
                         f"{len(case['replay']['ran'])} time(s)")
    assert not wrong, (
        "run_once twice with one key and params holding characters outside ASCII: "
        + "; ".join(wrong) + "; expected the stored result the second time, without running "
        "again (params are any Unicode text: compare them with ==)"
    )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_a_repeated_unicode_deploy_runs_once(observe):
    for case in observe("tool_dedup")["unicode"]:
        if not case["same_key"]:
            continue  # your idempotency_key tells the two calls apart: key-is-deterministic
        calls = case["calls"].get("returned")
        shown = json.dumps(case["arguments"], ensure_ascii=False)
        replies = [c.get("returned") for c in calls] if isinstance(calls, list) else None
        assert case["deployed"] == [f"{case['arguments']['service']}@"
                                    f"{case['arguments']['version']}"] \
                and replies and replies[0] is not None and replies[0] == replies[1], (
            f"the executor asked twice for apply_deploy({shown}), the second time reordered "
            f"and re-spaced: "
            f"{[raised_type(c) for c in calls] if isinstance(calls, list) else raised_type(case['calls'])}"
            f", the tools deployed {case['deployed']}; expected one deploy and its reply "
            "for both (arguments are any Unicode text)"
        )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_repeats_after_another_call_failed_are_answered(observe):
    from grader.scenarios.lab02 import CALLS_AROUND_A_FAILURE
    seen = observe("tool_dedup")["after_a_failure"]
    for name, sequence in CALLS_AROUND_A_FAILURE.items():
        case = seen[name]
        if not case["keys_stable"]:
            continue  # the same call gets other keys: key-is-deterministic says so
        calls = case["calls"].get("returned")
        assert isinstance(calls, list), f"IdempotentTools raised {raised_type(case['calls'])}"
        first_reply: dict[tuple[str, str], str] = {}
        problems = []
        for (tool, arguments, fails), got in zip(sequence, calls):
            if fails:
                continue  # failure-not-cached judges the failed call itself
            reply_ = got.get("returned")
            if (tool, arguments) in first_reply and reply_ != first_reply[(tool, arguments)]:
                problems.append(f"the repeated {tool}({arguments}) got {raised_type(got)}, "
                                f"not the first call's {first_reply[(tool, arguments)]!r}")
            first_reply.setdefault((tool, arguments), reply_)
        succeeded = {tool for tool, _arguments, fails in sequence if not fails}
        ran = {tool: case["ran"].get(tool, 0) for tool in succeeded}
        expected = {tool: 1 for tool in succeeded}
        assert not problems and ran == expected, (
            f"one task's calls {name}: {problems[0] if problems else ''} the calls that "
            f"succeeded ran {ran}; expected {expected}: a failing call leaves the other "
            "calls' keys as they are (release its own key only), so a repeat of a call that "
            "succeeded earlier is answered from the store, even after another call failed"
        )


@pytest.mark.item("lab02.failure-not-cached")
def test_a_failure_carrying_output_is_not_a_result(observe):
    seen = observe("failure_not_cached")["carrying_output"]
    wrong = [f"{name}: then {raised_type(case['calls'][1])}, the action ran "
             f"{case['runs']} time(s)" for name, case in seen.items()
             if case["calls"][1].get("returned") != "ran again after the failure"
             or case["runs"] != 2]
    assert not wrong, (
        "an action that failed once with an exception carrying what it printed (output, "
        "stdout), then the same key again: " + "; ".join(wrong) + "; expected the action "
        "to run again: a failure is never stored as a result, whatever the exception "
        "carries (release the key)"
    )


# -- round 12: the error's message as it is, a completed task whatever its conversation,
#    ids never normalised, reads of any name every time, an empty params text -----------


@pytest.mark.item("lab02.task-lifecycle")
def test_the_error_is_the_message_as_it_is(observe):
    from grader.scenarios.lab02 import messages_as_given
    seen = observe("lifecycle")["messages_as_given"]
    problems = []
    for name, error in messages_as_given().items():
        case = seen[name]
        expected = f"{type(error).__name__}: {error}"
        notes = getattr(error, "__notes__", None)
        shown = f"{type(error).__name__}({str(error)!r})" + (
            f" with the note(s) {notes}" if notes else "")
        if case["states"] != ["pending", "running", "failed"] \
                or case["final"].get("error") != expected:
            problems.append(f"work raising {shown}: the store saw {case['states']}, ending "
                            f"with error={case['final'].get('error')!r}; expected running, "
                            f"then failed with error={expected!r}")
        elif not (case["executed"].get("raised") or {}).get("itself"):
            problems.append(f"work raising {shown}: execute_task "
                            f"{raised_type(case['executed'])}; expected that exception "
                            "itself, re-raised")
    assert not problems, (
        problems[0] + " (the error is exactly '<ExceptionType>: <message>', the message "
        "str(error) as it is: its characters kept, accents, CJK and emoji included, never "
        "escaped, and nothing added: no note added with add_note, no traceback line)"
    )


@pytest.mark.item("lab02.completed-not-rerun")
def test_a_completed_task_is_done_whatever_its_conversation(observe):
    seen = observe("completed_rerun")["completed_mid_conversation"]
    wrong = [f"{name}: {[raised_type(c) for c in case['calls']]}, the work ran "
             f"{case['work_runs']} time(s), {case['saves']} save(s)"
             for name, case in seen.items()
             if case["work_runs"] or case["saves"]
             or any(c.get("returned") != case["stored_result"] for c in case["calls"])]
    assert not wrong, (
        "tasks stored completed with their conversation, executed twice: " + "; ".join(wrong)
        + "; expected the stored result each time, no work and no save: the state decides "
        "(a completed task is never run again, whatever its messages: its last message a "
        "tool result or the user's, or none at all)"
    )


@pytest.mark.item("lab02.unknown-task-error")
def test_an_id_is_never_normalised(observe):
    from grader.scenarios.lab02 import NORMALISED_IDS
    seen = observe("unknown_task")["normalised"]
    wrong = [f"{given!r} (beside the stored {stored!r}): {raised_type(case)}, the work ran "
             f"{case['work_runs']} time(s), {case['saves']} save(s)"
             + ("" if (case.get("raised") or {}).get("names_the_id", True) else
                " (the error does not name the id as given: its message and task_id)")
             for (stored, given), case in zip(NORMALISED_IDS, seen)
             if not (case.get("raised") or {}).get("expected_type") or case["saves"]
             or case["work_runs"] or not case["raised"]["names_the_id"]]
    assert not wrong, (
        "executing ids no task has, each a Unicode normalisation away from the one task "
        "stored: " + "; ".join(wrong) + "; expected your TaskNotFound naming the id as "
        "given, no work and no save: ids are compared exactly (no NFKC, NFC or casefold: "
        "another text is another id)"
    )


def _reads_wrong(case, sequence, side_effects):
    """Where the reads of one sequence were not each run and answered by its own run: the
    executor's replies to each read, against what the tool replied each time it ran."""
    asked: dict[str, list] = {}
    for step, got in zip(sequence, case["calls"]):
        if step is not None and step[0] not in side_effects:
            asked.setdefault(step[0], []).append(got)
    wrong = []
    for tool, calls in asked.items():
        replies = case["replies"].get(tool, [])
        got = [call.get("returned") for call in calls]
        if case["ran"].get(tool, 0) != len(calls) or got != replies:
            wrong.append(f"{tool} asked {len(calls)} times ran {case['ran'].get(tool, 0)} "
                         f"time(s), the tool replied {replies}, the calls got "
                         f"{[raised_type(call) for call in calls]}")
    return wrong


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_a_read_runs_each_time_it_is_asked(observe):
    from grader.scenarios.lab02 import READS_IN_A_ROW, SIDE_EFFECTS
    seen = observe("reads_every_time")
    for name in ("the kit's reads, twice in a row",
                 "the kit's reads, the world changed in between"):
        wrong = _reads_wrong(seen[name], READS_IN_A_ROW[name], SIDE_EFFECTS)
        assert not wrong, (
            f"{name}, through one IdempotentTools: " + "; ".join(wrong) + "; expected each "
            "read to run every time it is asked and to return that run's reply: the same "
            "read with the same arguments twice in a row too, with no side effect in between "
            "(the world may change without this executor: another agent, an operator)"
        )


@pytest.mark.item("lab02.tool-calls-deduplicated")
def test_a_read_of_any_name_runs_every_time(observe):
    from grader.scenarios.lab02 import READS_IN_A_ROW, SIDE_EFFECTS
    seen = observe("reads_every_time")
    for name in ("reads of other names", "reads of other names around a side effect"):
        wrong = _reads_wrong(seen[name], READS_IN_A_ROW[name], SIDE_EFFECTS)
        assert not wrong, (
            f"{name} (list_pods, check_memory, get_logs: tools of a tools object of one's "
            "own, none in SIDE_EFFECTS), through one IdempotentTools: " + "; ".join(wrong)
            + "; expected each to run every time it is asked and to return that run's "
            "reply: a tool not in SIDE_EFFECTS is a read, whatever its name (not only the "
            "kit's three reads)"
        )


@pytest.mark.item("lab02.params-mismatch-conflict")
def test_an_empty_params_text_is_not_no_params(observe):
    from grader.scenarios.lab02 import EMPTY_AND_NO_PARAMS
    seen = observe("params_mismatch")["empty_and_no_params"]
    wrong = []
    for first, second in EMPTY_AND_NO_PARAMS:
        case = seen[f"{first!r} then {second!r}"]
        opened, reused = case["calls"]
        if opened.get("returned") != f"rotated with {first!r}":
            continue  # the first call failed: other items say why
        if not (reused.get("raised") or {}).get("expected_type") or case["ran"] != [first] \
                or opened["record_params"] != first or reused["record_params"] != first:
            wrong.append(f"{first!r} then {second!r}: {raised_type(reused)} the second time, "
                         f"the actions that ran {case['ran']}, the key holding params "
                         f"{opened['record_params']!r}, then {reused['record_params']!r}")
    assert not wrong, (
        "one key used with one params text, then with another: " + "; ".join(wrong)
        + "; expected your IdempotencyConflict the second time, the action run once, and "
        "the record keeping the params as they were sent: run_once compares params with == "
        "as texts, and an empty text is params too ('' is not '{}'; that '' means no "
        "arguments is canonical_arguments' rule, not run_once's)"
    )
