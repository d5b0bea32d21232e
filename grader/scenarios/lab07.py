"""Lab 07 scenarios: the whole durable agent, in real processes, killed, restarted, run
twice at once, watched from outside and replayed.

Every life of the agent is a forked child process with its own frozen clock, started at a
time the scenario chooses (a reboot takes a while); the DevOps server's journal and the
agent's folder on disk are all that carry over from one life to the next. Kill points
come from a seeded random source, so every grading run makes the same trials.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

from grader.observe import not_implemented, plain, type_name
from grader.scenarios import Registry, fresh_folder, warm_up
from labs.kit.clock import DEFAULT_START, FrozenClock
from labs.kit.crash import CrashPlan, start_child_process, wait_for_file
from labs.kit.devops import DevOpsTools
from labs.kit.fake_llm import FakeLLM, Step, failure, reply, timeout, tool_call

SCENARIOS = Registry()
warm_up()
TASK = "deploy-web-2.4.1"
GOAL = "Deploy web 2.4.1 to production: check it, build the config, apply it, verify it."
WEB, RELEASE = {"service": "web"}, {"service": "web", "version": "2.4.1"}
ANSWER = "web 2.4.1 is deployed and healthy"
#: The model's side of the deploy, turn by turn, and how long each answer takes.
DEPLOY: tuple[Step, ...] = (
    reply(tool_calls=[tool_call("check_status", WEB, id="call_st")], latency=30),
    reply(tool_calls=[tool_call("build_config", RELEASE, id="call_bc")], latency=40),
    reply(tool_calls=[tool_call("apply_deploy", RELEASE, id="call_ap")], latency=30),
    reply(tool_calls=[tool_call("verify", WEB, id="call_vf")], latency=20),
    reply(ANSWER, latency=20),
)
#: The deploy with the config built and applied on one turn of the model.
BOTH_AT_ONCE: tuple[Step, ...] = (
    DEPLOY[0],
    reply(tool_calls=[tool_call("build_config", RELEASE, id="call_bc"),
                      tool_call("apply_deploy", RELEASE, id="call_ap")], latency=40),
    DEPLOY[3],
    DEPLOY[4],
)
#: How long the tools take: the deploy is about six and a half minutes of a ten-minute
#: budget.
DURATIONS = {"build_config": 60.0, "apply_deploy": 120.0, "verify": 30.0}
#: Real seconds one life may take before it counts as hung.
LIFE_LIMIT = 20.0
#: Seconds on the clock a restart takes (the server comes back up).
REBOOT = 20.0
#: Trials killed twice in one run, at seeded random events (besides one trial for each
#: event killed once).
DOUBLE_KILLS = 4
SEED = 20260101
#: The settings :func:`transient_failures` gives its agent: its own model, and a retry
#: policy whose first backoff is not the default's.
MODEL = "gpt-4.1-mini"
POLICY_BASE_DELAY = 2.0
#: The ``max_wall_time`` of the agent that replays the deploy from its first step in
#: :func:`replay`: less than the replay takes.
SHORT_BUDGET = 90.0
#: A task no one ever started.
UNKNOWN = "no-such-task"


class Folder:
    """One trial's files: the agent's folder, the server's journal, and notes each life
    leaves for the scenario (its clock at every event, its requests, its answer).
    ``nested``: the agent's folder is two levels down, neither level made yet."""

    def __init__(self, *, nested: bool = False) -> None:
        self.root = fresh_folder("trial")
        self.agent = self.root / "agents" / "deploy" if nested else self.root / "agent"
        self.journal = self.root / "world.jsonl"

    def note(self, name: str, data: Any) -> None:
        (self.root / name).write_text(json.dumps(data))

    def read(self, name: str, default: Any = None) -> Any:
        path = self.root / name
        return json.loads(path.read_text()) if path.exists() else default

    def world(self) -> DevOpsTools:
        return DevOpsTools(journal=self.journal)


