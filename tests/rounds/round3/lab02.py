"""Round 3 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_WORK_TYPE = "Work = Callable[[Task], str]\n"
_STATE_CHECKS = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
    if task.state is TaskState.RUNNING:
        raise TaskInProgress(task_id)
"""
_RUN_ONCE_BODY = """\
    claim = KeyRecord(key=key, params=params)
    existing = keys.put_if_absent(claim)
    if existing is not None:
        if existing.params != params:
            raise IdempotencyConflict(key, existing.params, params)
        if not existing.done:
            raise KeyInProgress(key)
        return existing.result or ""
    try:
        result = action()
    except BaseException:
        keys.delete(key)
        raise
    keys.put(replace(claim, done=True, result=result))
    return result
"""
_EXECUTOR_RUN = """\
        return run_once(
            self.keys, key, f"{name}{params}", lambda: self.tools.execute(name, arguments)
        )
"""
_EXECUTOR_INIT = """\
        self.keys = keys
        self.task_id = task_id
"""
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_MATERIAL = "    material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    _m(
        "new-task-updated-at-unset",
        {"lab02.task-lifecycle"},
        "reads Task's docstring, 'updated_at is the time of the last state change', and "
        "decides that a task just created has not changed yet, so it sets created_at from "
        "now() and leaves updated_at at the dataclass default: the pending version is saved "
        "with updated_at 0.0 (1970) instead of now(); running, completed and failed are "
        "stamped correctly afterwards",
        ("id=f\"task-{uuid.uuid4().hex}\", user_input=user_input, created_at=created, "
         "updated_at=created\n",
         "id=f\"task-{uuid.uuid4().hex}\", user_input=user_input, created_at=created\n"),
    ),
    _m(
        "id-from-a-process-counter",
        {"lab02.task-lifecycle"},
        "knows not to build ids from the frozen clock and, finding uuid4 ids ugly in the "
        "notebook's history, numbers tasks with a module-level itertools.count: ids are "
        "unique within one process, even in one frozen instant, but the counter starts at 1 "
        "again in every new process (or fresh import of the module), so a task created "
        "after a restart gets 'task-1' again and overwrites the old task in a store that "
        "outlived the process (and would inherit its idempotency keys)",
        ("import hashlib\n", "import hashlib\nimport itertools\n"),
        (_WORK_TYPE,
         _WORK_TYPE + "\n#: task-1, task-2, ...: short ids, and never two alike\n"
         "_task_numbers = itertools.count(1)\n"),
        ('id=f"task-{uuid.uuid4().hex}"', 'id=f"task-{next(_task_numbers)}"'),
    ),
    _m(
        "error-formatted-by-traceback",
        {"lab02.task-lifecycle"},
        "lets the standard library write 'Type: message' with "
        "traceback.format_exception_only instead of an f-string: for a built-in exception "
        "(ValueError, TimeoutError) the text is exactly '<ExceptionType>: <message>', but "
        "for an exception defined in a module it is module-qualified, so a ToolFailure is "
        "recorded as 'labs.kit.devops.ToolFailure: db-2 is read-only'",
        ("import json\n", "import json\nimport traceback\n"),
        ('error=f"{type(error).__name__}: {error}",',
         'error="".join(traceback.format_exception_only(error)).strip(),'),
    ),
    _m(
        "work-timed-with-perf-counter",
        {"lab02.task-lifecycle"},
        "stamps the end of the work as the claim's now() plus how long the work took, timed "
        "with time.perf_counter() 'because a duration should come from a monotonic clock': "
        "under a plain freezegun clock perf_counter moves with the frozen time and the "
        "stamps agree with now(), but with a clock of its own (a detached clock, or any "
        "now function) the process's perf_counter does not move, so the completed or "
        "failed version keeps the claim's time instead of now() after the work",
        ("    try:\n        result = work(running)\n",
         "    started = time.perf_counter()\n    try:\n        result = work(running)\n"),
        ("            updated_at=now(),\n        )\n        store.save(failed)",
         "            updated_at=running.updated_at + (time.perf_counter() - started),\n"
         "        )\n        store.save(failed)"),
        ("store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))",
         "finished = running.updated_at + (time.perf_counter() - started)\n"
         "    store.save(replace(running, state=TaskState.COMPLETED, result=result, "
         "updated_at=finished))"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    _m(
        "completed-reported-in-progress",
        {"lab02.completed-not-rerun"},
        "folds the state checks into one, 'only pending or failed may be claimed, anything "
        "else belongs to someone else': a running task raises TaskInProgress as it should, "
        "but so does a completed one, so executing a finished task again raises "
        "TaskInProgress instead of returning its stored result (the work is not run, and a "
        "racer that loses the claim still gets the result)",
        (_STATE_CHECKS,
         "    if task.state not in (TaskState.PENDING, TaskState.FAILED):\n"
         "        # only pending or failed tasks may be claimed; the rest belong to someone else\n"
         "        raise TaskInProgress(task_id)\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "unknown-id-is-nothing-to-do",
        {"lab02.unknown-task-error"},
        "reasons that execute_task is idempotent, so a task that is not in the store has "
        "nothing to do, like a completed one with an empty result: an unknown id returns '' "
        "quietly (nothing runs, nothing is saved) instead of raising TaskNotFound, and the "
        "caller's typo in the id passes for success",
        ("        raise TaskNotFound(task_id)",
         "        return \"\"  # nothing stored under this id: nothing to do"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    _m(
        "no-arguments-call-skips-the-keys",
        {"lab02.tool-calls-deduplicated"},
        "wrote the executor before canonical_arguments handled '', got a JSONDecodeError "
        "for clean_logs, and as a quick fix sent calls with empty arguments straight to the "
        "tool: a side effect asked with arguments, or with '{}', is deduplicated, but "
        "clean_logs asked twice with '' (how models often send a tool without parameters) "
        "cleans twice, and the two replies differ",
        ("        if name not in SIDE_EFFECTS:",
         "        if name not in SIDE_EFFECTS or not arguments.strip():"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "null-arguments-dropped",
        {"lab02.key-is-deterministic"},
        "has seen models write an optional parameter as null as often as they leave it out, "
        "and decides both mean 'not given', so canonical_arguments drops top-level null "
        "values: {\"service\":\"api\",\"reason\":null} and {\"service\":\"api\"} become "
        "one text and one key, although only key order is free and the two are other "
        "arguments",
        (_CANONICAL_VALUE,
         _CANONICAL_VALUE
         + "    # null is how a model says 'not given': the same as leaving the key out\n"
           "    value = {name: item for name, item in value.items() if item is not None}\n"),
    ),
    _m(
        "canonical-memoised-with-lru-cache",
        {"lab02.key-is-deterministic"},
        "notices that the agent canonicalises the same few argument texts over and over and "
        "puts functools.lru_cache on canonical_arguments: every JSON text still works (the "
        "executor only ever passes text), but arguments given as a mapping, which the "
        "contract allows, are unhashable, so canonical_arguments and idempotency_key raise "
        "TypeError for them instead of returning the key of the same call",
        ("import hashlib\n", "import functools\nimport hashlib\n"),
        ("def canonical_arguments(arguments: str | Mapping[str, Any]) -> str:\n",
         "@functools.lru_cache(maxsize=4096)\n"
         "def canonical_arguments(arguments: str | Mapping[str, Any]) -> str:\n"),
    ),
    _m(
        "key-case-folded",
        {"lab02.key-is-deterministic"},
        "reads that the Idempotency-Key header is case-insensitive and that models write "
        "names in any case, so lower-cases the key's material before hashing 'to be "
        "safe': a call is still found again, but arguments that differ only in case "
        "(version 'RC1' and 'rc1', a path '/var/Log' and '/var/log') or tasks whose ids "
        "differ only in case share one key, though every character of a string is part of "
        "the arguments",
        (_MATERIAL, _MATERIAL.replace(")])\n", ")]).lower()\n")),
    ),
    # -- lab02.params-mismatch-conflict (+ concurrent-once) -----------------------------------
    _m(
        "one-try-around-run-once",
        {"lab02.params-mismatch-conflict", "lab02.concurrent-once"},
        "puts the whole of run_once in one try block whose except releases the key and "
        "re-raises, 'so that no error path can leave a key behind': a failed action is "
        "released as it should be, but so is the key of every caller that is turned away: "
        "a conflict deletes the first call's finished record, so whatever call comes next "
        "under the key runs (a repeat of the first call runs its action again; new params "
        "run and take the key), and "
        "an executor that gets KeyInProgress deletes the live claim of the one that is "
        "running, so a third caller (or the loser trying again, as the error invites it "
        "to) runs the work a second time",
        (_RUN_ONCE_BODY,
         "    claim = KeyRecord(key=key, params=params)\n"
         "    try:\n"
         "        existing = keys.put_if_absent(claim)\n"
         "        if existing is not None:\n"
         "            if existing.params != params:\n"
         "                raise IdempotencyConflict(key, existing.params, params)\n"
         "            if not existing.done:\n"
         "                raise KeyInProgress(key)\n"
         "            return existing.result or \"\"\n"
         "        result = action()\n"
         "        keys.put(replace(claim, done=True, result=result))\n"
         "        return result\n"
         "    except BaseException:\n"
         "        keys.delete(key)  # never leave a key behind on an error\n"
         "        raise\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "failure-remembered-by-the-executor",
        {"lab02.failure-not-cached"},
        "run_once releases a failed key as it should, but the executor adds a small circuit "
        "breaker, 'the model keeps asking for a tool that just failed; do not hit the broken "
        "server again in this task': it remembers the error of each key that failed and "
        "re-raises it for every later call with that key, so through IdempotentTools a "
        "failed clean_logs is never tried again (run_once alone behaves)",
        (_EXECUTOR_INIT,
         _EXECUTOR_INIT
         + "        self.failed: dict[str, Exception] = {}  # key -> the error it failed with\n"),
        (_EXECUTOR_RUN,
         "        if key in self.failed:\n"
         "            raise self.failed[key]  # it just failed: do not hit the server again\n"
         "        try:\n"
         "            return run_once(\n"
         "                self.keys, key, f\"{name}{params}\",\n"
         "                lambda: self.tools.execute(name, arguments),\n"
         "            )\n"
         "        except (KeyInProgress, IdempotencyConflict):\n"
         "            raise\n"
         "        except Exception as error:\n"
         "            self.failed[key] = error\n"
         "            raise\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "in-flight-repeat-called-conflict",
        {"lab02.concurrent-once"},
        "follows the IETF Idempotency-Key draft's status codes too literally: a repeat that "
        "arrives while the first request is still being processed gets 409 Conflict there, "
        "so run_once raises IdempotencyConflict for it; a mismatch of params is still a "
        "conflict and a finished key still returns its result, but the racer that loses a "
        "key with the same params gets a conflict error instead of KeyInProgress",
        ("        if not existing.done:\n            raise KeyInProgress(key)\n",
         "        if not existing.done:\n"
         "            # the draft answers 409 Conflict to a request still being processed\n"
         "            raise IdempotencyConflict(key, existing.params, params)\n"),
    ),
    _m(
        "running-lease-takeover",
        {"lab02.concurrent-once"},
        "thinking of the reboot at minute 8, gives a running task a five-minute lease: a "
        "task found running for less than that raises TaskInProgress, one found running for "
        "longer is taken to be an orphan of a crashed executor and claimed again "
        "(compare_and_set from running); quick work is unaffected, but a second executor "
        "that arrives while a long deploy (10 minutes on the frozen clock) is still running "
        "claims it and runs the work a second time",
        (_WORK_TYPE,
         _WORK_TYPE + "\n#: A task running longer than this was left behind by a crashed executor.\n"
         "_RUNNING_LEASE = 5 * 60.0\n"),
        ("    if task.state is TaskState.RUNNING:\n        raise TaskInProgress(task_id)\n",
         "    if task.state is TaskState.RUNNING and now() - task.updated_at < _RUNNING_LEASE:\n"
         "        raise TaskInProgress(task_id)\n"),
    ),
    _m(
        "in-progress-falls-back-to-running",
        {"lab02.concurrent-once"},
        "does not want the agent loop to crash on KeyInProgress ('someone else holds the "
        "key; the model still needs an answer'), so the executor catches it and runs the "
        "tool directly: sequential repeats are answered from the key store as before, but "
        "two executors of one task (an agent restarted while the old one is still "
        "deploying) that ask for the same call at the same moment both run it",
        (_EXECUTOR_RUN,
         "        try:\n"
         "            return run_once(\n"
         "                self.keys, key, f\"{name}{params}\",\n"
         "                lambda: self.tools.execute(name, arguments),\n"
         "            )\n"
         "        except KeyInProgress:\n"
         "            # someone else holds the key: do not leave the model without an answer\n"
         "            return self.tools.execute(name, arguments)\n"),
    ),
)
