"""Lab 03's public checks (deadlines and budgets); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab03 as selfcheck
    selfcheck.timeout_shrinks_to_budget()   # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()                  # every lab 03 check, and a Summary

The checks watch from the outside, as the grader does: when each request reached the fake
LLM and the timeout it carried, the waits on the frozen clock, and how the ``AgentRun``
ended (state, the budget that ran out, steps, tokens, messages). The fake LLM moves the
clock while it "thinks", so a 50-second answer costs no real time.

Each check judges its own rule, against what your own code does for the rules beneath:

- a request's timeout is ``step-timeout-sent``'s while at least twice the step timeout is
  left, and ``timeout-shrinks-to-budget``'s nearer the deadline;
- a request sent once no time is left is ``run-deadline-stops-loop``'s; the deadline error
  and the run's record of it (the progress kept: one step per answer your run received)
  are ``deadline-exceeded-recorded``'s;
- a timed-out request is judged against the same run whose timeouts come back as an
  ordinary 503 (``FakeLLM(timeouts_as=503)``): handled alike, ``llm-timeout-handled`` is
  satisfied, whatever your timeouts and waits are;
- the budgets are judged by the requests sent and the budget named, and by the counters of
  a run that completed.

Lab 03 imports lab 01 (``labs.lab01_retry``), so with ``LAB_IMPL=labs`` these checks run
your lab 03 on your own lab 01, and a gap there shows here too. The grader uses the
reference lab 01 while it grades lab 03 (as ``load_lab`` does with ``LAB_IMPL=solutions``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from labs.kit.agent import AgentRun, Budget
from labs.kit.clock import FrozenClock
from labs.kit.devops import TOOL_SCHEMAS, DevOpsTools
from labs.kit.fake_llm import Step, failure, reply, timeout, tool_call
from labs.kit.notebook import Run, load_lab, seconds
from labs.kit.selfcheck import (
    TOLERANCE,
    GuardedLLM,
    RunawayError,
    Summary,
    WatchedClock,
    all_close,
    count,
    error_name,
    guarded_sleep,
    one_freeze,
    run_checks,
    short,
    verdict,
)

LAB03 = "lab03_deadlines"
GOAL = "web-1 is at 96% disk: free some space, then check that web is healthy."
PROMPT = [{"role": "user", "content": GOAL}]
#: The client every check hands over: its own retries off (lab 01 judges those).
QUIET_CLIENT = {"max_retries": 0}
#: Not the kit's default model, so that a model not passed on shows.
MODEL = "gpt-4.1-nano"
TIMEOUT_FIELDS = ("connect", "read", "write", "pool")


@dataclass
class Seen:
    """What one scenario showed from the outside."""

    run: Run
    value: Any = None
    error: BaseException | None = None
    runaway: str = ""
    agent: AgentRun | None = None
    own: tuple[float, ...] = ()
    """The waits made with the ``sleep`` handed over, in seconds (``time.sleep`` moves
    nothing: the clock is detached)."""
    deadline: float | None = None
    """When the deadline falls, in seconds on the clock."""

    @property
    def arrivals(self) -> list[float]:
        return self.run.arrivals

    @property
    def timeouts(self) -> list[float | None]:
        """The read timeout each request carried (None: no timeout at all)."""
        return [request.timeout.get("read") for request in self.run.requests]

    @property
    def answers(self) -> int:
        """How many requests were answered with a completion (the turns finished)."""
        return sum(1 for request in self.run.requests if request.outcome == "200")

    @property
    def late(self) -> list[float]:
        """Arrivals once no time was left (at the deadline itself, none is)."""
        if self.deadline is None:
            return []
        return [at for at in self.arrivals if at >= self.deadline - 1e-6]

    def raised(self, kind: type[BaseException]) -> bool:
        return isinstance(self.error, kind)

    def outcome(self) -> str:
        """``returned 'text'``, ``raised DeadlineExceeded`` and so on, for a verdict line."""
        if self.runaway:
            return self.runaway
        if self.error is not None:
            return f"raised {error_name(self.error)}"
        return f"returned {short(self.value)}"

    def ended(self) -> str:
        """How ``run_agent`` ended: the run's state and exhausted budget, or what went wrong."""
        if self.runaway or self.error is not None:
            return f"run_agent {self.outcome()}"
        if self.value is not self.agent or self.agent is None:
            return f"run_agent returned {short(self.value)}, not the run it was given"
        agent = self.agent
        state = getattr(agent.state, "value", agent.state)
        how = agent.exhausted or (short(agent.error, 44) if agent.error else "")
        return f"{state}{f' ({how})' if how else ''} at {seconds(self.run.end)}"

    def returned_run(self) -> bool:
        return not self.runaway and self.error is None and self.agent is not None \
            and self.value is self.agent

    def state(self) -> Any:
        return getattr(self.agent.state, "value", self.agent.state) if self.agent else None

    def ended_as(self, state: str, exhausted: str | None) -> bool:
        """True when ``run_agent`` returned the run, ended ``state`` with ``exhausted``."""
        return self.returned_run() and self.state() == state \
            and self.agent is not None and self.agent.exhausted == exhausted

    def error_text(self) -> str:
        """The run's recorded error, or what run_agent raised, as ``Type: message``."""
        if self.error is not None:
            return f"{type(self.error).__name__}: {self.error}"
        error = self.agent.error if self.agent is not None else None
        return error if isinstance(error, str) else ""

    def shape(self) -> tuple[Any, ...]:
        """What a run or a call did, for comparing two runs: requests, waits, the end."""
        kind = type(self.error).__name__ if self.error is not None else None
        if self.agent is not None and self.returned_run():
            kind = (self.state(), self.agent.exhausted, self.agent.steps,
                    self.error_text().split(":", 1)[0])
        return (tuple(round(at, 3) for at in self.arrivals), tuple(round(w, 3) for w in self.own),
                round(self.run.end, 3), kind, self.value if self.agent is None else None,
                self.runaway)