def _life(lab: ModuleType, folder: Folder, name: str, *, at_s: float,
          plan: CrashPlan | None = None, script: tuple[Any, ...] = DEPLOY,
          action: str = "run", checkpoint: str | None = None,
          settings: Callable[[], dict[str, Any]] | None = None) -> Callable[[], None]:
    """One life of the agent, to run in a child process: its clock starts ``at_s``
    seconds after the deploy's start; it notes its clock at each event, its requests and
    its answer. ``settings()``: keyword arguments for the agent besides its clock."""
    plan = plan or CrashPlan(None)

    def live() -> None:
        start = DEFAULT_START + dt.timedelta(seconds=at_s)
        with FrozenClock(start, patch_sleep=True) as clock:
            def noted(event: Callable[[Any], None]) -> Callable[[Any], None]:
                def hook(what: Any) -> None:
                    folder.note(f"clock-{name}", clock.now())
                    event(what)

                return hook

            requests: list[dict[str, Any]] = []
            with FakeLLM(script, clock=clock, by_turn=True,
                         before_reply=noted(plan.before_reply)) as llm:
                tools = DevOpsTools(clock=clock, durations=DURATIONS, journal=folder.journal,
                                    after_effect=noted(plan.after_effect))
                try:
                    agent = lab.DurableAgent(folder.agent, llm.client(), tools,
                                             clock=clock.now, sleep=clock.sleep,
                                             **(settings() if settings else {}))
                    if action == "start":
                        agent.start(TASK, GOAL)
                    elif action == "run":
                        folder.note(f"answer-{name}", plain(agent.run(TASK)))
                    elif action == "replay":
                        folder.note(f"answer-{name}", plain(agent.replay(TASK, checkpoint)))
                finally:
                    requests = [{"at": r.at, "turn": r.turn, "outcome": r.outcome,
                                 "read_timeout": r.timeout.get("read"),
                                 "model": r.body.get("model"), "tool_results": _results(r)}
                                for r in llm.requests]
                    folder.note(f"requests-{name}", requests)
                    folder.note(f"end-{name}", clock.now())

    return live


def _results(request: Any) -> list[list[Any]]:
    """The tool results a request tells the model: ``[tool_call_id, content]`` each."""
    return [[m.get("tool_call_id"), m.get("content")] for m in request.messages
            if isinstance(m, dict) and m.get("role") == "tool"]


def _ended(child: Any, limit: float = LIFE_LIMIT) -> str:
    """How a life ended, as text; a stub's NotImplementedError aborts the scenario."""
    ending = child.wait(limit)
    prefix = "NotImplementedError: "
    if ending.error is not None and ending.error.startswith(prefix):
        raise not_implemented(ending.error[len(prefix):])
    return str(ending)


def _live(lab: ModuleType, folder: Folder, name: str, **options: Any) -> str:
    return _ended(start_child_process(_life(lab, folder, name, **options)))


def _status(lab: ModuleType, folder: Folder, name: str, at_s: float) -> dict[str, Any]:
    """The task's status as another process reads it."""
    def read() -> None:
        start = DEFAULT_START + dt.timedelta(seconds=at_s)
        with FrozenClock(start) as clock, FakeLLM([], clock=clock) as llm:
            agent = lab.DurableAgent(folder.agent, llm.client(), folder.world(), clock=clock.now)
            status = agent.status(TASK)
            folder.note(f"status-{name}", {
                "is_status": isinstance(status, lab.Status),
                "state": plain(getattr(status, "state", None)),
                "step": plain(getattr(status, "step", None)),
                "deadline_at": plain(getattr(status, "deadline_at", None)),
                "result": plain(getattr(status, "result", None)),
                "error": plain(getattr(status, "error", None)),
            })
    ending = _live_plain(read)
    return {"ended": ending, **(folder.read(f"status-{name}") or {})}


def _live_plain(work: Callable[[], None]) -> str:
    return _ended(start_child_process(work))


def _world(folder: Folder) -> dict[str, Any]:
    world = folder.world()
    return {"deployed": list(world.deployed), "side_effects": world.side_effects(),
            "replays": world.replays}


def _new_task(lab: ModuleType, folder: Folder) -> str:
    return _live(lab, folder, "start", at_s=0.0, action="start")


def _events_of_a_whole_run(lab: ModuleType) -> list[str]:
    """The events of an uninterrupted deploy (what a kill can fall on)."""
    folder = Folder()
    _new_task(lab, folder)
    plan = CrashPlan(None)

    def counted() -> None:
        _life(lab, folder, "whole", at_s=1.0, plan=plan)()
        folder.note("events", plan.events)

    _live_plain(counted)
    return folder.read("events", [])


