"""Round 9 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_STATE_CHECKS = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
    if task.state is TaskState.RUNNING:
        raise TaskInProgress(task_id)
"""
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_CLAIM_LINE = "    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n"
_WORK_CALL = "        result = work(running)\n"
_FAILED_STAMP = """\
            updated_at=now(),
        )
        store.save(failed)
"""
_FAILED_RAISE = """\
        store.save(failed)
        raise
"""
_NOT_FOUND = "        raise TaskNotFound(task_id)\n"
_CANONICAL_DEF = "def canonical_arguments(arguments: str | Mapping[str, Any]) -> str:\n"
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_KEY_BODY = """\
    material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
"""
_CONFLICT_CHECK = "        if existing.params != params:\n"
_ACTION_FAILURE = """\
    except BaseException:
        keys.delete(key)
        raise
"""
_EXECUTOR_INIT = """\
        self.keys = keys
        self.task_id = task_id
"""
_EXECUTOR_RUN = """\
        return run_once(
            self.keys, key, f"{name}{params}", lambda: self.tools.execute(name, arguments)
        )
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    _m(
        "task-failure-re-raised-from-none",
        # not round 7's failure-re-raised-from-none, which is run_once's re-raise (failure-
        # not-cached); this is execute_task's, whose "re-raise the exception itself" is part
        # of the task's failure path
        {"lab02.task-lifecycle"},
        "records the failed task as it should and then re-raises with 'raise error from None', "
        "the idiom for a clean traceback without 'During handling of the above exception': "
        "the caller gets the very exception object the work raised, of its type and with its "
        "message, and the failed task is saved, stamped and described exactly; but raising "
        "'from None' overwrites the exception's __cause__ with None and sets "
        "__suppress_context__, so a work that failed with an error chained from its cause "
        "(lab 01's RetryError raised from the last API error, a ToolFailure raised from the "
        "OSError under it) reaches the caller with its cause cut off, and its implicit "
        "context hidden: not the exception itself, re-raised, but one edited on the way out",
        (_FAILED_RAISE,
         "        store.save(failed)\n"
         "        raise error from None  # recorded in the task already: a clean traceback\n"),
    ),
    _m(
        "result-stripped-when-saved",
        {"lab02.task-lifecycle"},
        "has seen the model's final answer come back with a trailing newline and tidies the "
        "work's result with .strip() before saving it and returning it: every result without "
        "surrounding whitespace (the notebook's, every DevOps reply) is saved and returned "
        "exactly, and a replay returns what was stored; but a work that returns '  42\\n' or "
        "'\\n' completes with the result '42' or '' recorded and returned, not the text the "
        "work returned, so the store no longer tells what the work answered",
        (_WORK_CALL,
         "        result = work(running).strip()  # the model's answer ends with a newline\n"),
    ),
    _m(
        "failed-not-restamped",
        # not round 1's failed-stamped-by-wall-clock (time.time() in the same place, wrong at
        # any clock): here the failed version keeps the claim's stamp, wrong only when the
        # clock has moved during the work
        {"lab02.task-lifecycle"},
        "thinks the claim was stamped a moment ago and that a failure is instant, so the "
        "except branch saves the failed version without a fresh now(), keeping the running "
        "version's updated_at: with a clock that stands still during the work (the "
        "notebook's failing demo, any work that fails at once) the stamp is right, and the "
        "completed path is stamped after the work as it should be; but a work that fails "
        "after the clock has moved (a tool with a duration on the frozen clock, a model that "
        "thinks before it fails, a deploy that times out after 180 s) leaves a failed task "
        "whose updated_at is the time of the claim, not now() after the work",
        (_FAILED_STAMP, "        )\n        store.save(failed)\n"),
    ),
    _m(
        "created-at-filled-in-when-zero",
        {"lab02.task-lifecycle"},
        "migrates old records lazily: a task saved without timestamps carries Task's default "
        "created_at of 0.0 (1 January 1970), so the claim fills it in with the claim's time, "
        "'created_at or now()': every task made by create_task, whose created_at is the "
        "clock's time, keeps it through the claim, the completion and a failure; but a task "
        "whose created_at is 0.0 (saved by hand with the dataclass defaults, or created by a "
        "clock that starts at the epoch) has its created_at changed at the claim, though "
        "created_at never changes",
        (_CLAIM_LINE,
         "    claimed_at = now()\n"
         "    # a task saved without timestamps (Task's default 0.0, i.e. 1970) gets one now\n"
         "    running = replace(\n"
         "        task, state=TaskState.RUNNING, error=None, updated_at=claimed_at,\n"
         "        created_at=task.created_at or claimed_at,\n"
         "    )\n"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    _m(
        "completed-confirmed-with-compare-and-set",
        # not round 1's completed-touched-on-replay (a new updated_at): the version written
        # here is the identical task, so only the extra save itself is wrong
        {"lab02.completed-not-rerun"},
        "has just learnt that a read followed by an action leaves a gap, and closes it on "
        "the replay path too: before returning a completed task's result it confirms, "
        "atomically, that the task is still completed with "
        "compare_and_set(task, expected=COMPLETED): the work does not run, the stored result "
        "('' included) is returned, and the task in the store is unchanged, state, result and "
        "timestamps; but compare_and_set writes the task it is given, so every replay saves "
        "one more (identical) version of the completed task, and the store's history shows "
        "a save for each time it was asked again, though a completed task saves nothing",
        (_COMPLETED_CHECK,
         "    if task.state is TaskState.COMPLETED:\n"
         "        # no gap between the read and the answer: confirm it is still completed\n"
         "        if store.compare_and_set(task, expected=TaskState.COMPLETED):\n"
         "            return _result(task)\n"
         "        raise TaskInProgress(task_id)\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "not-found-id-quoted",
        {"lab02.unknown-task-error"},
        "quotes the id, as Python's own KeyError does, so that an empty id or one with a "
        "trailing space shows in the message, and passes repr(task_id) to TaskNotFound: "
        "the right exception type is raised, nothing runs and nothing is saved, and the "
        "message still contains the id; but the message reads \"task not found: 'task-x'\" "
        "instead of 'task not found: task-x', and the error's task_id is \"'task-x'\", with "
        "the quotes, not the id that was asked for, so a caller that looks the missing id up "
        "again, or compares it, gets another string",
        (_NOT_FOUND,
         "        raise TaskNotFound(repr(task_id))  # quoted: '' or 'x ' shows in the message\n"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    _m(
        "replies-memoised-on-the-executor",
        # not round 2's replies-cached-on-the-class (shared by every executor of the process):
        # this memo lives on one executor and only answers that executor's own repeats
        {"lab02.tool-calls-deduplicated"},
        "adds a small memo to the executor, a dict on the instance from key to reply, to "
        "spare the key store a round trip when the model repeats a call within the task: "
        "the first call goes through run_once and is stored, a repeat in the same executor "
        "gets the same reply, and a fresh executor on the same key store finds the key store's "
        "record as it should; but a repeat on the same executor never consults the key store "
        "again, so once the key's record has changed (deleted by an operator to force the "
        "deploy again, replaced by another executor of the task) the executor still answers "
        "from its memo instead of running the call through run_once, though what an executor "
        "remembers lives in the key store only",
        (_EXECUTOR_INIT,
         "        self.keys = keys\n"
         "        self.task_id = task_id\n"
         "        self._replies: dict[str, str] = {}  # spares the key store a round trip\n"),
        (_EXECUTOR_RUN,
         "        if key in self._replies:\n"
         "            return self._replies[key]\n"
         "        reply = run_once(\n"
         "            self.keys, key, f\"{name}{params}\", lambda: self.tools.execute(name, arguments)\n"
         "        )\n"
         "        self._replies[key] = reply\n"
         "        return reply\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "key-material-encoding-errors-replaced",
        # round 8's key-material-not-escaped crashed on a lone surrogate; this is the fix a
        # student makes for that crash, and it breaks another rule: distinct calls, one key
        {"lab02.key-is-deterministic"},
        "writes the key's material readable, with ensure_ascii=False as canonical_arguments "
        "does, meets the UnicodeEncodeError a lone surrogate gives, and fixes it the common "
        "way, encode('utf-8', errors='replace'), 'a stray character from the model must "
        "never crash the key': ASCII and ordinary non-ASCII arguments (café, 日本, emoji) get "
        "one key per call in every process, and a lone surrogate no longer crashes; but every "
        "lone surrogate is encoded as '?', so '{\"note\": \"\\ud83d\"}' and '{\"note\": \"?\"}', "
        "or two different cut emoji halves, are different calls that share one key, though "
        "another argument gives another key",
        (_KEY_BODY,
         "    material = json.dumps(\n"
         "        [task_id, tool_name, canonical_arguments(arguments)], ensure_ascii=False\n"
         "    )\n"
         "    # errors='replace': a stray character from the model must never crash the key\n"
         "    return hashlib.sha256(material.encode(\"utf-8\", errors=\"replace\")).hexdigest()\n"),
    ),
    _m(
        "float-noise-rounded-away",
        {"lab02.key-is-deterministic"},
        "knows that 0.1 + 0.2 is 0.30000000000000004 and that a model may write either, so "
        "canonical_arguments rounds every float to 9 decimal places, at every depth, 'float "
        "noise is not a new call': strings, integers, booleans and every float with 9 or "
        "fewer decimals (0.5, 1.8, 99.95) come out as they should, in any key order or "
        "spacing; but floats that differ beyond the ninth decimal are different arguments "
        "made one: a learning rate of 1e-10 and one of 3e-10 both become 0.0, a threshold "
        "of 0.1234567891 and one of 0.1234567894 one text, so different calls share a key",
        (_CANONICAL_DEF,
         "def _without_float_noise(value: Any) -> Any:\n"
         "    \"\"\"0.1 + 0.2 is 0.30000000000000004: round floats, so noise is not a new call.\"\"\"\n"
         "    if isinstance(value, float):\n"
         "        return round(value, 9)\n"
         "    if isinstance(value, dict):\n"
         "        return {name: _without_float_noise(item) for name, item in value.items()}\n"
         "    if isinstance(value, list):\n"
         "        return [_without_float_noise(item) for item in value]\n"
         "    return value\n"
         "\n"
         "\n" + _CANONICAL_DEF),
        (_CANONICAL_VALUE,
         _CANONICAL_VALUE + "    value = _without_float_noise(value)\n"),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    _m(
        "params-compared-case-insensitively",
        {"lab02.params-mismatch-conflict"},
        "reads that the Idempotency-Key header is case-insensitive and that a client may "
        "spell a service 'Checkout' once and 'checkout' the next time, and compares the "
        "params with casefold(), 'the same request in another case is the same request': "
        "params that differ in anything but case are a conflict, even while the first call "
        "runs, and the very same params get KeyInProgress or the stored result; but params "
        "that differ only in case ('deploy{\"version\":\"1.8.2-RC\"}' and '...-rc', 'A' and "
        "'a', or a German 'ß' and 'ss', which casefold makes one) are taken for the same, so "
        "the key reused with the new params silently returns the first call's result",
        (_CONFLICT_CHECK,
         "        if existing.params.casefold() != params.casefold():  # 'Checkout' is checkout\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "release-only-my-claim-by-identity",
        {"lab02.failure-not-cached"},
        "copies the safe release of a Redis lock (delete the key only if it still holds my "
        "token) and, on a failure, deletes the key only when the record in the store is the "
        "claim it put there, tested with 'is': with the kit's MemoryKeyStore, which hands "
        "back the very object it was given, the claim is found and released, so a later call "
        "runs the action again and the exception is re-raised as it is; but a key store that "
        "stores its records as data and returns a copy (lab 04's file or SQLite store, any "
        "KeyStore that is not the memory one) never returns the same object, so the failed "
        "claim is never released, and every later call under the key raises KeyInProgress "
        "without running, though the key is deleted whatever the action raised",
        (_ACTION_FAILURE,
         "    except BaseException:\n"
         "        if keys.get(key) is claim:  # release my own claim only, never another's\n"
         "            keys.delete(key)\n"
         "        raise\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "running-task-answered-like-completed",
        # the loser of compare_and_set still raises TaskInProgress; what changes is the
        # answer to a task found running, which is the rule about another executor having it
        {"lab02.concurrent-once"},
        "thinks of execute_task as 'make sure it is done': a task another executor is "
        "running will be done, so there is nothing to run and nothing to raise, and it folds "
        "the running case into the completed one, returning the result stored so far: the "
        "work never runs twice, a completed task returns its result, and two executors that "
        "both read the task pending still race through compare_and_set, whose loser raises "
        "TaskInProgress as it should; but an executor that arrives once the other has "
        "claimed the task, and reads it running, returns '' as if the task had completed "
        "with an empty result, instead of raising TaskInProgress",
        (_STATE_CHECKS,
         "    if task.state in (TaskState.COMPLETED, TaskState.RUNNING):\n"
         "        return _result(task)  # done, or being done by someone else: nothing to do\n"),
    ),
)