# -- driving a lab module ----------------------------------------------------------------


def _agent(
    lab: ModuleType,
    script: Sequence[Step],
    budget: Budget,
    *,
    step_timeout: float | None,
    policy: dict[str, Any] | None = None,
    slow_tools: dict[str, float] | None = None,
    rng: random.Random | None = None,
    timeouts_as: int | None = None,
    spent: tuple[int, int] = (0, 0),
    model: str | None = None,
) -> Seen:
    """``run_agent`` on a fresh run of ``budget`` (``spent`` steps and tokens already used)
    against ``script``, on a fresh clock; ``step_timeout=None`` leaves it at its default."""
    with WatchedClock() as clock, GuardedLLM(script, clock=clock, replay_client_retries=True,
                                             timeouts_as=timeouts_as) as llm:
        agent = AgentRun.start(GOAL, budget)
        agent.steps, agent.llm_tokens = spent
        value: Any = None
        error: BaseException | None = None
        runaway = ""
        options: dict[str, Any] = {} if step_timeout is None else {"step_timeout": step_timeout}
        if rng is not None:
            options["rng"] = rng
        if model is not None:
            options["model"] = model
        try:
            value = lab.run_agent(
                llm.client(**QUIET_CLIENT), agent, DevOpsTools(clock=clock, durations=slow_tools),
                policy=lab.RetryPolicy(**(policy or {})), sleep=guarded_sleep(clock),
                clock=clock.monotonic, **options,
            )
        except NotImplementedError:
            raise
        except RunawayError as stopped:
            runaway = str(stopped)
        except Exception as raised:  # noqa: BLE001 - what the lab raised is the observation
            error = raised
        own = tuple(wait.seconds for wait in clock.waits)
        return Seen(clock.run(llm), value, error, runaway, agent, own, budget.max_wall_time)


def _call(
    lab: ModuleType,
    script: Sequence[Step],
    *,
    deadline: float,
    step_timeout: float | None,
    policy: dict[str, Any],
    started_after: float = 0.0,
    rng: random.Random | None = None,
    timeouts_as: int | None = None,
) -> Seen:
    """``call_llm`` once, ``started_after`` seconds into a deadline of ``deadline`` seconds;
    the reply's text is the value. ``step_timeout=None`` leaves it at its default."""
    with WatchedClock() as clock, GuardedLLM(script, clock=clock, replay_client_retries=True,
                                             timeouts_as=timeouts_as) as llm:
        value: Any = None
        error: BaseException | None = None
        runaway = ""
        options: dict[str, Any] = {} if step_timeout is None else {"step_timeout": step_timeout}
        try:
            limit = lab.Deadline.after(deadline, clock=clock.monotonic)
            clock.advance(started_after)
            completion = lab.call_llm(
                llm.client(**QUIET_CLIENT), PROMPT, deadline=limit,
                policy=lab.RetryPolicy(**policy), sleep=guarded_sleep(clock), rng=rng, **options,
            )
            value = completion.choices[0].message.content
        except NotImplementedError:
            raise
        except RunawayError as stopped:
            runaway = str(stopped)
        except Exception as raised:  # noqa: BLE001
            error = raised
        own = tuple(wait.seconds for wait in clock.waits)
        return Seen(clock.run(llm), value, error, runaway, None, own, deadline)


def _turn(latency: float, call_id: str, tokens: tuple[int, int] = (0, 0),
          tool: str = "check_disk", calls: int = 1) -> Step:
    """A model turn that asks for ``calls`` tools and takes ``latency`` seconds."""
    asked = [tool_call(tool, id=f"{call_id}-{n}" if calls > 1 else call_id) for n in range(calls)]
    return reply(tool_calls=asked, latency=latency,
                 prompt_tokens=tokens[0], completion_tokens=tokens[1])


def _lab(lab: ModuleType | None) -> ModuleType:
    return lab if lab is not None else load_lab(LAB03)


def _shown(values: Sequence[float | None]) -> str:
    """Timeouts as a person writes them; a missing one is "none"."""
    if not values:
        return "none"
    return ", ".join("none" if v is None else seconds(v, "") for v in values) + " s"


def _left(value: Any) -> str:
    """Seconds left as a person writes them, or what came back instead of a number."""
    return seconds(value) if isinstance(value, (int, float)) else short(value)


