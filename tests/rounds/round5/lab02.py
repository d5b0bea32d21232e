"""Round 5 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_LOOKUP = """\
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
"""
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_CLAIM_LINE = "    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n"
_LOST_CLAIM_RESULT = """\
        if current is not None and current.state is TaskState.COMPLETED:
            return _result(current)
"""
_FAILED_ERROR = 'error=f"{type(error).__name__}: {error}",'
_COMPLETED_SAVE = (
    "    store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))\n"
)
_CANONICAL_DUMP = (
    '    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)\n'
)
_MATERIAL = "    material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])\n"
_CONFLICT_CHECK = """\
        if existing.params != params:
            raise IdempotencyConflict(key, existing.params, params)
"""
_DONE_CHECK = """\
        if not existing.done:
            raise KeyInProgress(key)
        return existing.result or ""
"""
_ACTION = """\
    try:
        result = action()
    except BaseException:
        keys.delete(key)
        raise
"""
_EXECUTOR_PARAMS = "        params = canonical_arguments(arguments)\n"
_EXECUTOR_RUN = """\
        return run_once(
            self.keys, key, f"{name}{params}", lambda: self.tools.execute(name, arguments)
        )
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    _m(
        "error-is-just-the-message",
        {"lab02.task-lifecycle"},
        "translates the seed's 'task.Error = err.Error()' word for word as str(error): the "
        "failed task is saved failed, stamped and re-raised as it should be, but its error "
        "reads 'db-2 is read-only' instead of 'ToolFailure: db-2 is read-only', so nobody "
        "can tell from the store what kind of failure it was",
        ('            running, state=TaskState.FAILED, ' + _FAILED_ERROR + "\n",
         "            running, state=TaskState.FAILED, error=str(error),  # Go's err.Error()\n"),
    ),
    _m(
        "claim-not-stamped",
        {"lab02.task-lifecycle"},
        "thinks of updated_at as 'when the task last finished something', so the claim "
        "changes the state and clears the error but keeps the read task's updated_at; the "
        "completed or failed version is stamped with now() after the work as it should be, "
        "but the running version is saved with the time of the task's creation (or of its "
        "last failure), not the clock's time at the claim: invisible when the task is "
        "executed in the instant it was created, wrong as soon as the clock has moved",
        (_CLAIM_LINE,
         "    running = replace(task, state=TaskState.RUNNING, error=None)  # stamped when done\n"),
    ),
    _m(
        "empty-result-omitted",
        # completed-not-rerun is unaffected: a completed task with no stored result still
        # returns "" through _result, which is what the work had returned
        {"lab02.task-lifecycle"},
        "copies the seed's struct tag 'json:\"result,omitempty\"' into Python as "
        "'result or None', so an empty result is not written: a work that returns text is "
        "recorded as it should be, but a work that returns \"\" leaves a completed task "
        "whose recorded result is None, not the \"\" the work returned (the caller of that "
        "first run still gets \"\")",
        (_COMPLETED_SAVE,
         "    # the seed's `json:\"result,omitempty\"`: an empty result is not written\n"
         "    store.save(replace(running, state=TaskState.COMPLETED, result=result or None,\n"
         "                       updated_at=now()))\n"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    _m(
        "completed-returns-the-task",
        {"lab02.completed-not-rerun"},
        "on a replay, hands back the stored task itself, 'the caller can read .result, and "
        "the state and the timestamps too': nothing runs and nothing is saved, but "
        "executing a completed task again returns a Task object instead of its stored "
        "result text, while the first run returned the text",
        (_COMPLETED_CHECK,
         "    if task.state is TaskState.COMPLETED:\n"
         "        return task  # the whole record: its result, its state and when it finished\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "unknown-id-left-to-the-claim",
        {"lab02.unknown-task-error"},
        "gets rid of mypy's Optional with 'store.get(task_id) or Task(id=task_id, ...)' and "
        "leaves unknown ids to compare_and_set, which refuses a task that is not stored: "
        "nothing runs and nothing is saved for an unknown id, but the lost-claim branch then "
        "finds no completed task and raises TaskInProgress, telling the caller that someone "
        "is running a task that does not exist instead of raising TaskNotFound",
        (_LOOKUP,
         "    # an id that is not stored can never be claimed: compare_and_set refuses it below\n"
         "    task = store.get(task_id) or Task(id=task_id, user_input=\"\")\n"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    _m(
        "executor-parses-arguments-first",
        {"lab02.tool-calls-deduplicated"},
        "parses the model's argument text once in the executor with json.loads and hands the "
        "mapping to canonical_arguments ('it takes a mapping too, why parse twice'): every "
        "call with JSON arguments is keyed and deduplicated as before, but a side-effecting "
        "call without arguments sent as \"\" (clean_logs, as models often send it) raises "
        "JSONDecodeError out of the executor instead of running once and being answered "
        "from the key store the second time",
        (_EXECUTOR_PARAMS,
         "        call = json.loads(arguments)  # parse the model's text once, use the mapping\n"
         "        params = canonical_arguments(call)\n"),
    ),
    _m(
        "finished-key-known-by-its-result",
        {"lab02.tool-calls-deduplicated"},
        "decides a key is finished when a result is stored, not by its done flag ('the "
        "result is written once the action has finished'): a repeat of a call whose reply "
        "was text gets that reply, but a finished call that returned \"\" is taken for one "
        "still running, so every repeat under its key raises KeyInProgress instead of "
        "getting the stored (empty) result",
        (_DONE_CHECK,
         "        if existing.result:\n"
         "            return existing.result  # the result is there once the action has finished\n"
         "        raise KeyInProgress(key)\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "keys-sorted-at-top-level-only",
        {"lab02.key-is-deterministic"},
        "sorts the arguments' keys by hand with dict(sorted(value.items())) before dumping "
        "them compactly, instead of json.dumps(sort_keys=True): flat arguments (every tool "
        "of the kit) get one text whatever their order and spacing, but a nested object "
        "keeps the order the model wrote its keys in, so {\"a\": {\"x\": 3, \"y\": 2}} and "
        "{\"a\": {\"y\": 2, \"x\": 3}} give two texts and two keys",
        (_CANONICAL_DUMP,
         "    ordered = dict(sorted(value.items()))  # the keys in order, whatever the model wrote\n"
         '    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)\n'),
    ),
    _m(
        "key-parts-joined-with-colons",
        {"lab02.key-is-deterministic"},
        "joins the three parts with ':' before hashing, the way cache keys and Redis names "
        "are written ('task:tool:args'), thinking a separator keeps them apart: it does for "
        "ordinary ids, but a part that contains ':' runs into the next, so task 'deploy:a' "
        "with tool 'b' and task 'deploy' with tool 'a:b' (same arguments) get one key",
        (_MATERIAL,
         '    material = ":".join([task_id, tool_name, canonical_arguments(arguments)])\n'),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    _m(
        "empty-given-params-skip-the-check",
        {"lab02.params-mismatch-conflict"},
        "treats a caller that sends no params (\"\") as one that only wants to look the key "
        "up, and compares only when params were given: a key reused with other non-empty "
        "params is a conflict, but a key first used with real params and reused with \"\" "
        "silently returns the old result, though an empty text is params too",
        (_CONFLICT_CHECK,
         "        if params and existing.params != params:  # no params given: a look-up\n"
         "            raise IdempotencyConflict(key, existing.params, params)\n"),
    ),
    _m(
        "conflict-arguments-swapped",
        # the conflict is raised where it should be and nothing runs; what is wrong is the
        # error itself, which is params-mismatch-conflict's alone
        {"lab02.params-mismatch-conflict"},
        "passes the new params first to IdempotencyConflict ('what was asked, then what was "
        "there'), against its (key, stored, given) signature: the mismatch is refused and "
        "nothing runs, but the error says the key was first used with the new parameters, "
        "not with the ones it was really first used with",
        (_CONFLICT_CHECK,
         "        if existing.params != params:\n"
         "            raise IdempotencyConflict(key, params, existing.params)\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "failure-wrapped-after-release",
        {"lab02.failure-not-cached"},
        "releases the key when the action fails, as the contract says, and then raises its "
        "own RuntimeError (chained from the original) 'so the caller knows which key "
        "failed': a later call under the key runs again, but the failure the action raised "
        "(ToolFailure, ConnectionError) is no longer the one the caller sees, though run_once "
        "must re-raise it",
        (_ACTION,
         "    try:\n"
         "        result = action()\n"
         "    except Exception as error:\n"
         "        keys.delete(key)  # not stored: a later call runs it again\n"
         "        raise RuntimeError(f\"the operation under idempotency key {key} failed\") "
         "from error\n"
         "    except BaseException:\n"
         "        keys.delete(key)\n"
         "        raise\n"),
    ),
    _m(
        "timeout-kept-as-maybe-done",
        {"lab02.failure-not-cached"},
        "reads the notebook's note that Stripe replays even a 500 'because only Stripe knows "
        "how far that attempt got' and applies it to timeouts: a TimeoutError might have "
        "gone through, so the key is stored as done (with no result) before re-raising; "
        "every other failure releases the key as it should, but after a timed-out "
        "apply_deploy every later call under its key returns \"\" without running, though "
        "a call that raised has not done its work and is never stored",
        (_ACTION,
         "    try:\n"
         "        result = action()\n"
         "    except TimeoutError:\n"
         "        # it may have gone through (Stripe replays a 500): never run it a second time\n"
         "        keys.put(replace(claim, done=True))\n"
         "        raise\n"
         "    except BaseException:\n"
         "        keys.delete(key)\n"
         "        raise\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "lost-claim-returns-stale-result",
        {"lab02.concurrent-once"},
        "when compare_and_set loses, reads the task again to see whether it has completed "
        "but returns the result of the task it read first: a winner still running gives "
        "TaskInProgress as it should, but when the winner has already completed, the loser "
        "returns the stale read's empty result (\"\") instead of the winner's result",
        (_LOST_CLAIM_RESULT,
         "        if current is not None and current.state is TaskState.COMPLETED:\n"
         "            return _result(task)\n"),
    ),
    _m(
        "executor-answers-in-progress-as-text",
        # run_once itself still raises KeyInProgress; the executor turns it into a reply, so
        # only the loser of a race through IdempotentTools is affected
        {"lab02.concurrent-once"},
        "does not want KeyInProgress to crash the agent loop, so the executor catches it and "
        "tells the model in words that the call is already running: nothing runs twice and "
        "sequential repeats get the stored reply, but the executor that loses a race for a "
        "key gets neither the result nor the 'in progress' error: its tool message is a "
        "made-up text, and the run goes on as if the call had answered",
        (_EXECUTOR_RUN,
         "        try:\n"
         "            return run_once(\n"
         "                self.keys, key, f\"{name}{params}\",\n"
         "                lambda: self.tools.execute(name, arguments),\n"
         "            )\n"
         "        except KeyInProgress:\n"
         "            # tell the model rather than crash the agent loop\n"
         "            return f\"{name} is already running for this task; not started again\"\n"),
    ),
)
