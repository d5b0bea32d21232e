"""Checks for lab 04 (persistence and resume), one group per checklist item.

The file store's contract decides survives-restart, atomic-write and corruption-detected;
the same contract on the SQLite store, with its threads and its kills, decides
sqlite-store.
"""

from __future__ import annotations

import pytest

from grader.checks.expect import raised_type

TASK_STATE = "labs.kit.tasks.TaskState"
ANSWER = "web 2.4.1 is deployed and healthy"
ONE_DEPLOY = {"apply_deploy": 1, "build_config": 1, "clean_logs": 0}


# -- the store contract, for either store ---------------------------------------------------


def _round_trip_problems(case):
    if "raised" in case["write"]:
        return [f"saving raised {case['write']['raised']['type']}: "
                f"{case['write']['raised']['message']}"]
    if "raised" in case["read"]:
        return [f"a fresh store on the same path raised {case['read']['raised']['type']}: "
                f"{case['read']['raised']['message']}"]
    read = case["read"]["returned"]
    problems = []
    for saved in case["saved"]:
        got = read.get(saved["id"])
        if got is None:
            problems.append(f"{saved['id']} was not found by a fresh store")
            continue
        if got.get("state_type") != TASK_STATE:
            problems.append(f"{saved['id']}: the state came back as {got.get('state_type')}, "
                            "not a TaskState")
            continue
        fields = got["fields"] or {}
        wrong = [name for name, value in saved.items() if fields.get(name) != value]
        if wrong:
            problems.append(
                f"{saved['id']}: " + "; ".join(
                    f"{name} {fields.get(name)!r} instead of {saved[name]!r}"[:160]
                    for name in wrong)
            )
        if got["timestamp_types"] != ["float", "float"]:
            problems.append(f"{saved['id']}: timestamps came back as {got['timestamp_types']}")
    if read.get("missing") is not None:
        problems.append(f"an id never saved gave {read['missing']!r}, not None")
    return problems


def _compare_and_set_problems(case):
    """What went wrong in the compare_and_set scenario, following what should be stored."""
    stored = {case["before"]["id"]: case["before"]}
    for step in case["steps"]:
        task, expected = step["task"], step["expected"]
        where = f"compare_and_set with {step['attempt']} (expected {expected!r})"
        if "raised" in step["call"]:
            return [f"{where} raised {step['call']['raised']['type']}: "
                    f"{step['call']['raised']['message'][:160]}"]
        current = stored.get(task["id"])
        stores = current is not None and current["state"] == expected
        if stores:
            stored[task["id"]] = task
        returned = step["call"]["returned"]
        if returned is not stores:
            return [f"{where} returned {returned!r}; expected {stores} (True only when it "
                    "stored the task)"]
        if "raised" in step["read_back"]:
            return [f"after {where}, a fresh store raised {step['read_back']['raised']['type']}"]
        got = step["read_back"]["returned"]
        fields = None if got is None else got.get("fields")
        if fields != stored.get(task["id"]):
            state = None if fields is None else fields.get("state")
            should = stored.get(task["id"])
            return [f"after {where}, a fresh store read "
                    f"{'no task' if got is None else 'it in state ' + repr(state)}; expected "
                    + ("no task (nothing stored)" if should is None
                       else f"the task in state {should['state']!r}, every field as "
                       + ("stored" if stores else "it was before"))]
    return []


def _kept_after(case, name):
    """What is wrong with the previous state after an interrupted save, or ''."""
    back = case["read_back"]
    if "raised" in back:
        return (f"{name}: afterwards a fresh store raised {back['raised']['type']}: "
                f"{back['raised']['message'][:200]}")
    got = back["returned"] or {}
    if (got.get("fields") or {}) != case["old"]:
        return (f"{name}: afterwards a fresh store read {got.get('fields')!r}; expected the "
                "previous state, intact")
    return ""


