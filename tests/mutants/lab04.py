"""Lab 04's mutants: the mistakes a student makes with persistence, crashes and resume."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_lab04 = mutants_of("lab04")

_ATOMIC_WRITE = """\
        handle, temporary = tempfile.mkstemp(
            prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                json.dump(data, file, ensure_ascii=False)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
"""
_IN_PLACE_WRITE = """\
        with open(self.path, "w", encoding="utf-8") as file:
            json.dump(data, file, ensure_ascii=False)
"""
_PARSE = """\
        try:
            data = json.loads(text)"""
_FROM_DICT = "return {task_id: Task.from_dict(entry) for task_id, entry in data[\"tasks\"].items()}"
_COMPLETED = """\
    if task.state is TaskState.COMPLETED:
        return task.result or ""
"""
_FAILURE_SAVED = """\
    try:
        return run.to_the_end(client, tools, model=model, max_turns=max_turns)
    except Exception as error:
        run.save(state=TaskState.FAILED, error=f"{type(error).__name__}: {error}")
        raise
"""
_CLOSE = """\
        with self._lock:
            for connection in self._connections:
                connection.close()
            self._connections.clear()
"""
_CONNECT = """\
            connection = sqlite3.connect(
                self.path, timeout=30.0, isolation_level=None, check_same_thread=False
            )"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab04.survives-restart
    _lab04(
        "state-only-in-memory",
        "lab04.survives-restart",
        "the seed's mistake 4: the store is a dict in memory, so a restart starts from nothing",
        ("        self._read()\n", "        self._memory: dict[str, Task] = {}\n"),
        ("    def _read(self) -> dict[str, Task]:\n        try:",
         "    def _read(self) -> dict[str, Task]:\n        return dict(self._memory)\n        try:"),
        ("    def _write(self, tasks: dict[str, Task]) -> None:\n",
         "    def _write(self, tasks: dict[str, Task]) -> None:\n"
         "        self._memory = dict(tasks)\n        return\n"),
    ),
    _lab04(
        "timestamps-to-whole-seconds",
        "lab04.survives-restart",
        "stores the timestamps as whole seconds: 'nobody needs the microseconds'",
        ("{task_id: t.to_dict() for task_id, t in tasks.items()}",
         "{task_id: {**t.to_dict(), 'created_at': int(t.created_at), "
         "'updated_at': int(t.updated_at)} for task_id, t in tasks.items()}"),
    ),
    _lab04(
        "state-read-back-as-text",
        "lab04.survives-restart",
        "rebuilds the task with Task(**entry): the state comes back a plain string",
        (_FROM_DICT,
         "return {task_id: Task(**{**entry, 'messages': tuple(entry['messages'])}) "
         "for task_id, entry in data['tasks'].items()}"),
    ),
    _lab04(
        "cas-claims-a-missing-task",
        "lab04.survives-restart",
        "compare_and_set refuses only a stored task in another state: a task never saved is "
        "'free', so it gets stored",
        ("if current is None or current.state is not TaskState(expected):",
         "if current is not None and current.state is not TaskState(expected):"),
    ),
    # -- lab04.atomic-write
    _lab04(
        "writes-in-place",
        "lab04.atomic-write",
        "the seed's os.WriteFile: open(path, 'w') truncates the file before writing it",
        (_ATOMIC_WRITE, _IN_PLACE_WRITE),
    ),
    _lab04(
        "temporary-file-left-behind",
        "lab04.atomic-write",
        "writes a temporary file and renames it, but leaves it behind when the rename fails",
        ("            Path(temporary).unlink(missing_ok=True)\n", ""),
    ),
    _lab04(
        "no-fsync",
        "lab04.atomic-write",
        "flushes the temporary file but never syncs it to disk before the rename",
        ("                file.flush()\n                os.fsync(file.fileno())\n",
         "                file.flush()\n"),
    ),
    _lab04(
        "failed-save-swallowed",
        "lab04.atomic-write",
        "catches the failed rename and returns as if the save had worked",
        ("            Path(temporary).unlink(missing_ok=True)\n            raise\n",
         "            Path(temporary).unlink(missing_ok=True)\n            return\n"),
    ),
    _lab04(
        "fsync-before-flush",
        "lab04.atomic-write",
        "syncs the temporary file, then flushes it: the sync finds Python's buffer not yet "
        "written, and the rename publishes bytes that were never synced",
        ("                file.flush()\n                os.fsync(file.fileno())\n",
         "                os.fsync(file.fileno())\n                file.flush()\n"),
    ),
    _lab04(
        "temporary-file-in-the-temp-folder",
        "lab04.atomic-write",
        "tempfile.mkstemp() with no dir=: the temporary file goes to the system's temp folder, "
        "maybe another file system, where a rename is no longer atomic (or fails)",
        ('prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent',
         'prefix=f".{self.path.name}.", suffix=".tmp"'),
    ),
    # -- lab04.corruption-detected
    _lab04(
        "file-read-on-first-use",
        "lab04.corruption-detected",
        "keeps the path and reads nothing until the first get or save: opening a corrupted "
        "store looks fine",
        ("        self._lock = threading.Lock()\n        self._read()\n",
         "        self._lock = threading.Lock()\n"),
    ),
    _lab04(
        "corrupted-file-read-as-empty",
        "lab04.corruption-detected",
        "'if the file is broken, start afresh': a broad except returns an empty store, and "
        "the next save writes over what was left",
        ("            raise StoreCorrupted(self.path, f\"{type(error).__name__}: {error}\") from None\n\n"
         "    def _write",
         "            return {}\n\n    def _write"),
    ),
    _lab04(
        "bare-json-error",
        "lab04.corruption-detected",
        "lets json.loads fail as it likes: a JSONDecodeError that names no file",
        (_PARSE, "        data = json.loads(text)\n        try:"),
    ),
    # -- lab04.resume-completed-noop
    _lab04(
        "completed-resumed-anyway",
        "lab04.resume-completed-noop",
        "goes straight to running without looking at the saved state",
        (_COMPLETED, ""),
    ),
    _lab04(
        "unknown-task-not-checked",
        "lab04.resume-completed-noop",
        "reads the task and looks at its state at once: an unknown id ends in AttributeError "
        "on None",
        ("    if task is None:\n        raise TaskNotFound(task_id)\n", ""),
    ),
    # -- lab04.resume-failed-retries
    _lab04(
        "failed-treated-as-done",
        "lab04.resume-failed-retries",
        "returns early for a failed task as for a completed one",
        (_COMPLETED, "    if task.state in (TaskState.COMPLETED, TaskState.FAILED):\n"
                     "        return task.result or \"\"\n"),
    ),
    _lab04(
        "error-kept-on-reset",
        "lab04.resume-failed-retries",
        "resets the state to pending but leaves the old error in place",
        ("task = replace(task, state=TaskState.PENDING, error=None, updated_at=now())",
         "task = replace(task, state=TaskState.PENDING, updated_at=now())"),
    ),
    _lab04(
        "failure-not-saved",
        "lab04.resume-failed-retries",
        "lets an exception fly out of the run: the task stays saved running, never failed",
        (_FAILURE_SAVED,
         "    return run.to_the_end(client, tools, model=model, max_turns=max_turns)\n"),
    ),
    _lab04(
        "error-message-only",
        "lab04.resume-failed-retries",
        "saves str(error) as the error: the message without the exception's type",
        ('run.save(state=TaskState.FAILED, error=f"{type(error).__name__}: {error}")',
         "run.save(state=TaskState.FAILED, error=str(error))"),
    ),
    # -- lab04.resume-continues
    _lab04(
        "resumes-from-the-start",
        "lab04.resume-continues",
        "rebuilds the conversation from the user input on every resume",
        ("messages=task.messages or tuple(start_messages(task.user_input)))",
         "messages=tuple(start_messages(task.user_input)))"),
    ),
    _lab04(
        "saves-only-state-changes",
        "lab04.resume-continues",
        "saves the task when its state changes, but not the conversation after each step",
        ("        self.save(messages=(*self.task.messages, message))",
         "        self.task = replace(self.task, messages=(*self.task.messages, message))"),
    ),
    _lab04(
        "pending-calls-never-run",
        "lab04.resume-continues",
        "asks the model again without running the tool calls of its last reply",
        ("            for call in _unanswered(self.task.messages):",
         "            for call in []:"),
    ),
    _lab04(
        "no-tools-offered",
        "lab04.resume-continues",
        "asks the model with the conversation only: the tools are not sent, so it cannot call "
        "any",
        ("model=model, messages=list(self.task.messages), tools=list(TOOL_SCHEMAS)",
         "model=model, messages=list(self.task.messages)"),
    ),
    _lab04(
        "updated-at-not-refreshed",
        "lab04.resume-continues",
        "saves each step with replace(task, **changes): updated_at keeps the time the task "
        "was created",
        ("self.task = replace(self.task, **changes, updated_at=self.now())",
         "self.task = replace(self.task, **changes)"),
    ),
    _lab04(
        "left-pending-while-running",
        "lab04.resume-continues",
        "saves the conversation as it starts, but forgets to mark the task running",
        ("    run.save(state=TaskState.RUNNING,\n"
         "             messages=task.messages or tuple(start_messages(task.user_input)))",
         "    run.save(messages=task.messages or tuple(start_messages(task.user_input)))"),
    ),
    _lab04(
        "max-turns-off-by-one",
        "lab04.resume-continues",
        "stops when more than max_turns turns are saved: one request too many",
        ("if turns >= max_turns:", "if turns > max_turns:"),
    ),
    _lab04(
        "only-the-last-message-calls",
        "lab04.resume-continues",
        "runs tool calls only when the last message is the assistant's: a reply cut off "
        "between its tool calls never gets the rest run",
        ("            for call in _unanswered(self.task.messages):",
         "            for call in (last.get(\"tool_calls\") or [] if last[\"role\"] == "
         "\"assistant\" else []):"),
    ),
    # -- lab04.sqlite-store
    _lab04(
        "upsert-forgets-columns",
        "lab04.sqlite-store",
        "ON CONFLICT updates only the columns that change in a task's life: a task saved again "
        "with another user_input keeps the old one",
        ('f"{column} = excluded.{column}" for column in self._COLUMNS[1:])',
         'f"{column} = excluded.{column}" for column in '
         '("state", "result", "error", "updated_at", "messages"))'),
    ),
    _lab04(
        "sqlite-cas-always-true",
        "lab04.sqlite-store",
        "runs the UPDATE ... WHERE state = ? and returns True without looking at the row count",
        ("        return cursor.rowcount == 1\n", "        return True\n"),
    ),
    _lab04(
        "no-wal",
        "lab04.sqlite-store",
        "leaves SQLite in its default rollback journal: 'the busy timeout is enough'",
        ('            connection.execute("PRAGMA journal_mode = WAL")\n', ""),
    ),
    _lab04(
        "close-only-this-thread",
        "lab04.sqlite-store",
        "close() closes the calling thread's connection; the other threads' stay open until "
        "the garbage collector finds them",
        (_CLOSE, '        connection = getattr(self._local, "connection", None)\n'
                 "        if connection is not None:\n"
                 "            connection.close()\n"),
    ),
    _lab04(
        "one-connection-for-all-threads",
        "lab04.sqlite-store",
        "opens one connection in __init__ and uses it from every thread",
        (_CONNECT, "            connection = self.__dict__.setdefault(\n"
                   "                '_shared', sqlite3.connect(self.path, timeout=30.0, "
                   "isolation_level=None)\n            )"),
    ),
    _lab04(
        "never-committed",
        "lab04.sqlite-store",
        "leaves sqlite3's implicit transactions open: nothing reaches the file",
        ("isolation_level=None, check_same_thread=False",
         "isolation_level='DEFERRED', check_same_thread=False"),
    ),
    # -- lab04.kill-9-resume
    _lab04(
        "no-idempotency-key",
        "lab04.kill-9-resume",
        "resends a side-effecting call after a crash without its idempotency key: a deploy "
        "cut off before its result was saved runs twice",
        ("reply = tools.execute(name, arguments, idempotency_key=key)",
         "reply = tools.execute(name, arguments)"),
    ),
)
