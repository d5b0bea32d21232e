"""The checklist: every lab and every item the grader reports, with its title and hint.

Item ids are fixed by SPEC.md and never change: instructors' spreadsheets and students'
submissions rely on them. A hint is what a student reads under a not-done item. It speaks in
the voice of the seed chapter's "common mistakes": the symptom the grader saw, the likely
cause, and where to look, without giving away the hidden scenario or the solution.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Item:
    """One observable behaviour, reported as done or not done."""

    id: str
    title: str
    hint: str


@dataclass(frozen=True)
class Lab:
    """One lab: its id (``lab01``), the module a student submits, and its items in order.

    ``uses`` lists the earlier labs whose modules this one imports. When this lab is
    graded, the reference solutions stand in for them, so a mistake made in an earlier lab
    is reported there and not again here (SPEC, "The labs"). ``composes`` lists those it
    is built from *by design* (the capstone): the submission's own modules are graded
    together with it. ``time_scale`` multiplies the real time each of its scenarios may
    take (the capstone runs whole agents in several processes).
    """

    id: str
    module: str
    title: str
    items: tuple[Item, ...]
    uses: tuple[str, ...] = ()
    composes: tuple[str, ...] = ()
    time_scale: float = 1.0

    @property
    def item_ids(self) -> tuple[str, ...]:
        return tuple(item.id for item in self.items)


LABS: tuple[Lab, ...] = (
    Lab(
        id="lab01",
        module="lab01_retry",
        title="Retry with exponential backoff",
        items=(
            Item(
                "lab01.retries-transient",
                "Transient failures are retried and the success is returned",
                "Symptom: the call fails on the first 429, 5xx, timeout or dropped connection. "
                "Cause: the error is not classified as transient, or the loop returns the error "
                "instead of trying again. Look at how your code decides what is transient.",
            ),
            Item(
                "lab01.exponential-backoff",
                "Waits grow as base * factor^n",
                "Symptom: the gaps between requests are constant, start at the wrong value, or "
                "grow by the wrong factor. Cause: the wait is not base * factor ** n with n "
                "counting from 0, or it does not use the injected sleep. Look at your delay "
                "formula and at which sleep you call.",
            ),
            Item(
                "lab01.no-sleep-after-last",
                "No wait after the last attempt, never more attempts than the limit",
                "Symptom: the caller waits once more after the final failure, or the server "
                "sees one attempt too many. Cause: sleeping before checking whether another "
                "attempt is left, or counting retries where the limit counts attempts (off by "
                "one). Look at the end of your loop.",
            ),
            Item(
                "lab01.gives-up-with-last-error",
                "Gives up with a retry error carrying the attempts and the last error",
                "Symptom: after the last attempt the caller gets the raw error, None, or a "
                "retry error without the attempt count or the cause. Cause: the loop returns "
                "or re-raises instead of raising your retry error 'from' the last error. Look "
                "at what happens when the attempts run out.",
            ),
            Item(
                "lab01.permanent-not-retried",
                "Permanent errors are raised at once, unwrapped",
                "Symptom: a 400/401/403/404/422 or a programming error is retried, waited on, "
                "or wrapped. Cause: every exception is treated as transient. Retrying a bad "
                "request only repeats it: raise it at once, as it is.",
            ),
            Item(
                "lab01.honours-retry-after",
                "A server-requested delay replaces the computed backoff",
                "Symptom: the wait ignores what the server asked for. Cause: the retry-after-ms "
                "and retry-after headers of the failed response are not read (milliseconds "
                "first, then seconds), or the result is not capped. Look at the response "
                "attached to the error.",
            ),
            Item(
                "lab01.capped-with-jitter",
                "Waits are capped, and jitter is full jitter from a seeded source",
                "Symptom: a wait exceeds the cap, jittered waits fall outside [0, capped "
                "backoff], or the same seed gives different waits. Cause: the cap is applied "
                "before the exponent or not at all, or jitter uses the global random module "
                "instead of the random source you were given.",
            ),
            Item(
                "lab01.single-retry-layer",
                "The OpenAI client's own retries are turned off",
                "Symptom: the server sees several times more requests than your attempt limit. "
                "Cause: the OpenAI client retries on its own (max_retries=2 by default, so 3 "
                "requests per call) underneath your loop. Turn it off with "
                "with_options(max_retries=0).",
            ),
        ),
    ),
    Lab(
        id="lab02",
        module="lab02_idempotency",
        title="Idempotent tasks",
        items=(
            Item(
                "lab02.task-lifecycle",
                "A task goes pending, running, then completed or failed, each saved",
                "Symptom: the stored task skips a state, keeps a stale updated_at, or ends "
                "without its result or error. Cause: the state changes in memory but is not "
                "saved at every transition, or updated_at comes from datetime.now() instead of "
                "the clock you were given. Look at every place your code changes the state.",
            ),
            Item(
                "lab02.completed-not-rerun",
                "A completed task returns its stored result and does not run again",
                "Symptom: executing a completed task runs the work a second time, or returns "
                "None instead of the stored result. Cause: the state is not checked before "
                "running, or the early exit returns nothing (the seed's bare 'return nil'). "
                "Look at the start of your execute function.",
            ),
            Item(
                "lab02.unknown-task-error",
                "An unknown task id raises a not-found error naming the id",
                "Symptom: an unknown id gives a bare KeyError, None, or a freshly created task. "
                "Cause: the result of the lookup is not checked (the seed answers 'task not "
                "found: <id>'). Look at what your code does when the store has no such task.",
            ),
            Item(
                "lab02.tool-calls-deduplicated",
                "A repeated side-effecting tool call runs once; both replies match",
                "Symptom: the side effect happens twice when the model asks for the same tool "
                "call again, or the two tool messages carry different results. Cause: calls are "
                "deduplicated by tool_call id, which the model changes on every request, or the "
                "stored result is not reused for the repeat. Look at what identifies a call.",
            ),
            Item(
                "lab02.key-is-deterministic",
                "The idempotency key depends only on the task, tool and arguments",
                "Symptom: the same call gets a different key on another run or with its "
                "arguments reordered or re-spaced, or two different calls share a key. Cause: "
                "the key includes a timestamp, uuid4 or random value, hashes the raw argument "
                "JSON instead of a canonical form, or leaves the task out. Look at how you "
                "build the key.",
            ),
            Item(
                "lab02.params-mismatch-conflict",
                "Reusing a key with different parameters is a conflict error",
                "Symptom: a key reused with other parameters silently returns the first call's "
                "result. Cause: only the key is stored, not the parameters it was first used "
                "with, so the mismatch goes unnoticed (Stripe rejects such a request). Look at "
                "what you store with a result and what you compare on a hit.",
            ),
            Item(
                "lab02.failure-not-cached",
                "A failed side effect is not stored; the same key runs it again later",
                "Symptom: after one failure, every later call with the same key fails at once "
                "without running. Cause: the error is recorded as the key's result, or the "
                "claim on the key is never released when the work raises. Look at the failure "
                "path of your idempotent call.",
            ),
            Item(
                "lab02.concurrent-once",
                "Two simultaneous executions of one task or key run the work once",
                "Symptom: with two threads at once the side-effect counter reaches 2. Cause: "
                "check-then-set: both threads read 'not done' before either marks it running. "
                "Make the claim atomic with the store's own operation (compare_and_set for a "
                "task, put_if_absent for a key); the loser never runs the work: it gets the "
                "result if it is there, else your 'in progress' error, at once.",
            ),
        ),
    ),
    Lab(
        id="lab03",
        module="lab03_deadlines",
        title="Deadlines and budgets",
        uses=("lab01",),
        items=(
            Item(
                "lab03.run-deadline-stops-loop",
                "No LLM request is sent once the run deadline has passed",
                "Symptom: LLM requests are still sent after the run deadline. Cause: the "
                "deadline is checked only once, only after the request, or against a clock "
                "other than the one you were given. Check it at the top of every iteration, "
                "before the request, as the seed does with select on ctx.Done().",
            ),
            Item(
                "lab03.deadline-exceeded-recorded",
                "Expiry fails the task with a deadline error and keeps its progress",
                "Symptom: on expiry the task stays running, fails with a generic error, or "
                "loses its messages and steps. Cause: the loop returns or raises without "
                "saving, raises a plain exception instead of your deadline-exceeded error, or "
                "resets the state on failure. Look at the deadline branch of your loop.",
            ),
            Item(
                "lab03.step-timeout-sent",
                "Every LLM request carries a timeout no larger than the step timeout",
                "Symptom: an LLM request goes out with no timeout of its own, or with the "
                "OpenAI client's default of 10 minutes. Cause: the step timeout is not passed "
                "with each request, so one hung call can eat the whole run (the seed's mistake "
                "3). Look at the client's per-request options, and at the ones you must pass "
                "on with it (the model, the tools, a 30 s default step timeout).",
            ),
            Item(
                "lab03.timeout-shrinks-to-budget",
                "A request's timeout never exceeds the time left in the run",
                "Symptom: near the end of the run a request still gets the full step timeout, "
                "so it could outlive the deadline. Cause: the timeout is a constant, or the "
                "time left is computed once instead of just before each request. A request may "
                "wait the step timeout or the remaining budget, whichever is smaller.",
            ),
            Item(
                "lab03.child-deadline-min",
                "A nested deadline is the earlier of its parent's and its own",
                "Symptom: a nested operation's deadline lies after its parent's. Cause: the "
                "child takes its own timeout without looking at the parent, or takes the later "
                "of the two. As with Go's context.WithDeadline, a child can shorten its "
                "parent's deadline but never extend it.",
            ),
            Item(
                "lab03.retry-respects-deadline",
                "A backoff wait that would cross the deadline is not slept",
                "Symptom: the run sleeps through its deadline in a backoff wait and only then "
                "fails. Cause: the retry loop computes the wait without comparing it with the "
                "time left. Look at what happens just before each sleep: a wait that cannot "
                "finish in time should end the run with deadline exceeded at once.",
            ),
            Item(
                "lab03.llm-timeout-handled",
                "A timed-out LLM request is retried, or ends the run cleanly",
                "Symptom: one LLM timeout fails the run though budget remains, or a timeout at "
                "the end escapes as a raw openai.APITimeoutError traceback. Cause: the timeout "
                "is not treated as transient, or it is not turned into your deadline-exceeded "
                "failure once the budget is gone. Look at where lab 01's retry meets your "
                "deadline check.",
            ),
            Item(
                "lab03.budget-enforced",
                "max_steps and max_llm_tokens stop the run, recording which ran out",
                "Symptom: the run goes past max_steps or max_llm_tokens, or stops without "
                "saying which budget ran out. Cause: only wall time is checked, tokens are "
                "estimated from the prompt instead of read from each response's usage, or "
                "steps are counted off by one. Check every budget where you check the deadline "
                "and record the one that stopped the run.",
            ),
        ),
    ),
    Lab(
        id="lab04",
        module="lab04_persistence",
        title="Persistence and resume",
        uses=("lab02",),
        items=(
            Item(
                "lab04.survives-restart",
                "State saved by one store is read back intact by a fresh one",
                "Symptom: a fresh store on the same path misses the task, or reads a field back "
                "changed (a timestamp rounded, a state as a plain string, the conversation "
                "gone). Cause: state is kept only in memory (the seed's mistake 4), or saving "
                "and loading do not carry every field with its type. Look at your "
                "serialisation round trip, and at compare_and_set on the same file.",
            ),
            Item(
                "lab04.atomic-write",
                "An interrupted save leaves the previous state readable",
                "Symptom: after a crash in the middle of a save the store file is empty, "
                "truncated or half-written. Cause: writing in place: open(path, 'w') truncates "
                "first, as the seed's os.WriteFile does. Write a temporary file in the same "
                "directory, flush and fsync it, then rename it over the old one.",
            ),
            Item(
                "lab04.corruption-detected",
                "A corrupted store file is a clear error naming the file",
                "Symptom: a corrupted file loads as an empty store, raises a bare "
                "JSONDecodeError, or gets overwritten. Cause: a broad except that falls back "
                "to an empty store on any read error, so the next save destroys what was left. "
                "Look at your load path: fail loudly, with the path, and write nothing.",
            ),
            Item(
                "lab04.resume-completed-noop",
                "Resuming a completed task sends no LLM request and runs no tool",
                "Symptom: resuming a completed task sends an LLM request or runs a tool. "
                "Cause: resume goes straight to execution without reading the stored state "
                "first (the seed's resumeTask returns early on completed). Look at the start "
                "of your resume function; an id no task has raises TaskNotFound.",
            ),
            Item(
                "lab04.resume-failed-retries",
                "Resuming a failed task resets it and runs it again",
                "Symptom: resuming a failed task does nothing, raises, or leaves the old error "
                "in place. Cause: failed is treated like completed, or the task is not reset "
                "(state back to pending, error cleared, saved) before it runs, and a run that "
                "raises is saved failed with '<Type>: <message>'. Look at the failed branch of "
                "your resume function.",
            ),
            Item(
                "lab04.resume-continues",
                "An interrupted run resumes at its step, repeating no LLM turn or tool",
                "Symptom: after an interruption the LLM is asked again for turns it already "
                "answered, a finished tool runs again, or the final answer differs from an "
                "uninterrupted run's. Cause: messages and finished tool calls are not saved "
                "after every step, or resume rebuilds the conversation from the user input. "
                "Look at what you save per step and where resume starts from.",
            ),
            Item(
                "lab04.sqlite-store",
                "A SQLite store keeps the same contract and loses no concurrent update",
                "Symptom: the SQLite store fails a check the file store passes, or concurrent "
                "threads lose updates or hit 'database is locked' or SQLite's same-thread "
                "error. Cause: one connection shared across threads, a read-modify-write "
                "outside a transaction, or a missing commit. Look at how you open connections "
                "(WAL mode, one per thread, all closed by close()), scope transactions, and "
                "upsert every column.",
            ),
            Item(
                "lab04.kill-9-resume",
                "After SIGKILL at any step a fresh process resumes; effects happen once",
                "Symptom: after the child is killed with SIGKILL and a fresh process resumes, "
                "a side effect is missing or happened twice. Cause: a call resent after the "
                "crash goes without its idempotency key, so the server cannot tell it from a "
                "new one; or progress was kept in memory or saved only at the end. No finally "
                "block or atexit handler runs on SIGKILL: only what is already on disk counts.",
            ),
        ),
    ),
    Lab(
        id="lab05",
        module="lab05_reducers",
        title="Reducers and ephemeral channels",
        items=(
            Item(
                "lab05.overwrite-reducer",
                "The overwrite reducer returns the new value",
                "Symptom: the overwrite reducer returns the current value instead of the new "
                "one. Cause: the arguments are taken in the wrong order; like langgraphgo's "
                "Reducer, it receives the current value first and the new value second. Look "
                "at your reducer's signature.",
            ),
            Item(
                "lab05.append-reducer",
                "The append reducer handles every shape and mutates neither input",
                "Symptom: appending fails when the current value is missing or a single item, "
                "nests a list inside a list, or changes a list the caller still holds. Cause: "
                "not every case of the seed's AppendReducer is handled, or append, extend or "
                "+= is used on an input in place. Look at each case and at what you return.",
            ),
            Item(
                "lab05.add-messages-upsert",
                "add_messages upserts by id, appends id-less ones, removes by marker",
                "Symptom: a message with a known id is duplicated or moved to the end, an "
                "id-less message is lost, a remove marker stays in the list, or removing an "
                "unknown id passes silently. Cause: ids are read only from dicts (or only from "
                "attributes), or a replacement is deleted and re-appended instead of written in "
                "place. Look at how you extract ids and where a replacement goes.",
            ),
            Item(
                "lab05.schema-update",
                "The schema applies each key's reducer and never mutates the state",
                "Symptom: a key with a reducer is overwritten, a key without one is merged, or "
                "the state passed in has changed after the update. Cause: the reducer lookup "
                "misses, or the update writes into the current state instead of a new one (a "
                "shallow copy still shares nested lists). Look at how update builds its result.",
            ),
            Item(
                "lab05.agent-state-patch",
                "A StatePatch merges into AgentState field by field",
                "Symptom: after a patch known_facts holds two entries for one key, the plan is "
                "appended to instead of replaced, questions or artifacts are lost, or "
                "risk_flags repeats a flag. Cause: one reducer is used for every field, or the "
                "patch replaces the whole state. Look at which reducer each AgentState field "
                "is given.",
            ),
            Item(
                "lab05.ephemeral-cleared",
                "Ephemeral keys reach routing, but not the next step or final state",
                "Symptom: an ephemeral value is missing when the step's routing runs, or it is "
                "still there for the next step's nodes or in the final state. Cause: cleanup "
                "runs before the conditional edges, not at all, or not on every path (the last "
                "step too). Look at where cleanup sits in your step.",
            ),
            Item(
                "lab05.superstep-isolation",
                "Nodes of one step all read the state from the start of the step",
                "Symptom: a node sees a value a sibling in the same step has just written. "
                "Cause: each node's update is applied to the shared state as soon as it "
                "finishes, or nodes get the live state instead of a snapshot. Look at when a "
                "step's updates are applied, and at how steps are counted (from 1, at most "
                "max_steps, then RecursionError).",
            ),
            Item(
                "lab05.deterministic-merge",
                "Parallel updates merge in node-name order, not finish order",
                "Symptom: the merged state changes with the order in which parallel nodes "
                "finish (appended lists come out in a different order). Cause: updates are "
                "merged as they complete, e.g. in as_completed order or from a list the "
                "threads append to. Look at the order in which your merge walks the updates.",
            ),
            Item(
                "lab05.conflict-detected",
                "Two writes to a last-value key in one step raise an error naming it",
                "Symptom: two nodes write the same key without a reducer in one step and one "
                "write silently wins (langgraphgo's behaviour, not this kit's), or the error "
                "does not name the key. Cause: last-value keys are merged with overwrite, "
                "without noticing a second write in the same step. Look at your merge.",
            ),
            Item(
                "lab05.llm-node-messages",
                "An LLM node adds its reply and tool results through add_messages",
                "Symptom: after the agent node runs, messages lacks the assistant reply (with "
                "its tool_calls) or a tool result, or a tool result's tool_call_id does not "
                "match its call. Cause: the node returns a plain string, bypasses add_messages, "
                "or returns the whole history so id-less messages are appended again. Look at "
                "what your node returns.",
            ),
        ),
    ),
    Lab(
        id="lab06",
        module="lab06_checkpoints",
        title="Checkpoints and time travel",
        uses=("lab05",),
        items=(
            Item(
                "lab06.checkpoint-per-step",
                "A complete checkpoint is saved after every step",
                "Symptom: a step has no checkpoint, or one lacks the step number, the nodes "
                "that ran, the nodes to run next, the state or the timestamp. Cause: "
                "checkpoints are saved only at the end or on some paths, or the timestamp "
                "comes from datetime.now() instead of the clock you were given. Look at where "
                "your step loop saves, and where it stops (max_steps steps, then "
                "RecursionError).",
            ),
            Item(
                "lab06.snapshots-isolated",
                "Stored checkpoints are deep copies, unaffected by later changes",
                "Symptom: changing the live state, or a checkpoint you loaded, changes what "
                "the store holds. Cause: the store keeps a reference or a shallow copy "
                "(dict(state), state.copy()), so nested lists and dicts are shared. Look at "
                "what save and load hand over.",
            ),
            Item(
                "lab06.ids-ordered",
                "Checkpoint ids are unique and ordered even with a frozen clock",
                "Symptom: under a frozen clock two checkpoints share an id, or 'latest' is "
                "the wrong one. Cause: ids built from the time (like the seed's "
                "task-<UnixNano>) or from uuid4, and latest picked by timestamp, which ties "
                "when the clock stands still. Look at how ids are made and how latest is "
                "chosen.",
            ),
            Item(
                "lab06.history-per-thread",
                "A thread's history is newest first, filterable and isolated",
                "Symptom: the list comes oldest first, ignores limit or before, shows another "
                "thread's checkpoints, or delete and clear leave entries behind or remove "
                "another thread's. Cause: checkpoints are stored without their thread, or "
                "sorted by timestamp. Look at your list, delete and clear.",
            ),
            Item(
                "lab06.resume-latest",
                "Resuming after a failure starts at the failed step, repeating nothing",
                "Symptom: after a node fails at a later step, resuming runs earlier nodes and "
                "sends their LLM requests again. Cause: resume starts from the entry point "
                "instead of the thread's latest checkpoint, or checkpoints do not record which "
                "nodes run next. Look at where resume takes its starting point from.",
            ),
            Item(
                "lab06.time-travel-fork",
                "Resuming from an earlier checkpoint forks; the history stays intact",
                "Symptom: resuming from an earlier checkpoint overwrites or deletes the "
                "checkpoints after it, or the new ones do not record where they came from. "
                "Cause: the resumed run reuses old ids or truncates the history. Look at the "
                "ids and parent id your resumed run saves under.",
            ),
            Item(
                "lab06.update-state",
                "Updating state goes through the reducers and adds a checkpoint",
                "Symptom: an update replaces a list that should be appended to, or the stored "
                "checkpoint is edited in place. Cause: the values are written over the state "
                "directly instead of through the schema's reducers, or the result is saved "
                "under the old id. Look at how your update_state applies and saves.",
            ),
            Item(
                "lab06.ephemeral-not-persisted",
                "Ephemeral keys never appear in any checkpoint",
                "Symptom: a checkpoint contains an ephemeral key. Cause: the checkpoint is "
                "saved before the end-of-step cleanup, or another path that saves (the first "
                "checkpoint, update_state) skips cleanup. Look at the order of merge, cleanup "
                "and save, and at every place that saves.",
            ),
            Item(
                "lab06.durable-stores",
                "File and SQLite stores match the memory store and survive reopening",
                "Symptom: the file or SQLite store fails a check the memory store passes, "
                "loses checkpoints when reopened, or reads a corrupted entry as empty. Cause: "
                "values that change on the way through serialisation, writes that are not "
                "atomic (see lab 04), or a broad except around loading; for SQLite, WAL mode, "
                "the index on the thread, and close() closing every thread's connection. Run "
                "your memory store's contract against all three.",
            ),
        ),
    ),
    Lab(
        id="lab07",
        module="lab07_durable_agent",
        title="Capstone: the durable DevOps agent",
        composes=("lab01", "lab02", "lab03", "lab04", "lab05", "lab06"),
        time_scale=6.0,
        items=(
            Item(
                "lab07.exactly-once-under-kill",
                "Under repeated SIGKILL and restart, every side effect happens once",
                "Symptom: over the kill-and-restart trials a run does not complete, or a side "
                "effect (the deploy above all) happens twice or not at all. Cause: most often "
                "a side-effecting call resent after a restart without its idempotency key, or "
                "progress not saved after each step. Look at lab 02 (keys derived from the "
                "task and the call), lab 04 (resume) and lab 06 (a checkpoint per step).",
            ),
            Item(
                "lab07.transient-llm-retried",
                "Transient LLM failures during the run are retried, not fatal",
                "Symptom: a 429, a 5xx or a timeout from the LLM in the middle of the "
                "deployment fails the task. Cause: the agent calls the client directly instead "
                "of through lab 03's call_llm, or lab 01 classifies these errors as permanent "
                "or ignores retry-after. Does every LLM call in the agent go through them?",
            ),
            Item(
                "lab07.deadline-survives-restart",
                "The run's deadline is persisted and kept across restarts",
                "Symptom: after a restart the run gets a fresh budget, or a run already past "
                "its deadline carries on. Cause: the deadline is computed as now plus the "
                "budget when the process starts, instead of being saved with the task and "
                "loaded on resume. Look at lab 03 (absolute deadlines) and lab 04 (what the "
                "task record keeps).",
            ),
            Item(
                "lab07.status-visible",
                "Another process can read the task's state and step during the run",
                "Symptom: a second process reading the store mid-run sees nothing, a stale "
                "step, or a half-written file. Cause: progress is kept in memory and saved "
                "only at the end, or the save is not atomic. Look at lab 04: save after every "
                "step, atomically (or in a committed SQLite transaction); create the folder "
                "with its parents, and raise TaskNotFound for an id no task has.",
            ),
            Item(
                "lab07.single-runner",
                "The same task started twice at once runs once",
                "Symptom: a second process started on a task that is running runs it too (it "
                "asks the model, its steps interleave with the first's). Cause: no lock, a "
                "lock that holds only between threads (threading.Lock), or a 'running' flag a "
                "killed runner never clears. Take a lock between processes that dies with its "
                "holder: fcntl.flock on a file per task, without waiting (LOCK_NB).",
            ),
            Item(
                "lab07.replayable-history",
                "The checkpoint history lists every step and replays from any of them",
                "Symptom: the history misses steps or is gone after a restart, or replaying "
                "from an earlier step fails or rewrites the original history. Cause: a "
                "checkpoint not saved after every step, ids that are not ordered, or replay "
                "that does not fork. Look at lab 06 (checkpoint per step, ids, fork) and lab "
                "04 (a store that survives the restart); a replay runs on the agent's clock "
                "with a deadline of its own.",
            ),
        ),
    ),
)


LABS_BY_ID: dict[str, Lab] = {lab.id: lab for lab in LABS}
#: The files a submission is made of (``lab01_retry.py``, ...); anything else in it is ignored.
MODULE_FILES: frozenset[str] = frozenset(f"{lab.module}.py" for lab in LABS)
ITEMS_BY_ID: dict[str, Item] = {item.id: item for lab in LABS for item in lab.items}


def lab_of(item_id: str) -> Lab:
    """The lab an item id belongs to (``lab01.exponential-backoff`` -> lab01)."""
    return LABS_BY_ID[item_id.split(".", 1)[0]]
