"""Round 13 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

# Families deliberately avoided, because the base set or rounds 1 to 12 already have them:
# the error text rewritten (repr, traceback module path, __qualname__, first line, args[0],
# no dangling colon, root cause, ExceptionGroup unwrapped, errors accumulated, bare message,
# notes appended, escaped to ASCII); a claim that drops the messages, copies them into a
# list or moves created_at; the state saved as its text; a completed task not trusted
# because of its error, a None or empty result, its age or a cut-short conversation, or
# saved again on replay; the result stripped when saved; ids tidied before lookup (strip,
# 'task-' prefix, NFKC) or mangled in the error (None, quoted, shortened), an empty id
# refused; reads cached, known by an allowlist, or side effects hard-coded by name;
# replies annotated, filled in or truncated; an empty result not kept; a finished key told
# by its result, stored with put_if_absent or built positionally; lone surrogates in the
# key's material; another JSON parser (literal_eval, jiter); numbers coerced, rounded or
# parsed as floats; falsy or null arguments dropped; params compared loosely (case,
# whitespace, JSON, CRC-32, compare_digest, identity, truncated) or '' read as '{}'; the
# conflict raised as a plain ValueError; claims released in finally or kept on failure;
# failures stored as results, 'maybe done' or rolled back over the task's keys;
# check-then-set, a lock of one's own, a time lease on running tasks, and the lost-claim
# variants.

_CREATE_IMPORTS = "import time\nimport uuid\n"
_WORK_TYPE = "Work = Callable[[Task], str]\n"
_CREATED = "    created = now()\n"
_NEW_TASK_FIELDS = (
    'id=f"task-{uuid.uuid4().hex}", user_input=user_input, created_at=created, '
    "updated_at=created\n"
)
_LOOKUP = """\
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
"""
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_RUNNING_CHECK_AND_CLAIM = """\
    if task.state is TaskState.RUNNING:
        raise TaskInProgress(task_id)
    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())
    if not store.compare_and_set(running, expected=task.state):
