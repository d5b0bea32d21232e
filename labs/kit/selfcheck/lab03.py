"""Lab 03's public checks (deadlines and budgets); see :mod:`labs.kit.selfcheck`.

    from labs.kit.selfcheck import lab03 as selfcheck
    selfcheck.timeout_shrinks_to_budget()   # one line: PASS or FAIL, with the figures
    selfcheck.all_checks()                  # every lab 03 check, and a Summary

The checks watch from the outside, as the grader does: when each request reached the fake
LLM and the timeout it carried, the waits on the frozen clock, and how the ``AgentRun``
ended (state, the budget that ran out, steps, tokens, messages). The fake LLM moves the
clock while it "thinks", so a 50-second answer costs no real time.

Lab 03 imports lab 01 (``labs.lab01_retry``), so with ``LAB_IMPL=labs`` these checks run
your lab 03 on your own lab 01, and a gap there shows here too. The grader uses the
reference lab 01 while it grades lab 03 (as ``load_lab`` does with ``LAB_IMPL=solutions``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from labs.kit.agent import AgentRun, Budget
from labs.kit.clock import FrozenClock
from labs.kit.devops import DevOpsTools
from labs.kit.fake_llm import Step, failure, reply, timeout, tool_call
from labs.kit.notebook import RecordingClock, Run, load_lab, seconds
from labs.kit.selfcheck import (
    TOLERANCE,
    GuardedLLM,
    RunawayError,
    Summary,
    all_close,
    count,
    error_name,
    guarded_sleep,
    run_checks,
    short,
    verdict,
)

LAB03 = "lab03_deadlines"
GOAL = "web-1 is at 96% disk: free some space, then check that web is healthy."
PROMPT = [{"role": "user", "content": GOAL}]


@dataclass
class Seen:
    """What one scenario showed from the outside."""

    run: Run
    value: Any = None
    error: BaseException | None = None
    runaway: str = ""
    agent: AgentRun | None = None

    @property
    def arrivals(self) -> list[float]:
        return self.run.arrivals

    @property
    def timeouts(self) -> list[float | None]:
        """The read timeout each request carried (None: no timeout at all)."""
        return [request.timeout.get("read") for request in self.run.requests]

    @property
    def sleeps(self) -> list[float]:
        return self.run.sleeps

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

    def ended_as(self, state: str, exhausted: str | None) -> bool:
        """True when ``run_agent`` returned the run, ended ``state`` with ``exhausted``."""
        agent = self.agent
        return (
            not self.runaway and self.error is None and self.value is agent and agent is not None
            and getattr(agent.state, "value", agent.state) == state
            and agent.exhausted == exhausted
        )


# -- driving a lab module ----------------------------------------------------------------


def _agent(
    lab: ModuleType,
    script: Sequence[Step],
    budget: Budget,
    *,
    step_timeout: float,
    policy: dict[str, Any] | None = None,
    slow_tools: dict[str, float] | None = None,
) -> Seen:
    """``run_agent`` on a fresh run of ``budget`` against ``script``, on a fresh clock."""
    with RecordingClock(patch_sleep=True) as clock, GuardedLLM(script, clock=clock) as llm:
        agent = AgentRun.start(GOAL, budget)
        value: Any = None
        error: BaseException | None = None
        runaway = ""
        try:
            value = lab.run_agent(
                llm.client(), agent, DevOpsTools(clock=clock, durations=slow_tools),
                step_timeout=step_timeout, policy=lab.RetryPolicy(**(policy or {})),
                sleep=guarded_sleep(clock), clock=clock.monotonic,
            )
        except NotImplementedError:
            raise
        except RunawayError as stopped:
            runaway = str(stopped)
        except Exception as raised:  # noqa: BLE001 - what the lab raised is the observation
            error = raised
        return Seen(Run.capture(llm, clock), value, error, runaway, agent)


def _call(
    lab: ModuleType,
    script: Sequence[Step],
    *,
    deadline: float,
    step_timeout: float,
    policy: dict[str, Any],
    started_after: float = 0.0,
) -> Seen:
    """``call_llm`` once, ``started_after`` seconds into a deadline of ``deadline`` seconds;
    the reply's text is the value."""
    with RecordingClock(patch_sleep=True) as clock, GuardedLLM(script, clock=clock) as llm:
        value: Any = None
        error: BaseException | None = None
        runaway = ""
        try:
            limit = lab.Deadline.after(deadline, clock=clock.monotonic)
            clock.advance(started_after)
            completion = lab.call_llm(
                llm.client(), PROMPT, deadline=limit, step_timeout=step_timeout,
                policy=lab.RetryPolicy(**policy), sleep=guarded_sleep(clock),
            )
            value = completion.choices[0].message.content
        except NotImplementedError:
            raise
        except RunawayError as stopped:
            runaway = str(stopped)
        except Exception as raised:  # noqa: BLE001
            error = raised
        return Seen(Run.capture(llm, clock), value, error, runaway)


