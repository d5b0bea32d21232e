"""Checks for lab 06 (checkpoints and time travel), one group per checklist item.

The memory store's conformance decides snapshots-isolated, ids-ordered and
history-per-thread; the same suite on the file and SQLite stores, reopened and garbled,
with the file store's writes watched (and one made to fail) and the SQLite store used from
three threads, decides durable-stores. The runner is judged on a store the grader keeps
itself.
"""

from __future__ import annotations

import pytest

from grader.checks.expect import raised_type


def _steps(checkpoints):
    return [(c["step"], c["ran"], c["next"]) for c in checkpoints]


def _returned(seen, what):
    assert "raised" not in seen, f"{what} raised {seen['raised']['type']}: {seen['raised']['message'][:200]}"
    return seen.get("returned")


# -- the conformance suite ------------------------------------------------------------------


def _copies_problem(seen):
    copies = seen["copies"]
    if "raised" in copies:
        return f"save/load raised {copies['raised']['type']}: {copies['raised']['message'][:150]}"
    got = copies["returned"]
    expected = {"log": ["triage"], "facts": {"disk": [97]}}
    if (got["first"] or {}).get("state") != expected:
        return (f"a checkpoint saved, then its state changed by the caller: load gave "
                f"{(got['first'] or {}).get('state')}; expected {expected} (save a copy)")
    if (got["again"] or {}).get("state") != expected:
        return (f"checkpoints handed out by load, list and latest, then changed by the caller: "
                f"the store now holds {(got['again'] or {}).get('state')}; expected {expected} "
                "(hand out copies)")
    return ""


def _ids_problem(seen):
    ids = seen["ids"]
    if "raised" in ids:
        return f"save raised {ids['raised']['type']}: {ids['raised']['message'][:150]}"
    got = ids["returned"]
    saved = got["ids"]
    if len(set(saved)) != len(saved) or any(not isinstance(i, str) for i in saved):
        return f"13 checkpoints saved at one frozen instant got the ids {saved}: not unique strings"
    if saved != sorted(saved):
        return f"ids in the order they were saved: {saved}; they must sort in that order"
    if (got["latest_alpha"] or {}).get("id") != saved[-1]:
        return ("the latest checkpoint of a thread is the one saved last, though its time is an "
                f"hour earlier: latest gave {(got['latest_alpha'] or {}).get('id')!r}, "
                f"expected {saved[-1]!r} (never choose by timestamp)")
    if (got["latest_beta"] or {}).get("id") != saved[10]:
        return f"latest of the other thread gave {(got['latest_beta'] or {}).get('id')!r}"
    return _counter_problem(seen["counter"])


def _counter_problem(counter):
    if "raised" in counter:
        return f"save raised {counter['raised']['type']}: {counter['raised']['message'][:150]}"
    expected = [f"{n:012d}" for n in (1, 2, 3)]
    if counter["returned"] != expected:
        return (f"the first three checkpoints a fresh store saved got the ids "
                f"{counter['returned']}; expected {expected} (the next value of a counter "
                "that starts at 1, as f\"{n:0{ID_DIGITS}d}\")")
    return ""


def _history_problem(seen):
    history = seen["history"]
    if "raised" in history:
        return f"list/delete/clear raised {history['raised']['type']}: {history['raised']['message'][:150]}"
    got = history["returned"]
    one, two = got["made"]["ops-1"], got["made"]["ops-2"]
    expected = {
        "all": one[::-1],
        "limit_2": one[::-1][:2],
        "before_4th": one[:3][::-1],
        "before_4th_limit_1": [one[2]],
        "other_thread": two[::-1],
        "unknown_thread": [],
        "after_delete": [i for i in one[::-1] if i != one[1]],
        "after_clear": [],
        "other_after_clear": two[::-1],
    }
    labels = {
        "all": "list(thread), newest first", "limit_2": "list(limit=2)",
        "before_4th": "list(before=<the 4th id>)", "before_4th_limit_1": "list(before=, limit=1)",
        "other_thread": "the other thread's list", "unknown_thread": "an unknown thread's list",
        "after_delete": "the list after deleting the 2nd", "after_clear": "the list after clear",
        "other_after_clear": "the other thread after clearing this one",
    }
    for key, want in expected.items():
        if got[key] != want:
            return f"{labels[key]}: {got[key]}; expected {want}"
    if got["latest_unknown"] is not None or got["latest_after_clear"] is not None:
        return "latest of a thread with no checkpoint should be None"
    deleted = got["load_deleted"].get("raised")
    if deleted is None or not deleted["is_not_found"]:
        return f"loading a deleted checkpoint: {raised_type(got['load_deleted'])}; expected CheckpointNotFound"
    return ""