"""
_RUNNING = "running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())"
_EXCEPT_WORK = "    except Exception as error:\n"
_FAILED_SAVED = "        store.save(failed)\n        raise\n"
_COMPLETED_SAVE = (
    "    store.save(replace(running, state=TaskState.COMPLETED, result=result, updated_at=now()))\n"
)
_RESULT_HELPER = "def _result(task: Task) -> str:\n"
_CANONICAL_DEF = "def canonical_arguments(arguments: str | Mapping[str, Any]) -> str:\n"
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_CONFLICT = "            raise IdempotencyConflict(key, existing.params, params)\n"
_RUN_AND_RELEASE = """\
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
    # create_task's own contract ("a new pending task for user_input"): only an input with
    # surrounding whitespace changes; the id, the state, the stamps and the save are right.
    _m(
        "user-input-stripped-on-create",
        {"lab02.task-lifecycle"},
        "has seen requests arrive from a chat box or a CLI with a trailing newline and "
        "spaces, and tidies the input once, when the task is born, 'so the agent and the "
        "dashboard see the request itself': every input without surrounding whitespace is "
        "saved exactly, with a fresh uuid4 id, pending, both stamps from one reading of "
        "now(), and returned as it should; but create_task(store, 'Deploy checkout 1.8.2\\n') "
        "or an input of spaces only saves and returns a task whose user_input is "
        "'Deploy checkout 1.8.2' or '', not the request it was given",
        (_CREATED,
         "    created = now()\n"
         "    # a request pasted from a chat or read from a CLI comes with a newline or spaces\n"),
        (_NEW_TASK_FIELDS, _NEW_TASK_FIELDS.replace("user_input=user_input,",
                                                    "user_input=user_input.strip(),")),
    ),
    # The claim's rule "only the state, the error and updated_at change": here the result too.
    # Invisible for every task the reference makes (pending and failed tasks have no result);
    # a pending or failed task that carries one (saved by hand, re-queued after completing)
    # is saved running, and failed again, without it.
    _m(
        "claim-clears-a-leftover-result",
        {"lab02.task-lifecycle"},
        "clears the error and the result together when it claims a task, 'a new attempt "
        "starts from a clean slate, as the error does': a task created by create_task, or "
        "failed by its work, has no result, so its running, completed and failed versions "
        "are exactly the solution's; but a pending or failed task that carries a result "
        "(an operator re-queued a completed task by saving it pending, lab 04's resume "
        "saved a partial answer, a task saved by hand) is saved running with result None, "
        "and if its work fails again the failed version has lost it too, though the claim "
        "keeps every field but the state, the error and updated_at as the task read holds it",
        (_RUNNING,
         "running = replace(  # a new attempt starts clean: no error, no result\n"
         "        task, state=TaskState.RUNNING, error=None, result=None, updated_at=now()\n"
         "    )"),
    ),
    # Python 3.11's except* wraps a plain exception in an ExceptionGroup: the recorded text
    # and the re-raised exception are the group's. A real ExceptionGroup from the work is
    # recorded and re-raised as it should (split returns the group itself).
    _m(
        "failure-caught-with-except-star",
        {"lab02.task-lifecycle"},
        "reads that a work may raise an ExceptionGroup (asyncio.TaskGroup, anyio) and that it "
        "is recorded with its own text, and writes 'except* Exception as error' so that "
        "groups are caught too, testing it with a TaskGroup whose two tools fail: that "
        "group is saved failed as 'ExceptionGroup: unhandled errors in a TaskGroup (2 "
        "sub-exceptions)' and re-raised as it is, as it should; but except* wraps every "
        "plain exception in a new group, so a work that raises ToolFailure('db-2 is "
        "read-only') is saved failed with the error 'ExceptionGroup:  (1 sub-exception)', "
        "and the caller gets an ExceptionGroup instead of the ToolFailure itself",
        (_EXCEPT_WORK,
         "    except* Exception as error:  # an ExceptionGroup from a TaskGroup is caught too\n"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    # Not cut-short-conversation-run-again (nothing runs here): the replay returns a text of
    # the conversation instead of the stored result. Only the first check changes; the loser
    # of a claim whose winner completed still gets _result.
    _m(
        "replay-answer-read-from-the-conversation",
        {"lab02.completed-not-rerun"},
        "thinks of the conversation as the source of truth for an agent's answer (run_agent "
        "returns the last assistant message's text) and answers a replay from it: a "
        "completed task with no messages, or without any assistant text, returns its stored "
        "result ('' included), and an agent task whose result is its final answer returns "
        "the same text, nothing runs and nothing is saved; but a completed task whose last "
        "assistant text is not its result (a work that returns a summary, a result "
        "post-processed before it was saved, an assistant message that talked before its "
        "tool call) returns that text instead of the stored result",
        (_COMPLETED_CHECK,
         "    if task.state is TaskState.COMPLETED:\n"
         "        return _answer(task)\n"),
        (_RESULT_HELPER,
         "def _answer(task: Task) -> str:\n"
         "    # an agent's answer is the last word of its conversation, as run_agent returns it\n"
         "    for message in reversed(task.messages):\n"
         '        if message.get("role") == "assistant" and message.get("content"):\n'
         '            return str(message["content"])\n'
         "    return _result(task)\n"
         "\n"
         "\n" + _RESULT_HELPER),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    # A module-level memo consulted only when the store has no task under the id: every stored
    # task is read from its store as it should; an id that completed earlier in the process
    # (in another store, or a store started afresh) returns that result instead of raising.
    _m(
        "completed-results-archived-in-the-process",
        {"lab02.unknown-task-error"},
        "plans for lab 04's store pruning finished tasks and keeps every completed result in "
        "a module-level dict 'so a replay still answers once the task is archived', keyed by "
        "the id alone since uuid4 ids are unique: every task in the store is executed, "
        "replayed or refused from its store exactly as it should, and an id that never "
        "completed in this process raises TaskNotFound naming it; but an id that is not in "
        "the store given, and completed earlier in the process in another store (a "
        "hand-made 'task-1' reused by the next test, a store restarted empty), returns that "
        "other task's result instead of raising TaskNotFound",
        (_WORK_TYPE,
         _WORK_TYPE
         + "\n#: Results of the tasks completed in this process: still answered once archived.\n"
           "_FINISHED: dict[str, str] = {}\n"),
        (_LOOKUP,
         "    task = store.get(task_id)\n"
         "    if task is None:\n"
         "        if task_id in _FINISHED:  # completed before, since archived from the store\n"
         "            return _FINISHED[task_id]\n"
         "        raise TaskNotFound(task_id)\n"),
        (_COMPLETED_SAVE,
         _COMPLETED_SAVE + "    _FINISHED[task_id] = result  # ids are uuid4: unique in the process\n"),
    ),
    # The falsy-container pitfall: MemoryTaskStore has __len__, so an empty store is falsy. An
    # empty store holds no task, so only unknown ids are affected, and only there.
    _m(
        "empty-store-taken-for-no-store",
        {"lab02.unknown-task-error"},
        "guards against being called without a store, 'a None store should say so, not task "
        "not found', and writes the guard as 'if not store:': any store that holds a task "
        "is truthy, so every stored task runs, replays or is refused as it should, and an "
        "unknown id raises TaskNotFound naming it; but MemoryTaskStore has a __len__, so an "
        "empty store is falsy, and executing any id against it (the very first lookup of a "
        "fresh store, a typo before anything was created) raises ValueError('execute_task "
        "needs a task store') instead of TaskNotFound",
        (_LOOKUP,
         "    if not store:  # called without a task store: say so, not 'task not found'\n"
         '        raise ValueError("execute_task needs a task store")\n' + _LOOKUP),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    # Not empty-result-not-kept (run_once, '') or tool-error-returned-as-reply (a raised
    # failure turned into a stored reply): a successful reply that reads like an error is
    # released after run_once stored it, so its repeat runs again. run_once is the solution's.
    _m(
        "error-looking-replies-released",
        {"lab02.tool-calls-deduplicated"},
        "has used agent frameworks whose tools report errors as text (LangChain's "
        "handle_tool_error, 'Error: ...') and wants those retried, so after run_once the "
        "executor gives the key back when the reply starts with 'error' or 'failed': every "
        "reply of the kit's tools ('Logs cleaned...', 'config #1 ...', '... applied') is "
        "stored and replayed as it should, and a raised failure is released by run_once; "
        "but a side-effecting tool that succeeds with a reply such as 'Error: nothing to "
        "clean' or 'FAILED checks: 2, deployed anyway' runs again on the model's repeat, and "
        "the second tool message is not the first one's",
        (_EXECUTOR_RUN,
         "        reply = run_once(\n"
         "            self.keys, key, f\"{name}{params}\", lambda: self.tools.execute(name, arguments)\n"
         "        )\n"
         "        if reply.lstrip().lower().startswith((\"error\", \"failed\")):\n"
         "            # the tool says it failed: do not keep that, let the model try again\n"
         "            self.keys.delete(key)\n"
         "        return reply\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    # The kit's DevOpsTools.execute rule copied into canonical_arguments: a JSON text that is a
    # list, a string, a number, a boolean or null raises. Through the executor nothing
    # changes (the tool refuses those arguments with a ValueError too, and nothing is stored).
    _m(
        "non-object-arguments-refused-like-the-kit",
        {"lab02.key-is-deterministic"},
        "copies the check of DevOpsTools.execute, 'tool arguments must be a JSON object', "
        "into canonical_arguments so that bad arguments fail early: every object, '' and any "
        "Mapping get the text and the key they should, in any key order or spacing, and "
        "through IdempotentTools a call with a list or a string for arguments fails with a "
        "ValueError as the tool would fail it; but canonical_arguments('[1, 2]'), "
        "('\"checkout\"'), ('3') or ('null'), and idempotency_key of them, raise ValueError "
        "instead of returning the value canonicalised as itself, though any JSON value is "
        "arguments",
        (_CANONICAL_VALUE,
         _CANONICAL_VALUE
         + "    if not isinstance(value, dict):  # as DevOpsTools.execute has it\n"
           '        raise ValueError(f"arguments must be a JSON object, not {arguments!r}")\n'),
    ),
    # Flat objects (every call of the kit's tools) are unchanged, and lists keep their order;
    # only nested objects and lists are folded into dotted paths, where distinct arguments
    # meet: {"a": {"b": 1}} and {"a.b": 1}, {"a": [5]} and {"a": {"0": 5}}.
    _m(
        "nested-objects-flattened-to-dotted-paths",
        {"lab02.key-is-deterministic"},
        "wants keys sorted at every depth and a readable key table, and folds the arguments "
        "into one flat object of dotted paths before sorting, the way config systems show "
        "nested settings ('deploy.replicas': 3): flat arguments, every spelling of the same "
        "nested arguments, and lists in their own order get one text each, as they should; "
        "but different arguments fold into the same paths: '{\"deploy\": {\"replicas\": 3}}' "
        "and '{\"deploy.replicas\": 3}', or '{\"hosts\": [\"a\"]}' and "
        "'{\"hosts\": {\"0\": \"a\"}}', give one text and one key, though another argument "
        "gives another key",
        (_CANONICAL_DEF,
         "def _leaves(value: Any, path: str = \"\") -> dict[str, Any]:\n"
         "    \"\"\"Every leaf under its dotted path: one flat object, readable and sortable.\"\"\"\n"
         "    if isinstance(value, dict) and value:\n"
         "        children = [(str(name), item) for name, item in value.items()]\n"
         "    elif isinstance(value, list) and value:\n"
         "        children = [(str(index), item) for index, item in enumerate(value)]\n"
         "    else:\n"
         "        return {path: value}\n"
         "    flat: dict[str, Any] = {}\n"
         "    for name, item in children:\n"
         "        flat.update(_leaves(item, f\"{path}.{name}\" if path else name))\n"
         "    return flat\n"
         "\n"
         "\n" + _CANONICAL_DEF),
        (_CANONICAL_VALUE,
         _CANONICAL_VALUE
         + "    if isinstance(value, dict) and value:\n"
           "        value = _leaves(value)  # sorted at every depth: one flat object of paths\n"),
    ),
    # -- lab02.params-mismatch-conflict ------------------------------------------------------
    # Not conflict-raised-as-plain-value-error (a deliberate ValueError): the lab's given
    # exception is built like any other exception, with one message, and its constructor
    # (key, stored, given) turns the refusal into a TypeError. Nothing runs; nothing changes.
    _m(
        "conflict-built-with-a-message-only",
        {"lab02.params-mismatch-conflict"},
        "raises every error of its own code with one message and does the same with the "
        "given IdempotencyConflict, without reading its constructor: a repeat with the same "
        "params gets the stored result or KeyInProgress, and a key reused with other params "
        "runs nothing and keeps the first record, as it should; but "
        "IdempotencyConflict(key, stored, given) takes three arguments, so the refusal "
        "itself fails with TypeError ('missing 2 required positional arguments'), done or "
        "still running, and a caller catching IdempotencyConflict (or reading its key) never "
        "sees one",
        (_CONFLICT,
         "            raise IdempotencyConflict(\n"
         "                f\"idempotency key {key} was first used with other parameters\"\n"
         "            )\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    # Not claim-kept-on-failure outright: IdempotentTools gives the key back, so every failure
    # through the executor is released and retried as it should; run_once called directly
    # keeps the failed claim (later calls KeyInProgress, other params a conflict).
    _m(
        "release-left-to-the-executor",
        {"lab02.failure-not-cached"},
        "reasons that run_once is a generic primitive and that whether a failed operation "
        "may be tried again is its caller's decision ('a half-done payment must not be "
        "retried blindly'), so run_once leaves the claim on a failure and IdempotentTools, "
        "which knows its tools are safe to retry, deletes the key when the tool raises: "
        "through the executor a failed clean_logs runs again on the next call and the other "
        "calls' keys stay, as they should; but run_once(keys, key, params, action) with an "
        "action that raises leaves its claim behind, so the next call under the key raises "
        "KeyInProgress instead of running, and the same key with other params raises "
        "IdempotencyConflict",
        (_RUN_AND_RELEASE,
         "    # a failure leaves the claim: whether it may be tried again is the caller's call\n"
         "    result = action()\n"),
        (_EXECUTOR_RUN,
         "        try:\n"
         "            return run_once(\n"
         "                self.keys, key, f\"{name}{params}\",\n"
         "                lambda: self.tools.execute(name, arguments),\n"
         "            )\n"
         "        except (IdempotencyConflict, KeyInProgress):\n"
         "            raise  # turned away: the key is someone else's\n"
         "        except BaseException:\n"
         "            self.keys.delete(key)  # our tool failed: give the key back for a retry\n"
         "            raise\n"),
    ),
    # -- lab02.concurrent-once ---------------------------------------------------------------
    # Threads of one process are answered as they should (the claim and the registry move
    # under one lock, and a task leaves the registry only once saved completed or failed);
    # a task stored running by another process, or by hand, is claimed from running and run.
    _m(
        "orphans-found-by-a-process-local-registry",
        {"lab02.concurrent-once"},
        "reads that the reboot at minute 8 leaves a task running that nobody runs, and does "
        "lab 04's job early: a module-level registry holds the tasks this process is running, "
        "and a task stored running that the registry does not hold is taken for an orphan "
        "and claimed from running: two threads of one process, however they race, run the "
        "work once, and the loser gets TaskInProgress or the result, as it should; but a "
        "task that another process is running (two agents over one database, lab 04's "
        "kill -9 child) or that is saved running by hand is claimed by compare_and_set from "
        "running and its work runs a second time, instead of TaskInProgress",
        (_CREATE_IMPORTS, "import threading\nimport time\nimport uuid\n"),
        (_WORK_TYPE,
         _WORK_TYPE
         + "\n#: The tasks this process is running: a task stored running that none of them\n"
           "#: holds was left behind by an executor that is gone (the reboot at minute 8).\n"
           "_RUNNING_HERE: set[str] = set()\n"
           "_RUNNING_HERE_LOCK = threading.Lock()\n"
           "\n"
           "\n"
           "def _forget_here(task_id: str) -> None:\n"
           "    with _RUNNING_HERE_LOCK:\n"
           "        _RUNNING_HERE.discard(task_id)\n"),
        (_RUNNING_CHECK_AND_CLAIM,
         "    if task.state is TaskState.RUNNING:\n"
         "        with _RUNNING_HERE_LOCK:\n"
         "            held_here = task_id in _RUNNING_HERE\n"
         "        if held_here:\n"
         "            raise TaskInProgress(task_id)\n"
         "        # stored running, yet no executor of this process holds it: an orphan, claim it\n"
         "    running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())\n"
         "    with _RUNNING_HERE_LOCK:  # the claim and the registry move together\n"
         "        claimed = store.compare_and_set(running, expected=task.state)\n"
         "        if claimed:\n"
         "            _RUNNING_HERE.add(task_id)\n"
         "    if not claimed:\n"),
        (_FAILED_SAVED, "        store.save(failed)\n        _forget_here(task_id)\n        raise\n"),
        (_COMPLETED_SAVE, _COMPLETED_SAVE + "    _forget_here(task_id)\n"),
    ),
)