def _turn(latency: float, call_id: str, tokens: tuple[int, int] = (0, 0),
          tool: str = "check_disk") -> Step:
    """A model turn that asks for one tool and takes ``latency`` seconds."""
    return reply(tool_calls=[tool_call(tool, id=call_id)], latency=latency,
                 prompt_tokens=tokens[0], completion_tokens=tokens[1])


def _lab(lab: ModuleType | None) -> ModuleType:
    return lab if lab is not None else load_lab(LAB03)


def _close(values: Sequence[float | None], expected: Sequence[float]) -> bool:
    """``all_close`` for timeouts, where None (no timeout at all) is never close."""
    known = [value for value in values if value is not None]
    return len(known) == len(values) and all_close(known, expected)


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


def _slow_model(lab: ModuleType) -> Seen:
    """A 250 s run whose model takes 50 s a turn and never finishes."""
    script = [_turn(50.0, f"call_d{n}") for n in range(8)] + [reply("disk freed")]
    return _agent(lab, script, Budget(max_steps=40, max_wall_time=250.0), step_timeout=90.0)


# -- lab 03 ------------------------------------------------------------------------------


def run_deadline_stops_loop(lab: ModuleType | None = None) -> bool:
    """No request is sent once the run's deadline has passed, however it passed."""
    lab = _lab(lab)
    problems = []
    slow = _slow_model(lab)
    late = [at for at in slow.arrivals if at >= 250.0 - TOLERANCE]
    if late or not all_close(slow.arrivals, [0.0, 50.0, 100.0, 150.0, 200.0]):
        problems.append(
            f"a 250 s run, each turn taking 50 s: requests at {seconds(slow.arrivals)}; "
            "expected 0, 50, 100, 150, 200 s and none once the deadline had passed "
            f"({slow.ended()})"
        )
    script = [_turn(15.0, "call_c1", tool="clean_logs"), reply("logs cleaned", latency=5.0)]
    tool = _agent(lab, script, Budget(max_wall_time=180.0), step_timeout=60.0,
                  slow_tools={"clean_logs": 170.0})
    if len(tool.arrivals) != 1:
        problems.append(
            f"a 180 s run whose clean_logs ran until 185 s: requests at "
            f"{seconds(tool.arrivals)}; expected only the first (check the deadline at the "
            "top of every turn, before the request)"
        )
    return verdict(
        "run-deadline-stops-loop", problems,
        f"250 s run, 50 s turns: requests at {seconds(slow.arrivals)}, none from 250 s on; "
        f"180 s run whose tool ran to 185 s: {count(len(tool.arrivals), 'request')}",
    )


def deadline_exceeded_recorded(lab: ModuleType | None = None) -> bool:
    """On expiry the run ends failed with DeadlineExceeded, keeping its progress."""
    lab = _lab(lab)
    problems = []
    slow = _slow_model(lab)
    agent = slow.agent
    error = agent.error if agent is not None else None
    roles = _roles(agent)
    expected_roles = ["system", "user"] + ["assistant", "tool"] * 5
    steps = agent.steps if agent is not None else None
    if not slow.ended_as("failed", "max_wall_time"):
        problems.append(
            f"a 250 s run that ran out of time: {slow.ended()}; expected failed, "
            "exhausted='max_wall_time'"
        )
    elif not isinstance(error, str) or not error.startswith("DeadlineExceeded"):
        problems.append(f"the run's error is {short(error)}; expected 'DeadlineExceeded: ...'")
    elif steps != 5 or roles != expected_roles:
        problems.append(
            f"after 5 finished turns the run holds {steps} steps and {len(roles)} messages "
            f"({', '.join(map(str, roles[-4:]))} at the end); expected 5 steps and "
            f"{len(expected_roles)} messages: keep the progress made"
        )
    late = _call(lab, [reply("too late")], deadline=40.0, step_timeout=10.0,
                 policy={"max_attempts": 3}, started_after=45.0)
    if not late.raised(lab.DeadlineExceeded) or late.raised(TimeoutError) or late.arrivals:
        kind = " (a TimeoutError: lab 01 would retry it)" if late.raised(TimeoutError) else ""
        problems.append(
            f"call_llm 45 s into a 40 s deadline: {late.outcome()}{kind} after "
            f"{count(len(late.arrivals), 'request')}; expected DeadlineExceeded and no request"
        )
    return verdict(
        "deadline-exceeded-recorded", problems,
        f"250 s run: failed (max_wall_time) with DeadlineExceeded, {steps} steps and "
        f"{len(roles)} messages kept; call_llm 45 s into a 40 s deadline: DeadlineExceeded "
        "(not a TimeoutError), no request",
    )