@SCENARIOS.scenario
def kill_trials(lab: ModuleType) -> dict[str, Any]:
    """The deploy killed with SIGKILL at each of its events in turn, then at seeded random
    events twice in a run, and each time run to its end; each trial's world and status."""
    events = _events_of_a_whole_run(lab)
    rng = random.Random(SEED)
    plans = [[k] for k in range(1, len(events) + 1)]
    plans += [[rng.randint(1, len(events)), rng.randint(1, len(events) // 2 or 1)]
              for _ in range(DOUBLE_KILLS)] if events else []
    trials = []
    for kills in plans:
        folder = Folder()
        _new_task(lab, folder)
        lives, at_s = [], 1.0
        for life, kill in enumerate([*kills, None]):
            name = f"life{life}"
            lives.append(_live(lab, folder, name, at_s=at_s,
                               plan=CrashPlan(kill, how="kill") if kill else None))
            at_s = (folder.read(f"clock-{name}") or folder.read(f"end-{name}")
                    or (DEFAULT_START.timestamp() + at_s)) - DEFAULT_START.timestamp() + REBOOT
        last = folder.read(f"requests-{name}", [])
        trials.append({"kills": kills, "lives": lives, "world": _world(folder),
                       "answer": folder.read(f"answer-{name}"),
                       "told": last[-1]["tool_results"] if last else None,
                       "status": _status(lab, folder, "final", at_s)})
    again: dict[str, Any] = {}
    if trials:  # the last trial's task, completed, run once more after a restart
        ended = _live(lab, folder, "again", at_s=at_s)
        again = {"kills": trials[-1]["kills"], "ended": ended,
                 "answer": folder.read("answer-again"),
                 "requests": len(folder.read("requests-again", [])), "world": _world(folder)}
    return {"events": events, "trials": trials, "again": again}


@SCENARIOS.scenario
def transient_failures(lab: ModuleType) -> dict[str, Any]:
    """The deploy with a 503 then a 429 (retry-after 3 s) at the second turn, and a timeout
    at the fourth, by an agent given its own retry policy (2 s before the first retry) and
    model, and the default step timeout."""
    script = list(DEPLOY)
    script[1] = [failure(503), failure(429, retry_after=3), DEPLOY[1]]
    script[3] = [timeout(), DEPLOY[3]]
    folder = Folder()
    _new_task(lab, folder)
    ended = _live(lab, folder, "only", at_s=1.0, script=tuple(script), settings=lambda: {
        "policy": lab.RetryPolicy(base_delay=POLICY_BASE_DELAY), "model": MODEL})
    return {"ended": ended, "requests": folder.read("requests-only", []),
            "world": _world(folder), "status": _status(lab, folder, "after", 900.0)}


@SCENARIOS.scenario
def deadline_restart(lab: ModuleType) -> dict[str, Any]:
    """Killed as the deploy is applied (about 4:40 in), then restarted at 9:00, and in
    another trial at 6:00: the ten minutes count from the task's creation. And killed
    between the two tool calls of one turn (the config built, not yet applied), restarted
    at 11:00: past the deadline, the apply must not be made."""
    seen: dict[str, Any] = {}
    for label, restart_s in (("late", 540.0), ("early", 360.0)):
        folder = Folder()
        _new_task(lab, folder)
        first = _live(lab, folder, "first", at_s=1.0,
                      plan=CrashPlan(5, how="kill"))  # reply, check, reply, build, reply: apply
        second = _live(lab, folder, "second", at_s=restart_s)
        seen[label] = {
            "lives": [first, second],
            "killed_at": folder.read("clock-first"),
            "requests": folder.read("requests-second", []),
            "ended_at": folder.read("end-second"),
            "world": _world(folder),
            "status": _status(lab, folder, "after", 1200.0),
        }
    folder = Folder()
    _new_task(lab, folder)
    first = _live(lab, folder, "first", at_s=1.0, script=BOTH_AT_ONCE,
                  plan=CrashPlan(3, how="kill"))  # reply, reply, build: the apply not made
    second = _live(lab, folder, "second", at_s=660.0, script=BOTH_AT_ONCE)
    seen["between_tools"] = {
        "lives": [first, second],
        "requests": folder.read("requests-second", []),
        "world": _world(folder),
        "status": _status(lab, folder, "after", 1200.0),
    }
    seen["start"] = DEFAULT_START.timestamp()
    return seen


@SCENARIOS.scenario
def status_midway(lab: ModuleType) -> dict[str, Any]:
    """An agent on a folder not made yet (nor its parent) starts the task; another process
    reads its status before it runs, and asks for a task never started; the deploy is
    held still just after the config is built while its status is read again; then let
    go to its end."""
    folder = Folder(nested=True)
    started = _new_task(lab, folder)
    before = _status(lab, folder, "before", 0.5)
    unknown = _unknown(lab, folder)
    hold = folder.root / "hold"
    hold.mkdir()
    plan = CrashPlan(4, how="pause", hold=hold, hold_limit=LIFE_LIMIT)  # after build_config
    runner = start_child_process(_life(lab, folder, "runner", at_s=1.0, plan=plan))
    paused = wait_for_file(hold / "paused", limit=LIFE_LIMIT, child=runner)
    midway = _status(lab, folder, "midway", 200.0) if paused else {"ended": "never paused"}
    (hold / "go").write_text("")
    ended = _ended(runner)
    return {"started": started, "before": before, "unknown": unknown, "paused": paused,
            "midway": midway, "ended": ended, "after": _status(lab, folder, "after", 900.0),
            "start": DEFAULT_START.timestamp()}


def _unknown(lab: ModuleType, folder: Folder) -> dict[str, Any]:
    """What ``status`` and ``run`` of a task never started raise, in another process."""
    def ask() -> None:
        with FrozenClock(DEFAULT_START + dt.timedelta(seconds=0.5)) as clock, \
                FakeLLM([], clock=clock) as llm:
            agent = lab.DurableAgent(folder.agent, llm.client(), folder.world(), clock=clock.now,
                                     sleep=clock.sleep)
            seen: dict[str, Any] = {}
            for what, call in (("status", agent.status), ("run", agent.run)):
                try:
                    call(UNKNOWN)
                    seen[what] = "nothing"
                except NotImplementedError:
                    raise
                except Exception as error:  # noqa: BLE001 - what it raised is the observation
                    seen[what] = type_name(error)
            seen["requests"] = len(llm.requests)
            folder.note("unknown", seen)

    return {"ended": _live_plain(ask), **(folder.read("unknown") or {})}


@SCENARIOS.scenario
def two_runners(lab: ModuleType) -> dict[str, Any]:
    """A second process starts the task while the first is running it (held still after
    its first reply); then the first goes on."""
    folder = Folder()
    _new_task(lab, folder)
    hold = folder.root / "hold"
    hold.mkdir()
    first = start_child_process(_life(lab, folder, "first", at_s=1.0,
                                      plan=CrashPlan(1, how="pause", hold=hold,
                                                     hold_limit=LIFE_LIMIT)))
    paused = wait_for_file(hold / "paused", limit=LIFE_LIMIT, child=first)
    second = start_child_process(_life(lab, folder, "second", at_s=40.0))
    second_ending = second.wait(5.0)
    (hold / "go").write_text("")
    second_text = _ended(second) if not second_ending.hung else str(second_ending)
    return {
        "paused": paused,
        "second": second_text,
        "second_while_first_held": not second_ending.hung,
        "second_requests": folder.read("requests-second", []),
        "first": _ended(first),
        "world": _world(folder),
        "status": _status(lab, folder, "after", 900.0),
    }


@SCENARIOS.scenario
def replay(lab: ModuleType) -> dict[str, Any]:
    """A whole deploy; its history; a replay from each of its checkpoints."""
    folder = Folder()
    _new_task(lab, folder)
    whole = _live(lab, folder, "whole", at_s=1.0)
    history: list[Any] = []

    def read_history() -> None:
        with FrozenClock(DEFAULT_START + dt.timedelta(seconds=500)) as clock, \
                FakeLLM([], clock=clock) as llm:
            agent = lab.DurableAgent(folder.agent, llm.client(), folder.world(), clock=clock.now)
            folder.note("history", [
                {"id": plain(getattr(c, "id", None)), "step": plain(getattr(c, "step", None)),
                 "ran": plain(list(getattr(c, "ran", ()))), "type": type_name(c),
                 "created_at": plain(getattr(c, "created_at", None))}
                for c in agent.history(TASK)
            ])

    listed = _live_plain(read_history)
    history = folder.read("history", [])
    replays = []
    for checkpoint in history:
        name = f"replay-{checkpoint['id']}"
        ended = _live(lab, folder, name, at_s=520.0, action="replay",
                      checkpoint=checkpoint["id"])
        replays.append({"from_step": checkpoint["step"], "ended": ended,
                        "answer": folder.read(f"answer-{name}"),
                        "requests": len(folder.read(f"requests-{name}", []))})
    short: dict[str, Any] = {}
    if history:  # from the first step again, by an agent allowed less than that takes
        first, name = history[-1], "replay-short"
        ended = _live(lab, folder, name, at_s=520.0, action="replay", checkpoint=first["id"],
                      settings=lambda: {"max_wall_time": SHORT_BUDGET})
        short = {"from_step": first["step"], "ended": ended,
                 "answer": folder.read(f"answer-{name}")}
    return {"whole": whole, "listed": listed, "history": history, "replays": replays,
            "world": _world(folder), "short": short, "start": DEFAULT_START.timestamp(),
            "whole_ended_at": folder.read("end-whole")}