def _corruption_problems(cases):
    problems = []
    for name, case in cases.items():
        steps = ("open",) * ("open" in case) + (("read", "save") if case["whole_file"]
                                                  else ("read",))
        for step in steps:
            raised = case[step].get("raised")
            if raised is None:
                problems.append(
                    f"{name} file: {'opening a store on it' if step == 'open' else step} "
                    f"{raised_type(case[step])} instead of raising StoreCorrupted"
                    + (" (the store reads its file as it opens)" if step == "open" else "")
                )
            elif not raised["is_store_corrupted"] or not raised["names_the_file"]:
                problems.append(
                    f"{name} file: {step} raised {raised['type']}: {raised['message'][:120]!r}; "
                    "expected your StoreCorrupted, naming the file"
                )
        if case["whole_file"] and not case["unchanged"]:
            problems.append(f"{name} file: it was written over; a corrupted file is left as it is")
    return problems


# -- lab04.survives-restart ----------------------------------------------------------------


@pytest.mark.item("lab04.survives-restart")
def test_file_store_reads_back_every_field(observe):
    problems = _round_trip_problems(observe("round_trip")["json"])
    assert not problems, (
        "JsonFileStore: tasks saved by one store, read by a fresh one on the same path: "
        + "; ".join(problems[:3])
    )


@pytest.mark.item("lab04.survives-restart")
def test_file_store_compare_and_set(observe):
    problems = _compare_and_set_problems(observe("compare_and_set")["json"])
    assert not problems, f"JsonFileStore: {problems[0]}"


# -- lab04.atomic-write ---------------------------------------------------------------------


@pytest.mark.item("lab04.atomic-write")
def test_failed_rename_leaves_the_old_file(observe):
    case = observe("interrupted_saves")["json"]["rename_fails"]
    assert "raised" in case, (
        "a save with os.replace and os.rename failing returned normally: either the file is "
        "written in place instead of replaced in one step, or the failed rename was swallowed"
    )
    problem = _kept_after(case, "the rename failed")
    assert not problem, f"JsonFileStore: {problem}"
    assert case["files"] == ["tasks.json"], (
        f"after the failed save the folder holds {case['files']}; the temporary file should "
        "be removed"
    )


@pytest.mark.item("lab04.atomic-write")
def test_failed_sync_is_not_a_saved_state(observe):
    case = observe("interrupted_saves")["json"]["fsync_fails"]
    assert "raised" in case, (
        "a save whose os.fsync failed returned normally: the new state is not known to be "
        "on disk, so the save has not happened (flush and fsync the temporary file, and let "
        "a failure through)"
    )
    problem = _kept_after(case, "the sync failed")
    assert not problem and case["files"] == ["tasks.json"], (
        f"JsonFileStore: {problem or 'the temporary file was left behind: ' + str(case['files'])}"
    )


@pytest.mark.item("lab04.atomic-write")
def test_write_cut_short_leaves_the_old_file(observe):
    for name in ("write_fails", "killed_mid_write"):
        case = observe("interrupted_saves")["json"][name]
        problem = _kept_after(case, f"the save's write was cut short ({case['child']})")
        assert not problem, (
            f"JsonFileStore: {problem} (writing in place truncates the file first)"
        )


@pytest.mark.item("lab04.atomic-write")
def test_the_file_replaced_was_in_the_folder_and_synced(observe):
    seen = observe("save_steps")
    assert "raised" not in seen, (
        f"JsonFileStore: saving three tasks raised {raised_type(seen)}: "
        f"{seen['raised']['message'][:200]}"
    )
    onto = [r for r in seen["renames"] if r["onto_the_store"]]
    assert len(onto) == seen["saves"], (
        f"JsonFileStore: {seen['saves']} saves renamed a file over the store file "
        f"{len(onto)} time(s); expected once per save (os.replace of the temporary file)"
    )
    elsewhere = sum(not r["from_the_folder"] for r in onto)
    assert not elsewhere, (
        f"JsonFileStore: {elsewhere} of {len(onto)} saves renamed a file from another folder "
        "over the store file; write the temporary file in the store file's own folder (a "
        "rename is atomic only within one file system, and the folder is the one sure to be "
        "on it)"
    )
    unsynced = sum(not r["synced_whole"] for r in onto)
    assert not unsynced, (
        f"JsonFileStore: {unsynced} of {len(onto)} saves renamed the temporary file before "
        "every byte of it had been synced: flush it, then os.fsync it, then os.replace "
        "(an fsync before the flush syncs a file whose content is still in Python's buffer)"
    )