def _not_found_problem(seen):
    raised = seen["load_unknown"].get("raised")
    if raised is None or not raised["is_not_found"]:
        return f"loading an unknown id: {raised_type(seen['load_unknown'])}; expected CheckpointNotFound"
    return ""


# -- lab06.snapshots-isolated ----------------------------------------------------------------


@pytest.mark.item("lab06.snapshots-isolated")
def test_memory_store_keeps_copies(observe):
    problem = _copies_problem(observe("memory_store"))
    assert not problem, f"MemoryCheckpointStore: {problem}"


# -- lab06.ids-ordered -----------------------------------------------------------------------


@pytest.mark.item("lab06.ids-ordered")
def test_memory_store_ids_sort_in_save_order(observe):
    problem = _ids_problem(observe("memory_store"))
    assert not problem, f"MemoryCheckpointStore: {problem}"


@pytest.mark.item("lab06.ids-ordered")
def test_latest_of_a_run_on_a_frozen_clock(observe):
    seen = observe("frozen_ids")
    _returned(seen, "a run on a frozen clock")
    history = _returned(seen["history"], "list") or []
    latest = _returned(seen["latest"], "latest") or {}
    assert [c["step"] for c in history] == [3, 2, 1, 0] and latest.get("step") == 3, (
        f"a whole run while the clock stood still: latest is step {latest.get('step')!r}, the "
        f"list gives steps {[c['step'] for c in history]}; expected 3 and [3, 2, 1, 0]"
    )


# -- lab06.history-per-thread ---------------------------------------------------------------


@pytest.mark.item("lab06.history-per-thread")
def test_memory_store_lists_threads_apart(observe):
    seen = observe("memory_store")
    problem = _history_problem(seen) or _not_found_problem(seen)
    assert not problem, f"MemoryCheckpointStore: {problem}"


@pytest.mark.item("lab06.history-per-thread")
def test_runner_history_passes_limit_and_before_on(observe):
    seen = observe("per_step")
    ids = [c["id"] for c in seen["checkpoints"]]
    if len(ids) < 3:
        pytest.fail(f"the run saved {len(ids)} checkpoints; expected 4", pytrace=False)
    limited = [(c or {}).get("id") for c in _returned(seen["history_limit_2"], "history(limit=2)") or []]
    assert limited == ids[::-1][:2], (
        f"history(thread, limit=2) of a run of 4 checkpoints gave {limited}; expected the "
        f"newest two, {ids[::-1][:2]} (hand limit on to the store's list)"
    )
    earlier = [(c or {}).get("id") for c in
               _returned(seen["history_before_3rd"], "history(before=)") or []]
    assert earlier == ids[:2][::-1], (
        f"history(thread, before={ids[2]!r}) gave {earlier}; expected {ids[:2][::-1]} (hand "
        "before on to the store's list)"
    )


# -- lab06.checkpoint-per-step --------------------------------------------------------------


@pytest.mark.item("lab06.checkpoint-per-step")
def test_a_checkpoint_after_every_step(observe):
    seen = observe("per_step")
    _returned(seen, "the run")
    steps = _steps(seen["checkpoints"])
    expected = [(0, [], ["triage"]), (1, ["triage"], ["check_disk", "check_status"]),
                (2, ["check_disk", "check_status"], ["report"]), (3, ["report"], [])]
    assert steps == expected, (
        f"a run of triage, two checks side by side, then a report saved (step, ran, next) "
        f"{steps}; expected {expected}"
    )


@pytest.mark.item("lab06.checkpoint-per-step")
def test_checkpoints_hold_state_time_and_parent(observe):
    seen = observe("per_step")
    checkpoints = seen["checkpoints"]
    if len(checkpoints) != 4:
        pytest.fail(f"{len(checkpoints)} checkpoints saved; expected 4", pytrace=False)
    states = [c["state"].get("log") for c in checkpoints]
    assert states == [[], ["triage"], ["triage", "disk 97%", "web up"],
                      ["triage", "disk 97%", "web up", "report"]], (
        f"the states saved step by step: {states}"
    )
    times = [round(c["created_at"] - seen["t0"], 3) for c in checkpoints
             if isinstance(c["created_at"], (int, float))]
    assert times == [0.0, 4.0, 14.0, 16.0], (
        f"the checkpoints' times, in seconds after the run began: {times}; expected 0, 4, 14, "
        "16 (the clock you were given, read when each is saved)"
    )
    parents = [c["parent_id"] for c in checkpoints]
    ids = [c["id"] for c in checkpoints]
    assert parents == [None, *ids[:-1]], f"parent ids {parents}; each follows the one before"
    assert [c["source"] for c in checkpoints] == ["input", "loop", "loop", "loop"], (
        f"metadata['source'] of the checkpoints: {[c['source'] for c in checkpoints]}"
    )
    history = _returned(seen["history"], "history") or []
    assert [c["id"] for c in history] == ids[::-1], "history(thread) is not the run's checkpoints, newest first"