def _roles(agent: AgentRun | None) -> list[Any]:
    messages = agent.messages if agent is not None else []
    return [m.get("role") if isinstance(m, dict) else None for m in messages]


def _fields(request: Any) -> list[float | None]:
    """The four parts of a request's timeout: connect, read, write, pool."""
    return [request.timeout.get(name) for name in TIMEOUT_FIELDS]


def _timeouts_where(seen: Seen, step: float, wanted: Callable[[float], float | None],
                    check: Callable[[list[float | None], float, float], bool]) -> list[str]:
    """For each request sent with ``left`` seconds to go for which ``wanted(left)`` is a
    number, whether its timeout's four parts pass ``check(parts, wanted, left)``; the
    requests that do not, as text."""
    wrong = []
    for request in seen.run.requests:
        if request.at is None or seen.deadline is None:
            continue
        left = seen.deadline - request.at
        expected = wanted(left)
        if expected is not None and not check(_fields(request), expected, left):
            parts = _fields(request)
            shown = _shown(parts[1:2]) if len(set(parts)) == 1 else \
                ", ".join(f"{n} {_shown([v])}" for n, v in zip(TIMEOUT_FIELDS, parts))
            wrong.append(f"at {seconds(request.at)} ({seconds(left)} left): {shown}")
    return wrong


def _equal(parts: list[float | None], expected: float, left: float) -> bool:
    return all(v is not None and all_close([v], [expected]) for v in parts)


def _at_most_left(parts: list[float | None], expected: float, left: float) -> bool:
    return all(v is not None and v <= left + TOLERANCE for v in parts)


# -- lab 03 ------------------------------------------------------------------------------


def _aligned(lab: ModuleType) -> Seen:
    """A 100 s run whose model takes 20 s a turn and never finishes (step timeout 25 s):
    the fifth answer comes back exactly at the deadline."""
    script = [_turn(20.0, f"call_d{n}") for n in range(8)] + [reply("disk freed")]
    return _agent(lab, script, Budget(max_steps=40, max_wall_time=100.0), step_timeout=25.0)


def _cut_short(lab: ModuleType) -> Seen:
    """The same, but the fifth turn's answer takes 30 s: its request times out at the
    deadline, inside call_llm."""
    script = [_turn(20.0, f"call_s{n}") for n in range(4)] + [_turn(30.0, "call_s4")] + \
        [reply("disk freed")]
    return _agent(lab, script, Budget(max_steps=40, max_wall_time=100.0), step_timeout=25.0)


def _last_step_late(lab: ModuleType) -> Seen:
    """A 60 s run with max_steps=3 whose third turn's tool runs until 70 s."""
    script = [_turn(5.0, "call_l1"), _turn(5.0, "call_l2"),
              _turn(5.0, "call_l3", tool="clean_logs"), reply("done", latency=1.0)]
    return _agent(lab, script, Budget(max_steps=3, max_wall_time=60.0), step_timeout=20.0,
                  slow_tools={"clean_logs": 55.0})


@one_freeze(_lab)
def run_deadline_stops_loop(lab: ModuleType | None = None) -> bool:
    """No request is sent once no time is left, however the time ran out: a turn ending
    at the deadline, a tool running past it, call_llm called late or exactly on time."""
    lab = _lab(lab)
    problems = []
    aligned = _aligned(lab)
    if aligned.late or not aligned.arrivals:
        problems.append(
            f"a 100 s run, each turn taking 20 s: requests at {seconds(aligned.arrivals)}; "
            f"none may go out once the deadline has come ({aligned.ended()})"
        )
    script = [_turn(10.0, "call_c1", tool="clean_logs"), reply("logs cleaned", latency=5.0)]
    tool = _agent(lab, script, Budget(max_wall_time=70.0), step_timeout=30.0,
                  slow_tools={"clean_logs": 65.0})
    if len(tool.arrivals) != 1:
        problems.append(
            f"a 70 s run whose clean_logs ran until 75 s: requests at "
            f"{seconds(tool.arrivals)}; expected only the first (check the deadline at the "
            "top of every turn, before the request)"
        )
    for started, label in ((52.0, "7 s past"), (45.0, "exactly at")):
        late = _call(lab, [reply("too late")], deadline=45.0, step_timeout=10.0,
                     policy={"max_attempts": 3}, started_after=started)
        if late.arrivals:
            problems.append(
                f"call_llm {label} a 45 s deadline: {late.outcome()} after "
                f"{count(len(late.arrivals), 'request')}; expected no request (take the "
                "timeout from deadline.timeout(): it raises once no time is left)"
            )
    return verdict(
        "run-deadline-stops-loop", problems,
        f"100 s run, 20 s turns: requests at {seconds(aligned.arrivals)}, none from 100 s on; "
        f"70 s run whose tool ran to 75 s: {count(len(tool.arrivals), 'request')}; call_llm "
        "past or at its deadline: no request",
    )


