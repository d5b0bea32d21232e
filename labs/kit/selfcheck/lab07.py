"""Lab 07's public checks (the durable DevOps agent); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab07 as selfcheck
    selfcheck.exactly_once_under_kill()   # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()                # every lab 07 check, and a Summary

The checks watch the agent from the outside, as the grader does. Every life of the agent
is a real process: a child forked from this one (:func:`labs.kit.crash.start_child_process`)
with a frozen clock of its own, started when the check says (a reboot takes a while), and
killed with SIGKILL, or held still, at an event of the run (a reply of the model, a side
effect of a tool). Only what is on disk carries over from one life to the next: the agent's
folder, and the DevOps server's journal (the world, which outlives the agent). Each life
leaves notes for the check (its clock at every event, its requests, its answer), and the
task's status is read by yet another process. A child that runs longer than
:data:`CHILD_LIMIT` real seconds is killed and reported hung; kill points come from a seeded
random source; everything lives in a temporary folder, removed afterwards.

Lab 07 runs on your own labs 01 to 06, and so do these checks (the grader too, by design):
a line that fails names the earlier lab the trouble most likely comes from. A function not
written yet, in lab 07 or in an earlier lab, stops the check with its NotImplementedError,
even when a child process raised it.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

from labs.kit.clock import DEFAULT_START, FrozenClock
from labs.kit.crash import ChildProcess, CrashPlan, start_child_process, wait_for_file
from labs.kit.devops import DevOpsTools
from labs.kit.fake_llm import FakeLLM, Step, connect_error, failure, reply, timeout, tool_call
from labs.kit.notebook import RecordingClock, load_lab, seconds
from labs.kit.selfcheck import (
    MAX_CALLS,
    TOLERANCE,
    GuardedLLM,
    RunawayError,
    Summary,
    count,
    guarded_sleep,
    run_checks,
    short,
    verdict,
)

LAB07 = "lab07_durable_agent"
FOLDER_PREFIX = "lab07-check-"
_TEMPORARY = re.compile(re.escape(tempfile.gettempdir()) + rf"/{FOLDER_PREFIX}[^/]+/")
#: Real seconds one process may take before the check calls it hung.
CHILD_LIMIT = 10.0
#: Real seconds a second runner may take to give up while the first holds the task.
REFUSAL_LIMIT = 5.0

TASK = "rollout-inventory-7.1.0"
GOAL = "Roll inventory 7.1.0 out: check it, free some disk, build the config, apply, verify."
INVENTORY, RELEASE = {"service": "inventory"}, {"service": "inventory", "version": "7.1.0"}
ANSWER = "inventory 7.1.0 is live and healthy; the disk is at 75%"
#: The model's side of the rollout, turn by turn: its second turn asks for two side
#: effects at once.
SCRIPT: tuple[Step, ...] = (
    reply(tool_calls=[tool_call("check_status", INVENTORY, id="call_i1")], latency=25),
    reply(tool_calls=[tool_call("clean_logs", id="call_i2"),
                      tool_call("build_config", RELEASE, id="call_i3")], latency=35),
    reply(tool_calls=[tool_call("apply_deploy", RELEASE, id="call_i4")], latency=45),
    reply(tool_calls=[tool_call("verify", INVENTORY, id="call_i5")], latency=15),
    reply(ANSWER, latency=5),
)
#: How long the tools take: the rollout is over at 7:15, inside its ten minutes.
TAKES = {"clean_logs": 40.0, "build_config": 75.0, "apply_deploy": 150.0, "verify": 45.0}
ONCE_EACH = {"apply_deploy": 1, "build_config": 1, "clean_logs": 1}
#: The agent's budget when a check does not set one (DurableAgent's default).
TEN_MINUTES = 600.0
#: Seconds on the clock a restart takes (the machine comes back up).
REBOOT = 15.0
#: Trials killed twice in one run, at seeded random events (besides one trial per event).
DOUBLE_KILLS = 3
SEED = 707
START = DEFAULT_START.timestamp()


# -- one trial, in real processes ------------------------------------------------------------------


class _Trial:
    """One trial's files: the agent's folder, the server's journal, and the notes each
    life leaves for the check (JSON files named after what they hold)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.agent = root / "agent"
        self.journal = root / "server.jsonl"

    def note(self, name: str, value: Any) -> None:
        """Keep ``value`` (plain JSON) under ``name``."""
        (self.root / f"{name}.json").write_text(json.dumps(value))

    def read(self, name: str, missing: Any = None) -> Any:
        """What was kept under ``name``; ``missing`` when nothing was."""
        kept = self.root / f"{name}.json"
        return json.loads(kept.read_text()) if kept.is_file() else missing

    def world(self) -> DevOpsTools:
        """The server as its journal left it."""
        return DevOpsTools(journal=self.journal)


