"""Lab 06's mutants: the mistakes a student makes with checkpoints and time travel."""

from __future__ import annotations

from tests.mutants.base import Mutant, mutants_of

_lab06 = mutants_of("lab06")

_MEMORY_SAVE = """\
            self._count += 1
            checkpoint_id = _id(self._count)
"""
_RESUME = """\
        latest = self.store.latest(thread_id)
        if latest is None:
            raise CheckpointNotFound(f"thread {thread_id!r} has no checkpoint")
        return self._go_on(latest)"""

MUTANTS: tuple[Mutant, ...] = (
    # -- lab06.checkpoint-per-step
    _lab06(
        "no-input-checkpoint",
        "lab06.checkpoint-per-step",
        "saves checkpoints after the steps only: the run's input is never saved",
        ("        first = self._save(thread_id, step=0, ran=(), next=tuple(sorted(self.graph.entry)),\n"
         "                           state=state, parent_id=None, source=\"input\")\n"
         "        return self._go_on(first)",
         "        first = Checkpoint(thread_id=thread_id, step=0, ran=(),\n"
         "                           next=tuple(sorted(self.graph.entry)), state=state,\n"
         "                           created_at=self.clock())\n"
         "        return self._go_on(first)"),
    ),
    _lab06(
        "time-from-the-wall-clock",
        "lab06.checkpoint-per-step",
        "stamps checkpoints with time.time() taken once, at the start, not the clock it was given",
        ("        self.clock, self.max_steps = clock, max_steps",
         "        started = time.time()\n"
         "        self.clock, self.max_steps = (lambda: started), max_steps"),
    ),
    _lab06(
        "step-limit-one-late",
        "lab06.checkpoint-per-step",
        "checks the step limit with > instead of >=: a runaway graph runs and saves one step "
        "past max_steps before giving up",
        ("            if current.step >= self.max_steps:",
         "            if current.step > self.max_steps:"),
    ),
    # -- lab06.snapshots-isolated
    _lab06(
        "shallow-copies",
        "lab06.snapshots-isolated",
        "copies the checkpoint, not the state inside it: nested lists are shared",
        ("replace(copy.deepcopy(checkpoint), id=checkpoint_id)",
         "replace(checkpoint, id=checkpoint_id, state=dict(checkpoint.state))"),
    ),
    _lab06(
        "hands-out-the-stored-object",
        "lab06.snapshots-isolated",
        "load returns the stored checkpoint itself",
        ("            return copy.deepcopy(found)", "            return found"),
    ),
    # -- lab06.ids-ordered
    _lab06(
        "ids-from-the-clock",
        "lab06.ids-ordered",
        "builds the id from the checkpoint's time: under a frozen clock every id is the same",
        (_MEMORY_SAVE,
         "            self._count += 1\n"
         "            checkpoint_id = f\"{checkpoint.created_at:.6f}\"\n"),
    ),
    _lab06(
        "latest-by-timestamp",
        "lab06.ids-ordered",
        "sorts by created_at to find the newest: under a frozen clock every time ties",
        ("key=lambda c: c.id, reverse=True)", "key=lambda c: c.created_at, reverse=True)"),
    ),
    _lab06(
        "ids-without-padding",
        "lab06.ids-ordered",
        "plain decimal ids: '10' sorts before '9'",
        ('return f"{number:0{ID_DIGITS}d}"', "return str(number)"),
    ),
    _lab06(
        "ids-from-zero",
        "lab06.ids-ordered",
        "takes the counter's value before counting up: the first id is 000000000000",
        (_MEMORY_SAVE,
         "            checkpoint_id = _id(self._count)\n"
         "            self._count += 1\n"),
    ),
    # -- lab06.history-per-thread
    _lab06(
        "oldest-first",
        "lab06.history-per-thread",
        "lists a thread's checkpoints in the order they were saved",
        ("key=lambda c: c.id, reverse=True)", "key=lambda c: c.id)"),
    ),
    _lab06(
        "clear-forgets-everything",
        "lab06.history-per-thread",
        "clear empties the whole store, every thread",
        ("            for checkpoint_id in [i for i, c in self._saved.items() if c.thread_id == thread_id]:\n"
         "                del self._saved[checkpoint_id]",
         "            self._saved.clear()"),
    ),
    _lab06(
        "before-is-inclusive",
        "lab06.history-per-thread",
        "lists the checkpoints up to and including 'before'",
        ("if before is None or c.id < before)", "if before is None or c.id <= before)"),
    ),
    _lab06(
        "history-drops-filters",
        "lab06.history-per-thread",
        "the runner's history asks the store for the whole thread, whatever limit and before say",
        ("        return self.store.list(thread_id, limit=limit, before=before)",
         "        return self.store.list(thread_id)"),
    ),
    # -- lab06.resume-latest
    _lab06(
        "resume-starts-over",
        "lab06.resume-latest",
        "resume runs the thread again from its first checkpoint",
        (_RESUME,
         "        history = self.store.list(thread_id)\n"
         "        if not history:\n"
         "            raise CheckpointNotFound(f\"thread {thread_id!r} has no checkpoint\")\n"
         "        return self._go_on(history[-1])"),
    ),
    _lab06(
        "checkpoint-before-the-step",
        "lab06.resume-latest",
        "saves the checkpoint of a step as marked done before running it",
        ("            result = run_step(self.graph, self.schema, current.state, current.next,\n"
         "                              step=current.step + 1)\n",
         "            self._save(current.thread_id, step=current.step + 1, ran=current.next,\n"
         "                       next=(), state=current.state, parent_id=current.id, source='loop')\n"
         "            result = run_step(self.graph, self.schema, current.state, current.next,\n"
         "                              step=current.step + 1)\n"),
    ),
    # -- lab06.time-travel-fork
    _lab06(
        "fork-rewrites-history",
        "lab06.time-travel-fork",
        "clears the thread's later checkpoints before going on from an earlier one",
        ("        return self._go_on(self.store.load(checkpoint_id))",
         "        start = self.store.load(checkpoint_id)\n"
         "        for later in self.store.list(start.thread_id):\n"
         "            if later.id > start.id:\n"
         "                self.store.delete(later.id)\n"
         "        return self._go_on(start)"),
    ),
    _lab06(
        "fork-without-parent",
        "lab06.time-travel-fork",
        "the branch's first checkpoint follows the thread's latest, not the one forked from",
        ("        return self._go_on(self.store.load(checkpoint_id))",
         "        start = self.store.load(checkpoint_id)\n"
         "        tip = self.store.latest(start.thread_id)\n"
         "        return self._go_on(replace(start, id=tip.id if tip else start.id))"),
    ),
    # -- lab06.update-state
    _lab06(
        "update-skips-reducers",
        "lab06.update-state",
        "writes the patch over the state as it is, as dict.update would",
        ("state = self.schema.cleanup(self.schema.update(base.state, patch))",
         "state = self.schema.cleanup({**base.state, **patch})"),
    ),
    _lab06(
        "update-rewrites-the-checkpoint",
        "lab06.update-state",
        "changes the checkpoint in place: deletes it and saves the corrected one",
        ("        return self._save(base.thread_id, step=base.step, ran=base.ran, next=base.next,\n"
         "                          state=state, parent_id=base.id, source=\"update\").id",
         "        self.store.delete(base.id)\n"
         "        return self._save(base.thread_id, step=base.step, ran=base.ran, next=base.next,\n"
         "                          state=state, parent_id=base.parent_id, source=\"update\").id"),
    ),
    # -- lab06.ephemeral-not-persisted
    _lab06(
        "update-keeps-ephemeral",
        "lab06.ephemeral-not-persisted",
        "an update stores its patch whole, ephemeral keys included",
        ("state = self.schema.cleanup(self.schema.update(base.state, patch))",
         "state = self.schema.update(base.state, patch)"),
    ),
    _lab06(
        "checkpoints-the-view",
        "lab06.ephemeral-not-persisted",
        "saves the step's view (what routing saw) instead of its cleaned state",
        ("next=result.next, state=result.state, parent_id=current.id",
         "next=result.next, state=result.view, parent_id=current.id"),
    ),
    # -- lab06.durable-stores
    _lab06(
        "file-counter-restarts",
        "lab06.durable-stores",
        "the file store counts ids in memory: a fresh store starts again from 1",
        ("            number = int(sequence.read_text()) + 1 if sequence.exists() else 1",
         "            self._made = getattr(self, '_made', 0) + 1\n            number = self._made"),
    ),
    _lab06(
        "garbled-file-skipped",
        "lab06.durable-stores",
        "a checkpoint file that does not parse is left out of the answer without a word",
        ("            raise CheckpointCorrupted(str(path), f\"{type(error).__name__}: {error}\") from None",
         "            raise CheckpointNotFound(f\"no readable checkpoint at {path}\") from None"),
    ),
    _lab06(
        "file-temp-in-system-folder",
        "lab06.durable-stores",
        "makes the temporary file where tempfile likes, not beside the file it replaces: the "
        "replace crosses folders (and perhaps disks), so it is not atomic",
        ("tempfile.mkstemp(prefix=f\".{path.name}.\", dir=path.parent)",
         "tempfile.mkstemp(prefix=f\".{path.name}.\")"),
    ),
    _lab06(
        "file-save-swallows-errors",
        "lab06.durable-stores",
        "cleans up after a write that failed and carries on: save returns an id for a "
        "checkpoint it never stored",
        ("        except BaseException:\n"
         "            Path(temporary).unlink(missing_ok=True)\n"
         "            raise\n",
         "        except OSError:\n"
         "            Path(temporary).unlink(missing_ok=True)\n"),
    ),
    _lab06(
        "sqlite-close-own-connection",
        "lab06.durable-stores",
        "close() closes the calling thread's connection only; the other threads' stay open",
        ("            for connection in self._connections:\n"
         "                connection.close()\n"
         "            self._connections.clear()\n",
         "            connection = getattr(self._local, \"connection\", None)\n"
         "            if connection is not None:\n"
         "                connection.close()\n"),
    ),
    _lab06(
        "sqlite-connections-bound-to-threads",
        "lab06.durable-stores",
        "keeps sqlite3's default check_same_thread: close() cannot close a connection that "
        "another thread opened",
        ("sqlite3.connect(self.path, timeout=30.0, isolation_level=None,\n"
         "                                             check_same_thread=False)",
         "sqlite3.connect(self.path, timeout=30.0, isolation_level=None)"),
    ),
    _lab06(
        "sqlite-without-wal",
        "lab06.durable-stores",
        "opens the connections in SQLite's default rollback-journal mode, not WAL",
        ("                connection.execute(\"PRAGMA journal_mode = WAL\")\n", ""),
    ),
    _lab06(
        "sqlite-without-thread-index",
        "lab06.durable-stores",
        "creates the table but no index on (thread, id): latest and list scan every row",
        ("        self._execute(\"CREATE INDEX IF NOT EXISTS by_thread ON checkpoints (thread_id, seq)\")\n",
         ""),
    ),
)