def _recorded(seen: Seen, label: str) -> list[str]:
    """Whether the run ended failed with max_wall_time, DeadlineExceeded as its error, and
    the progress it made kept: one step, and an assistant and a tool message, per answer."""
    agent = seen.agent
    error = seen.error_text()
    roles = _roles(agent)
    finished = seen.answers
    expected_roles = ["system", "user"] + ["assistant", "tool"] * finished
    if not seen.ended_as("failed", "max_wall_time"):
        return [f"{label}: {seen.ended()}; expected failed, exhausted='max_wall_time'"]
    if not error.startswith("DeadlineExceeded"):
        return [f"{label}: the run's error is {short(error)}; expected 'DeadlineExceeded: ...'"]
    if agent is None or agent.steps != finished or roles != expected_roles:
        return [
            f"{label}: after {count(finished, 'answer')} the run holds "
            f"{short(getattr(agent, 'steps', None))} steps and {len(roles)} messages "
            f"({', '.join(map(str, roles[-4:]))} at the end); expected {finished} steps and "
            f"{len(expected_roles)} messages: keep the progress made, and only that"
        ]
    return []


@one_freeze(_lab)
def deadline_exceeded_recorded(lab: ModuleType | None = None) -> bool:
    """On expiry the run ends failed with DeadlineExceeded, recorded as max_wall_time and
    keeping its progress, whether the deadline is noticed at the top of a turn, inside
    call_llm or together with max_steps; the error is never a TimeoutError."""
    lab = _lab(lab)
    problems = []
    aligned = _aligned(lab)
    if not aligned.late:  # a request at the deadline: run-deadline-stops-loop says so
        problems += _recorded(aligned, "a 100 s run that ran out of time at the top of a turn")
    cut = _cut_short(lab)
    if cut.error is not None or cut.error_text().startswith("DeadlineExceeded"):
        problems += _recorded(cut, "a 100 s run whose last request timed out at the deadline")
    both = _last_step_late(lab)
    if not aligned.late and not both.late and not both.error_text().startswith("RetryError"):
        problems += _recorded(both, "a 60 s run with max_steps=3 whose third turn's tool ran "
                                    "to 70 s (the deadline comes first)")
    late = _call(lab, [reply("too late")], deadline=40.0, step_timeout=10.0,
                 policy={"max_attempts": 3}, started_after=50.0)
    if late.error is not None and (not late.raised(lab.DeadlineExceeded)
                                   or late.raised(TimeoutError)):
        kind = " (a TimeoutError: lab 01 would retry it)" if late.raised(TimeoutError) else ""
        problems.append(f"call_llm 50 s into a 40 s deadline: {late.outcome()}{kind}; "
                        "expected your DeadlineExceeded")
    with FrozenClock(detached=True) as clock:
        passed = lab.Deadline.after(12.0, clock=clock.monotonic)
        clock.advance(12.5)
        try:
            passed.check()
            checked: BaseException | None = None
        except NotImplementedError:
            raise
        except Exception as error:  # noqa: BLE001 - the observation
            checked = error
    if not isinstance(checked, lab.DeadlineExceeded) or isinstance(checked, TimeoutError) \
            or getattr(checked, "budget", None) != "max_wall_time":
        problems.append(
            f"Deadline.check() half a second past a 12 s deadline raised "
            f"{error_name(checked) if checked else 'nothing'}; expected your DeadlineExceeded "
            "(budget 'max_wall_time', not a TimeoutError)"
        )
    steps = aligned.agent.steps if aligned.agent is not None else None
    return verdict(
        "deadline-exceeded-recorded", problems,
        f"100 s run: failed (max_wall_time) with DeadlineExceeded, {steps} steps kept; the "
        "same from inside call_llm and together with max_steps; call_llm late and "
        "Deadline.check(): DeadlineExceeded, not a TimeoutError",
    )


@one_freeze(_lab)
def step_timeout_sent(lab: ModuleType | None = None) -> bool:
    """While at least twice the step timeout is left, every request carries the step
    timeout (its default when none is given) in all four parts, and the model and tools
    it was given."""
    lab = _lab(lab)
    problems, shown = [], []
    script = [_turn(3.0, "call_r1"), _turn(7.0, "call_r2"), reply("disk at 61%", latency=2.0)]
    runs = [
        ("a 2000 s run, step timeout 45 s", 45.0,
         _agent(lab, script, Budget(max_wall_time=2000.0), step_timeout=45.0, model=MODEL)),
        ("an 800 s run, no step timeout given (30 s)", 30.0,
         _agent(lab, script, Budget(max_wall_time=800.0), step_timeout=None, model=MODEL)),
        ("call_llm, a 500 s deadline, no step timeout given (30 s)", 30.0,
         _call(lab, [reply("ok")], deadline=500.0, step_timeout=None, policy={})),
        ("call_llm, a 60 s deadline, step timeout 2.5 s", 2.5,
         _call(lab, [reply("ok")], deadline=60.0, step_timeout=2.5, policy={})),
    ]
    for label, step, seen in runs:
        wrong = _timeouts_where(seen, step, lambda left, s=step: s if left >= 2 * s else None,
                                _equal)
        if wrong or not seen.arrivals:
            problems.append(f"{label}: {', '.join(wrong) or 'no request'}; expected "
                            f"{seconds(step)} in connect, read, write and pool")
        shown.append(seconds(step, ""))
    names = sorted(schema["function"]["name"] for schema in TOOL_SCHEMAS)
    for request in runs[0][2].run.requests:
        body = request.body
        offered = sorted(t.get("function", {}).get("name", "") for t in body.get("tools") or []
                         if isinstance(t, dict))
        if body.get("model") != MODEL or offered != names:
            problems.append(
                f"run_agent(model={MODEL!r}): a request asked model {short(body.get('model'))} "
                f"with tools {offered or 'none'}; expected {MODEL!r} and the {len(names)} tools"
            )
            break
    return verdict(
        "step-timeout-sent", problems,
        f"step timeouts {', '.join(shown)} s sent whole (connect, read, write, pool) in runs "
        f"and calls with time to spare; model {MODEL} and the tools passed on",
    )