# -- lab04.corruption-detected ---------------------------------------------------------------


@pytest.mark.item("lab04.corruption-detected")
def test_corrupted_file_is_a_clear_error(observe):
    problems = _corruption_problems(observe("corrupted_files")["json"])
    assert not problems, "JsonFileStore on a corrupted file: " + "; ".join(problems[:3])


# -- lab04.resume-completed-noop -------------------------------------------------------------


@pytest.mark.item("lab04.resume-completed-noop")
def test_resuming_a_completed_task_does_nothing(observe):
    seen = observe("resume_completed")
    assert seen.get("returned") == "web 2.4.1 went live at 09:06", (
        f"resuming a completed task: {raised_type(seen)}; expected its stored result"
    )
    assert not seen["turns"] and seen["tool_runs"] == 0 and seen["saves"] == 0, (
        f"resuming a completed task sent {len(seen['turns'])} LLM request(s), ran "
        f"{seen['tool_runs']} tool(s) and saved {seen['saves']} time(s); expected none"
    )


@pytest.mark.item("lab04.resume-completed-noop")
def test_resuming_an_unknown_task_raises_task_not_found(observe):
    seen = observe("resume_unknown")
    raised = seen.get("raised") or {}
    assert raised.get("is_task_not_found"), (
        f"resuming a task id that was never saved: {raised_type(seen)}"
        + (f" ({raised['message'][:120]!r})" if raised else "")
        + "; expected lab 02's TaskNotFound, before anything else"
    )
    assert not seen["turns"] and seen["tool_runs"] == 0 and seen["saves"] == 0, (
        f"resuming an unknown task sent {len(seen['turns'])} LLM request(s), ran "
        f"{seen['tool_runs']} tool(s) and saved {seen['saves']} time(s); expected none"
    )


# -- lab04.resume-failed-retries --------------------------------------------------------------


@pytest.mark.item("lab04.resume-failed-retries")
def test_failed_task_is_reset_and_run_again(observe):
    seen = observe("resume_failed")
    history = seen["history"]
    assert history and history[0] == ["pending", None], (
        f"resuming a failed task: the first save was {history[0] if history else 'missing'}; "
        "expected the reset, saved: ['pending', None] (state pending, error cleared)"
    )
    assert history[-1] == ["completed", None] and seen.get("returned") == ANSWER, (
        f"after the reset the task ended {history[-1]} and resume returned "
        f"{raised_type(seen)}; expected it run to completion"
    )
    assert seen["turns"] and seen["side_effects"] == ONE_DEPLOY, (
        f"the run after the reset asked the model {len(seen['turns'])} time(s) and made the "
        f"side effects {seen['side_effects']}"
    )
    assert seen["saves"][0]["stamped_now"], (
        "resuming a failed task: the reset was saved with an old updated_at; every save sets "
        "updated_at to now()"
    )


def _expected_error(raised):
    """The ``error`` a task failed by ``raised`` is saved with: "<ExceptionType>: <message>"."""
    return f"{raised['type'].rsplit('.', 1)[-1]}: {raised['message']}"


