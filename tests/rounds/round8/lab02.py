"""Round 8 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

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
_LOST_CLAIM = """\
        if current is not None and current.state is TaskState.COMPLETED:
            return _result(current)
        raise TaskInProgress(task_id)
"""
_FAILED_VERSION = """\
    except Exception as error:
        failed = replace(
            running, state=TaskState.FAILED, error=f"{type(error).__name__}: {error}",
            updated_at=now(),
        )
"""
_MATERIAL = "    material = json.dumps([task_id, tool_name, canonical_arguments(arguments)])\n"
_DIGEST = '    return hashlib.sha256(material.encode("utf-8")).hexdigest()\n'
_CONFLICT_CHECK = "        if existing.params != params:\n"
_IN_PROGRESS = "            raise KeyInProgress(key)\n"
_ACTION_FAILURE = """\
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
        "error-kept-to-its-first-line",
        {"lab02.task-lifecycle"},
        "reads in Task's docstring that error is 'a short text' and keeps only the first line "
        "of the message, like a commit subject: every one-line message (all of the kit's "
        "tools, the notebook's ServerReboot, an empty message, which still gives "
        "'TimeoutError: ') is recorded exactly as '<ExceptionType>: <message>', and the task "
        "is saved failed, stamped and the exception re-raised as it should, but a work whose "
        "message spans several lines (a subprocess's stderr, a JSON error body, "
        "ValueError('bad config\\nline 3: missing key')) is recorded as 'ValueError: bad "
        "config', not as its message",
        (_FAILED_VERSION,
         "    except Exception as error:\n"
         "        summary = str(error).partition(\"\\n\")[0]  # Task.error is 'a short text'\n"
         "        failed = replace(\n"
         "            running, state=TaskState.FAILED, error=f\"{type(error).__name__}: {summary}\",\n"
         "            updated_at=now(),\n"
         "        )\n"),
    ),
    _m(
        "error-message-from-first-arg",
        {"lab02.task-lifecycle"},
        "takes an exception's message to be its first argument, as Java's getMessage() or "
        "the message attribute Python 2 had, and records error.args[0] (or '' when there are "
        "no args): for an exception raised with one text (ToolFailure('db-2 is read-only'), "
        "TimeoutError(), ValueError('x')) that is exactly str(error), and the record is "
        "right; but for an exception with several arguments or a __str__ of its own it is "
        "not the message: FileNotFoundError(2, 'No such file or directory') is recorded as "
        "'FileNotFoundError: 2' instead of 'FileNotFoundError: [Errno 2] No such file or "
        "directory', a KeyError('region') as 'KeyError: region' instead of \"KeyError: "
        "'region'\", and an exception class whose __str__ builds the text from its fields "
        "loses it all",
        (_FAILED_VERSION,
         "    except Exception as error:\n"
         "        message = error.args[0] if error.args else \"\"  # the exception's message\n"
         "        failed = replace(\n"
         "            running, state=TaskState.FAILED, error=f\"{type(error).__name__}: {message}\",\n"
         "            updated_at=now(),\n"
         "        )\n"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    _m(
        "completed-result-stringified",
        {"lab02.completed-not-rerun"},
        "silences mypy's 'str | None is not str' on the early exit with str(task.result) "
        "instead of narrowing it: a completed task with a result, \"\" included, returns it "
        "exactly, nothing runs and nothing is saved; but a task stored completed without a "
        "result (result None: saved by hand, by an older version, or read back from a JSON "
        "record with \"result\": null) returns the four letters 'None' as if the work had "
        "answered that, instead of its (empty) stored result; the racer that loses the "
        "claim to a winner that completed still gets the right result",
        (_COMPLETED_CHECK,
         "    if task.state is TaskState.COMPLETED:\n"
         "        return str(task.result)  # Task.result is Optional; the function returns str\n"),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    _m(
        "id-prefix-optional",
        {"lab02.unknown-task-error"},
        "lets callers leave out the 'task-' prefix that create_task puts on every id, the way "
        "docker and git accept a short form of an id: when no task is stored under the id "
        "as given and it does not start with 'task-', it looks up 'task-' + id: every id "
        "create_task made, given in full, is found, and an unknown id raises TaskNotFound "
        "naming it as long as no task is stored under its prefixed form; but executing "
        "'1a2b' when 'task-1a2b' is stored (an id the grader or a store made by hand, a "
        "truncated id pasted from a log) runs that other task's work, or returns its result, "
        "instead of raising TaskNotFound('1a2b'), though no task is stored under that id",
        (_LOOKUP,
         "    task = store.get(task_id)\n"
         "    if task is None and not task_id.startswith(\"task-\"):\n"
         "        task = store.get(f\"task-{task_id}\")  # the short form, without the prefix\n"
         "    if task is None:\n"
         "        raise TaskNotFound(task_id)\n"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    _m(
        "empty-reply-filled-in",
        # the first call and every repeat get the same text and the tool runs once: what is
        # wrong is that the reply is not the tool's, which the executor's docstring forbids
        {"lab02.tool-calls-deduplicated"},
        "has seen chat APIs refuse a tool message with empty content, so the executor "
        "answers '(no output)' when a side-effecting tool returns an empty reply: every "
        "reply of the kit's tools is text and is returned exactly, once and on every "
        "repeat, and the key store holds the tool's own reply; but a side effect whose tool "
        "returns \"\" (a command with no output, a tool that answers 204 No Content) gives "
        "'(no output)' to the first call and to every repeat, though the reply is to be "
        "returned as the tool gave it",
        (_EXECUTOR_RUN,
         "        reply = run_once(\n"
         "            self.keys, key, f\"{name}{params}\", lambda: self.tools.execute(name, arguments)\n"
         "        )\n"
         "        return reply or \"(no output)\"  # chat APIs refuse an empty tool message\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    _m(
        "key-material-not-escaped",
        {"lab02.key-is-deterministic"},
        "writes the key's material with ensure_ascii=False, as canonical_arguments does, so "
        "that it reads as the call it stands for in a debug log: ASCII and ordinary "
        "non-ASCII arguments (café, 日本, emoji) still get one key per call, the same in "
        "every process, and different calls different keys, but an argument holding a lone surrogate, which JSON text may "
        "carry as an escape ('{\"note\": \"\\ud83d\"}', half of an emoji cut by a model's "
        "token limit) and json.loads accepts, cannot be encoded to UTF-8, so "
        "idempotency_key raises UnicodeEncodeError instead of returning the key of that "
        "call (canonical_arguments itself still returns its text)",
        (_MATERIAL,
         "    material = json.dumps(\n"
         "        [task_id, tool_name, canonical_arguments(arguments)], ensure_ascii=False\n"
         "    )  # readable in a debug log\n"),
    ),
    _m(
        "key-material-truncated",
        {"lab02.key-is-deterministic"},
        "does not want to hash megabytes on every tool call and digests only the first "
        "4 KiB of the material, as file-dedup tools fingerprint a file by its head: every "
        "call of the kit's tools, and any call whose task id, name and canonical arguments "
        "fit in 4096 bytes, gets the key it should, but two calls whose arguments differ only "
        "after that (a rendered config, a long list of hosts, a patch, the same prefix then "
        "another last line) share one key, though another argument gives another key",
        (_DIGEST,
         "    head = material.encode(\"utf-8\")[:4096]  # enough to tell calls apart\n"
         "    return hashlib.sha256(head).hexdigest()\n"),
    ),
    # -- lab02.params-mismatch-conflict -------------------------------------------------------
    _m(
        "params-compared-ignoring-whitespace",
        {"lab02.params-mismatch-conflict"},
        "does not trust callers to send their params in one spelling and compares them "
        "ignoring whitespace, as 'diff -w' does, 'a pretty-printed request is still the same "
        "request': params that differ in any other character are a conflict (the executor's "
        "params never contain a space outside a string), and a repeat with the very same "
        "params gets the stored result, but params that differ only in whitespace, "
        "'refund{\"note\":\"a  b\"}' and 'refund{\"note\":\"a b\"}', 'x' and 'x\\n', or a key "
        "first used with '' and reused with ' ', are taken for the same params, so the key "
        "reused with the new ones silently returns the first call's result",
        (_CONFLICT_CHECK,
         "        if existing.params.split() != params.split():  # whitespace is not a difference\n"),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    _m(
        "release-misses-other-base-exceptions",
        # not claim-kept-on-interrupt: Ctrl-C is handled here; what is missed is every other
        # BaseException (SystemExit, GeneratorExit, asyncio.CancelledError, a custom one)
        {"lab02.failure-not-cached"},
        "knows that a bare 'except Exception' misses Ctrl-C and writes 'except (Exception, "
        "KeyboardInterrupt)', thinking those are all the ways an action can stop: a tool "
        "that raises ToolFailure, ValueError or TimeoutError, or is interrupted by Ctrl-C, "
        "gives its key back and is re-raised as it should, but an action ended by any other "
        "BaseException (asyncio.CancelledError when the agent's task is cancelled, "
        "SystemExit from a tool that calls sys.exit, GeneratorExit, a BaseException of the "
        "caller's such as the notebook's ServerReboot raised inside the tool) leaves its "
        "claim behind, not done, so every later call under the key raises KeyInProgress "
        "without running, though the key is given back whatever the action raises",
        (_ACTION_FAILURE,
         "    except (Exception, KeyboardInterrupt):  # Ctrl-C too, not only errors\n"
         "        keys.delete(key)\n"
         "        raise\n"),
    ),
    _m(
        "failure-re-raised-with-the-key-added",
        {"lab02.failure-not-cached"},
        "gives the key back on a failure and re-raises an exception of the same type with "
        "the key appended to its message, chained from the original, 'so the log says which "
        "call failed, and callers' except clauses still match': a later call under the key "
        "runs again, and a caller catching ToolFailure or TimeoutError still catches it, but "
        "what it catches is a new exception, not the one the action raised: its message has "
        "changed, its attributes (an OSError's errno, an HTTP error's status or "
        "retry_after, KeyInProgress's key) are lost or wrong, and an exception whose "
        "constructor takes other arguments (IdempotencyConflict from a nested keyed call, "
        "UnicodeDecodeError) turns into a TypeError from the constructor",
        (_ACTION_FAILURE,
         "    except BaseException as error:\n"
         "        keys.delete(key)\n"
         "        # same type, so except clauses still match; the key in the message for the log\n"
         "        raise type(error)(f\"{error} (idempotency key {key})\") from error\n"),
    ),
    # -- lab02.concurrent-once ----------------------------------------------------------------
    _m(
        "key-in-progress-raised-as-task-in-progress",
        # the key is never claimed twice and nothing runs twice; the one wrong thing is the
        # type of the loser's 'in progress' error
        {"lab02.concurrent-once"},
        "copies the 'still running' branch from execute_task a few lines above and raises "
        "TaskInProgress(key) where run_once is to raise KeyInProgress: both are "
        "RuntimeErrors and their messages look alike, so a caller catching RuntimeError, or "
        "a test counting side effects, sees nothing wrong, a conflict and a finished key are "
        "answered as they should, and the action runs once; but the loser of a race for a "
        "key gets a TaskInProgress that names the key as a task id, and a caller that "
        "catches KeyInProgress (to retry the call later, or to wait for its result) does not "
        "catch it",
        (_IN_PROGRESS, "            raise TaskInProgress(key)\n"),
    ),
    _m(
        "lost-claim-reports-the-failure",
        # nothing runs twice; the loser's answer in one situation is wrong, and what the
        # loser of compare_and_set does is concurrent-once's rule
        {"lab02.concurrent-once"},
        "when compare_and_set loses, reads the task again and tells the loser how it ended, "
        "as a future's result() re-raises the worker's exception: completed gives the "
        "result and still running gives TaskInProgress as they should, but a winner whose "
        "work has already failed (between the loser's read and its claim) makes the loser "
        "raise RuntimeError('task ... failed: ToolFailure: ...') instead of TaskInProgress, "
        "an error of a work it never ran, which a caller catching TaskInProgress does not "
        "catch",
        (_LOST_CLAIM,
         "        if current is not None and current.state is TaskState.COMPLETED:\n"
         "            return _result(current)\n"
         "        if current is not None and current.state is TaskState.FAILED:\n"
         "            # the winner has finished, badly: say so, as a future would\n"
         "            raise RuntimeError(f\"task {task_id} failed: {current.error}\")\n"
         "        raise TaskInProgress(task_id)\n"),
    ),
)


#: Mutants this round wrote that no behavioural check can tell from the solution: an id or
#: a key cut to 32 bits collides only among tens of thousands of calls, far beyond what a
#: grading can make. Counted as misses in the round's figure, and kept out of the mutants.
UNOBSERVABLE: tuple[Mutant, ...] = (
    _m(
        "task-id-shortened",
        {"lab02.task-lifecycle"},
        "uses uuid4 as told but keeps only its first 8 hex digits, 'task-1a2b3c4d', because "
        "short ids read better in the notebook's history and in a CLI, as git's short hashes "
        "do: two tasks created in one frozen instant still get different ids, and every "
        "test with a handful of tasks passes, but 32 random bits are not unique: among "
        "10 000 tasks two share an id about once in a hundred runs, among 100 000 most of "
        "the time, and the second create_task then overwrites the first task in the store "
        "(a completed one included) instead of saving a new one",
        (_TASK_ID, 'id=f"task-{uuid.uuid4().hex[:8]}"'),
    ),
    _m(
        "key-digest-shortened",
        {"lab02.key-is-deterministic"},
        "keeps the first 8 hex digits of the SHA-256 digest, 'short keys like git's short "
        "hashes, easier to read in the key table': the key is the same in every process and "
        "at any time, ignores tool_call_id, and the calls of any one test differ, but 32 "
        "bits collide after about 80 000 calls: in task 'task-1', apply_deploy of checkout "
        "with version '1.10583' and with version '1.15741' get one key (98554622), so "
        "through the executor the second deploy is refused as an IdempotencyConflict "
        "instead of running, though another argument gives another key",
        (_DIGEST, '    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:8]\n'),
    ),
)