class _GuardedTools(DevOpsTools):
    """The DevOps server, stopping a loop that runs far more tools than a rollout needs."""

    def run(self, name: str, arguments: Any = None, *, idempotency_key: str | None = None) -> str:
        if sum(self.calls.values()) >= MAX_CALLS:
            raise RunawayError(f"did not stop: more than {MAX_CALLS} tool runs")
        return super().run(name, arguments, idempotency_key=idempotency_key)


def _life(lab: ModuleType, trial: _Trial, name: str, *, at: float,
          plan: CrashPlan | None = None, script: Sequence[Any] = SCRIPT, action: str = "run",
          checkpoint: str | None = None, settings: dict[str, Any] | None = None,
          ) -> Callable[[], None]:
    """One life of the agent, to run in a child process: its clock starts ``at`` seconds
    after 09:00; it runs the task (``action``: ``"run"`` or ``"replay"`` from
    ``checkpoint``), noting its clock at every event, its answer, its requests (seconds
    after 09:00, turn, outcome, read timeout), the events it saw, and how many calls the
    server answered from its record of idempotency keys."""
    plan = plan or CrashPlan()

    def live() -> None:
        with FrozenClock(DEFAULT_START + dt.timedelta(seconds=at)) as clock:
            def timed(on_event: Callable[[Any], None]) -> Callable[[Any], None]:
                """``on_event``, after noting the clock: the last note is where it ended."""
                def on_event_timed(what: Any) -> None:
                    trial.note(f"clock-{name}", clock.now() - START)
                    on_event(what)

                return on_event_timed

            with GuardedLLM(script, clock=clock, by_turn=True,
                            before_reply=timed(plan.before_reply)) as llm:
                tools = _GuardedTools(clock=clock, durations=TAKES, journal=trial.journal,
                                      after_effect=timed(plan.after_effect))
                try:
                    agent = lab.DurableAgent(trial.agent, llm.client(), tools, clock=clock.now,
                                             sleep=guarded_sleep(clock), **(settings or {}))
                    answer = agent.run(TASK) if action == "run" else \
                        agent.replay(TASK, checkpoint)
                    trial.note(f"answer-{name}", answer)
                finally:
                    trial.note(f"requests-{name}", [
                        [at + r.at, r.turn, r.outcome, r.timeout.get("read")]
                        for r in llm.requests])
                    trial.note(f"events-{name}", plan.events)
                    trial.note(f"replays-{name}", tools.replays)

    return live


def _ended(child: ChildProcess, limit: float = CHILD_LIMIT) -> str:
    """How a child ended, as text. A NotImplementedError there is raised here, so that the
    check stops and names the missing function, as it would in this process."""
    how = child.wait(limit)
    missing = "NotImplementedError: "
    if how.error is not None and how.error.startswith(missing):
        raise NotImplementedError(how.error.removeprefix(missing))
    return _TEMPORARY.sub("", str(how))


def _live(lab: ModuleType, trial: _Trial, name: str, **options: Any) -> str:
    """Run one life to its end; how its process ended."""
    return _ended(start_child_process(_life(lab, trial, name, **options)))


def _in_a_process(work: Callable[[], None]) -> str:
    """Run ``work`` in a child process to its end; how the process ended."""
    child = start_child_process(work)
    return _ended(child)


def _held(trial: _Trial, name: str, hold: Path) -> bool:
    """Wait until the life ``name`` is held still at its pause: True; False when it ended
    without getting there (its notes are written), or took longer than CHILD_LIMIT."""
    for _ in range(int(CHILD_LIMIT / 0.05)):
        if wait_for_file(hold / "paused", limit=0.05):
            return True
        if (trial.root / f"events-{name}.json").exists():
            return False
    return False


def _agent(lab: ModuleType, trial: _Trial, llm: FakeLLM, clock: FrozenClock,
           settings: dict[str, Any] | None = None) -> Any:
    """A DurableAgent on ``trial``'s folder that only reads or starts tasks."""
    return lab.DurableAgent(trial.agent, llm.client(), DevOpsTools(), clock=clock.now,
                            **(settings or {}))