@pytest.mark.item("lab06.checkpoint-per-step")
def test_a_run_stops_at_max_steps(observe):
    seen = observe("step_limit")
    endless = seen["default_limit"]
    raised = endless.get("raised") or {}
    assert raised.get("is_recursion"), (
        f"a graph that would poll 40 times, run with the default max_steps (25): "
        f"{raised_type(endless)}; expected RecursionError"
    )
    assert endless["steps"] == list(range(26)) and endless["polls"] == 25, (
        f"before the RecursionError the node ran {endless['polls']} times and the steps "
        f"{endless['steps'][-3:]} were the last saved; expected 25 runs and steps 0 to 25 "
        "(no step past max_steps runs)"
    )
    exact = seen["exact_limit"]
    _returned(exact, "a run of exactly max_steps=5 steps")
    assert exact["steps"] == list(range(6)) and exact["polls"] == 5, (
        f"a graph that polls 5 times, run with max_steps=5, saved steps {exact['steps']}; "
        "expected 0 to 5"
    )


# -- lab06.resume-latest --------------------------------------------------------------------


@pytest.mark.item("lab06.resume-latest")
def test_resume_starts_at_the_failed_step(observe):
    seen = observe("resume_after_failure")
    first = seen["first"].get("raised")
    assert first is not None and "503" in first["message"], (
        f"a run whose apply node raises: {raised_type(seen['first'])}; the error should come out"
    )
    saved = _steps(seen["saved_after_failure"])
    assert saved == [(0, [], ["ask"]), (1, ["ask"], ["apply"])], (
        f"checkpoints after the failure: {saved}; expected steps 0 and 1 only (nothing saved "
        "for the step that failed)"
    )
    final = _returned(seen["resumed"], "resume")
    assert isinstance(final, dict) and final.get("log") == ["apply web 2.4.1", "applied", "verified"], (
        f"resumed, the run ended with {final}"
    )
    assert seen["calls_after_resume"] == {"ask": 1, "apply": 2, "verify": 1} \
        and seen["llm_requests"] == 1, (
        f"node runs {seen['calls_after_resume']} and {seen['llm_requests']} LLM request(s) "
        "after the resume; expected ask once (its LLM request not repeated), apply twice, "
        "verify once"
    )


@pytest.mark.item("lab06.resume-latest")
def test_resuming_a_finished_thread_does_nothing(observe):
    seen = observe("resume_after_failure")
    again = _returned(seen["again"], "resuming a finished thread")
    assert again == _returned(seen["resumed"], "resume") and seen["calls"] == {
        "ask": 1, "apply": 2, "verify": 1} and len(seen["checkpoints"]) == 4, (
        f"resuming a thread that had finished ran {seen['calls']} and left "
        f"{len(seen['checkpoints'])} checkpoints; expected nothing run, nothing saved"
    )
    unknown = seen["unknown_thread"].get("raised")
    assert unknown is not None and unknown["is_not_found"], (
        f"resuming a thread with no checkpoint: {raised_type(seen['unknown_thread'])}; expected "
        "CheckpointNotFound"
    )


# -- lab06.time-travel-fork -----------------------------------------------------------------


@pytest.mark.item("lab06.time-travel-fork")
def test_fork_starts_a_new_branch(observe):
    seen = observe("fork")
    forked = _returned(seen["forked"], "resume_from")
    assert isinstance(forked, dict) and forked.get("log") == ["plan #1", "build #2", "ship #2"], (
        f"going on from step 1 of a finished run ended with {forked}; expected build and ship "
        "run again from step 1's state"
    )
    new = seen["after"][len(seen["before"]):]
    assert _steps(new) == [(2, ["build"], ["ship"]), (3, ["ship"], [])], (
        f"the new branch's checkpoints: {_steps(new)}; expected steps 2 and 3 again"
    )
    assert new and new[0]["parent_id"] == seen["from"] and new[1]["parent_id"] == new[0]["id"], (
        f"the branch's parents: {[c['parent_id'] for c in new]}; its first follows the step 1 "
        f"checkpoint {seen['from']!r}"
    )
    assert (seen["latest"] or {}).get("id") == new[-1]["id"], "latest is not the new branch's tip"


