"""Round 12 held-out mutants for lab02, written without reading the grader's checks."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_m = mutants_of("lab02")

# Families deliberately avoided, because the base set or rounds 1 to 11 already have them:
# the error text rewritten (repr, traceback module path, __qualname__, first line, args[0],
# no dangling colon, root cause, ExceptionGroup unwrapped, errors accumulated, bare message);
# a claim that rebuilds the task without its messages or moves created_at; a completed task
# not trusted because of its error, a None or empty result, its age, or saved again on
# replay; ids tidied before lookup (strip, 'task-' prefix) or mangled in the error (None,
# quoted, shortened); reads cached or side effects hard-coded by name; replies annotated,
# filled in or truncated; a finished key told by its result or stored with put_if_absent;
# lone surrogates in the key's material (ensure_ascii=False, errors='replace'); numbers
# coerced, rounded or parsed as floats; empty params that skip the comparison; params
# compared loosely (case, whitespace, JSON, CRC-32, compare_digest, identity, truncated);
# claim released in finally; failures stored as results or 'maybe done'; check-then-set,
# a lock of one's own, a fresh expectation for compare_and_set, and lost-claim variants.

_CREATE_IMPORTS = "import time\nimport uuid\n"
_JSON_IMPORTS = "import hashlib\nimport json\n"
_LOOKUP = """\
    task = store.get(task_id)
    if task is None:
        raise TaskNotFound(task_id)
"""
_COMPLETED_CHECK = """\
    if task.state is TaskState.COMPLETED:
        return _result(task)
"""
_CLAIM = "    if not store.compare_and_set(running, expected=task.state):\n"
_RUNNING = "running = replace(task, state=TaskState.RUNNING, error=None, updated_at=now())"
_ERROR_TEXT = 'error=f"{type(error).__name__}: {error}",'
_RESULT_HELPER = "def _result(task: Task) -> str:\n"
_CANONICAL_VALUE = (
    '    value = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)\n'
)
_CLAIM_RECORD = "    claim = KeyRecord(key=key, params=params)\n"
_FOUND = "    if existing is not None:\n"
_RUN_AND_STORE = """\
    try:
        result = action()
    except BaseException:
        keys.delete(key)
        raise
    keys.put(replace(claim, done=True, result=result))
"""
_DONE_RECORD = "    keys.put(replace(claim, done=True, result=result))\n"
_EXECUTOR_INIT_END = "        self.keys = keys\n        self.task_id = task_id\n"
_READ_BRANCH = """\
        if name not in SIDE_EFFECTS:
            return self.tools.execute(name, arguments)
        params = canonical_arguments(arguments)
