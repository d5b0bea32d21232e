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
    # -- lab04.corruption-detected
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
    # -- lab04.sqlite-store
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