@one_freeze(_lab)
def timeout_shrinks_to_budget(lab: ModuleType | None = None) -> bool:
    """Nearer the deadline than twice the step timeout, a request's timeout never exceeds
    the time left, and is the time left (in all four parts) once that is below the step
    timeout: in a run, late in a call, a retry after a wait."""
    lab = _lab(lab)
    problems = []

    def judged(seen: Seen, step: float, label: str) -> None:
        exact = _timeouts_where(seen, step, lambda left: left if left < step else None, _equal)
        within = _timeouts_where(seen, step, lambda left: left if left < 2 * step else None,
                                 _at_most_left)
        for wrong, want in ((exact, "the time left"), (within, "at most the time left")):
            if wrong:
                problems.append(f"{label}: {wrong[0]}; expected {want}")
                return

    script = [_turn(45.0, f"call_t{n}") for n in range(5)] + [reply("done")]
    tight = _agent(lab, script, Budget(max_wall_time=150.0), step_timeout=70.0)
    judged(tight, 70.0, "a 150 s run, step timeout 70 s, 45 s turns")
    for deadline, started, step, label in (
        (30.0, 26.5, 12.0, "call_llm 26.5 s into a 30 s deadline, step timeout 12 s"),
        (20.0, 19.6, 12.0, "call_llm 19.6 s into a 20 s deadline, step timeout 12 s"),
        (100.0, 10.0, 60.0, "call_llm 10 s into a 100 s deadline, step timeout 60 s"),
    ):
        near = _call(lab, [reply("ok")], deadline=deadline, step_timeout=step, policy={},
                     started_after=started)
        if near.value != "ok" or len(near.arrivals) != 1:
            problems.append(f"{label}: {near.outcome()} after "
                            f"{count(len(near.arrivals), 'request')}; expected the answer "
                            "to one request")
        judged(near, step, label)
    retried = _call(lab, [failure(500), reply("ok")], deadline=18.0, step_timeout=40.0,
                    policy={"base_delay": 2.5})
    judged(retried, 40.0, "call_llm, an 18 s deadline, a 500, a 2.5 s wait, then a retry")
    return verdict(
        "timeout-shrinks-to-budget", problems,
        f"150 s run, 70 s step timeout: requests at {seconds(tight.arrivals)} with "
        f"{_shown(tight.timeouts)}; call_llm with 3.5 s and 0.4 s left: 3.5 and 0.4 s; a retry "
        "after a 2.5 s wait: the time left then",
    )


def _nested(lab: ModuleType) -> dict[str, Any]:
    """Children of a 60 s deadline, before and after 45 s pass, and of an explicit one."""
    with FrozenClock(detached=True) as clock:
        parent = lab.Deadline.after(60.0, clock=clock.monotonic)
        parent_at = parent.at
        short_, long_ = parent.child(20.0), parent.child(90.0)
        none_ = parent.child(0.0)
        seen: dict[str, Any] = {"child(20)": short_.remaining(), "child(90)": long_.remaining(),
                                "child(0)": none_.remaining()}
        clock.advance(45.0)
        seen.update({
            "later: parent": parent.remaining(),
            "later: child(20)": short_.remaining(),
            "later: child(90)": long_.remaining(),
            "later: child(90).child(4)": long_.child(4.0).remaining(),
            "later: child(90).child(40)": long_.child(40.0).remaining(),
            "expired": short_.expired(),
            "explicit": lab.Deadline(clock.monotonic() + 7.0, clock=clock.monotonic)
            .child(12.0).remaining(),
            "unchanged": parent.at == parent_at,
        })
        return seen