def _start(lab: ModuleType, trials: Sequence[_Trial],
           settings: dict[str, Any] | None = None) -> None:
    """Start the task at 09:00 in each trial's folder, in one process of its own."""
    def work() -> None:
        with FrozenClock() as clock, FakeLLM((), clock=clock) as llm:
            for trial in trials:
                _agent(lab, trial, llm, clock, settings).start(TASK, GOAL)

    ended = _in_a_process(work)
    if ended != "exited with status 0":
        raise _Stopped(f"starting the task from a process of its own: it {ended}")


def _statuses(lab: ModuleType, trials: Sequence[_Trial], name: str, *, at: float,
              settings: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The task's status in each trial, as another process reads it ``at`` seconds after
    09:00: ``{"ended": ..., "state": ..., "step": ..., ...}`` per trial."""
    def work() -> None:
        with FrozenClock(DEFAULT_START + dt.timedelta(seconds=at)) as clock, \
                FakeLLM((), clock=clock) as llm:
            for trial in trials:
                status = _agent(lab, trial, llm, clock, settings).status(TASK)
                trial.note(f"status-{name}", {
                    field: _plain(getattr(status, field, None))
                    for field in ("state", "step", "deadline_at", "result", "error")})

    ended = _in_a_process(work)
    return [{"ended": ended, **(trial.read(f"status-{name}") or {})} for trial in trials]


def _history(lab: ModuleType, trial: _Trial, name: str, *, at: float) -> list[dict[str, Any]]:
    """The task's checkpoints, newest first, as another process lists them."""
    def work() -> None:
        with FrozenClock(DEFAULT_START + dt.timedelta(seconds=at)) as clock, \
                FakeLLM((), clock=clock) as llm:
            trial.note(f"history-{name}", [
                {"id": _plain(getattr(c, "id", None)), "step": _plain(getattr(c, "step", None)),
                 "ran": _plain(list(getattr(c, "ran", ()))),
                 "parent_id": _plain(getattr(c, "parent_id", None))}
                for c in _agent(lab, trial, llm, clock).history(TASK)])

    ended = _in_a_process(work)
    if ended != "exited with status 0":
        raise _Stopped(f"listing the history from another process: it {ended}")
    return trial.read(f"history-{name}", [])


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it: an enum as its value, anything unknown as text."""
    value = getattr(value, "value", value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return repr(value)


class _Stopped(Exception):
    """A step the check needs before it can observe anything went wrong; the message says
    what happened."""


def _unfinished(status: dict[str, Any]) -> str:
    """Why ``status`` is not the rollout completed with its answer; '' when it is."""
    if status.get("ended") != "exited with status 0":
        return f"reading its status from another process {status.get('ended')}"
    if status.get("state") != "completed" or status.get("result") != ANSWER:
        return (f"the task read {status.get('state')!r} with result "
                f"{short(status.get('result'))}{_with_error(status)}")
    return ""


def _duplicated(world: DevOpsTools) -> str:
    """Why ``world`` is not one rollout's, each side effect once; '' when it is."""
    if world.deployed != ["inventory@7.1.0"] or world.side_effects() != ONCE_EACH:
        return (f"the server saw the deploys {world.deployed} and the side effects "
                f"{world.side_effects()}")
    return ""


def _seconds(value: Any) -> str:
    """A length of time as ``30 s``; anything else as it is."""
    return seconds(value) if isinstance(value, (int, float)) else short(value)


def _with_error(status: dict[str, Any]) -> str:
    """`` (the error)`` when the status holds one, else ''."""
    return f" ({short(status['error'], 70)})" if status.get("error") else ""


def _clock(after: float | None) -> str:
    """Seconds after 09:00 as a time of day."""
    if after is None:
        return "never"
    return f"{DEFAULT_START + dt.timedelta(seconds=after):%H:%M:%S}"


@contextmanager
def _folder() -> Iterator[Path]:
    """A temporary folder for one check's files, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix=FOLDER_PREFIX) as name:
        yield Path(name)


@cache
def _warm_up() -> None:
    """One request to a fake LLM in this process, once: the OpenAI client imports much of
    itself on its first request, and every child forked afterwards starts with that done."""
    with RecordingClock() as clock, FakeLLM([reply("warm")], clock=clock) as llm:
        client = llm.client(max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini",
                                       messages=[{"role": "user", "content": "warm up"}])


def _lab(lab: ModuleType | None) -> ModuleType:
    _warm_up()
    return lab if lab is not None else load_lab(LAB07)


def _observed(item: str, observe: Callable[[], tuple[list[str], str]]) -> bool:
    """Run ``observe`` (problems, figures) and print its verdict; a step that stopped the
    observation is a problem of its own."""
    try:
        problems, figures = observe()
    except _Stopped as stopped:
        problems, figures = [str(stopped)], ""
    return verdict(item, problems, figures)


# -- lab07.exactly-once-under-kill -----------------------------------------------------------------


def _events_of_a_whole_run(lab: ModuleType, root: Path) -> list[str]:
    """The events of an uninterrupted rollout, which a kill can fall on; and that it ends
    as it should."""
    trial = _Trial(root / "whole")
    _start(lab, [trial])
    ended = _live(lab, trial, "whole", at=1.0)
    answer = trial.read("answer-whole")
    problem = (ended != "exited with status 0" and f"it {ended}") or _duplicated(trial.world()) or \
        (answer != ANSWER and f"it answered {short(answer)}")
    if problem:
        raise _Stopped(f"an uninterrupted rollout, not killed: {problem}")
    return trial.read("events-whole", [])


def _kill_trial(lab: ModuleType, trial: _Trial, kills: list[int]) -> list[str]:
    """The rollout killed with SIGKILL at each event of ``kills`` in turn (counted in the
    life it falls in), each life started ``REBOOT`` seconds after the last one died; how
    each process ended."""
    endings, at = [], 1.0
    for number, kill in enumerate([*kills, None]):
        name = f"life{number}"
        endings.append(_live(lab, trial, name, at=at, plan=CrashPlan(kill, how="kill")))
        at = (trial.read(f"clock-{name}") or at) + REBOOT
    return endings


_EXACTLY_ONCE_HINT = ("look at lab 02 (every side effect sent with idempotency_key(task, name, "
                "arguments)) and lab 06 (a checkpoint after every step, resumed from the latest)")


def exactly_once_under_kill(lab: ModuleType | None = None) -> bool:
    """The rollout's process is killed with SIGKILL at each event of an uninterrupted run,
    and then twice in one run at seeded random events, and started again each time: every
    run completes, and by the server's journal every side effect happened exactly once."""
    lab = _lab(lab)

    def observe() -> tuple[list[str], str]:
        with _folder() as root:
            events = _events_of_a_whole_run(lab, root)
            seeded = random.Random(SEED)
            plans = [[event] for event in range(1, len(events) + 1)]
            plans += [[seeded.randint(1, len(events)), seeded.randint(1, len(events))]
                      for _ in range(DOUBLE_KILLS)]
            trials = [_Trial(root / f"trial-{n}") for n in range(len(plans))]
            _start(lab, trials)
            endings = [_kill_trial(lab, trial, kills) for trial, kills in zip(trials, plans)]
            statuses = _statuses(lab, trials, "final", at=1800.0)
            problems, replays = [], 0
            for kills, trial, ended, status in zip(plans, trials, endings, statuses):
                world = trial.world()
                replays += sum(trial.read(f"replays-life{n}", 0) for n in range(len(ended)))
                where = (f"killed with SIGKILL at event {' then '.join(map(str, kills))} of "
                         f"{len(events)} ({events[kills[0] - 1]}), restarted each time")
                odd = [e for e in ended if e not in ("killed by SIGKILL", "exited with status 0")]
                problem = (f"a life {odd[0]}" if odd else
                           f"the last life {ended[-1]}" if ended[-1] != "exited with status 0"
                           else _duplicated(world) or _unfinished(status))
                if problem:
                    problems.append(f"{where}: {problem}")
        if problems:
            problems = [*problems[:3], _EXACTLY_ONCE_HINT]
        lives = sum(len(ended) for ended in endings)
        killed = sum(ended.count("killed by SIGKILL") for ended in endings)
        effects = sum(1 for event in events if not event.startswith("reply"))
        return problems, (
            f"killed at each of the {len(events)} events ({len(events) - effects} replies, "
            f"{effects} side effects) and twice in {DOUBLE_KILLS} more runs: {len(plans)} runs, "
            f"{lives} processes, {killed} killed; every run completed, each side effect once "
            f"(clean_logs, build_config, apply_deploy), {count(replays, 'resent side effect')} "
            "answered from the server's record")

    return _observed("exactly-once-under-kill", observe)


# -- lab07.transient-llm-retried -------------------------------------------------------------------


#: The rollout with a flaky model: a refused connection at the first turn, a 502, a 503 and
#: a 429 that asks for 2.5 s at the third, a timeout at the fourth.
FLAKY: tuple[Any, ...] = (
    [connect_error(), SCRIPT[0]],
    SCRIPT[1],
    [failure(502), failure(503), failure(429, retry_after_ms=2500), SCRIPT[2]],
    [timeout(), SCRIPT[3]],
    SCRIPT[4],
)
#: The policy and step timeout of that run, and what it should show at each turn: the
#: outcomes of its requests, and the gaps between them (a timed-out request takes its
#: 50 s timeout, then the wait).
FLAKY_SETTINGS = {"step_timeout": 50.0}
FLAKY_POLICY = {"base_delay": 0.5, "factor": 3.0}
EXPECTED_TURNS = {
    0: (["connect", "200"], [0.5]),
    2: (["502", "503", "429", "200"], [0.5, 1.5, 2.5]),
    3: (["timeout", "200"], [50.5]),
}


def transient_llm_retried(lab: ModuleType | None = None) -> bool:
    """A model that refuses a connection, fails with 502, 503 and 429 (retry-after-ms),
    and times out during the rollout: each failure is retried, waiting as lab 01 says
    (base 0.5 s, factor 3, the server's delay when it asks for one), and the task
    completes, every side effect once."""
    lab = _lab(lab)

    def observe() -> tuple[list[str], str]:
        settings = {**FLAKY_SETTINGS, "policy": lab.RetryPolicy(**FLAKY_POLICY)}
        with _folder() as root:
            trial = _Trial(root / "flaky")
            _start(lab, [trial], settings)
            ended = _live(lab, trial, "only", at=0.0, script=FLAKY, settings=settings)
            requests = trial.read("requests-only", [])
            status = _statuses(lab, [trial], "after", at=1800.0, settings=settings)[0]
            world = trial.world()
        where = "a refused connection, a 502, a 503, a 429 and a timeout from the model"
        hint = ("look at lab 03's call_llm (every request of the agent goes through it, with "
                "its policy) and lab 01 (is_transient, backoff_delay, server_delay)")
        if ended != "exited with status 0":
            return [f"{where}: the run {ended}", hint], ""
        problems = [f"{where}: {problem}" for problem in (_unfinished(status), _duplicated(world))
                    if problem]
        for turn, (outcomes, gaps) in EXPECTED_TURNS.items():
            mine = [r for r in requests if r[1] == turn]
            seen = [r[2] for r in mine]
            waits = [round(b[0] - a[0], 3) for a, b in pairwise(mine)]
            if seen != outcomes:
                problems.append(f"turn {turn + 1}'s requests ended {seen}; expected {outcomes}")
            elif any(abs(a - b) > TOLERANCE for a, b in zip(waits, gaps)):
                problems.append(f"turn {turn + 1}'s requests came {waits} s apart; expected "
                                f"{gaps} s (the backoff, or the delay the server asked for)")
        return problems + [hint] if problems else [], (
            f"{where}: {len(requests)} requests for 5 turns; turn 1 retried after 0.5 s, turn 3 "
            "after 0.5, 1.5 and 2.5 s (the 429's retry-after-ms), turn 4 after its 50 s "
            "timeout and 0.5 s; completed, each side effect once")

    return _observed("transient-llm-retried", observe)


# -- lab07.deadline-survives-restart ---------------------------------------------------------------


#: The budget of this check's rollout: eight minutes, so that its deadline is 09:08.
BUDGET = {"max_wall_time": 480.0}
KILL_AT_APPLY = 6  # reply, reply, clean_logs, build_config, reply, apply_deploy


def deadline_survives_restart(lab: ModuleType | None = None) -> bool:
    """The rollout, given eight minutes from 09:00, is killed with SIGKILL as its deploy is
    applied (09:06:10). Restarted at 09:08:30, past its deadline, it fails with
    DeadlineExceeded and asks the model nothing; restarted at 09:06:30 it completes, no
    request allowed past 09:08. Both times its status says the deadline is 09:08."""
    lab = _lab(lab)
    deadline = BUDGET["max_wall_time"]

    def restarted(root: Path, label: str, at: float) -> dict[str, Any]:
        trial = _Trial(root / label)
        _start(lab, [trial], BUDGET)
        killed = _live(lab, trial, "first", at=0.0, plan=CrashPlan(KILL_AT_APPLY, how="kill"),
                       settings=BUDGET)
        if killed != "killed by SIGKILL":
            raise _Stopped(f"the first life, to be killed at the deploy: it {killed}")
        return {"killed_at": trial.read("clock-first"),
                "ended": _live(lab, trial, "second", at=at, settings=BUDGET),
                "requests": trial.read("requests-second", []),
                "status": _statuses(lab, [trial], "after", at=1800.0, settings=BUDGET)[0],
                "world": trial.world()}

    def observe() -> tuple[list[str], str]:
        with _folder() as root:
            late, early = restarted(root, "late", 510.0), restarted(root, "early", 390.0)
        problems = []
        status = late["status"]
        if status.get("state") != "failed" or not str(status.get("error")).startswith(
                "DeadlineExceeded"):
            problems.append(
                f"killed at {_clock(late['killed_at'])}, restarted at 09:08:30 with an 8-minute "
                f"budget from 09:00: the restart {late['ended']}, the task read "
                f"{status.get('state')!r}{_with_error(status)}; expected failed with "
                "DeadlineExceeded: the budget counts from the task's creation, not from the "
                "restart")
        elif late["requests"]:
            problems.append(f"restarted past the deadline, the agent still asked the model "
                            f"{count(len(late['requests']), 'time')}")
        for label, seen in (("at 09:08:30", late), ("at 09:06:30", early)):
            at = seen["status"].get("deadline_at")
            if not isinstance(at, (int, float)) or abs(at - (START + deadline)) > TOLERANCE:
                problems.append(f"restarted {label}, the status says the deadline is "
                                f"{short(at)}; expected {START + deadline:g} (09:08:00)")
        past = [f"turn {turn + 1} at {_clock(when)} allowed {_seconds(allowed)}"
                for when, turn, _, allowed in early["requests"]
                if not isinstance(allowed, (int, float)) or when + allowed > deadline + TOLERANCE]
        problem = _unfinished(early["status"]) or _duplicated(early["world"])
        if problem or early["ended"] != "exited with status 0":
            problems.append(f"restarted at 09:06:30, with 90 s left: the restart "
                            f"{early['ended']}; {problem or 'the task completed'}")
        elif past:
            problems.append(f"restarted at 09:06:30, requests allowed past the 09:08 deadline: "
                            f"{'; '.join(past)}")
        if problems:
            problems.append("look at lab 03 (a Deadline at created_at + max_wall_time, on the "
                            "clock in seconds since the epoch) and lab 04 (the task record keeps "
                            "created_at)")
        when, _, _, allowed = early["requests"][-1] if early["requests"] else [None] * 4
        return problems, (
            f"an 8-minute budget, killed at {_clock(late['killed_at'])} (apply_deploy): "
            "restarted at 09:08:30, failed at once with DeadlineExceeded, no request; restarted "
            f"at 09:06:30, completed, its last request at {_clock(when)} allowed "
            f"{_seconds(allowed)} (the time left); the deadline read back as 09:08:00 both times")

    return _observed("deadline-survives-restart", observe)


# -- lab07.status-visible --------------------------------------------------------------------------


HOLD_AT_APPLY = 6  # the run is held as the deploy is applied, steps 0 to 5 saved


def status_visible(lab: ModuleType | None = None) -> bool:
    """Another process reads the task before the run (pending, step 0), while the run is
    held still as its deploy is applied (running, step 5: the input, then check_status,
    clean_logs and build_config asked for and run, and apply_deploy asked for), and after
    it (completed, step 9, the answer), each time with the deadline 09:10."""
    lab = _lab(lab)

    def observe() -> tuple[list[str], str]:
        with _folder() as root:
            trial = _Trial(root / "watched")
            _start(lab, [trial])
            before = _statuses(lab, [trial], "before", at=0.0)[0]
            hold = trial.root / "hold"
            hold.mkdir()
            runner = start_child_process(_life(
                lab, trial, "runner", at=0.0,
                plan=CrashPlan(HOLD_AT_APPLY, how="pause", hold=hold, hold_limit=CHILD_LIMIT)))
            paused = _held(trial, "runner", hold)
            midway = _statuses(lab, [trial], "midway", at=380.0)[0] if paused else {}
            (hold / "go").write_text("")
            ended = _ended(runner)
            after = _statuses(lab, [trial], "after", at=900.0)[0]
        if not paused:
            return [f"the run never reached its deploy, where it was to be held: it {ended}"], ""
        problems = []
        for label, seen, expected in (("before the run", before, ("pending", 0)),
                                      ("held at the deploy (09:06:10)", midway, ("running", 5)),
                                      ("after the run", after, ("completed", 9))):
            got = (seen.get("state"), seen.get("step"))
            if seen.get("ended") != "exited with status 0":
                problems.append(f"{label}, reading the status from another process: it "
                                f"{seen.get('ended')}")
            elif got != expected:
                problems.append(f"{label}, another process read {got[0]!r} at step {got[1]!r}; "
                                f"expected {expected[0]!r} at step {expected[1]}")
            elif not isinstance(seen.get("deadline_at"), (int, float)) or \
                    abs(seen["deadline_at"] - (START + TEN_MINUTES)) > TOLERANCE:
                problems.append(f"{label}, the deadline read {short(seen.get('deadline_at'))}; "
                                f"expected {START + TEN_MINUTES:g} (09:10:00)")
        if after.get("result") != ANSWER and not problems:
            problems.append(f"after the run the result read {short(after.get('result'))}")
        if ended != "exited with status 0":
            problems.append(f"let go, the run {ended}")
        if problems:
            problems.append("look at lab 04 (the task saved as it changes, in a SqliteStore) "
                            "and lab 06 (a checkpoint after every step, the status's step "
                            "read from the latest)")
        return problems, (
            "read by another process: before the run pending at step 0; held at the deploy "
            "running at step 5; after it completed at step 9 with the answer; the deadline "
            "09:10:00 each time")

    return _observed("status-visible", observe)


# -- lab07.single-runner ---------------------------------------------------------------------------


HOLD_AT_SECOND_REPLY = 2
KILL_AT_BUILD = 4  # reply, reply, clean_logs, build_config


def single_runner(lab: ModuleType | None = None) -> bool:
    """A second process runs the task while the first holds it (held still at its second
    reply): within REFUSAL_LIMIT real seconds it is refused with AlreadyRunning, having
    asked the model nothing, and the first goes on to the end. And a runner killed with
    SIGKILL leaves no lock behind: the next process takes the task and completes it."""
    lab = _lab(lab)

    def observe() -> tuple[list[str], str]:
        with _folder() as root:
            trial, orphan = _Trial(root / "twice"), _Trial(root / "orphan")
            _start(lab, [trial, orphan])
            hold = trial.root / "hold"
            hold.mkdir()
            first = start_child_process(_life(
                lab, trial, "first", at=0.0,
                plan=CrashPlan(HOLD_AT_SECOND_REPLY, how="pause", hold=hold,
                               hold_limit=CHILD_LIMIT)))
            paused = _held(trial, "first", hold)
            second = _ended(start_child_process(_life(lab, trial, "second", at=70.0)),
                            REFUSAL_LIMIT)
            (hold / "go").write_text("")
            first_ended = _ended(first)
            asked = len(trial.read("requests-second", []))
            status = _statuses(lab, [trial], "after", at=900.0)[0]
            world = trial.world()
            killed = _live(lab, orphan, "killed", at=0.0,
                           plan=CrashPlan(KILL_AT_BUILD, how="kill"))
            next_one = _live(lab, orphan, "next",
                             at=(orphan.read("clock-killed") or 0.0) + REBOOT)
            orphan_status = _statuses(lab, [orphan], "after", at=900.0)[0]
            orphan_world = orphan.world()
        if not paused:
            return [f"the first runner never reached its second reply: it {first_ended}"], ""
        problems = []
        if "AlreadyRunning" not in second:
            problems.append(f"a second process run on the task while the first held it: it "
                            f"{second}; expected your AlreadyRunning, at once")
        if asked:
            problems.append(f"the second process asked the model {count(asked, 'time')}: it "
                            "ran the task beside the first")
        problem = (first_ended != "exited with status 0" and f"it {first_ended}") or \
            _duplicated(world) or _unfinished(status)
        if problem:
            problems.append(f"the first runner, let go: {problem}")
        problem = (killed != "killed by SIGKILL" and f"the first {killed}") or \
            (next_one != "exited with status 0" and f"the next {next_one}") or \
            _duplicated(orphan_world) or _unfinished(orphan_status)
        if problem:
            problems.append(f"a runner killed with SIGKILL at build_config, then another "
                            f"started: {problem} (a lock that outlives its holder?)")
        if problems:
            problems.append("a lock between processes that dies with its holder: fcntl.flock "
                            "on a file per task, LOCK_EX | LOCK_NB (not a threading.Lock, not "
                            "a 'running' flag in the store)")
        return problems, (
            "a second process on the task while the first held it: refused with "
            "AlreadyRunning, 0 requests; the first went on and completed, each side effect "
            "once; after a runner was killed with SIGKILL at build_config, the next process "
            "took the task and completed it")

    return _observed("single-runner", observe)


# -- lab07.replayable-history ----------------------------------------------------------------------


#: The steps to replay from, and when (seconds after 09:00, long past the first run's
#: deadline): the input, the tools of the second turn, the model asking for verify.
REPLAYS = ((0, 2400.0), (4, 3000.0), (7, 3600.0))


def replayable_history(lab: ModuleType | None = None) -> bool:
    """A whole rollout leaves ten checkpoints, steps 9 down to 0 newest first, listed by
    another process. Replayed from steps 0, 4 and 7 (at 09:40, 09:50 and 10:00, long after
    the first run's deadline: a replay is a new run), each replay asks the model only for
    the turns after its checkpoint, comes to the same answer, and adds a branch that
    follows the checkpoint it started from; the first run's checkpoints stay as they were,
    and every side effect sent again is answered from the server's record."""
    lab = _lab(lab)

    def observe() -> tuple[list[str], str]:
        with _folder() as root:
            trial = _Trial(root / "replayed")
            _start(lab, [trial])
            whole = _live(lab, trial, "whole", at=0.0)
            if whole != "exited with status 0":
                raise _Stopped(f"the rollout, before any replay: it {whole}")
            first = _history(lab, trial, "first", at=600.0)
            steps = [c["step"] for c in first]
            if steps != list(range(9, -1, -1)):
                return [(f"the history of a whole rollout (4 tool turns and an answer) listed "
                         f"the steps {steps}; expected 9 down to 0, newest first"),
                        ("look at lab 06 (a checkpoint for the input and after every step, "
                         "listed newest first)")], ""
            by_step = {c["step"]: c for c in first}
            agent_steps = [c["step"] for c in first if c["ran"] == ["agent"]]
            seen = []
            for step, at in REPLAYS:
                name = f"replay{step}"
                ended = _live(lab, trial, name, at=at, action="replay",
                              checkpoint=by_step[step]["id"])
                seen.append((step, at, ended, trial.read(f"answer-{name}"),
                             len(trial.read(f"requests-{name}", []))))
            resent = sum(trial.read(f"replays-replay{step}", 0) for step, _ in REPLAYS)
            after = _history(lab, trial, "after", at=3700.0)
            world = trial.world()
        problems = []
        for step, at, ended, answer, asked in seen:
            expected = sum(1 for s in agent_steps if s > step)
            where = f"replayed from step {step} at {_clock(at)}"
            if ended != "exited with status 0" or answer != ANSWER:
                problems.append(f"{where}: it {ended}, answer {short(answer)} (a replay is a new "
                                "run: its deadline counts from now)")
            elif asked != expected:
                problems.append(f"{where}: the model was asked {count(asked, 'time')}; "
                                f"expected {expected}, the turns after that checkpoint (not "
                                "the latest checkpoint's)")
        first_ids = {c["id"] for c in first}
        if [c for c in after if c["id"] in first_ids] != first:
            problems.append("after the replays the first run's checkpoints were not all there "
                            "as they were: a replay must add a branch, never rewrite")
        parents = Counter(c["parent_id"] for c in after if c["id"] not in first_ids)
        if not problems and any(parents[by_step[step]["id"]] == 0 for step, *_ in seen):
            problems.append("a replay's first checkpoint does not follow the checkpoint it "
                            "started from (its parent_id)")
        problem = _duplicated(world)
        if problem:
            problems.append(f"after {len(seen)} replays {problem}: a side effect replayed must "
                            "go with the same idempotency key")
        if problems:
            problems.append("look at lab 06 (resume_from the checkpoint given: a new branch) "
                            "and lab 03 (the replay's deadline, max_wall_time from now)")
        asks = ", ".join(str(asked) for *_, asked in seen)
        return problems, (
            f"a whole rollout: {len(first)} checkpoints, steps 9 down to 0 newest first; "
            f"replayed at 09:40, 09:50 and 10:00 from steps 0, 4 and 7: {asks} requests, the "
            f"same answer, each a branch from its checkpoint; the first run's {len(first)} "
            f"checkpoints unchanged, {len(after)} in all; each side effect still once, "
            f"{count(resent, 'resent side effect')} answered from the record")

    return _observed("replayable-history", observe)


#: Every lab 07 check, in the checklist's order.
CHECKS: tuple[Callable[[ModuleType | None], bool], ...] = (
    exactly_once_under_kill,
    transient_llm_retried,
    deadline_survives_restart,
    status_visible,
    single_runner,
    replayable_history,
)


def all_checks(lab: ModuleType | None = None) -> Summary:
    """Run every lab 07 check on one fresh load of the module; print a line each."""
    return run_checks(CHECKS, _lab(lab))
