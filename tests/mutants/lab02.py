"""Lab 02's mutants: the mistakes a student makes with tasks and idempotency keys."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_lab02 = mutants_of("lab02")

_CLAIM = """\
    if not store.compare_and_set(running, expected=task.state):"""
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_CLAIM_KEY = """\
    existing = keys.put_if_absent(claim)"""
_MATERIAL = "material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle
    _lab02(
        "running-never-saved",
        {"lab02.task-lifecycle", "lab02.concurrent-once"},
        "marks the task running only in memory and saves it once the work is done: the "
        "store says pending all the while the deploy runs",
        (_CLAIM, "    if False:"),
    ),
    _lab02(
        "id-from-the-clock",
        "lab02.task-lifecycle",
        "the seed's generateTaskID: task-<UnixNano>, which repeats while the clock stands "
        "still, so the second task overwrites the first",
        ('id=f"task-{uuid.uuid4().hex}"', 'id=f"task-{int(created * 1e9)}"'),
    ),
    _lab02(
        "updated-at-left-behind",
        "lab02.task-lifecycle",
        "saves the completed task without refreshing updated_at",
        ("store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))",
         "store.save(replace(running, state=TaskState.COMPLETED, result=result))"),
    ),
    _lab02(
        "error-not-recorded",
        "lab02.task-lifecycle",
        "marks the task failed but keeps no trace of why",
        ('state=TaskState.FAILED, error=f"{type(error).__name__}: {error}",',
         "state=TaskState.FAILED,"),
    ),
    _lab02(
        "create-returns-nothing",
        "lab02.task-lifecycle",
        "saves the new task and forgets to return it: the caller has no id to execute",
        ("    store.save(task)\n    return task\n", "    store.save(task)\n"),
    ),
    _lab02(
        "old-error-kept-on-retry",
        "lab02.task-lifecycle",
        "claims a failed task without clearing its error: it runs, and later completes, "
        "still saying why it failed last time",
        ("running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())",
         "running = replace(task, state=TaskState.RUNNING, updated_at=now())"),
    ),
    # -- lab02.completed-not-rerun
    _lab02(
        "no-completed-check",
        "lab02.completed-not-rerun",
        "goes straight to running the task: executing it again redoes the work",
        (_COMPLETED_CHECK, ""),
    ),
    _lab02(
        "returns-nothing-when-done",
        "lab02.completed-not-rerun",
        "the seed's early 'return nil': a completed task gives the caller None, not its result",
        (_COMPLETED_CHECK, "    if task.state is TaskState.COMPLETED:\n        return None\n"),
    ),
    # -- lab02.unknown-task-error
    _lab02(
        "bare-key-error",
        "lab02.unknown-task-error",
        "lets the lookup fail with a plain KeyError instead of the lab's not-found error",
        ("        raise TaskNotFound(task_id)", "        raise KeyError(task_id)"),
    ),
    _lab02(
        "creates-the-missing-task",
        "lab02.unknown-task-error",
        "'execute means make it so': an unknown id becomes a new task and runs",
        ("        raise TaskNotFound(task_id)",
         "        task = Task(id=task_id, user_input='', created_at=now(), updated_at=now())\n"
         "        store.save(task)"),
    ),
    # -- lab02.tool-calls-deduplicated
    _lab02(
        "no-deduplication",
        "lab02.tool-calls-deduplicated",
        "runs every tool call as it comes (the seed's mistake 1): the repeated deploy deploys "
        "twice",
        ("        if name not in SIDE_EFFECTS:", "        if True:"),
    ),
    _lab02(
        "raw-arguments-in-the-executor",
        "lab02.tool-calls-deduplicated",
        "keys the executor's calls on the arguments exactly as the model wrote them",
        ("key = idempotency_key(self.task_id, name, params)",
         "key = hashlib.sha256(f'{self.task_id}|{name}|{arguments}'.encode()).hexdigest()"),
    ),
    _lab02(
        "reads-cached-too",
        "lab02.tool-calls-deduplicated",
        "sends every tool through the key store, so a second check_disk repeats the first "
        "one's stale answer",
        ("        if name not in SIDE_EFFECTS:", "        if False:"),
    ),
    # -- lab02.key-is-deterministic
    _lab02(
        "key-with-a-timestamp",
        "lab02.key-is-deterministic",
        "adds the time to the key 'to make it unique'",
        (_MATERIAL, _MATERIAL.replace("canonical_arguments(arguments)]",
                                      "canonical_arguments(arguments), int(time.time())]")),
    ),
    _lab02(
        "key-from-uuid4",
        "lab02.key-is-deterministic",
        "a fresh uuid4 for every call: no two calls ever share a key",
        ('return hashlib.sha256(material.encode("utf-8")).hexdigest()',
         "return uuid.uuid4().hex"),
    ),
    _lab02(
        "raw-json-in-the-key",
        "lab02.key-is-deterministic",
        "hashes the argument text as sent, so another key order is another key",
        ("[task_id, tool_name, canonical_arguments(arguments)]",
         "[task_id, tool_name, arguments if isinstance(arguments, str) "
         "else json.dumps(dict(arguments))]"),
    ),
    _lab02(
        "task-left-out-of-the-key",
        "lab02.key-is-deterministic",
        "keys on the call alone: the same deploy in another task is taken for a repeat",
        ("[task_id, tool_name, canonical_arguments(arguments)]",
         "[tool_name, canonical_arguments(arguments)]"),
    ),
    _lab02(
        "key-from-python-hash",
        "lab02.key-is-deterministic",
        "hash() of the call: the same in this process, another in the next one",
        ('return hashlib.sha256(material.encode("utf-8")).hexdigest()',
         "return str(hash(material))"),
    ),
    _lab02(
        "parts-run-together",
        "lab02.key-is-deterministic",
        "concatenates the parts with nothing between them, so different calls can collide",
        (_MATERIAL, 'material = f"{task_id}{tool_name}{canonical_arguments(arguments)}"'),
    ),
    # -- lab02.params-mismatch-conflict
    _lab02(
        "params-ignored",
        "lab02.params-mismatch-conflict",
        "stores the parameters but never compares them: a 99 EUR refund gets the 10 EUR one's "
        "result",
        ("        if existing.params != params:", "        if False:"),
    ),
    _lab02(
        "latest-params-win",
        "lab02.params-mismatch-conflict",
        "on a mismatch, rewrites the record with the new parameters before refusing",
        ("            raise IdempotencyConflict(key, existing.params, params)",
         "            keys.put(claim)\n"
         "            raise IdempotencyConflict(key, existing.params, params)"),
    ),
    # -- lab02.failure-not-cached
    _lab02(
        "claim-kept-on-failure",
        "lab02.failure-not-cached",
        "never releases the key when the action raises: every later call is 'in progress'",
        ("        keys.delete(key)\n        raise", "        raise"),
    ),
    _lab02(
        "claim-kept-on-interrupt",
        "lab02.failure-not-cached",
        "releases the key on Exception only: after a Ctrl-C the key stays 'in progress'",
        ("    except BaseException:\n        keys.delete(key)", "    except Exception:\n        keys.delete(key)"),
    ),
    _lab02(
        "error-stored-as-result",
        "lab02.failure-not-cached",
        "stores the failure as the key's result, so the retry gets the old error text",
        ("    except BaseException:\n        keys.delete(key)\n        raise",
         "    except Exception as error:\n"
         "        keys.put(replace(claim, done=True, result=f'failed: {error}'))\n"
         "        raise"),
    ),
    # -- lab02.concurrent-once
    _lab02(
        "task-check-then-set",
        "lab02.concurrent-once",
        "reads the state, then saves 'running' with a plain save: both racers read pending",
        (_CLAIM, "    store.save(running)\n    if False:"),
    ),
    _lab02(
        "key-check-then-set",
        "lab02.concurrent-once",
        "looks the key up, then inserts it: both racers find no record and both run",
        (_CLAIM_KEY,
         "    existing = keys.get(key)\n    if existing is None:\n        keys.put(claim)"),
    ),
    _lab02(
        "running-task-claimed-again",
        "lab02.concurrent-once",
        "checks only for completed: a task another executor is running is claimed and run "
        "a second time",
        ("    if task.state is TaskState.RUNNING:\n        raise TaskInProgress(task_id)\n", ""),
    ),
    _lab02(
        "lost-claim-never-returns",
        "lab02.concurrent-once",
        "when compare_and_set loses, always says 'in progress', even when the winner has "
        "already completed the task and its result is there to return",
        ("        if current is not None and current.state is TaskState.COMPLETED:\n"
         "            return _result(current)\n", ""),
    ),
)
