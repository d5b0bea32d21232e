"""Round 1 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_CLAIM = "if not store.compare_and_set(running, expected=task.state):"
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_FAILURE_PATH = """\
    except BaseException:
        keys.delete(key)
        raise
"""
_EXECUTOR_RUN = """\
        return run_once(
            self.keys, key, f"{name}{params}", lambda: self.tools.execute(name, arguments)
        )
"""
_CANONICAL = """\
    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    _m(
        "failed-stamped-by-wall-clock",
        {"lab02.task-lifecycle"},
        "uses the injected now() for the claim and the completion, but in the except branch, "
        "written later in a hurry, stamps the failure with time.time(); under a frozen clock "
        "that patches time.time it looks right, with a detached clock or a plain now "
        "function the failed version's updated_at is the process's time, not the clock's",
        ("            updated_at=now(),\n        )\n        store.save(failed)",
         "            updated_at=time.time(),\n        )\n        store.save(failed)"),
    ),
    _m(
        "error-recorded-as-repr",
        {"lab02.task-lifecycle"},
        "records the error as repr(error), which 'already shows the type and the message': "
        "the task says ToolFailure('db-2 is read-only') instead of the contract's "
        "'ToolFailure: db-2 is read-only'",
        ('error=f"{type(error).__name__}: {error}",', "error=repr(error),"),
    ),
    _m(
        "task-failure-wrapped",
        {"lab02.task-lifecycle"},
        "saves the failed task correctly, then raises its own RuntimeError (chained from the "
        "original) 'to say which task failed': callers that catch the work's own exception "
        "(ToolFailure, ConnectionError) no longer see it; the contract says re-raise the "
        "exception itself",
        ("        store.save(failed)\n        raise\n",
         "        store.save(failed)\n"
         "        raise RuntimeError(f\"task {task_id} failed: {failed.error}\") from error\n"),
    ),
    _m(
        "claim-expects-pending",
        {"lab02.task-lifecycle"},
        "writes the claim as the SQL the notebook shows, UPDATE ... WHERE state = 'pending', "
        "with expected=PENDING hard-coded: a pending task runs fine, but a failed task can "
        "never be claimed again, the compare_and_set loses to nobody and executing it "
        "raises TaskInProgress forever",
        (_CLAIM, "if not store.compare_and_set(running, expected=TaskState.PENDING):"),
    ),
    _m(
        "completed-built-from-stale-read",
        {"lab02.task-lifecycle"},
        "builds the completed version from the task as it was first read instead of from the "
        "claimed running version: on a first run they agree, but a failed task that is run "
        "again completes still carrying the old error text next to its new result",
        ("store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))",
         "store.save(replace(task, state=TaskState.COMPLETED, result=result, updated_at=now()))"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    _m(
        "done-means-has-result",
        {"lab02.completed-not-rerun"},
        "tests 'already done' by whether a result is stored (if task.result:) rather than by "
        "the state: a task whose work returned an empty string is completed but looks "
        "undone, so it is claimed again (compare_and_set from completed succeeds) and the "
        "work runs a second time",
        (_COMPLETED_CHECK, "    if task.result:\n        return task.result\n"),
    ),
    _m(
        "completed-touched-on-replay",
        {"lab02.completed-not-rerun"},
        "on a replay of a completed task, saves it again with a fresh updated_at 'so the "
        "store shows it was asked for again': the work does not run, but the contract says "
        "save nothing, and the task now claims a change that never happened",
        (_COMPLETED_CHECK,
         "    if task.state is TaskState.COMPLETED:\n"
         "        store.save(replace(task, updated_at=now()))\n"
         "        return _result(task)\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "not-found-names-the-lookup",
        {"lab02.unknown-task-error"},
        "passes the lookup's result, not the id, to TaskNotFound: the right exception type, "
        "but it says 'task not found: None' and its task_id is None, so nobody can tell "
        "which id was missing",
        ("        raise TaskNotFound(task_id)", "        raise TaskNotFound(task)"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    _m(
        "params-from-raw-arguments",
        {"lab02.tool-calls-deduplicated"},
        "keys the call on the canonical arguments but passes the model's raw argument text "
        "as params ('params is what the caller sent'): a repeat written the same way is "
        "deduplicated, a repeat with the keys reordered or re-spaced has the same key and "
        "other params, so it raises IdempotencyConflict out of the agent loop instead of "
        "getting the first reply",
        (_EXECUTOR_RUN,
         "        return run_once(\n"
         "            self.keys, key, f\"{name}{arguments}\", "
         "lambda: self.tools.execute(name, arguments)\n"
         "        )\n"),
    ),
    _m(
        "side-effects-hard-coded",
        {"lab02.tool-calls-deduplicated"},
        "lists the dangerous tools by hand, clean_logs and apply_deploy, thinking "
        "build_config only renders a file: a repeated build_config builds a second config, "
        "and the two tool messages differ (config #1, config #2)",
        ("        if name not in SIDE_EFFECTS:",
         '        if name not in {"clean_logs", "apply_deploy"}:'),
    ),
    _m(
        "replay-reply-annotated",
        {"lab02.tool-calls-deduplicated"},
        "wants the model to know a call was not repeated, so on a replay it appends a note "
        "to the stored reply: the side effect happens once, but the repeat's tool message "
        "is not the first one's result",
        (_EXECUTOR_RUN,
         "        seen = self.keys.get(key)\n"
         "        reply = run_once(\n"
         "            self.keys, key, f\"{name}{params}\", "
         "lambda: self.tools.execute(name, arguments)\n"
         "        )\n"
         "        if seen is not None and seen.done:\n"
         "            return f\"{reply} (already done earlier; not repeated)\"\n"
         "        return reply\n"),
    ),
    _m(
        "done-record-put-if-absent",
        {"lab02.tool-calls-deduplicated"},
        "'use the atomic operation everywhere': stores the finished record with "
        "put_if_absent too, which does nothing because the claim is already there; the key "
        "stays done=False, so every repeat of a side effect gets KeyInProgress instead of "
        "the stored reply",
        ("    keys.put(replace(claim, done=True, result=result))",
         "    keys.put_if_absent(replace(claim, done=True, result=result))"),
    ),
    _m(
        "claim-released-in-finally",
        {"lab02.tool-calls-deduplicated", "lab02.params-mismatch-conflict"},
        "treats the key like a lock and releases it in a finally block 'whatever happens': "
        "failures are retried as they should be, but a success is forgotten too, so a "
        "repeat runs the side effect again and a key reused with other params finds no "
        "record to conflict with",
        ("    try:\n"
         "        result = action()\n"
         "    except BaseException:\n"
         "        keys.delete(key)\n"
         "        raise\n"
         "    keys.put(replace(claim, done=True, result=result))\n"
         "    return result\n",
         "    try:\n"
         "        result = action()\n"
         "        keys.put(replace(claim, done=True, result=result))\n"
         "        return result\n"
         "    finally:\n"
         "        keys.delete(key)\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "mapping-not-compacted",
        {"lab02.key-is-deterministic"},
        "writes two branches, the model's JSON text (parsed, sorted, compact) and a mapping "
        "(just json.dumps with sort_keys): the same arguments as a mapping come out with "
        "spaces after ':' and ',', so they get another key than their JSON text",
        (_CANONICAL,
         "    if isinstance(arguments, str):\n"
         "        value = json.loads(arguments or \"{}\")\n"
         "        return json.dumps(value, sort_keys=True, separators=(\",\", \":\"), "
         "ensure_ascii=False)\n"
         "    return json.dumps(dict(arguments), sort_keys=True, ensure_ascii=False)\n"),
    ),
    _m(
        "empty-arguments-kept-empty",
        # declared with lab02.tool-calls-deduplicated too; judged key-is-deterministic
        # alone: the executor runs once whatever its own keys call one call (README, "One
        # mistake, one item")
        {"lab02.key-is-deterministic"},
        "returns '' at once for 'no arguments' instead of treating it as {}: a no-argument "
        "tool sent once as '' and once as '{}' (both mean no arguments) gets two keys, so "
        "clean_logs asked twice cleans twice",
        (_CANONICAL, '    if not arguments:\n        return ""\n' + _CANONICAL),
    ),
    _m(
        "lists-sorted-too",
        {"lab02.key-is-deterministic"},
        "normalises recursively and, 'since order should not matter', sorts lists as well "
        "as keys: a call with hosts [web-1, web-2] and one with [web-2, web-1] (a different "
        "rollout order) get the same key, so the second is answered with the first's result",
        (_CANONICAL,
         "    value = json.loads(arguments or \"{}\") if isinstance(arguments, str) "
         "else dict(arguments)\n"
         "    return json.dumps(_normalised(value), sort_keys=True, separators=(\",\", \":\"), "
         "ensure_ascii=False)\n"
         "\n"
         "\n"
         "def _normalised(value: Any) -> Any:\n"
         "    if isinstance(value, Mapping):\n"
         "        return {key: _normalised(item) for key, item in value.items()}\n"
         "    if isinstance(value, list):\n"
         "        return sorted((_normalised(item) for item in value), "
         "key=lambda item: json.dumps(item, sort_keys=True))\n"
         "    return value\n"),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    _m(
        "in-progress-before-conflict",
        {"lab02.params-mismatch-conflict"},
        "checks 'is it still running?' before 'are the params the same?': once the first "
        "call is done the mismatch is a conflict, but a key reused with other params while "
        "the first call is running gets KeyInProgress, telling the caller to retry the "
        "wrong request later",
        ("        if existing.params != params:\n"
         "            raise IdempotencyConflict(key, existing.params, params)\n"
         "        if not existing.done:\n"
         "            raise KeyInProgress(key)\n",
         "        if not existing.done:\n"
         "            raise KeyInProgress(key)\n"
         "        if existing.params != params:\n"
         "            raise IdempotencyConflict(key, existing.params, params)\n"),
    ),
    _m(
        "empty-params-never-conflict",
        {"lab02.params-mismatch-conflict"},
        "guards the comparison with 'if existing.params and ...' for records that 'have no "
        "params': a key first used with empty params ('' for no parameters) is then reused "
        "with any params and silently returns the old result",
        ("        if existing.params != params:",
         "        if existing.params and existing.params != params:"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "release-only-on-tool-failure",
        {"lab02.failure-not-cached"},
        "releases the key only for the kit's ToolFailure, 'the way tools fail': a "
        "ConnectionResetError, a TimeoutError or a ValueError from the action leaves the "
        "key claimed, and every later call under it is 'in progress' without running",
        (_FAILURE_PATH, "    except ToolFailure:\n        keys.delete(key)\n        raise\n"),
        ("from labs.kit.devops import SIDE_EFFECTS, DevOpsTools\n",
         "from labs.kit.devops import SIDE_EFFECTS, DevOpsTools, ToolFailure\n"),
    ),
    _m(
        "tool-error-returned-as-reply",
        {"lab02.failure-not-cached"},
        "in the executor, catches the tool's failure and returns it as the tool's reply so "
        "that 'the model can see the error and decide': run_once sees a success and stores "
        "the error text under the key, so the retried clean_logs never runs, it gets the "
        "old error back",
        (_EXECUTOR_RUN,
         "        def action() -> str:\n"
         "            try:\n"
         "                return self.tools.execute(name, arguments)\n"
         "            except ToolFailure as error:\n"
         "                return f\"error: {name} failed: {error}\"\n"
         "\n"
         "        return run_once(self.keys, key, f\"{name}{params}\", action)\n"),
        ("from labs.kit.devops import SIDE_EFFECTS, DevOpsTools\n",
         "from labs.kit.devops import SIDE_EFFECTS, DevOpsTools, ToolFailure\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "in-progress-returns-empty",
        {"lab02.concurrent-once"},
        "handles a found key as 'params differ: conflict, else return what is stored' and "
        "forgets the running case: sequential repeats are fine, but the racer that finds "
        "the key still claimed returns '' (the result not there yet) as if it were the "
        "result, instead of KeyInProgress",
        ("        if not existing.done:\n            raise KeyInProgress(key)\n", ""),
    ),
    _m(
        "cas-expects-fresh-read",
        {"lab02.concurrent-once"},
        "passes the state read again just before the claim as compare_and_set's expected "
        "('expected should be the current state'): the check and the write are atomic but "
        "the expectation is fresh, so a racer that reads after the winner's claim expects "
        "'running', wins too, and runs the work a second time",
        (_CLAIM,
         "if not store.compare_and_set(running, expected=store.get(task_id).state):"),
    ),
)