@one_freeze(_lab)
def child_deadline_min(lab: ModuleType | None = None) -> bool:
    """A nested deadline is the earlier of its parent's and its own, as in Go."""
    lab = _lab(lab)
    try:
        seen = _nested(lab)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - a broken Deadline is a failed check
        return verdict("child-deadline-min",
                        [f"Deadline raised {error_name(error)}: {short(str(error), 60)}"], "")
    expected = {
        "child(20)": 20.0, "child(90)": 60.0, "child(0)": 0.0, "later: parent": 15.0,
        "later: child(20)": 0.0, "later: child(90)": 15.0, "later: child(90).child(4)": 4.0,
        "later: child(90).child(40)": 15.0, "explicit": 7.0,
    }
    names = {"explicit": "Deadline(now + 7).child(12)"}
    problems = [
        f"{names.get(name, name).replace('later: ', '45 s later, ')} has "
        f"{_left(seen[name])} left; expected {seconds(value)}"
        for name, value in expected.items()
        if not isinstance(seen[name], (int, float)) or not all_close([seen[name]], [value])
    ]
    if problems:
        problems.append("a child's deadline is the earlier of its parent's and its own, as in Go")
    if seen["expired"] is not True:
        problems.append("45 s into a 60 s deadline, child(20) does not say it has expired")
    if seen["unchanged"] is not True:
        problems.append("making a child changed the parent's deadline; it must stay as it was")
    return verdict(
        "child-deadline-min", problems,
        f"parent 60 s: child(20) {seconds(seen['child(20)'])}, child(90) "
        f"{seconds(seen['child(90)'])}, child(0) {seconds(seen['child(0)'])}; 45 s later: parent "
        f"{seconds(seen['later: parent'])}, child(20) expired, child(90) "
        f"{seconds(seen['later: child(90)'])}, its child(4) "
        f"{seconds(seen['later: child(90).child(4)'])}; Deadline(now + 7).child(12): "
        f"{seconds(seen['explicit'])}",
    )


def _draws(lab: ModuleType, policy: dict[str, Any], seed: int, waits: int) -> list[float]:
    """The waits a retry loop draws with ``Random(seed)``: your lab 01's backoff_delay for
    retries 0, 1, ... in turn, from one rng."""
    source, found = random.Random(seed), []
    for retry in range(waits):
        try:
            found.append(float(lab.backoff_delay(retry, lab.RetryPolicy(**policy), source)))
        except NotImplementedError:
            raise
        except Exception:  # noqa: BLE001 - lab 01's own problem; nothing to compare with
            return []
    return found


@one_freeze(_lab)
def retry_respects_deadline(lab: ModuleType | None = None) -> bool:
    """A wait that would not end before the deadline is not slept: DeadlineExceeded at once,
    from the failure; the time left is read after the failure; a wait that fits is slept,
    even with less than a step timeout after it; the wait checked is the wait slept."""
    lab = _lab(lab)
    problems = []
    fails: list[tuple[str, Seen, list[float], float]] = [
        ("a 20 s deadline, 503s, backoff 3, 6, then 12 s",
         _call(lab, [failure(503)] * 8, deadline=20.0, step_timeout=4.0,
               policy={"max_attempts": 8, "base_delay": 3.0, "factor": 2.0, "max_delay": 100.0}),
         [3.0, 6.0], 9.0),
        ("a 16 s deadline, retry-after 5 s then retry-after-ms 12000",
         _call(lab, [failure(429, retry_after=5), failure(503, retry_after_ms=12_000),
                     reply("ok")], deadline=16.0, step_timeout=3.0,
               policy={"max_attempts": 6, "max_delay": 90.0}),
         [5.0], 5.0),
        ("a 9 s deadline, 502s, waits of 3 s (the third would end at the deadline)",
         _call(lab, [failure(502)] * 8, deadline=9.0, step_timeout=2.0,
               policy={"max_attempts": 8, "base_delay": 3.0, "factor": 1.0, "max_delay": 50.0}),
         [3.0, 3.0], 6.0),
        ("a 30 s deadline, a 500 that took 12 s, then a 20 s backoff",
         _call(lab, [failure(500, latency=12.0), reply("ok")], deadline=30.0, step_timeout=20.0,
               policy={"max_attempts": 5, "base_delay": 20.0, "max_delay": 100.0}),
         [], 12.0),
    ]
    for label, seen, waits, end in fails:
        cause = seen.error.__cause__ if seen.error is not None else None
        if not seen.raised(lab.DeadlineExceeded) or not all_close(list(seen.own), waits) \
                or not all_close([seen.run.end], [end]):
            problems.append(
                f"{label}: {seen.outcome()} after waits {seconds(list(seen.own))}, at "
                f"{seconds(seen.run.end)}; expected DeadlineExceeded at {seconds(end)}, after "
                f"waits {seconds(waits)} (a wait must end before the deadline)"
            )
        elif getattr(cause, "status_code", None) is None:
            problems.append(f"{label}: the DeadlineExceeded's __cause__ is {short(cause)}; "
                            "raise it from the failure that led to it")
    fits = _call(lab, [failure(502), reply("ok")], deadline=10.0, step_timeout=8.0,
                 policy={"max_attempts": 4, "base_delay": 3.0})
    if fits.value != "ok" or not all_close(list(fits.own), [3.0]):
        problems.append(
            f"a 10 s deadline, step timeout 8 s, a 502, then a 3 s wait that fits: "
            f"{fits.outcome()} after waits {seconds(list(fits.own))}; expected the 3 s wait and "
            "the answer (the retry gets the 7 s left)"
        )
    jitter = {"max_attempts": 8, "base_delay": 2.0, "factor": 2.0, "max_delay": 60.0,
              "jitter": True}
    random.seed(3)  # the global random module must not matter
    drawn = _call(lab, [failure(500)] * 4 + [reply("ok")], deadline=1000.0, step_timeout=5.0,
                  policy=jitter, rng=random.Random(88))
    expected = _draws(lab, jitter, 88, 4)
    if expected and (drawn.value != "ok" or not all_close(list(drawn.own), expected)):
        problems.append(
            f"call_llm with jitter and rng=Random(88), four 500s: waits "
            f"{seconds(list(drawn.own))}; expected {seconds(expected)}, one backoff_delay per "
            "wait from the rng given, the same wait checked and slept"
        )
    in_run = _agent(lab, [failure(500), failure(503), reply("done")],
                    Budget(max_wall_time=1000.0), step_timeout=5.0, policy=jitter,
                    rng=random.Random(17))
    expected = _draws(lab, jitter, 17, 2)
    if expected and not all_close(list(in_run.own), expected):
        problems.append(
            f"run_agent with jitter and rng=Random(17), a 500 and a 503: waits "
            f"{seconds(list(in_run.own))}; expected {seconds(expected)} (pass the run's rng on "
            "to call_llm)"
        )
    return verdict(
        "retry-respects-deadline", problems,
        "waits that would not end before the deadline (backoff, server delay, one ending at "
        "it, one after a slow failure): DeadlineExceeded at once, from the failure; a wait "
        "that fits: slept; jittered waits from the rng given, in call_llm and in run_agent",
    )