@pytest.mark.item("lab06.time-travel-fork")
def test_fork_leaves_history_intact(observe):
    seen = observe("fork")
    kept = seen["after"][: len(seen["before"])]
    assert kept == seen["before"], (
        "going on from an earlier checkpoint changed or removed checkpoints of the original run"
    )


# -- lab06.update-state ----------------------------------------------------------------------


@pytest.mark.item("lab06.update-state")
def test_update_goes_through_the_reducers(observe):
    seen = observe("update")
    new_id = _returned(seen["updated"], "update_state")
    added = [c for c in seen["after_update"] if c["id"] == new_id]
    assert added, f"update_state returned {new_id!r}, which names no saved checkpoint"
    update = added[0]
    base = next(c for c in seen["before"] if c["id"] == seen["at"])
    assert update["state"].get("log") == [*base["state"]["log"], "operator: hold"] \
        and update["state"].get("last") == "operator", (
        f"updating step 2 (log {base['state'].get('log')}) with log ['operator: hold'] and "
        f"last 'operator': the new state holds {update['state']}; log has the append reducer, "
        "so the note is appended"
    )
    assert (update["parent_id"], update["step"], update["next"], update["source"]) == (
        base["id"], base["step"], base["next"], "update"), (
        f"the update's parent, step, next and source: {update['parent_id']!r}, {update['step']}, "
        f"{update['next']}, {update['source']!r}; expected {base['id']!r}, {base['step']}, "
        f"{base['next']}, 'update'"
    )


@pytest.mark.item("lab06.update-state")
def test_update_adds_a_checkpoint_instead_of_rewriting(observe):
    seen = observe("update")
    assert seen["after_update"][: len(seen["before"])] == seen["before"] \
        and len(seen["after_update"]) == len(seen["before"]) + 1, (
        "update_state changed a saved checkpoint, or saved other than one new checkpoint"
    )
    resumed = _returned(seen["resumed"], "resume after the update")
    assert isinstance(resumed, dict) and resumed.get("log") == [
        "start", "plan #1", "build #1", "operator: hold", "ship #2"], (
        f"resumed after the update, the run ended with {resumed}; it goes on from the update"
    )


# -- lab06.ephemeral-not-persisted ----------------------------------------------------------


@pytest.mark.item("lab06.ephemeral-not-persisted")
def test_no_checkpoint_holds_an_ephemeral_key(observe):
    seen = observe("ephemeral")
    _returned(seen["run"], "the run")
    _returned(seen["updated"], "update_state")
    holding = [(c["step"], c["source"]) for c in seen["checkpoints"] if "note" in c["state"]]
    assert not holding, (
        f"checkpoints holding the ephemeral key 'note' (step, source): {holding}; ephemeral "
        "keys end with their step and never reach a checkpoint, from the input, a step or an "
        "update"
    )
    assert [c["step"] for c in seen["checkpoints"]] == [0, 1, 2, 2], (
        f"steps saved: {[c['step'] for c in seen['checkpoints']]}; expected 0, 1, 2 and the "
        "update at 2 (routing must still see the note)"
    )


# -- lab06.durable-stores -------------------------------------------------------------------


def _durable_problems(seen, name):
    problems = [p for p in (_copies_problem(seen), _ids_problem(seen), _history_problem(seen),
                            _not_found_problem(seen)) if p]
    reopened = seen["reopened"]
    if "raised" in reopened:
        problems.append(f"reopening raised {reopened['raised']['type']}: {reopened['raised']['message'][:150]}")
    else:
        got = reopened["returned"]
        found = [c["id"] for c in got["found"]]
        if found != got["ids"][::-1]:
            problems.append(f"a fresh store on the same path listed {found}; expected {got['ids'][::-1]}")
        elif [c["state"].get("text") for c in got["found"]] != ["déjà ✓"] * 3:
            problems.append("the states did not survive the reopening intact")
        if not got["ids"] or not all(isinstance(i, str) for i in got["ids"]):
            problems.append(f"three saves returned the ids {got['ids']}; expected strings")
        elif not (isinstance(got["later"], str) and got["later"] > max(got["ids"])):
            problems.append(f"after reopening, a new checkpoint got the id {got['later']!r}, not "
                            f"after {max(got['ids'])!r}: ids must keep their order across restarts")
    corrupted = seen["corrupted"]
    if "raised" in corrupted:
        problems.append(f"garbling a checkpoint: {corrupted['raised']['type']}: "
                        f"{corrupted['raised']['message'][:150]}")
    else:
        got = corrupted["returned"]
        for step in ("load", "latest"):
            raised = got[step].get("raised")
            if raised is None or not raised["is_corrupted"] or not raised["names_where"]:
                problems.append(f"{step} of a garbled checkpoint: {raised_type(got[step])}; "
                                "expected CheckpointCorrupted naming where it is")
        if "returned" not in got["good"]:
            problems.append("the checkpoint next to the garbled one could not be loaded")
    junk = corrupted.get("not_a_database")
    if junk is not None:
        raised = junk.get("raised")
        if raised is None or not raised["is_corrupted"] or not raised["names_where"]:
            problems.append(f"a file that is not a database: {raised_type(junk)}; expected "
                            "CheckpointCorrupted naming the file")
    if "atomic" in seen:
        problems.extend(_atomic_problems(seen["atomic"]))
    if "connections" in seen:
        problems.extend(_connection_problems(seen["connections"]))
    return [f"{name}: {p}" for p in problems]