@pytest.mark.item("lab04.resume-failed-retries")
def test_a_run_that_raises_is_saved_failed_then_retried(observe):
    seen = observe("resume_breaks")
    first, then = seen["first"], seen["then"]
    where = "a run whose build_config tool raised ToolFailure"
    assert first.get("raised", {}).get("type", "").endswith(".ToolFailure"), (
        f"{where}: resume {raised_type(first)}; expected the ToolFailure re-raised"
    )
    last = first["saves"][-1] if first["saves"] else {}
    expected = _expected_error(first["raised"])
    assert last.get("state") == "failed" and last.get("error") == expected, (
        f"{where}: the last save was state {last.get('state')!r}, error {last.get('error')!r}; "
        f"expected the task saved failed with error {expected!r}"
    )
    before, after = first["last_two_messages"]
    assert after == before and last["stamped_now"], (
        f"{where}: the failed save "
        + ("changed the conversation" if after != before else "kept an old updated_at")
        + "; expected the conversation kept and updated_at set to now()"
    )
    assert then.get("returned") == ANSWER and then["final_state"] == "completed", (
        f"{where}, resumed: {raised_type(then)}, the task ended {then['final_state']!r}; "
        "expected it reset and run to completion"
    )


# -- lab04.resume-continues --------------------------------------------------------------------


EACH_TOOL_ONCE = {"apply_deploy": 1, "build_config": 1, "check_status": 1, "verify": 1}


@pytest.mark.item("lab04.resume-continues")
def test_uninterrupted_run(observe):
    whole = observe("resume_after_interruption")["whole"]
    assert whole.get("returned") == ANSWER and whole["turns"] == [0, 1, 2, 3, 4], (
        f"an uninterrupted deploy: {raised_type(whole)} after turns {whole['turns']}"
    )
    assert whole["tool_runs"] == EACH_TOOL_ONCE, (
        f"an uninterrupted deploy ran the tools {whole['tool_runs']}; expected each tool the "
        f"model asked for once, {EACH_TOOL_ONCE}"
    )


@pytest.mark.item("lab04.resume-continues")
def test_every_request_offers_the_tools(observe):
    whole = observe("resume_after_interruption")["whole"]
    wrong = [n for n, request in enumerate(whole["offered"], 1) if not request["as_given"]]
    assert whole["offered"] and not wrong, (
        f"an uninterrupted deploy: request {wrong[0] if wrong else 1} offered the tools "
        f"{whole['offered'][wrong[0] - 1]['tools'] if wrong else 'none'}; expected "
        "tools=list(TOOL_SCHEMAS) in every request"
    )


@pytest.mark.item("lab04.resume-continues")
def test_every_step_is_saved_running_and_stamped(observe):
    saves = observe("resume_after_interruption")["whole"]["saves"]
    states = [save["state"] for save in saves]
    assert states and set(states[:-1]) == {"running"} and states[-1] == "completed", (
        f"an uninterrupted deploy saved the states {states}; expected running at every "
        "step, then completed"
    )
    stale = [n for n, save in enumerate(saves, 1) if not save["stamped_now"]]
    assert not stale, (
        f"an uninterrupted deploy: save {stale[0]} of {len(saves)} kept an old updated_at; "
        "every save sets updated_at to now()"
    )


@pytest.mark.item("lab04.resume-continues")
def test_max_turns_counts_the_saved_turns(observe):
    seen = observe("resume_runaway")
    default, three = seen["default"], seen["three"]
    where = "a model that never answers, resumed with the default max_turns (20)"
    assert len(default["turns"]) == 20 and raised_type(default).endswith("RuntimeError"), (
        f"{where}: {len(default['turns'])} LLM request(s), then {raised_type(default)}; "
        "expected 20, then RuntimeError"
    )
    where = "a task with 2 turns saved, resumed with max_turns=3"
    assert three["turns"] == [2] and raised_type(three).endswith("RuntimeError"), (
        f"{where}: it asked for turns {[t + 1 for t in three['turns']]}, then "
        f"{raised_type(three)}; expected turn 3 only (the saved turns count), then RuntimeError"
    )


