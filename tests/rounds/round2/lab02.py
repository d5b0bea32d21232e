"""Round 2 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_LOOKUP = """\
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
"""
_CLAIM = "    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n"
_LOST_CLAIM = """\
    if not store.compare_and_set(running, expected=task.state):
        current = store.get(task_id)
        if current is not None and current.state is TaskState.COMPLETED:
            return _result(current)
        raise TaskInProgress(task_id)
"""
_FOUND_KEY = """\
        if existing.params != params:
            raise IdempotencyConflict(key, existing.params, params)
        if not existing.done:
            raise KeyInProgress(key)
        return existing.result or ""
"""
_EXECUTOR_RUN = """\
        return run_once(
            self.keys, key, f"{name}{params}", lambda: self.tools.execute(name, arguments)
        )
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    _m(
        "task-id-from-the-request",
        {"lab02.task-lifecycle"},
        "having just learnt that keys must be derived, not random, derives the task id the "
        "same way, from a digest of the user's input, 'so that the same request after a "
        "reboot finds its task again': two tasks created for the same input get one id, and "
        "the second create_task overwrites the first (a completed one included) instead of "
        "saving a new task",
        ('id=f"task-{uuid.uuid4().hex}"',
         "id=f\"task-{hashlib.sha256(user_input.encode('utf-8')).hexdigest()[:16]}\""),
    ),
    _m(
        "failed-reset-to-pending-first",
        {"lab02.task-lifecycle", "lab02.concurrent-once"},
        "applies lab 04's 'resuming a failed task resets it' here: a failed task is first "
        "saved back as pending (error cleared), with a plain save, and then claimed like a "
        "new one with compare_and_set; a pending task behaves exactly as before, but "
        "re-executing a failed one saves failed, pending, running, completed (a transition "
        "the lifecycle does not have), and two executors that re-execute the same failed "
        "task both reset it and both win the pending claim, so the work runs twice",
        (_CLAIM,
         "    if task.state is TaskState.FAILED:\n"
         "        # reset it first, then it runs like a new task\n"
         "        task = replace(task, state=TaskState.PENDING, error=None, updated_at=now())\n"
         "        store.save(task)\n" + _CLAIM),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    _m(
        "completed-result-expires",
        {"lab02.completed-not-rerun"},
        "borrows Stripe's rule that idempotency keys may be pruned after 24 hours and gives "
        "a completed task's result the same lifetime 'so a stale answer is not served "
        "forever': within a day a completed task returns its result, but executed again more "
        "than 24 h after it completed (on the frozen clock) it is claimed from completed and "
        "the work runs a second time",
        ("Work = Callable[[Task], str]\n",
         "Work = Callable[[Task], str]\n\n"
         "#: Stripe prunes idempotency keys after a day; a result older than that is stale.\n"
         "_RESULT_TTL = 24 * 60 * 60.0\n"),
        ("    if task.state is TaskState.COMPLETED:\n        return _result(task)\n",
         "    if task.state is TaskState.COMPLETED and now() - task.updated_at < _RESULT_TTL:\n"
         "        return _result(task)\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "missing-task-expected-as-key-error",
        {"lab02.unknown-task-error"},
        "treats the store like a dict and turns its KeyError into TaskNotFound; but "
        "TaskStore.get returns None for an unknown id, so nothing is raised there and the "
        "next line fails with AttributeError: 'NoneType' object has no attribute 'state'",
        (_LOOKUP,
         "    try:\n"
         "        task = store.get(task_id)\n"
         "    except KeyError:\n"
         "        raise TaskNotFound(task_id) from None\n"),
    ),
    _m(
        "unknown-id-saved-as-failed",
        {"lab02.unknown-task-error"},
        "takes 'the store always tells what is going on' literally and records the failed "
        "lookup as a failed task before raising TaskNotFound: the first call looks right, "
        "but the store now holds a task that was never created, and executing the same "
        "unknown id again finds it failed, claims it and runs the work",
        ("        raise TaskNotFound(task_id)",
         "        # record the attempt, so the store tells what happened to this id too\n"
         "        store.save(Task(id=task_id, user_input=\"\", state=TaskState.FAILED,\n"
         "                        error=f\"TaskNotFound: task not found: {task_id}\",\n"
         "                        created_at=now(), updated_at=now()))\n"
         "        raise TaskNotFound(task_id)"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    _m(
        "key-by-step-number",
        {"lab02.tool-calls-deduplicated"},
        "copies DBOS and Temporal, which know a step by its position in the workflow: the "
        "executor numbers the side-effecting calls of its task and puts the number in the "
        "key's tool part; a restarted agent that replays the same calls in the same order "
        "finds them again, but the model asking a second time for a call it already got "
        "(another step number) runs it again",
        ("        self.keys = keys\n        self.task_id = task_id\n",
         "        self.keys = keys\n        self.task_id = task_id\n        self.steps = 0\n"),
        ("        key = idempotency_key(self.task_id, name, params)\n",
         "        self.steps += 1  # a step is known by its place in the run\n"
         "        key = idempotency_key(self.task_id, f\"{self.steps}:{name}\", params)\n"),
    ),
    _m(
        "replies-cached-on-the-class",
        {"lab02.tool-calls-deduplicated"},
        "adds a fast path in front of the key store, a dict of the replies already seen, "
        "declared as a class attribute next to the annotations: every executor of the "
        "process shares it, so a task whose call was answered once (with another key store "
        "and other tools) gets that old reply from a fresh executor, and the side effect "
        "never happens in the world it was asked of, nor is it stored in its key store",
        ('    """The tool executor of one task: side-effecting calls run at most once."""\n',
         '    """The tool executor of one task: side-effecting calls run at most once."""\n\n'
         "    #: replies already given, so that a repeat does not even reach the key store\n"
         "    seen: dict[str, str] = {}\n"),
        (_EXECUTOR_RUN,
         "        if key in self.seen:\n"
         "            return self.seen[key]\n"
         "        reply = run_once(\n"
         "            self.keys, key, f\"{name}{params}\", lambda: self.tools.execute(name, arguments)\n"
         "        )\n"
         "        self.seen[key] = reply\n"
         "        return reply\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "whitespace-stripped-before-parsing",
        {"lab02.key-is-deterministic"},
        "reads 'sorted keys and no spaces' as 'remove the whitespace from the model's text, "
        "then parse and sort': spacing and key order no longer matter, but spaces inside "
        "string values go too, so {\"note\": \"db 2\"} and {\"note\": \"db2\"} get one key, "
        "and the same arguments given as a mapping (not stripped) get another key than "
        "their JSON text",
        ('    value = json.loads(arguments or "{}") if isinstance(arguments, str) '
         "else dict(arguments)\n",
         "    if isinstance(arguments, str):\n"
         "        # drop the spaces and new lines the model writes, then sort the keys\n"
         "        value = json.loads(\"\".join(arguments.split()) or \"{}\")\n"
         "    else:\n"
         "        value = dict(arguments)\n"),
    ),
    _m(
        "tool-name-left-out-of-the-key",
        {"lab02.key-is-deterministic"},
        "keys a call on the task and its arguments, 'the tool name is in params and run_once "
        "compares those anyway': build_config and apply_deploy of the same service and "
        "version in one task share a key, so the deploy that follows the build is refused "
        "as an IdempotencyConflict instead of running",
        ("material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])",
         "material = json.dumps([task_id, canonical_arguments(arguments)])"),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    _m(
        "conflict-checked-only-while-running",
        {"lab02.params-mismatch-conflict"},
        "thinks a conflict is two different requests racing under one key, and that once "
        "the first has finished its result is settled: a key reused with other params while "
        "the first call runs is a conflict, but reused after it finished it silently "
        "returns the first call's result",
        (_FOUND_KEY,
         "        if existing.done:\n"
         "            # finished: the key's result is settled, hand it back\n"
         "            return existing.result or \"\"\n"
         "        if existing.params != params:\n"
         "            raise IdempotencyConflict(key, existing.params, params)\n"
         "        raise KeyInProgress(key)\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "failure-swallowed-after-release",
        {"lab02.failure-not-cached"},
        "releases the key when the action fails, as the contract says, but 'so that the "
        "agent does not crash' returns the error as text instead of re-raising it (an "
        "interrupt is still re-raised): nothing is stored and a later call runs again, but "
        "the failed call looks like a success that returned 'error: ...'",
        ("    except BaseException:\n        keys.delete(key)\n        raise\n",
         "    except Exception as error:\n"
         "        keys.delete(key)  # not stored: a later call runs it again\n"
         "        return f\"error: {type(error).__name__}: {error}\"\n"
         "    except BaseException:\n"
         "        keys.delete(key)\n"
         "        raise\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "unfinished-claim-taken-over",
        {"lab02.concurrent-once"},
        "thinking of the reboot at minute 8, decides that a claim found not done was left "
        "by a run that crashed and would block the key for ever, so deletes it and claims "
        "the key afresh: sequential repeats are fine, but the racer that finds the other's "
        "live claim takes it over and runs the action a second time instead of raising "
        "KeyInProgress",
        ("        if not existing.done:\n            raise KeyInProgress(key)\n",
         "        if not existing.done:\n"
         "            # nobody finishes this claim: its run crashed; take the key over\n"
         "            keys.delete(key)\n"
         "            return run_once(keys, key, params, action)\n"),
    ),
    _m(
        "lost-claim-tries-again",
        {"lab02.concurrent-once"},
        "when compare_and_set loses, reads the task again and starts over ('it changed "
        "under us, decide afresh'): if the winner is still running the retry raises "
        "TaskInProgress and if it completed the retry returns its result, as it should; but "
        "if the winner's work has already failed, the retry claims the failed task and the "
        "loser runs the work a second time",
        (_LOST_CLAIM,
         "    if not store.compare_and_set(running, expected=task.state):\n"
         "        # the task moved between our read and our claim: read it again, decide afresh\n"
         "        return execute_task(store, task_id, work, now=now)\n"),
    ),
)
