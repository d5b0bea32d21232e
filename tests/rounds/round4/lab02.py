"""Round 4 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_WORK_TYPE = "Work = Callable[[Task], str]\n"
_FAILED_VERSION = """\
    except Exception as error:
        failed = replace(
            running, state=TaskState.FAILED, error=f"{type(error).__name__}: {error}",
"""
_CLAIM_LINE = "    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n"
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_CLAIM = "    if not store.compare_and_set(running, expected=task.state):\n"
_LOST_CLAIM_COMPLETED = "        if current is not None and current.state is TaskState.COMPLETED:\n"
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_MATERIAL = "    material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])\n"
_DIGEST = '    return hashlib.sha256(material.encode("utf-8")).hexdigest()\n'
_CONFLICT = "            raise IdempotencyConflict(key, existing.params, params)\n"
_ACTION = """\
    try:
        result = action()
    except BaseException:
        keys.delete(key)
        raise
"""
_EXECUTOR_RUN = """\
        return run_once(
            self.keys, key, f"{name}{params}", lambda: self.tools.execute(name, arguments)
        )
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    _m(
        "error-recorded-from-root-cause",
        {"lab02.task-lifecycle"},
        "wants the failed task to say what really went wrong, not which wrapper reported it "
        "(lab 01's retry gives up with its own error chained from the last API error), so it "
        "records error.__cause__ when there is one: a work that raises a plain exception is "
        "recorded as '<ExceptionType>: <message>' as it should be, but a work that raises "
        "'raise ToolFailure(...) from ConnectionResetError(...)' is recorded as "
        "'ConnectionResetError: ...', not as the exception the work raised (which is still "
        "the one re-raised)",
        (_FAILED_VERSION,
         "    except Exception as error:\n"
         "        root = error.__cause__ or error  # the real reason, not the wrapper\n"
         "        failed = replace(\n"
         "            running, state=TaskState.FAILED, error=f\"{type(root).__name__}: {root}\",\n"),
    ),
    _m(
        "created-at-restarted-on-retry",
        {"lab02.task-lifecycle"},
        "treats re-executing a failed task as a new attempt and restarts its created_at at "
        "the claim, 'so the dashboard's duration measures this attempt, not the failed "
        "one': a task's first run keeps created_at as it should, but a failed task executed "
        "again is saved running and then completed with a created_at that moved, though "
        "created_at is set once, by create_task, and never changes",
        (_CLAIM_LINE,
         "    started = now()\n"
         "    # a failed task run again is a new attempt: its clock starts over\n"
         "    created = started if task.state is TaskState.FAILED else task.created_at\n"
         "    running = replace(task, state=TaskState.RUNNING, error=None, created_at=created,\n"
         "                      updated_at=started)\n"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    _m(
        "completed-result-narrowed-for-mypy",
        {"lab02.completed-not-rerun"},
        "checks the state, writes 'return task.result' for a completed task, and when mypy "
        "complains that "
        "result is Optional[str], narrows it in the condition, 'and task.result is not None': "
        "a completed task with a result (even '') is returned as it should be, but a task "
        "stored completed with no result (result None) falls through, is claimed from "
        "completed by compare_and_set and its work runs again, though completed is the "
        "state, not the presence of a result",
        (_COMPLETED_CHECK,
         "    if task.state is TaskState.COMPLETED and task.result is not None:\n"
         "        return task.result  # narrowed: a str here\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "not-found-returned-go-style",
        {"lab02.unknown-task-error"},
        "translates the seed's Go ('return nil, fmt.Errorf(\"task not found: %s\", id)') "
        "line by line and returns the error instead of raising it: nothing runs and nothing "
        "is saved for an unknown id, but the caller gets a TaskNotFound object back as if it "
        "were the task's result, and no exception",
        ("        raise TaskNotFound(task_id)",
         "        return TaskNotFound(task_id)  # the error, as the seed returns it"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    _m(
        "dedup-left-to-the-server",
        {"lab02.tool-calls-deduplicated"},
        "reads that DevOpsTools honours an idempotency key 'like a payment API' and sends "
        "the key along instead of going through run_once: the server replays a repeat it has "
        "seen, so repeats in one executor, and a fresh executor on a fresh server, look "
        "right; but the key store is never written, so an executor restarted with the same "
        "key store in front of a server that does not remember (a restarted server, another "
        "replica) runs the side effect again instead of returning the stored reply",
        (_EXECUTOR_RUN,
         "        # the server honours idempotency keys like a payment API: send ours along\n"
         "        return self.tools.execute(name, arguments, idempotency_key=key)\n"),
    ),
    _m(
        "params-compared-by-identity",
        {"lab02.tool-calls-deduplicated", "lab02.concurrent-once"},
        "compares the stored params with 'is not', as the rest of the code compares states "
        "with 'is': a caller that passes the very same string object (a constant) is "
        "answered as it should be, but the executor builds its params text anew for every "
        "call, so every repeat of a side effect through IdempotentTools, finished or still "
        "running, raises IdempotencyConflict instead of getting the first reply or "
        "KeyInProgress",
        ("        if existing.params != params:\n", "        if existing.params is not params:\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "numbers-coerced-to-strings",
        {"lab02.key-is-deterministic"},
        "sees that every parameter in TOOL_SCHEMAS is declared a string and that models "
        "write version 2 as often as \"2\", so canonical_arguments turns top-level numbers "
        "(and booleans) into strings: calls whose arguments are all strings get the keys "
        "they should, but {\"replicas\": 3} and {\"replicas\": \"3\"}, or {\"force\": true} "
        "and {\"force\": \"True\"}, become one text and one key, although only the order of "
        "an object's keys is free",
        (_CANONICAL_VALUE,
         _CANONICAL_VALUE
         + "    # the tool schemas declare every parameter a string: 3 and \"3\" are one argument\n"
           "    if isinstance(value, dict):\n"
           "        value = {name: str(item) if isinstance(item, (int, float)) else item\n"
           "                 for name, item in value.items()}\n"),
    ),
    _m(
        "key-scoped-to-the-process",
        {"lab02.key-is-deterministic"},
        "worries that two agent workers could mix up their keys and namespaces each key "
        "with the host and the process id, the way uuid1 or a Celery worker name would: "
        "within one process every repeat gets the same key, but the agent restarted after "
        "the reboot (a new process) computes other keys for the very same calls, so nothing "
        "it did before the reboot is recognised",
        ("import json\n", "import json\nimport os\nimport socket\n"),
        (_MATERIAL,
         "    # namespaced by worker, so that two agent processes never share a key\n"
         "    worker = f\"{socket.gethostname()}:{os.getpid()}\"\n"
         "    material = json.dumps([worker, task_id, tool_name, canonical_arguments(arguments)])\n"),
    ),
    _m(
        "key-as-raw-digest-bytes",
        {"lab02.key-is-deterministic"},
        "reads 'a digest such as SHA-256' and returns the digest itself, "
        "hashlib.sha256(...).digest(): the key is deterministic and tells calls apart, and "
        "an in-memory key store takes it, but it is 32 raw bytes, not the string the "
        "contract asks for (no text column, JSON file or HTTP header takes it)",
        (_DIGEST, '    return hashlib.sha256(material.encode("utf-8")).digest()\n'),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    _m(
        "mismatch-runs-uncached",
        {"lab02.params-mismatch-conflict"},
        "thinks of the key store as a cache: other params under a key are a cache miss, so "
        "it runs the new action and returns its result, without storing it over the first "
        "record: it never returns the old result for new parameters, but it raises no "
        "conflict either, so the caller's reused key goes unnoticed and the new operation "
        "runs (every time it is asked again)",
        (_CONFLICT,
         "            # not the call this key was for: a cache miss, run it but do not store it\n"
         "            return action()\n"),
    ),
    _m(
        "conflict-raised-as-plain-value-error",
        {"lab02.params-mismatch-conflict"},
        "copies the check from the kit's DevOpsTools.run, which answers a key reused for "
        "another call with a ValueError, and raises the same: the mismatch is refused and "
        "nothing runs, but the error is a bare ValueError, not the lab's "
        "IdempotencyConflict, so a caller that catches IdempotencyConflict (and its key) "
        "does not see it",
        (_CONFLICT,
         "            raise ValueError(\n"
         "                f\"idempotency key {key} was used for {existing.params}, not {params}\"\n"
         "            )\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "retries-inside-run-once",
        {"lab02.failure-not-cached"},
        "fresh from lab 01, retries a failing action up to three times while it holds the "
        "key, and releases the key and re-raises only after the third failure: an action "
        "that keeps failing still ends re-raised and released, but one that fails once is "
        "run again inside the same call, whose caller never sees the failure: the tool runs "
        "twice within one call (a tool that fails half-way, twice over) and the failure is "
        "not re-raised",
        (_WORK_TYPE,
         _WORK_TYPE + "\n#: Tries of a keyed action before its failure is reported (lab 01's lesson).\n"
         "_ACTION_ATTEMPTS = 3\n"),
        (_ACTION,
         "    for attempt in range(1, _ACTION_ATTEMPTS + 1):\n"
         "        try:\n"
         "            result = action()\n"
         "            break\n"
         "        except Exception:\n"
         "            if attempt < _ACTION_ATTEMPTS:\n"
         "                continue  # transient, most likely: we still hold the key, try again\n"
         "            keys.delete(key)\n"
         "            raise\n"
         "        except BaseException:\n"
         "            keys.delete(key)\n"
         "            raise\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "lost-claim-returns-unless-running",
        {"lab02.concurrent-once"},
        "when compare_and_set loses, reads the task again and returns its result unless it "
        "is still running ('it has finished, one way or the other: report how it ended'): a "
        "winner still running gives TaskInProgress and a winner that completed gives its "
        "result, as they should; but when the winner's work has already failed, the loser "
        "returns '' as if the task had succeeded, instead of TaskInProgress",
        (_LOST_CLAIM_COMPLETED,
         "        # finished one way or the other: report how it ended\n"
         "        if current is not None and current.state is not TaskState.RUNNING:\n"),
    ),
    _m(
        "failed-task-claimed-with-plain-save",
        {"lab02.concurrent-once"},
        "keeps compare_and_set for pending tasks but claims a failed one with a plain save, "
        "'a failed task is retried by hand, by one operator: nobody races for it': new tasks "
        "are safe, but two executors that re-execute the same failed task at the same moment "
        "both save it running and both run the work, and an executor that claims the failed "
        "task between your read and your save is overwritten",
        (_CLAIM,
         "    if task.state is TaskState.FAILED:\n"
         "        # a failed task is retried by hand, by one operator: nobody races for it\n"
         "        store.save(running)\n"
         "        claimed = True\n"
         "    else:\n"
         "        claimed = store.compare_and_set(running, expected=task.state)\n"
         "    if not claimed:\n"),
    ),
    _m(
        "executor-cache-instead-of-run-once",
        {"lab02.concurrent-once"},
        "writes IdempotentTools as a memoising cache over the key store, look the key up, "
        "else run the tool and store its reply, instead of calling run_once: repeats get the "
        "stored reply, a failure stores nothing, a fresh executor on the same store finds the "
        "reply; but two executors of one task (the old agent still deploying, the restarted "
        "one) that ask for the same call at the same moment both find no record and both "
        "run it (nothing is claimed before the tool runs, so nobody is ever in progress)",
        (_EXECUTOR_RUN,
         "        record = self.keys.get(key)\n"
         "        if record is not None and record.done:\n"
         "            return record.result or \"\"\n"
         "        reply = self.tools.execute(name, arguments)\n"
         "        self.keys.put(KeyRecord(key, f\"{name}{params}\", done=True, result=reply))\n"
         "        return reply\n"),
    ),
)