@pytest.mark.item("lab04.resume-continues")
def test_a_reply_cut_off_between_its_tool_calls(observe):
    seen = observe("resume_partly_answered")
    where = ("resuming a reply with two tool calls, cut off after the first one's tool reply "
             "was saved")
    assert seen["tool_runs"] == {"verify": 1}, (
        f"{where}: the tools ran {seen['tool_runs']}; expected the second call (verify) once, "
        "and the first not again"
    )
    assert seen["replies_sent"][:1] == [["call_a", "call_b"]], (
        f"{where}: the next request carried tool replies to "
        f"{seen['replies_sent'][0] if seen['replies_sent'] else 'no request'}; expected "
        "['call_a', 'call_b']"
    )
    assert seen.get("returned") == "web 2.4.1 is running and healthy", (
        f"{where}: resume {raised_type(seen)}"
    )


@pytest.mark.item("lab04.resume-continues")
def test_interrupted_run_resumes_at_its_step(observe):
    seen = observe("resume_after_interruption")
    whole = seen["whole"]
    for cut in seen["cut"]:
        k = cut["at"]
        where = f"cut off as the reply to turn {k} arrived, then resumed"
        assert cut["first"]["crashed"], f"{where}: the crash did not end the first run"
        then = cut["then"]
        assert then.get("returned") == whole.get("returned"), (
            f"{where}: resume {raised_type(then)}; an uninterrupted run answered "
            f"{whole.get('returned')!r}"
        )
        resumed_from = then["turns"][0] if then["turns"] else None
        assert then["turns"] == list(range(k - 1, 5)), (
            f"{where}: the resumed run asked for turns {[t + 1 for t in then['turns']]}; "
            f"expected {list(range(k, 6))}"
            + (f" (the turns before {k} were saved)" if k > 1 else "")
            + ("; it started over" if resumed_from == 0 and k > 1 else "")
        )
        assert cut["tool_runs"] == whole["tool_runs"], (
            f"{where}: the tools ran {cut['tool_runs']} in all; an uninterrupted run ran "
            f"{whole['tool_runs']} (a finished tool ran again)"
        )
        assert cut["messages"] == whole["messages"] and cut["state"] == "completed", (
            f"{where}: the saved conversation or state differs from an uninterrupted run's"
        )


# -- lab04.sqlite-store ------------------------------------------------------------------------


@pytest.mark.item("lab04.sqlite-store")
def test_sqlite_store_reads_back_every_field(observe):
    problems = _round_trip_problems(observe("round_trip")["sqlite"])
    assert not problems, (
        "SqliteStore: tasks saved, read by a fresh store on the same path: "
        + "; ".join(problems[:3])
    )


@pytest.mark.item("lab04.sqlite-store")
def test_sqlite_store_compare_and_set(observe):
    problems = _compare_and_set_problems(observe("compare_and_set")["sqlite"])
    assert not problems, f"SqliteStore: {problems[0]}"


@pytest.mark.item("lab04.sqlite-store")
def test_sqlite_store_is_in_wal_mode_and_closes_every_connection(observe):
    seen = observe("sqlite_close")
    assert not seen["threads_hung"] and not seen["errors"], (
        "SqliteStore used from two threads: "
        + ("they did not finish within 8 s" if seen["threads_hung"] else
           f"{seen['errors'][0]['type']}: {seen['errors'][0]['message'][:200]}")
    )
    assert seen["journal_mode"] == "wal", (
        f"SqliteStore: the database is in journal mode {seen['journal_mode']!r}; expected "
        "'wal' (PRAGMA journal_mode = WAL on each connection)"
    )
    assert "raised" not in seen["close"], (
        f"SqliteStore.close() raised {seen['close']['raised']['type']}: "
        f"{seen['close']['raised']['message'][:200]}"
    )
    assert not seen["open_after"], (
        f"SqliteStore used from this thread and two others, then closed: "
        f"{seen['open_after']} file(s) of the database still open (of {seen['open_before']} "
        "before close); close() closes every connection the store opened, in any thread, "
        "without waiting for the garbage collector"
    )