def step_timeout_sent(lab: ModuleType | None = None) -> bool:
    """Every request carries a timeout, no larger than the step timeout."""
    lab = _lab(lab)
    problems = []
    script = [_turn(5.0, "call_r1"), _turn(12.0, "call_r2"), reply("disk at 61%", latency=3.0)]
    roomy = _agent(lab, script, Budget(max_wall_time=900.0), step_timeout=25.0)
    if not _close(roomy.timeouts, [25.0, 25.0, 25.0]):
        problems.append(
            f"a 900 s run with a 25 s step timeout: the requests' read timeouts were "
            f"{_shown(roomy.timeouts)}; expected 25 s each (600 s is the OpenAI client's default)"
        )
    one = _call(lab, [reply("ok")], deadline=1000.0, step_timeout=7.5, policy={})
    fields = one.run.requests[0].timeout if one.run.requests else {}
    if one.value != "ok" or not fields or any(
        value is None or value > 7.5 + TOLERANCE for value in fields.values()
    ):
        problems.append(
            f"call_llm with a 7.5 s step timeout: {one.outcome()}, the request's timeout "
            f"{fields or 'not seen'}; expected 7.5 s in connect, read, write and pool"
        )
    return verdict(
        "step-timeout-sent", problems,
        f"900 s run, step timeout 25 s: timeouts {_shown(roomy.timeouts)}; call_llm with "
        "7.5 s: 7.5 s in connect, read, write and pool",
    )


def timeout_shrinks_to_budget(lab: ModuleType | None = None) -> bool:
    """A request's timeout is the step timeout, or the time left in the run when less."""
    lab = _lab(lab)
    problems = []
    script = [_turn(40.0, f"call_t{n}") for n in range(5)] + [reply("done")]
    tight = _agent(lab, script, Budget(max_wall_time=140.0), step_timeout=65.0)
    if not all_close(tight.arrivals, [0.0, 40.0, 80.0, 120.0]) \
            or not _close(tight.timeouts, [65.0, 65.0, 60.0, 20.0]):
        problems.append(
            f"a 140 s run, 65 s step timeout, turns of 40 s: requests at "
            f"{seconds(tight.arrivals)} with timeouts {_shown(tight.timeouts)}; expected "
            "0, 40, 80, 120 s with 65, 65, 60, 20 s (the step timeout, or the time left)"
        )
    over = [
        f"{seconds(at, '')} + {_shown([t])}"
        for at, t in zip(tight.arrivals, tight.timeouts)
        if t is None or at + t > 140.0 + TOLERANCE
    ]
    if over:
        problems.append(f"in a 140 s run these requests could end after it: {', '.join(over)}")
    near = _call(lab, [reply("ok")], deadline=30.0, step_timeout=10.0, policy={},
                 started_after=26.0)
    if near.value != "ok" or not _close(near.timeouts, [4.0]):
        problems.append(
            f"call_llm 26 s into a 30 s deadline, step timeout 10 s: {near.outcome()} with "
            f"timeouts {_shown(near.timeouts)}; expected one request with 4 s"
        )
    return verdict(
        "timeout-shrinks-to-budget", problems,
        f"140 s run, 65 s step timeout: requests at {seconds(tight.arrivals)} with "
        f"{_shown(tight.timeouts)}; call_llm 26 s into 30 s: {_shown(near.timeouts)}",
    )


