"""Round 7 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_WORK_TYPE = "Work = Callable[[Task], str]\n"
_FAILED_ERROR = 'error=f"{type(error).__name__}: {error}",'
_CLAIM_LINE = "    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n"
_FAILED_STAMP = "            updated_at=now(),\n        )\n        store.save(failed)\n"
_COMPLETED_SAVE = (
    "    store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))\n"
)
_RUNNING_CHECK = """\
    if task.state is TaskState.RUNNING:
        raise TaskInProgress(task_id)
"""
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_EXECUTE_BODY = """\
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
    if task.state is TaskState.COMPLETED:
        return _result(task)
    if task.state is TaskState.RUNNING:
        raise TaskInProgress(task_id)
    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())
    if not store.compare_and_set(running, expected=task.state):
        current = store.get(task_id)
        if current is not None and current.state is TaskState.COMPLETED:
            return _result(current)
        raise TaskInProgress(task_id)
    try:
        result = work(running)
    except Exception as error:
        failed = replace(
            running, state=TaskState.FAILED, error=f"{type(error).__name__}: {error}",
            updated_at=now(),
        )
        store.save(failed)
        raise
    store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))
    return result
"""
_CANONICAL = """\
    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_KEY_BODY = """\
    material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()
"""
_CLAIM_AND_CHECKS = """\
    claim = KeyRecord(key=key, params=params)
    existing = keys.put_if_absent(claim)
    if existing is not None:
        if existing.params != params:
            raise IdempotencyConflict(key, existing.params, params)
"""
_ACTION = """\
    try:
        result = action()
    except BaseException:
        keys.delete(key)
        raise
"""
_STORE_DONE = "    keys.put(replace(claim, done=True, result=result))\n"
_EXECUTOR_KEY = "        key = idempotency_key(self.task_id, name, params)\n"

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    _m(
        "error-without-dangling-colon",
        {"lab02.task-lifecycle"},
        "does not like the dangling ': ' that an exception without a message leaves, and "
        "writes the error the way Python's own traceback does, the bare class name when "
        "there is no message: every failure with a message is recorded exactly as "
        "'<ExceptionType>: <message>' (the task saved failed, stamped, the exception "
        "re-raised as it should), but a work that raises an exception with an empty message "
        "(a bare 'raise TimeoutError', ToolFailure(''), 'raise NotImplementedError') is "
        "recorded as 'TimeoutError' instead of 'TimeoutError: ', which is what "
        "'<ExceptionType>: <message>' is for an empty message",
        (_FAILED_ERROR,
         "error=(f\"{type(error).__name__}: {error}\" if str(error)\n"
         "                   else type(error).__name__),  # no dangling ': ' without a message"),
    ),
    _m(
        "stamps-never-go-backwards",
        {"lab02.task-lifecycle"},
        "guards the timestamps against clock skew between servers, 'updated_at must never go "
        "backwards', and stamps each change with max(now(), the updated_at it replaces): "
        "with a clock that only moves forward (the notebook's, any real one) every version "
        "is stamped with now() as it should be, but when the clock reads earlier than the "
        "task's last stamp (a task created or failed under another clock, a test clock set "
        "back, a restored backup) the running, completed and failed versions keep the old, "
        "later stamp instead of the now() of the change",
        (_CLAIM_LINE,
         "    # clock skew between servers: a stamp never goes backwards\n"
         "    running = replace(task, state=TaskState.RUNNING, error=None,\n"
         "                      updated_at=max(now(), task.updated_at))\n"),
        (_FAILED_STAMP,
         "            updated_at=max(now(), running.updated_at),\n"
         "        )\n"
         "        store.save(failed)\n"),
        (_COMPLETED_SAVE,
         "    store.save(replace(running, state=TaskState.COMPLETED, result=result,\n"
         "                       updated_at=max(now(), running.updated_at)))\n"),
    ),
    _m(
        "permanent-failure-not-rerun",
        {"lab02.task-lifecycle"},
        "carries lab 01's lesson (never retry a permanent error) over to tasks: a failed task "
        "whose recorded error is a ValueError, TypeError, KeyError, PermissionError or "
        "NotImplementedError 'will only fail the same way again', so executing it raises a "
        "RuntimeError quoting the old error without claiming it; a failed task whose error "
        "looks transient (ToolFailure, TimeoutError, the notebook's ServerReboot) is claimed "
        "and run again as it should, but a task that failed with one of those five is never "
        "claimed again, though a failed task is always claimed from failed and run again",
        (_WORK_TYPE,
         _WORK_TYPE
         + "\n#: Errors that fail the same way every time (lab 01: no retry of a permanent one).\n"
           "_PERMANENT_ERRORS = frozenset(\n"
           "    {\"ValueError\", \"TypeError\", \"KeyError\", \"PermissionError\", "
           "\"NotImplementedError\"}\n"
           ")\n"),
        (_RUNNING_CHECK,
         _RUNNING_CHECK
         + "    if task.state is TaskState.FAILED and (task.error or \"\").split(\":\", 1)[0] in "
           "_PERMANENT_ERRORS:\n"
           "        # a permanent failure: running it again would only fail the same way\n"
           "        raise RuntimeError(f\"task {task_id} failed permanently: {task.error}\")\n"),
    ),
    _m(
        "key-error-translated-at-the-boundary",
        # an unknown id still raises TaskNotFound naming it, with nothing saved; the failed
        # version is saved right; what breaks is "re-raise the exception itself" of the
        # work-failure bullet, which is the lifecycle's (as round 1's task-failure-wrapped)
        {"lab02.task-lifecycle"},
        "treats the task store like a dict: the lookup raises KeyError for a missing id and "
        "one try/except KeyError around the whole function turns it into TaskNotFound 'at "
        "the boundary', the Pythonic way; unknown ids raise TaskNotFound naming the id as "
        "they should, and a work that fails with any other exception is saved failed and "
        "re-raised as it is, but a work that itself raises KeyError (a missing field in a "
        "tool's reply, a dict lookup in the agent) is saved failed as 'KeyError: ...' and "
        "then surfaces to the caller as TaskNotFound for a task that exists, instead of the "
        "KeyError the work raised",
        (_EXECUTE_BODY,
         "    try:\n"
         "        task = store.get(task_id)\n"
         "        if task is None:\n"
         "            raise KeyError(task_id)\n"
         "        if task.state is TaskState.COMPLETED:\n"
         "            return _result(task)\n"
         "        if task.state is TaskState.RUNNING:\n"
         "            raise TaskInProgress(task_id)\n"
         "        running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n"
         "        if not store.compare_and_set(running, expected=task.state):\n"
         "            current = store.get(task_id)\n"
         "            if current is not None and current.state is TaskState.COMPLETED:\n"
         "                return _result(current)\n"
         "            raise TaskInProgress(task_id)\n"
         "        try:\n"
         "            result = work(running)\n"
         "        except Exception as error:\n"
         "            failed = replace(\n"
         "                running, state=TaskState.FAILED, "
         "error=f\"{type(error).__name__}: {error}\",\n"
         "                updated_at=now(),\n"
         "            )\n"
         "            store.save(failed)\n"
         "            raise\n"
         "        store.save(replace(running, state=TaskState.COMPLETED, result=result, "
         "updated_at=now()))\n"
         "        return result\n"
         "    except KeyError as missing:  # the store is a mapping: translate at the boundary\n"
         "        raise TaskNotFound(task_id) from missing\n"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    _m(
        "completed-without-result-normalised",
        # what is returned is right ("" for a completed task without a result, as _result
        # gives it) and nothing runs; the one thing wrong is the write, and "save nothing"
        # for a completed task is completed-not-rerun's rule
        {"lab02.completed-not-rerun"},
        "migrates old records lazily, as lab 04's persistence will make it think about: a "
        "completed task whose result is None (written by an older version, or a JSON record "
        "with \"result\": null) is saved once with result \"\" 'so that every completed "
        "task has a text result from now on', then its result is returned: a completed task "
        "with a result (\"\" included) is returned without any write, as it should, but "
        "executing a completed task that has no result writes a new version of it to the "
        "store, though executing a completed task saves nothing",
        (_COMPLETED_CHECK,
         "    if task.state is TaskState.COMPLETED:\n"
         "        if task.result is None:\n"
         "            # an old record without a result: normalise it once\n"
         "            store.save(replace(task, result=\"\"))\n"
         "        return _result(task)\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "not-found-id-shortened",
        {"lab02.unknown-task-error"},
        "has learnt never to put unbounded input into an exception message (a 10 kB id from "
        "a request floods the logs) and cuts the id to 64 characters before raising "
        "TaskNotFound: every id create_task makes (37 characters) and every ordinary id is "
        "named in full, nothing runs and nothing is saved, but an unknown id longer than 64 "
        "characters (a path-like id, an id with a long prefix, a pasted blob) raises "
        "TaskNotFound whose message and task_id hold only its first 64 characters and '...', "
        "not the id that was not found",
        ("        raise TaskNotFound(task_id)",
         "        # never an unbounded input in an error message\n"
         "        raise TaskNotFound(task_id if len(task_id) <= 64 else task_id[:64] + \"...\")"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    _m(
        "executor-key-namespaced-by-tool",
        # idempotency_key itself is untouched; the executor runs its calls under another key
        # than the one the contract names, which is the executor's rule
        {"lab02.tool-calls-deduplicated"},
        "prefixes the executor's keys with the tool's name, 'apply_deploy:<digest>', so that "
        "the key table is readable when debugging and the tools never share a namespace: "
        "within one executor, and between executors built the same way, a repeat finds its "
        "key and gets the first reply, but the calls are not run under "
        "idempotency_key(task_id, name, arguments): a result already stored under that key "
        "(by run_once called with it, by another process's executor, by lab 04's resume) is "
        "not found and the side effect runs again, and the record the executor writes is "
        "under a key nobody else computes",
        (_EXECUTOR_KEY,
         "        # namespaced by tool: a readable key table\n"
         "        key = f\"{name}:{idempotency_key(self.task_id, name, params)}\"\n"),
    ),
    _m(
        "stored-result-truncated",
        {"lab02.tool-calls-deduplicated"},
        "plans the SQL key table of lab 04 with a VARCHAR(1024) result column and caps the "
        "stored result at 1024 characters already, returning the full result to the first "
        "caller: every reply of the kit's tools is short and is replayed exactly, but an "
        "action whose result is longer (a build log, a rendered config, a long command "
        "output) gives the first caller the whole text and every repeat under its key only "
        "the first 1024 characters, though a repeat gets the first reply exactly as it was",
        (_WORK_TYPE,
         _WORK_TYPE + "\n#: The key table's result column (lab 04's SQL table: VARCHAR(1024)).\n"
         "_MAX_RESULT = 1024\n"),
        (_STORE_DONE,
         "    keys.put(replace(claim, done=True, result=result[:_MAX_RESULT]))\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "integers-parsed-as-floats",
        {"lab02.key-is-deterministic"},
        "reads that JSON has a single number type (JavaScript's double) and, after parsing "
        "the text or copying the mapping, sends the value through JSON once more with "
        "parse_int=float 'so that 3 and 3.0 are one argument, however they came': "
        "arguments given as text or as a mapping, in any key order or spacing, get one text, "
        "and different small numbers (3 and 4) are told apart, but integers beyond 2**53 "
        "lose their last digits, so {\"build\": 9007199254740993} and "
        "{\"build\": 9007199254740992} (a 64-bit id, a "
        "snowflake, a large counter), two different arguments, get one text and one key",
        (_CANONICAL_VALUE,
         _CANONICAL_VALUE
         + "    # JSON has one number type (a double): 3 and 3.0 are the same argument\n"
           "    value = json.loads(json.dumps(value), parse_int=float)\n"),
    ),
    _m(
        "digests-combined-with-xor",
        {"lab02.key-is-deterministic"},
        "keeps the three parts apart by hashing each one on its own ('no separator can run "
        "into the next part') and combines the three SHA-256 digests with XOR, as hash "
        "combiners do: the key is deterministic, ignores tool_call_id, and a part's boundary "
        "cannot shift ('ab' + 'c' and 'a' + 'bc' differ), but XOR forgets which part was "
        "which, so task 'deploy' with tool 'build_config' and task 'build_config' with tool "
        "'deploy' (same arguments) share a key, and a task id equal to the tool name cancels "
        "out, leaving a key of the arguments alone",
        (_KEY_BODY,
         "    combined = 0\n"
         "    for part in (task_id, tool_name, canonical_arguments(arguments)):\n"
         "        # each part hashed on its own: no part can run into the next\n"
         "        combined ^= int.from_bytes(hashlib.sha256(part.encode(\"utf-8\")).digest(), "
         "\"big\")\n"
         "    return f\"{combined:064x}\"\n"),
    ),
    _m(
        "canonical-cached-by-object-id",
        {"lab02.key-is-deterministic"},
        "memoises canonical_arguments in a module-level dict, after lru_cache refused "
        "mappings as unhashable: JSON text is cached under itself, a mapping under id(...) "
        "'since a dict cannot be a key': the executor only ever passes text, which stays "
        "right, but a mapping that is changed and canonicalised again gets its old text, and "
        "a new mapping that CPython puts at the address of a freed one (two literals in a "
        "row, {\"v\": \"1\"} then {\"v\": \"2\"}) gets the old mapping's text and key",
        (_CANONICAL,
         "    cache_key = arguments if isinstance(arguments, str) else id(arguments)\n"
         "    if cache_key in _CANONICAL_CACHE:\n"
         "        return _CANONICAL_CACHE[cache_key]\n"
         + _CANONICAL_VALUE
         + "    text = json.dumps(value, sort_keys=True, separators=(\",\", \":\"), "
           "ensure_ascii=False)\n"
           "    _CANONICAL_CACHE[cache_key] = text\n"
           "    return text\n"),
        (_WORK_TYPE,
         _WORK_TYPE
         + "\n#: canonical texts already computed (a dict is unhashable: keyed by its id)\n"
           "_CANONICAL_CACHE: dict[object, str] = {}\n"),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    _m(
        "params-truncated-to-column",
        {"lab02.params-mismatch-conflict"},
        "plans lab 04's SQL key table with a VARCHAR(255) params column and cuts params to "
        "255 characters already, storing and comparing the cut text: short params (every "
        "test's, most tool calls') are compared whole, a mismatch is a conflict and a "
        "repeat gets the stored result, but two params longer than 255 characters that "
        "differ only after it (a rendered config, a long list of hosts, a large payload) "
        "are taken for the same params, so the key reused with the new ones silently returns "
        "the first call's result, and the record keeps only the first 255 characters",
        (_WORK_TYPE,
         _WORK_TYPE + "\n#: The key table's params column (lab 04's SQL table: VARCHAR(255)).\n"
         "_MAX_PARAMS = 255\n"),
        (_CLAIM_AND_CHECKS,
         "    stored = params[:_MAX_PARAMS]  # what the params column holds\n"
         "    claim = KeyRecord(key=key, params=stored)\n"
         "    existing = keys.put_if_absent(claim)\n"
         "    if existing is not None:\n"
         "        if existing.params != stored:\n"
         "            raise IdempotencyConflict(key, existing.params, params)\n"),
    ),
    _m(
        "conflict-checked-before-the-claim",
        # the work still runs once and a loser with the same params still gets KeyInProgress
        # or the result; only a loser with other params is answered wrongly, and the rule it
        # breaks (other params: a conflict, even while running) is params-mismatch-conflict's
        {"lab02.params-mismatch-conflict"},
        "fails fast: looks the key up and raises IdempotencyConflict on other params before "
        "claiming, then claims with put_if_absent and, 'params already checked above', only "
        "asks the found record whether it is done: one caller after another, a mismatch is a "
        "conflict and a repeat gets KeyInProgress or the result as they should, but two "
        "callers with other params under one key at the same moment both pass the look-up, "
        "and the one that loses the claim gets KeyInProgress (or, once the first has "
        "finished, the first call's result for its new params) instead of IdempotencyConflict",
        (_CLAIM_AND_CHECKS,
         "    seen = keys.get(key)  # fail fast on a reused key, before claiming anything\n"
         "    if seen is not None and seen.params != params:\n"
         "        raise IdempotencyConflict(key, seen.params, params)\n"
         "    claim = KeyRecord(key=key, params=params)\n"
         "    existing = keys.put_if_absent(claim)\n"
         "    if existing is not None:  # same params: checked above\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "failure-re-raised-from-none",
        {"lab02.failure-not-cached"},
        "releases the key when the action fails and re-raises with 'raise error from None', "
        "the idiom for a clean traceback without 'During handling of the above exception': "
        "the caller gets the very exception object the action raised, of its type and with "
        "its message, and a later call under the key runs again, but 'from None' rewrites "
        "that exception's chaining: an action that raised ToolFailure(...) from "
        "ConnectionResetError(...) (lab 01's RetryError from the last API error, any wrapped "
        "failure) reaches the caller with __cause__ None and its context suppressed, so what "
        "caused the failure is lost, though run_once is to re-raise the failure as it came",
        (_ACTION,
         "    try:\n"
         "        result = action()\n"
         "    except BaseException as error:\n"
         "        keys.delete(key)  # not stored: a later call runs it again\n"
         "        raise error from None  # a clean traceback\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "done-record-written-after-delete",
        {"lab02.concurrent-once"},
        "replaces the claim with the finished record by deleting the key and inserting the "
        "record afresh, 'so that lab 04's SQL store, which INSERTs, cannot fail on the "
        "existing row': one caller after another sees the claim or the finished record as "
        "it should, but between the delete and the put the key is free, and a caller that "
        "arrives in that gap claims it and runs the action a second time (its own result "
        "then overwrites the first)",
        (_STORE_DONE,
         "    keys.delete(key)  # lab 04's store INSERTs: make room for the finished record\n"
         "    keys.put(replace(claim, done=True, result=result))\n"),
    ),
)