@pytest.mark.item("lab04.sqlite-store")
def test_sqlite_store_survives_cut_short_writes(observe):
    for name in ("write_fails", "killed_mid_write"):
        case = observe("interrupted_saves")["sqlite"][name]
        problem = _kept_after(case, f"a write was cut short ({case['child']})")
        assert not problem, f"SqliteStore: {problem}"


@pytest.mark.item("lab04.sqlite-store")
def test_sqlite_store_detects_corruption(observe):
    problems = _corruption_problems(observe("corrupted_files")["sqlite"])
    assert not problems, "SqliteStore on a corrupted file: " + "; ".join(problems[:3])


@pytest.mark.item("lab04.sqlite-store")
def test_sqlite_store_loses_no_concurrent_update(observe):
    seen = observe("sqlite_threads")
    assert not seen["writers_hung"] and not seen["claimers_hung"], (
        "threads writing to one SqliteStore did not finish within 8 s (a lock never released?)"
    )
    assert not seen["errors"], (
        f"threads writing at once raised {seen['errors'][0]['type']}: "
        f"{seen['errors'][0]['message'][:200]}"
    )
    assert seen["writers"] == [20] * 8, (
        f"8 threads each saving their task 20 times: a fresh store read back "
        f"{seen['writers']} messages per task; expected the last save of each, 20"
    )
    assert seen["claims_won"] == 1 and seen["shared_state"] == "running", (
        f"8 threads claiming one pending task with compare_and_set: {seen['claims_won']} "
        "won; expected exactly 1"
    )


@pytest.mark.item("lab04.sqlite-store")
def test_sqlite_store_under_kill_nine(observe):
    problems = _kill_problems(observe("kill_nine_sqlite"))
    assert not problems, "SqliteStore: " + problems[0]


# -- lab04.kill-9-resume -----------------------------------------------------------------------


def _kill_problems(seen):
    whole = seen["whole"]
    problems = []
    if whole["lives"] != ["exited with status 0"] or _final_state(whole) != ("completed", ANSWER):
        return [f"the deploy without a kill: {whole['lives'][0]}, ended "
                f"{_final_state(whole)}; expected completed with {ANSWER!r}"]
    for trial in seen["killed"]:
        where = f"killed with SIGKILL at event {trial['at']} of {len(seen['killed'])}"
        first, *rest = trial["lives"]
        if first != "killed by SIGKILL":
            problems.append(f"{where}: the first process {first}, instead of being killed")
        elif rest != ["exited with status 0"]:
            problems.append(f"{where}: the resuming process {rest[0] if rest else 'never ran'}")
        elif trial["deployed"] != ["web@2.4.1"] or trial["side_effects"] != ONE_DEPLOY:
            problems.append(
                f"{where}: the world saw deploys {trial['deployed']} and side effects "
                f"{trial['side_effects']}; expected each exactly once"
            )
        elif _final_state(trial) != ("completed", ANSWER):
            problems.append(f"{where}: the task ended {_final_state(trial)}")
    return problems


def _final_state(trial):
    final = trial["final"].get("returned") or {}
    fields = final.get("fields") or {}
    return fields.get("state"), fields.get("result")


@pytest.mark.item("lab04.kill-9-resume")
def test_every_side_effect_once_whatever_the_kill(observe):
    seen = observe("kill_nine_json")
    problems = _kill_problems(seen)
    assert not problems, (
        f"the deploy in a real process, killed at each of its {len(seen['killed'])} events "
        f"and resumed in a fresh one: {problems[0]}"
        + (f" (and {len(problems) - 1} more)" if len(problems) > 1 else "")
    )