def _alike(lab: ModuleType, run: Callable[[int | None], Seen], label: str) -> list[str]:
    """Whether a scenario goes the same when its timeouts come back as 503s."""
    timed_out, served = run(None), run(503)
    if timed_out.shape() == served.shape():
        return []
    return [
        f"{label}: requests at {seconds(timed_out.arrivals)}, waits "
        f"{seconds(list(timed_out.own))}, {timed_out.ended() if timed_out.agent else timed_out.outcome()}"
        f"; with each timeout answered as a 503 instead: requests at "
        f"{seconds(served.arrivals)}, waits {seconds(list(served.own))}, "
        f"{served.ended() if served.agent else served.outcome()}; a timed-out request is a "
        "transient failure like any other"
    ]


@one_freeze(_lab)
def llm_timeout_handled(lab: ModuleType | None = None) -> bool:
    """A timed-out request is handled as any other transient failure (the same run with
    its timeouts answered as 503s goes the same way); permanent errors are raised at once;
    attempts run out after max_attempts; the run ends failed, never raising, with no
    exhausted budget for a RetryError."""
    lab = _lab(lab)
    problems = []
    timeouts = {"max_attempts": 8, "base_delay": 1.0}
    problems += _alike(lab, lambda as_: _call(
        lab, [timeout()] * 8, deadline=40.0, step_timeout=15.0, policy=timeouts,
        timeouts_as=as_), "call_llm, requests timing out until a 40 s deadline, step timeout 15 s")
    problems += _alike(lab, lambda as_: _call(
        lab, [reply("still thinking", latency=50.0), reply("disk at 58%")], deadline=200.0,
        step_timeout=11.0, policy={"max_attempts": 3, "base_delay": 2.0}, timeouts_as=as_),
        "call_llm, a 50 s answer with an 11 s step timeout, then a quick one")
    problems += _alike(lab, lambda as_: _agent(
        lab, [_turn(4.0, "call_o1")] + [timeout()] * 4, Budget(max_wall_time=500.0),
        step_timeout=10.0, policy={"max_attempts": 3, "base_delay": 1.0}, timeouts_as=as_),
        "a 500 s run whose second turn's requests all time out, max_attempts=3")
    problems += _alike(lab, lambda as_: _agent(
        lab, [timeout()] * 10, Budget(max_wall_time=50.0), step_timeout=20.0,
        policy={"max_attempts": 10, "base_delay": 1.0}, timeouts_as=as_),
        "a 50 s run whose requests all time out")
    permanent = _call(lab, [failure(400), reply("no")], deadline=300.0, step_timeout=10.0,
                      policy={"max_attempts": 5})
    if type(permanent.error).__name__ != "BadRequestError" or len(permanent.arrivals) != 1:
        problems.append(f"call_llm, a 400: {permanent.outcome()} after "
                        f"{count(len(permanent.arrivals), 'request')}; expected the "
                        "BadRequestError itself at once")
    spent = _call(lab, [timeout(latency=2.0)] * 6, deadline=1000.0, step_timeout=6.0,
                  policy={"max_attempts": 3, "base_delay": 0.5})
    if not spent.raised(lab.RetryError) or len(spent.arrivals) != 3:
        problems.append(f"call_llm, requests timing out after 2 s, max_attempts=3, 1000 s to go: "
                        f"{spent.outcome()} after {count(len(spent.arrivals), 'request')}; "
                        "expected lab 01's RetryError after 3")
    gave_up = _agent(lab, [_turn(4.0, "call_g1")] + [timeout(latency=2.0)] * 4,
                     Budget(max_wall_time=500.0), step_timeout=10.0,
                     policy={"max_attempts": 3, "base_delay": 1.0})
    if not gave_up.ended_as("failed", None) or not gave_up.error_text().startswith("RetryError"):
        problems.append(f"a 500 s run whose requests time out 3 times in a row (max_attempts=3)"
                        f": {gave_up.ended()}; expected failed with 'RetryError: ...' and no "
                        "exhausted budget (time was left)")
    rejected = _agent(lab, [failure(422)], Budget(max_wall_time=500.0), step_timeout=10.0)
    if not rejected.ended_as("failed", None):
        problems.append(f"a run whose request gets a 422: {rejected.ended()}; expected failed, "
                        "no exhausted budget (the run never raises)")
    out_of_time = _agent(lab, [timeout()] * 10, Budget(max_wall_time=50.0), step_timeout=20.0,
                         policy={"max_attempts": 10, "base_delay": 1.0})
    if not out_of_time.returned_run() or out_of_time.state() != "failed":
        problems.append(f"a 50 s run whose requests all time out: {out_of_time.ended()}; "
                        "expected the run back, failed (the run never raises)")
    return verdict(
        "llm-timeout-handled", problems,
        "timeouts handled as 503s are (in call_llm and in runs); a 400 raised at once; "
        f"RetryError after 3 timed-out attempts; runs: {gave_up.ended()}, "
        f"{out_of_time.ended()}",
    )