def _atomic_problems(atomic):
    if "raised" in atomic["saves"]:
        return [(f"two saves raised {atomic['saves']['raised']['type']}: "
                 f"{atomic['saves']['raised']['message'][:150]}")]
    problems = []
    moves = atomic["moves"]
    if not any(move["checkpoint"] for move in moves):
        problems.append("saving a checkpoint never moved its file into place with os.replace: "
                        "write a temporary file, then os.replace it (an atomic write)")
    elsewhere = [move for move in moves
                 if move["into_the_store"] is not False and move["from_the_store"] is not True]
    if elsewhere:
        problems.append(f"{len(elsewhere)} of the {len(moves)} os.replace calls of two saves "
                        "moved a file into the store from outside its folder: write the "
                        "temporary file in the same folder as the file it replaces "
                        "(tempfile.mkstemp(dir=...)), so that the replace is atomic")
    full = atomic["full_disk"]
    if "raised" in full:
        problems.append(f"a save on a full disk: {full['raised']['type']}: "
                        f"{full['raised']['message'][:150]}")
    elif "returned" in full["returned"]:
        load = full["returned"].get("load", {})
        if (load.get("returned") or {}).get("id") != full["returned"]["returned"]:
            problems.append(f"a save whose os.replace failed (no space left on device) returned "
                            f"the id {full['returned']['returned']!r}, and loading it gave "
                            f"{raised_type(load)}: a save that stored nothing must raise")
    return problems


def _connection_problems(connections):
    if "raised" in connections:
        return [(f"using the store from three threads raised {connections['raised']['type']}: "
                 f"{connections['raised']['message'][:150]}")]
    got = connections["returned"]
    problems = []
    for name, used in got["threads"].items():
        if not isinstance(used, dict) or "raised" in used:
            what = f"{used['raised']['type']}: {used['raised']['message'][:150]}" \
                if isinstance(used, dict) else "never finished"
            problems.append(f"saving and listing in the thread {name!r}: {what}")
            break
    if "raised" in got["close"]:
        problems.append(f"close() from the main thread, after the store was used from two other "
                        f"threads, raised {got['close']['raised']['type']}: "
                        f"{got['close']['raised']['message'][:150]} (a connection that another "
                        "thread opened must still be closable: check_same_thread=False)")
    elif got["still_open"]:
        problems.append(f"after close(), {got['still_open']} of the {got['opened']} connections "
                        "the store opened (one per thread: the main thread and two others) are "
                        "still open; close every connection this store opened")
    if got["journal_mode"] != "wal":
        problems.append(f"the database's journal mode is {got['journal_mode']!r}; expected 'wal' "
                        "(PRAGMA journal_mode = WAL on each connection)")
    if got["thread_column"] and not got["thread_indexed"]:
        problems.append("no index starts with the thread column: latest and list scan the "
                        "whole table (CREATE INDEX ... ON <table> (<thread>, <id column>))")
    return problems


@pytest.mark.item("lab06.durable-stores")
def test_file_store_keeps_the_contract(observe):
    problems = _durable_problems(observe("file_store"), "FileCheckpointStore")
    assert not problems, "; ".join(problems[:2])


@pytest.mark.item("lab06.durable-stores")
def test_sqlite_store_keeps_the_contract(observe):
    problems = _durable_problems(observe("sqlite_store"), "SqliteCheckpointStore")
    assert not problems, "; ".join(problems[:2])