def _nested(lab: ModuleType) -> dict[str, Any]:
    """Children of a 60 s deadline, before and after 45 s pass, and of an explicit one."""
    with FrozenClock() as clock:
        parent = lab.Deadline.after(60.0, clock=clock.monotonic)
        parent_at = parent.at
        short_, long_ = parent.child(20.0), parent.child(90.0)
        seen: dict[str, Any] = {"child(20)": short_.remaining(), "child(90)": long_.remaining()}
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
        "child(20)": 20.0, "child(90)": 60.0, "later: parent": 15.0, "later: child(20)": 0.0,
        "later: child(90)": 15.0, "later: child(90).child(4)": 4.0,
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
        f"{seconds(seen['child(90)'])}; 45 s later: parent {seconds(seen['later: parent'])}, "
        f"child(20) expired, child(90) {seconds(seen['later: child(90)'])}, its child(4) "
        f"{seconds(seen['later: child(90).child(4)'])}; Deadline(now + 7).child(12): "
        f"{seconds(seen['explicit'])}",
    )


def retry_respects_deadline(lab: ModuleType | None = None) -> bool:
    """A wait that would not end before the deadline is not slept: DeadlineExceeded at once."""
    lab = _lab(lab)
    problems = []
    backoff = _call(lab, [failure(502)] * 6, deadline=14.0, step_timeout=3.0,
                    policy={"max_attempts": 6, "base_delay": 2.5, "factor": 2.0,
                            "max_delay": 60.0})
    if not backoff.raised(lab.DeadlineExceeded) or not all_close(backoff.sleeps, [2.5, 5.0]) \
            or not all_close([backoff.run.end], [7.5]):
        problems.append(
            f"a 14 s deadline, 502s, backoff 2.5, 5, then 10 s: {backoff.outcome()} after "
            f"waits {seconds(backoff.sleeps)}, at {seconds(backoff.run.end)}; expected "
            "DeadlineExceeded at 7.5 s, without the 10 s wait"
        )
    server = _call(
        lab, [failure(503, retry_after=9), failure(429, retry_after_ms=17_000), reply("ok")],
        deadline=25.0, step_timeout=4.0, policy={"max_attempts": 5, "max_delay": 60.0},
    )
    if not server.raised(lab.DeadlineExceeded) or not all_close(server.sleeps, [9.0]):
        problems.append(
            f"a 25 s deadline, retry-after 9 s then retry-after-ms 17000: {server.outcome()} "
            f"after waits {seconds(server.sleeps)}; expected the 9 s wait, then "
            "DeadlineExceeded at once (17 s would end after the deadline)"
        )
    in_run = _agent(lab, [failure(500)] * 5, Budget(max_wall_time=45.0), step_timeout=5.0,
                    policy={"max_attempts": 5, "base_delay": 12.0, "max_delay": 100.0})
    if not in_run.ended_as("failed", "max_wall_time") or not all_close([in_run.run.end], [36.0]):
        problems.append(
            f"a 45 s run, 500s, backoff 12, 24, then 48 s: {in_run.ended()} after waits "
            f"{seconds(in_run.sleeps)}; expected failed (max_wall_time) at 36 s"
        )
    return verdict(
        "retry-respects-deadline", problems,
        f"14 s deadline: waits {seconds(backoff.sleeps)}, DeadlineExceeded at "
        f"{seconds(backoff.run.end)} (not 10 s more); 25 s deadline: waits "
        f"{seconds(server.sleeps)} (not 17 s more); 45 s run: {in_run.ended()}",
    )