"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab02.task-lifecycle ------------------------------------------------------------------
    # Only the failed version's error text changes, and only for an exception that carries
    # notes (add_note, Python 3.11): the state, the stamps and the re-raise are the solution's.
    _m(
        "error-text-carries-the-exception-notes",
        {"lab02.task-lifecycle"},
        "has seen Python 3.11 print an exception's notes under its message, and libraries "
        "(pytest, hypothesis, a retry layer that calls add_note('attempt 3 of 3')) put the "
        "useful context there, so the failed task's error appends every note on a line of "
        "its own 'so the store says everything the traceback said': every exception without "
        "notes, the kit's ToolFailure, ValueError, TimeoutError() and an ExceptionGroup "
        "included, is recorded exactly as '<ExceptionType>: <message>', saved failed, "
        "stamped and re-raised as it should; but a work that raises an exception to which a "
        "note was added (error.add_note('while deploying checkout')) is recorded as "
        "'ToolFailure: db-2 is read-only\\nwhile deploying checkout', not as its type and its "
        "message",
        (_ERROR_TEXT, "error=_described(error),"),
        (_RESULT_HELPER,
         "def _described(error: BaseException) -> str:\n"
         "    # as the traceback shows it: the message, then every note added to the exception\n"
         '    notes = "".join(f"\\n{note}" for note in getattr(error, "__notes__", ()))\n'
         '    return f"{type(error).__name__}: {error}{notes}"\n'
         "\n"
         "\n" + _RESULT_HELPER),
    ),
    # Only the error text of a message that is not ASCII changes; every ASCII message (all of
    # the kit's tools and the notebook's) is recorded exactly.
    _m(
        "error-text-escaped-to-ascii",
        {"lab02.task-lifecycle"},
        "knows the error column ends up in log lines, an HTTP header and a terminal "
        "dashboard, and keeps it ASCII with .encode('ascii', 'backslashreplace') 'so no log "
        "shipper chokes on it': every ASCII message is recorded exactly as "
        "'<ExceptionType>: <message>', and the task is saved failed, stamped and the "
        "exception re-raised as it should; but a work that fails with a message that is not "
        "ASCII (ValueError('volume « données » is full'), a model's error in Japanese, an "
        "emoji) is recorded as 'ValueError: volume \\xab donn\\xe9es \\xbb is full', escapes "
        "instead of the exception's own message",
        (_ERROR_TEXT,
         'error=f"{type(error).__name__}: {error}".encode("ascii", "backslashreplace")'
         '.decode("ascii"),'),
    ),
    # The claim hands on the messages as a list instead of the tuple the read task holds:
    # equal items, another value ([] != ()); every version after the claim carries it.
    _m(
        "claim-copies-the-messages-into-a-list",
        {"lab02.task-lifecycle"},
        "thinks of the conversation as run_agent's, a list the loop grows in place, and "
        "gives the running task messages=list(task.messages) 'so the work can append to it': "
        "the state, the error and updated_at change as they should and the messages keep "
        "their items, but the claimed, completed and failed versions hold a list where the "
        "task read held a tuple, so a pending task with no conversation is saved running "
        "with messages [] instead of (), which are not equal, the saved Task is no longer "
        "hashable, and a work that appends to the list changes the object in the store after "
        "it was saved; the claim was to keep every other field as the task read holds it",
        (_RUNNING,
         "running = replace(\n"
         "        task, state=TaskState.RUNNING, error=None, updated_at=now(),\n"
         "        messages=list(task.messages),  # a conversation the work can grow, as run_agent's\n"
         "    )"),
    ),
    # -- lab02.completed-not-rerun -----------------------------------------------------------
    # Not the leftover-error, None-result or age reasons of earlier rounds: a completed task
    # whose conversation ends on something else than the assistant's answer falls through to
    # the claim, which compare_and_set from completed grants, and the work runs again.
    _m(
        "cut-short-conversation-run-again",
        {"lab02.completed-not-rerun"},
        "reads in Task's docstring that messages are what a restarted agent resumes from, "
        "and decides that a completed task whose conversation does not end on the "
        "assistant's answer (its last message a tool result or the user's) was cut short "
        "between two saves, so it is not trusted and is run again 'to finish the "
        "conversation': a completed task with no messages, or whose last message is the "
        "assistant's, returns its stored result without running anything, '' included; but "
        "a task stored completed whose messages end on a tool message falls through to the "
        "claim, compare_and_set from completed succeeds, and the work runs a second time, "
        "though the stored state decides, whatever else the task carries",
        (_COMPLETED_CHECK,
         "    if task.state is TaskState.COMPLETED and not _cut_short(task):\n"
         "        return _result(task)\n"),
        (_RESULT_HELPER,
         "def _cut_short(task: Task) -> bool:\n"
         "    # a conversation that does not end on the assistant's answer never got to the end\n"
         '    return bool(task.messages) and task.messages[-1].get("role") != "assistant"\n'
         "\n"
         "\n" + _RESULT_HELPER),
    ),
    # -- lab02.unknown-task-error ------------------------------------------------------------
    # Every id is first looked up as given; only an unknown id whose NFKC form is a stored id
    # is taken for that task. The error for a truly unknown id names it as given.
    _m(
        "unknown-id-folded-with-nfkc",
        {"lab02.unknown-task-error"},
        "has seen ids pasted from a chat, a PDF or a phone keyboard arrive in full-width or "
        "compatibility forms, and knowing that Python itself NFKC-normalises identifiers "
        "(PEP 3131), looks an id that is not found up once more in its NFKC form: every "
        "stored id is found as given, and an unknown id whose folded form is not stored "
        "either raises TaskNotFound naming the id as it should; but executing "
        "'ｔａｓｋ-1' (full-width letters) or 'task-ﬁx' (the fi ligature) when 'task-1' or "
        "'task-fix' is stored runs that other task's work, or returns its result, instead of "
        "raising TaskNotFound, though no task is stored under the id that was given",
        (_CREATE_IMPORTS, "import time\nimport unicodedata\nimport uuid\n"),
        (_LOOKUP,
         "    task = store.get(task_id)\n"
         "    if task is None:  # pasted in a compatibility form? Python folds identifiers so too\n"
         '        task = store.get(unicodedata.normalize("NFKC", task_id))\n'
         "    if task is None:\n"
         "        raise TaskNotFound(task_id)\n"),
    ),
    # -- lab02.tool-calls-deduplicated -------------------------------------------------------
    # The kit's three reads are in the allowlist, so with DevOpsTools nothing changes; a tool
    # that is neither in SIDE_EFFECTS nor in the list is run once and then replayed.
    _m(
        "reads-known-by-an-allowlist",
        {"lab02.tool-calls-deduplicated"},
        "prefers 'safe by default' to a list of the dangerous tools: only the reads it knows "
        "(check_disk, check_status, verify) run unguarded, and any other tool goes through "
        "run_once 'in case it changes the world': every tool of the kit behaves exactly as it "
        "should, the reads running every time and each side effect once; but a tools object "
        "with a read of its own that is not in SIDE_EFFECTS (list_pods, check_memory, "
        "DevOpsTools extended with a new probe) has its second call answered from the key "
        "store with the first call's reply, though every tool not in SIDE_EFFECTS runs every "
        "time",
        ("class IdempotentTools:\n",
         "#: The tools known to be read-only; anything else might change the world.\n"
         '_READ_ONLY = frozenset({"check_disk", "check_status", "verify"})\n'
         "\n"
         "\n"
         "class IdempotentTools:\n"),
        ("        if name not in SIDE_EFFECTS:\n", "        if name in _READ_ONLY:\n"),
    ),
    # The done record is built positionally and its third field is `done`, not `result`: the
    # result goes into done (truthy unless ''), result stays None. Conflicts are unaffected
    # (params are right); a racer while the first call runs still gets KeyInProgress.
    _m(
        "done-record-built-positionally",
        {"lab02.tool-calls-deduplicated"},
        "writes the finished record as KeyRecord(key, params, result), 'a record with a "
        "result is a finished one', without noticing that KeyRecord's third field is done: "
        "the first call returns the tool's reply, a key reused with other params is a "
        "conflict and a call arriving while the first runs gets KeyInProgress, as they "
        "should; but the stored record has the reply in done and no result, so every repeat "
        "of a finished call returns '' instead of the first reply (the model is told the "
        "deploy printed nothing), and a call whose reply was '' leaves done falsy, so every "
        "repeat of it raises KeyInProgress",
        (_DONE_RECORD, "    keys.put(KeyRecord(key, params, result))  # a record with a result is done\n"),
    ),
    # Reads run until a side effect runs in between; two reads in a row with nothing in
    # between (or with the world changed by someone else) give the first reply again.
    _m(
        "reads-cached-until-the-next-side-effect",
        {"lab02.tool-calls-deduplicated"},
        "knows a read must see what a side effect changed (the notebook's mistake 8) and "
        "builds a small write-invalidated cache: a read's reply is kept on the executor "
        "until the next side-effecting call clears it, 'nothing can change between two reads "
        "unless we changed it': check_disk, clean_logs, check_disk shows the disk freed as "
        "it should, and every side effect runs once; but two check_disk in a row with no side "
        "effect of this executor in between run the tool once, and the second gets the "
        "first's reply even when the world changed meanwhile (another agent, an operator, "
        "the tools' own clock), though a read-only tool runs every time",
        (_EXECUTOR_INIT_END,
         _EXECUTOR_INIT_END + "        self._reads: dict[tuple[str, str], str] = {}\n"),
        (_READ_BRANCH,
         "        if name not in SIDE_EFFECTS:\n"
         "            # nothing can change between two reads unless a side effect ran in between\n"
         "            if (name, arguments) not in self._reads:\n"
         "                self._reads[name, arguments] = self.tools.execute(name, arguments)\n"
         "            return self._reads[name, arguments]\n"
         "        self._reads.clear()\n"
         "        params = canonical_arguments(arguments)\n"),
    ),
    # -- lab02.key-is-deterministic ----------------------------------------------------------
    # jiter parses every JSON text as json does except an escaped lone surrogate, which it
    # refuses; canonical_arguments (and so the key) then raises instead of giving a text. As
    # for round 8's surrogate mutant, only the key item is declared.
    _m(
        "arguments-parsed-with-jiter",
        {"lab02.key-is-deterministic"},
        "notices that openai already ships jiter, the fast JSON parser it uses for streamed "
        "tool arguments, and parses the model's text with jiter.from_json 'as the SDK does': "
        "objects at every depth, lists, strings, big integers, floats, NaN and non-object "
        "JSON come out exactly as json.loads gives them, so every spelling of the same "
        "arguments gets one text and one key; but jiter refuses a lone surrogate, which JSON "
        "text may carry as an escape and json.loads accepts ('{\"note\": \"\\ud83d\"}', half "
        "an emoji cut by a model's token limit): canonical_arguments and idempotency_key "
        "raise ValueError for that call instead of returning its text and its key, though "
        "any JSON string is arguments",
        (_JSON_IMPORTS, "import hashlib\nimport jiter\nimport json\n"),
        (_CANONICAL_VALUE,
         "    value = (\n"
         '        jiter.from_json((arguments or "{}").encode())  # the parser openai itself uses\n'
         "        if isinstance(arguments, str) else dict(arguments)\n"
         "    )\n"),
    ),
    # -- lab02.params-mismatch-conflict ------------------------------------------------------
    # Not a guard that skips the comparison: '' is rewritten to '{}' before the claim, so ''
    # and '{}' are taken for the same params; every other pair is compared as it should.
    _m(
        "empty-params-read-as-no-params",
        {"lab02.params-mismatch-conflict"},
        "carries canonical_arguments' rule over to run_once: an empty text means no "
        "arguments, as '{}' does, so params = params or '{}' before the claim: a key reused "
        "with any other params is a conflict, even while it runs, and '' against '{\"a\":1}' "
        "too; but a key first used with '' and reused with '{}' (or the other way round) "
        "returns the first call's result instead of raising IdempotencyConflict, though "
        "params are compared with == and an empty text is params too, and the record keeps "
        "'{}' as the params of a call that sent ''",
        (_CLAIM_RECORD,
         "    params = params or \"{}\"  # '' means no parameters, as canonical_arguments reads it\n"
         + _CLAIM_RECORD),
    ),
    # -- lab02.failure-not-cached ------------------------------------------------------------
    # `finally` where `else` was meant, with result set to None up front for the linter: the
    # success path is the solution's; a failure releases the key, then is stored as done.
    _m(
        "done-record-written-in-finally",
        {"lab02.failure-not-cached"},
        "writes the success step of try/except in a finally block where else was meant, "
        "'the record must be marked done whatever happens, or callers wait for ever', and "
        "declares result = None up front when the linter says it is possibly unbound: a "
        "call that succeeds is stored and replayed exactly, and a failing action's exception "
        "is re-raised as it came; but the key is deleted and then, in finally, stored as done "
        "with no result, so every later call under the key returns '' without running the "
        "action again, and the same key with other params raises IdempotencyConflict instead "
        "of running",
        (_RUN_AND_STORE,
         "    result: str | None = None  # the linter: 'possibly unbound'\n"
         "    try:\n"
         "        result = action()\n"
         "    except BaseException:\n"
         "        keys.delete(key)\n"
         "        raise\n"
         "    finally:\n"
         "        # whatever way out, never leave a claim that keeps every later caller waiting\n"
         "        keys.put(replace(claim, done=True, result=result))\n"),
    ),
    # -- lab02.concurrent-once ---------------------------------------------------------------
    # A racer with the same params finds a record equal to its own claim (same key, params,
    # not done, no result) and runs the action too; a finished record or other params differ
    # from the claim and are answered as they should.
    _m(
        "equal-record-taken-for-my-own-claim",
        {"lab02.concurrent-once"},
        "thinks of lab 04's SQLite store, whose INSERT may be retried after a lost reply, and "
        "decides that a record put_if_absent returns that equals its own claim is its own "
        "earlier insert, so the key is its: one caller after another, a finished key returns "
        "its result and other params are a conflict, as they should; but two callers with "
        "the same params at the same moment build equal claims, so the one that loses the "
        "insert finds a record equal to its claim and runs the action a second time instead "
        "of raising KeyInProgress, and so does any repeat that arrives while the first call "
        "is still running",
        (_FOUND, "    if existing is not None and existing != claim:  # an equal record is my insert\n"),
    ),
    # compare_and_set's answer is ignored and ownership read back by value: the versions of
    # two racers differ only in updated_at, which a frozen clock makes equal.
    _m(
        "claim-confirmed-by-reading-back",
        {"lab02.concurrent-once"},
        "does not trust the bool of compare_and_set 'for a store that retries its writes' and "
        "confirms the claim the way a Redis lock is confirmed, by reading the stored value "
        "back and comparing it with its own: with a real clock two racers stamp their "
        "running versions differently, so the loser reads the winner's and raises "
        "TaskInProgress (or returns the result once it completed); but on a frozen clock the "
        "two running versions are equal in every field, so the loser of compare_and_set "
        "reads back a version equal to its own, takes the task for its, and runs the work a "
        "second time",
        (_CLAIM,
         "    store.compare_and_set(running, expected=task.state)\n"
         "    if store.get(task_id) != running:  # the claim is mine if the store holds my version\n"),
    ),
)