@one_freeze(_lab)
def budget_enforced(lab: ModuleType | None = None) -> bool:
    """max_steps and max_llm_tokens (from usage), checked before each turn in the
    contract's order, stop the run, which says which ran out; a run handed in with steps or
    tokens spent has only the rest; a completed run counts every turn and its tokens."""
    lab = _lab(lab)
    problems = []
    roomy = 10_000.0

    def endless(tokens: tuple[int, int], calls: int = 1) -> list[Step]:
        return [_turn(2.0, f"call_e{n}", tokens, calls=calls) for n in range(9)]

    def run(script: list[Step], steps: int, tokens: int,
            spent: tuple[int, int] = (0, 0)) -> Seen:
        return _agent(lab, script, Budget(max_steps=steps, max_wall_time=roomy,
                                          max_llm_tokens=tokens), step_timeout=30.0, spent=spent)

    stops = [
        ("max_steps=3, a model that never finishes", run(endless((40, 10)), 3, 10**9),
         "max_steps", 3),
        ("max_llm_tokens=1500, usage 430 + 70 tokens a turn (1500 reached after 3)",
         run(endless((430, 70)), 50, 1500), "max_llm_tokens", 3),
        ("max_steps=4 and max_llm_tokens=2000, 500 tokens a turn (both reached after 4)",
         run(endless((430, 70)), 4, 2000), "max_steps", 4),
        ("max_steps=6, a run handed in with 4 steps spent", run(endless((40, 10)), 6, 10**9,
                                                                 (4, 0)), "max_steps", 2),
        ("max_llm_tokens=1500, a run handed in with 1200 tokens spent",
         run(endless((430, 70)), 50, 1500, (0, 1200)), "max_llm_tokens", 1),
        ("max_steps=4, turns asking for 3 tools at once (one step each)",
         run(endless((40, 10), calls=3), 4, 10**9), "max_steps", 4),
    ]
    for label, seen, budget, requests in stops:
        if not seen.ended_as("failed", budget) or len(seen.arrivals) != requests:
            problems.append(f"{label}: {seen.ended()} after "
                            f"{count(len(seen.arrivals), 'request')}; expected failed "
                            f"({budget}) after {requests}")
    finishing = [_turn(2.0, "call_f1", (430, 70)), _turn(2.0, "call_f2", (430, 70)),
                 reply("web is healthy", prompt_tokens=430, completion_tokens=70)]
    within = run(finishing, 3, 1500)
    agent = within.agent
    if not within.ended_as("completed", None) or agent is None or agent.steps != 3 \
            or agent.llm_tokens != 1500 or agent.result != "web is healthy":
        problems.append(
            f"max_steps=3, max_llm_tokens=1500, a model done in exactly 3 turns of 500 tokens: "
            f"{within.ended()}, steps={short(getattr(agent, 'steps', None))}, "
            f"llm_tokens={short(getattr(agent, 'llm_tokens', None))}, "
            f"result={short(getattr(agent, 'result', None))}; expected completed, 3 steps, "
            "1500 tokens, 'web is healthy' (a budget is checked before a turn, not after it)"
        )
    return verdict(
        "budget-enforced", problems,
        "max_steps=3: 3 requests; max_llm_tokens=1500 at 500 a turn: 3 requests; both at "
        "once: max_steps; handed in spent: only the rest; 3 tools a turn: one step; 3 turns "
        "within both budgets: completed, 3 steps, 1500 tokens",
    )


#: Every lab 03 check, in the checklist's order.
CHECKS: tuple[Callable[[ModuleType | None], bool], ...] = (
    run_deadline_stops_loop,
    deadline_exceeded_recorded,
    step_timeout_sent,
    timeout_shrinks_to_budget,
    child_deadline_min,
    retry_respects_deadline,
    llm_timeout_handled,
    budget_enforced,
)


def all_checks(lab: ModuleType | None = None) -> Summary:
    """Run every lab 03 check on one fresh load of the module; print a line each."""
    return run_checks(CHECKS, _lab(lab))