def llm_timeout_handled(lab: ModuleType | None = None) -> bool:
    """A timed-out request is retried while time remains, and ends the run cleanly after."""
    lab = _lab(lab)
    problems = []
    recovers = _call(lab, [reply("still thinking", latency=60.0), reply("disk at 61%")],
                     deadline=200.0, step_timeout=12.0,
                     policy={"max_attempts": 3, "base_delay": 1.5})
    if recovers.value != "disk at 61%" or not all_close(recovers.arrivals, [0.0, 13.5]):
        problems.append(
            f"a 60 s answer with a 12 s step timeout, then a quick one: {recovers.outcome()}, "
            f"requests at {seconds(recovers.arrivals)}; expected the answer, requests at "
            "0 and 13.5 s (timed out at 12 s, a 1.5 s wait)"
        )
    policy = {"max_attempts": 8, "base_delay": 1.0}
    runs_out = _call(lab, [timeout()] * 8, deadline=40.0, step_timeout=15.0, policy=policy)
    if not runs_out.raised(lab.DeadlineExceeded):
        problems.append(
            f"requests timing out until a 40 s deadline: {runs_out.outcome()}; expected "
            "DeadlineExceeded, not the raw timeout"
        )
    elif not all_close(runs_out.arrivals, [0.0, 16.0, 33.0]) \
            or not all_close([runs_out.run.end], [40.0]):
        problems.append(
            f"requests timing out in a 40 s deadline, step timeout 15 s: requests at "
            f"{seconds(runs_out.arrivals)}, ended at {seconds(runs_out.run.end)}; expected "
            "0, 16, 33 s (the last with 7 s left) and the end at 40 s"
        )
    in_run = _agent(lab, [timeout()] * 8, Budget(max_wall_time=40.0), step_timeout=15.0,
                    policy=policy)
    error = in_run.agent.error if in_run.agent is not None else None
    if not in_run.ended_as("failed", "max_wall_time") or not isinstance(error, str) \
            or not error.startswith("DeadlineExceeded") or "Traceback" in error:
        problems.append(
            f"a 40 s run whose requests all time out: {in_run.ended()}, error "
            f"{short(error)}; expected failed (max_wall_time) with 'DeadlineExceeded: ...'"
        )
    return verdict(
        "llm-timeout-handled", problems,
        f"timed out at 12 s, retried at {seconds(recovers.arrivals[-1:])}, answered; "
        f"timeouts to a 40 s deadline: requests at {seconds(runs_out.arrivals)} with "
        f"{_shown(runs_out.timeouts)}, DeadlineExceeded at {seconds(runs_out.run.end)}; "
        f"in a run: {in_run.ended()}",
    )


def budget_enforced(lab: ModuleType | None = None) -> bool:
    """max_steps and max_llm_tokens (from usage) stop the run, which says which ran out."""
    lab = _lab(lab)
    problems = []
    endless = [_turn(2.0, f"call_e{n}", (800, 100)) for n in range(8)]
    roomy = 10_000.0
    steps = _agent(lab, endless, Budget(max_steps=3, max_wall_time=roomy,
                                        max_llm_tokens=10**9), step_timeout=30.0)
    steps_taken = steps.agent.steps if steps.agent is not None else None
    if not steps.ended_as("failed", "max_steps") or len(steps.arrivals) != 3 \
            or steps_taken != 3:
        problems.append(
            f"max_steps=3, a model that never finishes: {steps.ended()}, "
            f"{count(len(steps.arrivals), 'request')}, steps={short(steps_taken)}; expected "
            "failed (max_steps) after 3 requests and 3 steps"
        )
    tokens = _agent(lab, endless, Budget(max_steps=50, max_wall_time=roomy,
                                         max_llm_tokens=2000), step_timeout=30.0)
    counted = tokens.agent.llm_tokens if tokens.agent is not None else None
    if not tokens.ended_as("failed", "max_llm_tokens") or len(tokens.arrivals) != 3 \
            or counted != 2700:
        problems.append(
            f"max_llm_tokens=2000, usage 800 + 100 tokens a turn: {tokens.ended()}, "
            f"{count(len(tokens.arrivals), 'request')}, llm_tokens={short(counted)}; expected "
            "failed (max_llm_tokens) after 3 requests and 2700 tokens counted"
        )
    finishing = [_turn(2.0, f"call_f{n}", (55, 15)) for n in range(3)]
    finishing.append(reply("web is healthy", prompt_tokens=55, completion_tokens=15))
    within = _agent(lab, finishing, Budget(max_steps=4, max_wall_time=roomy,
                                           max_llm_tokens=10_000), step_timeout=30.0)
    agent = within.agent
    if not within.ended_as("completed", None) or agent is None or agent.steps != 4 \
            or agent.llm_tokens != 280 or agent.result != "web is healthy":
        problems.append(
            f"max_steps=4, a model done in exactly 4 turns of 70 tokens: {within.ended()}, "
            f"steps={short(getattr(agent, 'steps', None))}, "
            f"llm_tokens={short(getattr(agent, 'llm_tokens', None))}, "
            f"result={short(getattr(agent, 'result', None))}; expected completed, 4 steps, "
            "280 tokens, 'web is healthy'"
        )
    return verdict(
        "budget-enforced", problems,
        f"max_steps=3: {count(len(steps.arrivals), 'request')}, failed (max_steps); "
        f"max_llm_tokens=2000: {count(len(tokens.arrivals), 'request')}, {counted} tokens "
        "from usage, failed (max_llm_tokens); 4 turns within max_steps=4: completed, "
        "280 tokens",
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
