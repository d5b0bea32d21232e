"""Round 6 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

_LOOKUP = "    task = store.get(task_id)\n"
_WORK_CALL = "        result = work(running)\n"
_WORK_FAILURE = "    except Exception as error:\n        failed = replace(\n"
_FAILED_ERROR = 'error=f"{type(error).__name__}: {error}",'
_LOST_CLAIM_RESULT = """\
        if current is not None and current.state is TaskState.COMPLETED:
            return _result(current)
"""
_CANONICAL = """\
    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_CONFLICT_CHECK = "        if existing.params != params:\n"
_STORE_DONE = """\
    keys.put(replace(claim, done=True, result=result))
    return result
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
_RESULT_HELPER = """\
def _result(task: Task) -> str:
    return task.result if task.result is not None else ""
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    _m(
        "error-type-by-qualname",
        {"lab02.task-lifecycle"},
        "names the exception's type with __qualname__, 'the class's full, proper name in "
        "Python 3', instead of __name__: for every exception class defined at the top level "
        "of a module (ToolFailure, ValueError, TimeoutError) the two are the same and the "
        "failed task's error reads exactly '<ExceptionType>: <message>', but for a class "
        "nested in another class (Deploy.Rejected) or defined inside a function (a test's "
        "or a plugin's local exception) the error reads 'Deploy.Rejected: ...' or "
        "'run.<locals>.Boom: ...', not '<ExceptionType>: <message>' (the task is still "
        "saved failed, stamped, and the exception re-raised as it should)",
        (_FAILED_ERROR, 'error=f"{type(error).__qualname__}: {error}",  # the full class name'),
    ),
    _m(
        "failure-recorded-for-runtime-errors-only",
        # the exception still propagates unchanged; what is wrong is the state left in the
        # store (running, never failed, no error), which is the lifecycle's alone
        {"lab02.task-lifecycle"},
        "records as a task failure only what a work is expected to fail with, RuntimeError "
        "and its subclasses (the kit's ToolFailure, the agent loop's NoFinalAnswer), and "
        "lets anything else through untouched, 'a ValueError is a bug in the work, it "
        "should crash, not become a task state': a work that raises ToolFailure is saved "
        "failed with its error and re-raised as it should, but one that raises ValueError, "
        "KeyError, TimeoutError, ConnectionError or lab 01's RetryError (an Exception, not a "
        "RuntimeError) is re-raised with the task left saved as running, never failed and "
        "with no error, so the store says someone is still running it",
        (_WORK_FAILURE,
         "    except RuntimeError as error:  # the work's expected failures; anything else is a bug\n"
         "        failed = replace(\n"),
    ),
    _m(
        "work-given-the-read-task",
        # every version the store saves is right; what breaks is the docstring's "Call
        # work(running_task)": the task handed to the work is not the one saved as running,
        # which is the lifecycle's contract (no other item judges what the work is given)
        {"lab02.task-lifecycle"},
        "calls work(task) with the task as it was read, 'the work only needs the id and the "
        "input': the claim, the completed and the failed versions are saved exactly as they "
        "should be, but the work is handed the pending task (or, when a failed task is "
        "executed again, the failed one with its old error and old updated_at) instead of "
        "the running task that was just claimed and saved, so a work that looks at its "
        "task's state or error, or saves its progress with replace(task, ...) as lab 04's "
        "agent does, sees (and writes back) a state the store no longer has",
        (_WORK_CALL, "        result = work(task)  # it needs the id and the input\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "id-stripped-before-lookup",
        {"lab02.unknown-task-error"},
        "tidies the id before looking it up, 'ids pasted from a log or read from a CLI "
        "argument come with a trailing newline or space': every id as create_task made it "
        "is found, and an id that names no task even once stripped raises TaskNotFound as "
        "it should; but an id that is not stored, 'task-1\\n' or ' task-1', is taken for the "
        "stored 'task-1', so executing it runs that other task's work (or returns its "
        "result) instead of raising TaskNotFound naming the id it was given",
        (_LOOKUP, "    task_id = task_id.strip()  # ids from logs and CLIs carry stray spaces\n" + _LOOKUP),
    ),
    _m(
        "empty-id-rejected-as-value-error",
        {"lab02.unknown-task-error"},
        "validates its arguments first, as a defensive API does, and refuses an empty "
        "task_id with ValueError, 'an empty id is the caller's bug, not a missing task': "
        "every other id that is not stored raises TaskNotFound as it should, but '' (an id "
        "read from an empty form field, an unset environment variable, a JSON field "
        "defaulted to '') raises ValueError instead of TaskNotFound naming it, although no "
        "task is stored under it either (nothing runs and nothing is saved)",
        (_LOOKUP,
         "    if not task_id:\n"
         "        raise ValueError(\"execute_task needs a task id, got an empty one\")\n"
         + _LOOKUP),
    ),
    # -- lab02.tool-calls-deduplicated (+ params-mismatch-conflict) --------------------------
    _m(
        "empty-result-not-kept",
        # after an empty success the key is gone: a repeat runs the action again
        # (tool-calls-deduplicated: one run per key, a finished key's result), and the same
        # key reused with other params finds no record and runs instead of raising
        # IdempotencyConflict (params-mismatch-conflict), as with round 1's
        # claim-released-in-finally, here only for an action that returned ""
        {"lab02.tool-calls-deduplicated", "lab02.params-mismatch-conflict"},
        "borrows a cache's habit of not caching empty answers ('an empty reply is usually a "
        "glitch; let the next call ask again') and, when the action returns '', releases "
        "the key instead of storing it as done: every action whose result is text is stored "
        "and replayed as it should (every DevOps tool replies with text), but an action that "
        "succeeded with '' (a command with no output) runs again on every repeat under its "
        "key, and the same key reused with other params runs the new action instead of "
        "raising IdempotencyConflict",
        (_STORE_DONE,
         "    if result:\n"
         "        keys.put(replace(claim, done=True, result=result))\n"
         "    else:\n"
         "        keys.delete(key)  # an empty answer is not worth replaying: ask again next time\n"
         "    return result\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "objects-in-lists-left-unsorted",
        {"lab02.key-is-deterministic"},
        "sorts the keys with a recursive helper of its own, 'so that it works at every "
        "depth', and then dumps without sort_keys since the value is already sorted; the "
        "helper recurses into objects but leaves lists as they are: flat arguments and "
        "objects nested in objects get one text whatever their key order, but objects "
        "inside a list keep the order the model wrote their keys in, so "
        "{\"steps\": [{\"host\": \"a\", \"op\": \"drain\"}]} and "
        "{\"steps\": [{\"op\": \"drain\", \"host\": \"a\"}]} give two texts and two keys "
        "(a list's own order is kept, as it should be)",
        (_CANONICAL,
         _CANONICAL_VALUE
         + '    return json.dumps(_keys_sorted(value), separators=(",", ":"), ensure_ascii=False)\n'
           "\n"
           "\n"
           "def _keys_sorted(value: Any) -> Any:\n"
           "    \"\"\"The value with every object's keys in order, at every depth.\"\"\"\n"
           "    if isinstance(value, dict):\n"
           "        return {key: _keys_sorted(item) for key, item in sorted(value.items())}\n"
           "    return value\n"),
    ),
    _m(
        "strings-unicode-normalised",
        {"lab02.key-is-deterministic"},
        "has read that one accented letter can be written as one code point or as a letter "
        "and a combining accent, and normalises every string of the arguments (keys and "
        "values, at every depth) to NFC 'so that the same text typed two ways is one "
        "argument': ASCII arguments, and non-ASCII ones already in NFC, get exactly the "
        "keys they should, but {\"note\": \"caf\\u00e9\"} and {\"note\": \"cafe\\u0301\"}, "
        "two different strings, become one text and one key, although every character of "
        "a string is part of the arguments",
        ("import uuid\n", "import unicodedata\nimport uuid\n"),
        (_CANONICAL,
         _CANONICAL_VALUE
         + '    return json.dumps(_nfc(value), sort_keys=True, separators=(",", ":"), '
           "ensure_ascii=False)\n"
           "\n"
           "\n"
           "def _nfc(value: Any) -> Any:\n"
           "    \"\"\"Every string in NFC: the same text typed two ways is one text.\"\"\"\n"
           "    if isinstance(value, str):\n"
           "        return unicodedata.normalize(\"NFC\", value)\n"
           "    if isinstance(value, dict):\n"
           "        return {_nfc(key): _nfc(item) for key, item in value.items()}\n"
           "    if isinstance(value, list):\n"
           "        return [_nfc(item) for item in value]\n"
           "    return value\n"),
    ),
    _m(
        "mapping-dumped-as-is",
        # the executor only ever passes JSON text, so deduplication is unaffected; what
        # canonical_arguments and idempotency_key return (here: raise) is the key item's
        {"lab02.key-is-deterministic"},
        "parses the JSON text and hands a mapping straight to json.dumps, 'it is already "
        "the data', without dict(arguments): JSON text and a plain dict give the keys they "
        "should, but any other Mapping the signature allows (a types.MappingProxyType, a "
        "frozen or custom Mapping, a ChainMap) is not JSON serialisable, so "
        "canonical_arguments and idempotency_key raise TypeError for it instead of "
        "returning the text and the key of the same arguments",
        (_CANONICAL_VALUE,
         '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else arguments\n'),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    _m(
        "params-compared-as-json",
        {"lab02.params-mismatch-conflict"},
        "does not trust callers to send canonical params and compares them as data when "
        "both parse as JSON, 'another key order or spacing is the same request', falling "
        "back to comparing the texts otherwise: the executor's params (the tool name "
        "followed by JSON) are not JSON and are compared as text, and params that differ in "
        "any string or in structure are a conflict as they should be; but Python's == says "
        "1 == 1.0 == True and 0 == False, so a key first used with {\"force\":true} and "
        "reused with {\"force\":1} (or {\"replicas\":1} and {\"replicas\":1.0}) silently "
        "returns the first call's result instead of raising IdempotencyConflict",
        (_CONFLICT_CHECK, "        if not _same_params(existing.params, params):\n"),
        (_RESULT_HELPER,
         _RESULT_HELPER
         + "\n"
           "\n"
           "def _same_params(stored: str, given: str) -> bool:\n"
           "    \"\"\"Params as data when both are JSON: another key order or spacing is the same.\"\"\"\n"
           "    try:\n"
           "        return json.loads(stored) == json.loads(given)\n"
           "    except ValueError:\n"
           "        return stored == given\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "own-errors-never-release",
        # conflicts and "in progress" from run_once's own checks still leave the other
        # caller's key alone, as they should; only an action that itself raises one of the
        # lab's errors (a nested keyed call refused) keeps the claim, which is the failure
        # path's rule alone
        {"lab02.failure-not-cached"},
        "puts the claim, the checks and the action in one try block and, knowing that a "
        "conflict or an 'in progress' must never release a key someone else holds, lets "
        "IdempotencyConflict and KeyInProgress through without deleting the key; every other "
        "failure releases it: a refused caller leaves the other's key alone and a tool that "
        "raises ToolFailure, ValueError or KeyboardInterrupt is released and re-raised as it "
        "should, but an action that itself raises KeyInProgress or IdempotencyConflict (a "
        "composite step whose nested keyed call is refused) leaves its own claim behind, not "
        "done, so every later call under the key raises KeyInProgress without running, "
        "though the key is to be released whatever the action raises",
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
         "    except (IdempotencyConflict, KeyInProgress):\n"
         "        raise  # refused: the key is someone else's, never release it\n"
         "    except BaseException:\n"
         "        keys.delete(key)\n"
         "        raise\n"
         "    keys.put(replace(claim, done=True, result=result))\n"
         "    return result\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "lost-claim-needs-a-result",
        # the first check of a completed task is untouched (completed-not-rerun holds); only
        # the loser of the claim is wrong, which is concurrent-once's
        {"lab02.concurrent-once"},
        "when compare_and_set loses, reads the task again and hands back the winner's result "
        "'if there is one', testing the result rather than the state: a winner still "
        "running, or failed, gives TaskInProgress, and a winner that completed with text "
        "gives its result, as they should; but when the winner's work completed with '' "
        "(completed is the state, not a non-empty result), the loser raises TaskInProgress "
        "instead of returning ''",
        (_LOST_CLAIM_RESULT,
         "        if current is not None and current.result:\n"
         "            return current.result  # the winner has finished: its result\n"),
    ),
)
