"""Round 10 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_WORK_TYPE = "Work = Callable[[Task], str]\n"
_TASK_ID = 'id=f"task-{uuid.uuid4().hex}"'
_LOOKUP = """\
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
"""
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_FAILED_ERROR = 'error=f"{type(error).__name__}: {error}",'
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_CLAIM_KEY = "    existing = keys.put_if_absent(claim)\n"
_CONFLICT_CHECK = "        if existing.params != params:\n"
_DONE_CHECK = """\
        if not existing.done:
            raise KeyInProgress(key)
        return existing.result or ""
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

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    # Not id-from-the-clock / id-from-a-process-counter / task-id-from-the-request: the id is
    # random and differs in a frozen instant and across processes; it repeats only when the
    # process-wide Mersenne Twister is seeded again (random.seed(...), as a notebook or a
    # test seeding lab 01's jitter does), which os.urandom-based uuid4 ignores.
    _m(
        "id-from-the-global-random",
        {"lab02.task-lifecycle"},
        "knows not to build the id from the clock and, finding uuid4 heavy, takes 64 random "
        "bits from the random module, as many small libraries and Go ports "
        "(rand.Int63()) do: two tasks created in one frozen instant, or in two processes, get "
        "two ids, but random is the process's shared, seedable Mersenne Twister: once "
        "anything calls random.seed(n) (a notebook making lab 01's jitter reproducible, a "
        "test fixture) before each create_task, the next id repeats, and the second task "
        "is saved over the first (a completed one included) instead of as a new task",
        ("import json\n", "import json\nimport random\n"),
        (_TASK_ID, 'id=f"task-{random.getrandbits(64):016x}"'),
    ),
    # Not error-recorded-from-root-cause (which follows __cause__): here the work raised an
    # ExceptionGroup (asyncio.TaskGroup, anyio) and the group is unwrapped; the group is still
    # re-raised as it is, only the recorded text is of another exception.
    _m(
        "error-group-unwrapped",
        {"lab02.task-lifecycle"},
        "has met asyncio.TaskGroup and anyio, which wrap a single failure of a child in an "
        "ExceptionGroup, and unwraps a group of one before recording the error, 'so the task "
        "says what really failed, not \"unhandled errors in a TaskGroup (1 sub-exception)\"': "
        "every plain exception is recorded exactly as '<ExceptionType>: <message>' and the "
        "exception is re-raised as it is, but a work that raises "
        "ExceptionGroup('deploy', [ToolFailure('db-2 is read-only')]) is saved failed as "
        "'ToolFailure: db-2 is read-only' instead of 'ExceptionGroup: deploy (1 "
        "sub-exception)', the exception the work raised, whatever its class",
        ("    except Exception as error:\n        failed = replace(\n",
         "    except Exception as error:\n"
         "        shown: BaseException = error\n"
         "        # a TaskGroup wraps one failure in a group: record the failure itself\n"
         "        while isinstance(shown, BaseExceptionGroup) and len(shown.exceptions) == 1:\n"
         "            shown = shown.exceptions[0]\n"
         "        failed = replace(\n"),
        (_FAILED_ERROR, 'error=f"{type(shown).__name__}: {shown}",'),
    ),
    # Not old-error-kept-on-retry / completed-built-from-stale-read: the running and the
    # completed versions are right (the claim clears the error); only a failure after an
    # earlier failure is recorded wrong, as a log of both.
    _m(
        "errors-accumulated-across-attempts",
        {"lab02.task-lifecycle"},
        "wants the task to keep a retry log, as CI systems show every failed attempt, so a "
        "failure appends its text to the error of the attempt before: the claim still clears "
        "the error, a first failure is recorded exactly as '<ExceptionType>: <message>', "
        "and a task that completes on its second try has no error; but a failed task that "
        "is executed again and fails again is saved with error 'ToolFailure: apply_deploy "
        "failed; TimeoutError: deploy timed out', not the error of the exception this run's "
        "work raised",
        (_FAILED_ERROR,
         'error="; ".join(  # a retry log: every attempt\'s failure, oldest first\n'
         '                filter(None, (task.error, f"{type(error).__name__}: {error}"))\n'
         "            ),"),
    ),
    # Not work-given-the-read-task or completed-built-from-stale-read: the versions are built
    # from the claim as they should be, but the claim is a new Task that lists the fields
    # one by one and leaves out messages, so every version from the claim on has none.
    _m(
        "claim-rebuilds-the-task-without-messages",
        {"lab02.task-lifecycle"},
        "writes the claim as the Go seed's struct literal, Task(id=..., user_input=..., "
        "state=RUNNING, created_at=..., updated_at=now()), instead of replace(), listing the "
        "fields it thinks a task has: a new task, whose conversation is empty, is saved "
        "running, completed or failed exactly as it should, but a task that already carries "
        "messages (a failed agent task executed again, as lab 04's resume does, or a task "
        "saved with its conversation so far) is saved running with messages () and "
        "completes or fails without them: the claim changed more than the state, the error "
        "and updated_at",
        ("    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n",
         "    running = Task(  # the seed's struct literal: the task, now running\n"
         "        id=task.id, user_input=task.user_input, state=TaskState.RUNNING,\n"
         "        created_at=task.created_at, updated_at=now(),\n"
         "    )\n"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    # A completed task that carries an error never comes out of the reference code, but it is
    # a valid stored Task (saved by hand, by another executor, read back from lab 04's file):
    # the contract decides by the state, completed means return the result and run nothing.
    _m(
        "completed-with-an-error-rerun",
        {"lab02.completed-not-rerun"},
        "ports the Go seed's 'if task.Error != \"\" { retry }', checked before the status, "
        "and reasons that a completed task still carrying an error was written half-way (a "
        "crash between two saves), so it is not trusted: every completed task without an "
        "error returns its result without running, as it should, but a task stored "
        "completed with a result and a leftover error (Task(state=COMPLETED, result='ok', "
        "error='ToolFailure: ...')) falls through to the claim, compare_and_set from "
        "completed succeeds, and the work runs a second time",
        (_COMPLETED_CHECK,
         "    # the seed checks the error first: a completed task with an error was not\n"
         "    # completed cleanly (a crash between two saves), so it runs again\n"
         "    if task.state is TaskState.COMPLETED and not task.error:\n"
         "        return _result(task)\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    # With the kit's MemoryTaskStore the only difference is a PEP 678 note on the right
    # exception; with any other TaskStore (the protocol has get, save and compare_and_set
    # only: lab 04's stores, a grader's own) the unknown id raises AttributeError.
    _m(
        "not-found-suggests-close-ids",
        {"lab02.unknown-task-error"},
        "makes the not-found error helpful, as git's 'did you mean ...?' does: it looks for "
        "the closest stored id with difflib over store.saves, which the notebook uses to "
        "replay a task's history, and adds it as a note to TaskNotFound: with "
        "MemoryTaskStore an unknown id raises TaskNotFound naming it, with a hint, and "
        "nothing runs, but saves is not part of the TaskStore protocol, so with any other "
        "store (a protocol-only store, lab 04's file or SQLite store) an unknown id raises "
        "AttributeError: no attribute 'saves' instead of TaskNotFound",
        ("import hashlib\n", "import difflib\nimport hashlib\n"),
        (_LOOKUP,
         "    task = store.get(task_id)\n"
         "    if task is None:\n"
         "        missing = TaskNotFound(task_id)\n"
         "        known = {saved.id for saved in store.saves}  # type: ignore[attr-defined]\n"
         "        for close in difflib.get_close_matches(task_id, known, n=1):\n"
         "            missing.add_note(f\"did you mean {close}?\")\n"
         "        raise missing\n"),
    ),
    # -- lab02.tool-calls-deduplicated (+ params-mismatch-conflict) --------------------------
    # The first repeat is answered from the store; the record is then gone, so a third call
    # runs again (tool-calls-deduplicated: a later call gets the stored result), and the key
    # reused with other params after a replay finds nothing and runs instead of conflicting
    # (params-mismatch-conflict), as with round 6's empty-result-not-kept.
    _m(
        "replay-consumes-the-key",
        {"lab02.tool-calls-deduplicated", "lab02.params-mismatch-conflict"},
        "thinks of the key as a one-time token, like a CSRF nonce or a queue message that is "
        "acked once read: the repeat collects the stored result and the record is deleted "
        "'so the table does not grow for ever': a call and one repeat behave exactly as they "
        "should (the side effect once, both get the same reply), but a model that asks a "
        "third time (or an agent restarted twice) runs the deploy again, and after a replay "
        "the key reused with other params runs the new action instead of raising "
        "IdempotencyConflict",
        (_DONE_CHECK,
         "        if not existing.done:\n"
         "            raise KeyInProgress(key)\n"
         "        keys.delete(key)  # the result is handed out once: the key is used up\n"
         "        return existing.result or \"\"\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    # Not whitespace-stripped / null-arguments-dropped / numbers-coerced: a JSON *string*
    # holding JSON is decoded a second time. The executor is unaffected: the tool refuses a
    # string as arguments (ValueError), the key is released, nothing is stored.
    _m(
        "double-encoded-arguments-unwrapped",
        {"lab02.key-is-deterministic"},
        "has seen models (and LangChain's output fixers) send tool arguments JSON-encoded "
        "twice, '\"{\\\"service\\\": \\\"api\\\"}\"', and decodes a string result once "
        "more 'so that both spellings are the same call': every JSON object, in any key "
        "order or spacing, gets the text it should, but a JSON string is other arguments "
        "than the object it spells: canonical_arguments('\"{\\\"a\\\":1}\"') returns "
        "'{\"a\":1}' instead of the string's own JSON, and the two calls share one key, "
        "though only the order of an object's keys is free",
        (_CANONICAL_VALUE,
         _CANONICAL_VALUE
         + "    if isinstance(value, str):  # arguments JSON-encoded twice: decode once more\n"
           '        value = json.loads(value or "{}")\n'),
    ),
    # Not null-arguments-dropped (drops null values): keys with certain names are dropped,
    # whatever their value. The kit's tools take no such argument, so the executor's
    # deduplication is unaffected (a tool given one fails, and the key is released).
    _m(
        "call-ids-stripped-from-arguments",
        {"lab02.key-is-deterministic"},
        "reads 'never the model's tool_call_id' and, having seen models echo the call's id "
        "inside the arguments, removes top-level arguments named id, tool_call_id or call_id "
        "before canonicalising: arguments without those names get the text and the key they "
        "should, in any order and spacing, but {\"id\": \"db-1\"} and {\"id\": \"db-2\"} (a "
        "tool that acts on a resource by id: restart instance i-1, refund charge ch_2) "
        "become one text, '{}', and one key, though another argument gives another key",
        (_CANONICAL_VALUE,
         _CANONICAL_VALUE
         + "    if isinstance(value, dict):  # never the model's call id, not even in the arguments\n"
           "        value = {name: item for name, item in value.items()\n"
           "                 if name not in (\"id\", \"tool_call_id\", \"call_id\")}\n"),
    ),
    _m(
        "arguments-parsed-as-python-literals",
        {"lab02.key-is-deterministic"},
        "parses the model's arguments with ast.literal_eval instead of json.loads, 'it is "
        "safe, and it also takes the single-quoted dicts models sometimes write': objects of "
        "strings and numbers, in any key order or spacing, get the text and key they should, "
        "but JSON is not Python: '{\"force\": true}' or '{\"reason\": null}' raise ValueError "
        "instead of giving a text and a key, and JSON's escape '\\/' is kept as two "
        "characters, so '{\"path\":\"a\\/b\"}' and '{\"path\":\"a/b\"}', the same arguments, "
        "get two texts and two keys",
        ("import hashlib\n", "import ast\nimport hashlib\n"),
        (_CANONICAL_VALUE,
         "    # safe to evaluate, and it also reads the single-quoted dicts models write\n"
         "    value = (ast.literal_eval(arguments or \"{}\") if isinstance(arguments, str)\n"
         "             else dict(arguments))\n"),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    # The record keeps the params text as it should; only the comparison goes through a
    # 32-bit checksum, so only params with equal CRC-32 (b"plumless" and b"buckeroo", or
    # any pair found in a second by brute force) are taken for the same.
    _m(
        "params-compared-by-crc32",
        {"lab02.params-mismatch-conflict"},
        "reads in the key store's docstring that Stripe keeps a fingerprint of the params and "
        "compares fingerprints, using zlib.crc32 'since it is fast and params can be long': "
        "the stored params are the text, every ordinary mismatch is a conflict, even while "
        "the first call runs, and a repeat gets the result; but CRC-32 has 32 bits and is no "
        "hash against collisions: params 'plumless' and 'buckeroo' (or any two params found "
        "to share a checksum) are taken for the same, so the key reused with the new params "
        "silently returns the first call's result",
        ("import json\n", "import json\nimport zlib\n"),
        (_CONFLICT_CHECK,
         "        # compare fingerprints, as Stripe does: cheaper than comparing long texts\n"
         "        if zlib.crc32(existing.params.encode(\"utf-8\")) != zlib.crc32("
         "params.encode(\"utf-8\")):\n"),
    ),
    # -- lab02.failure-not-cached (+ concurrent-once) -----------------------------------------
    # A failure is never returned as a result, and a later call with the same params runs
    # again; but the key is kept, not deleted: the same key with other params then conflicts
    # (failure-not-cached: the failed call leaves nothing behind), and two callers retrying
    # a failed key at once both take it over with a plain put and both run (concurrent-once).
    _m(
        "failure-kept-as-a-failed-claim",
        {"lab02.failure-not-cached", "lab02.concurrent-once"},
        "models the key on the task, which keeps its error when it fails and is claimed "
        "again: a failed action leaves its record, not done, with the error text as result "
        "'so the table says what happened', and a caller that finds such a record takes the "
        "key over and runs the action again: one caller after another, a failed call is "
        "retried and its error is never returned, but the key reused with other params after "
        "a failure raises IdempotencyConflict instead of running (nothing was done under "
        "it), and two callers that retry the failed key at the same moment both find the "
        "failed record, both take it over with a plain put, and both run the action",
        (_RUN_ONCE_BODY,
         "    claim = KeyRecord(key=key, params=params)\n"
         "    existing = keys.put_if_absent(claim)\n"
         "    if existing is not None:\n"
         "        if existing.params != params:\n"
         "            raise IdempotencyConflict(key, existing.params, params)\n"
         "        if existing.done:\n"
         "            return existing.result or \"\"\n"
         "        if existing.result is None:\n"
         "            raise KeyInProgress(key)\n"
         "        keys.put(claim)  # a failed attempt: take the key over and try again\n"
         "    try:\n"
         "        result = action()\n"
         "    except BaseException as error:\n"
         "        # kept, not done: the table says what happened, like a failed task\n"
         "        keys.put(replace(claim, result=f\"{type(error).__name__}: {error}\"))\n"
         "        raise\n"
         "    keys.put(replace(claim, done=True, result=result))\n"
         "    return result\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    # Threads sharing one key store object are serialised by its lock, so the usual race
    # passes; two store objects over one table (lab 04's SQLite store opened twice, two
    # views of a shared table, two processes) have two locks, and the get-then-put races.
    _m(
        "lock-per-store-instead-of-atomic-claim",
        {"lab02.concurrent-once"},
        "does not trust put_if_absent and guards a look-up-then-insert with a threading.Lock "
        "of its own, one per key store object (keyed by id(keys)) 'so unrelated stores do "
        "not block each other': threads sharing one store are serialised and run the action "
        "once, but the lock lives in this process and on this object, not in the table: two "
        "executors on two handles of the same table (lab 04's SQLite store opened by the old "
        "agent and by the restarted one, two processes) both find no record and both run, "
        "where the store's atomic insert lets only one in",
        ("import json\n", "import json\nimport threading\nfrom collections import defaultdict\n"),
        (_WORK_TYPE,
         _WORK_TYPE
         + "\n#: one lock per key store object, so that unrelated stores never wait on each other\n"
           "_CLAIM_LOCKS: defaultdict[int, threading.Lock] = defaultdict(threading.Lock)\n"),
        (_CLAIM_KEY,
         "    with _CLAIM_LOCKS[id(keys)]:  # look up and insert under the store's lock\n"
         "        existing = keys.get(key)\n"
         "        if existing is None:\n"
         "            keys.put(claim)\n"),
    ),
)
