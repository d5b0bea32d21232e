"""Lab 03 scenarios: deadlines, timeouts and budgets, with a mocked LLM that takes its time.

The clocks are detached (:class:`labs.kit.clock.FrozenClock`): the ``clock`` and ``sleep``
handed to the submission are the only ones that move. ``time.monotonic()`` stands still, so
a deadline measured on it never comes; a ``time.sleep`` moves the clock as the handed
``sleep`` would (the run goes on as if the wait were right) and is noted, so that using it
costs only the item whose rule it breaks. The fake server answers the OpenAI client's own
retries as it answered the request they repeat, and counts them.
"""

from __future__ import annotations

import hashlib
import importlib
import random
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from unittest import mock

from grader.observe import describe_error, outcome, plain, type_name
from grader.scenarios import Registry
from labs.kit.agent import AgentRun, Budget
from labs.kit.clock import FrozenClock
from labs.kit.devops import DevOpsTools
from labs.kit.fake_llm import FakeLLM, Step, connect_error, failure, reply, timeout, tool_call

SCENARIOS = Registry(process_clock_stopped=True)
GOAL = "Roll out web 2.4.1 to staging and check that it is healthy."
PROMPT = [{"role": "user", "content": GOAL}]
#: A tool of the call's own, offered instead of the kit's.
OWN_TOOL = {"type": "function", "function": {
    "name": "restart_service", "description": "Restart a service.",
    "parameters": {"type": "object", "properties": {"service": {"type": "string"}},
                   "required": ["service"]}}}
#: The model the ``request_options`` run is given (not the default one).
RUN_MODEL = "gpt-4.1-mini"


def _policy(**fields: Any) -> Any:
    """A RetryPolicy of lab 01 (the reference one while lab 03 is graded)."""
    return importlib.import_module("labs.lab01_retry").RetryPolicy(**fields)


def _raised(error: BaseException, lab: ModuleType) -> dict[str, Any]:
    seen = describe_error(error)
    seen["is_deadline_exceeded"] = isinstance(error, lab.DeadlineExceeded)
    seen["is_timeout_error"] = isinstance(error, TimeoutError)
    retry_error = importlib.import_module("labs.lab01_retry").RetryError
    seen["retry_attempts"] = plain(error.attempts) if isinstance(error, retry_error) else None
    if isinstance(error, retry_error):
        last = error.last_error
        seen["retry_last_error"] = [type_name(last), plain(getattr(last, "status_code", None))]
        seen["retry_from_last"] = last is not None and error.__cause__ is last
    seen["budget"] = plain(getattr(error, "budget", None))
    return seen


def _tool_names(body: dict[str, Any]) -> list[Any] | None:
    """The names of the tools a request offered, or None when it offered none."""
    tools = body.get("tools")
    if not isinstance(tools, list):
        return None
    return [plain((t.get("function") or {}).get("name")) if isinstance(t, dict) else None
            for t in tools]


def _requests(llm: FakeLLM) -> list[dict[str, Any]]:
    """The caller's own requests (not the client's retries of them)."""
    return [
        {"at": r.at, "outcome": r.outcome, "timeout": {k: plain(v) for k, v in r.timeout.items()},
         "model": plain(r.body.get("model")), "tools": _tool_names(r.body),
         "params": sorted(str(key) for key in r.body)}
        for r in llm.requests if not r.client_retry
    ]


class _CachingLLM(FakeLLM):
    """The fake server, reporting part of each answer's prompt tokens as served from the
    prompt cache (``usage.prompt_tokens_details.cached_tokens``), and part of its
    completion tokens as the model's reasoning
    (``usage.completion_tokens_details.reasoning_tokens``), as OpenAI's does; the
    ``total_tokens`` it reports are unchanged (both shares are inside it). The shares are
    drawn from seeded rngs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._cache_rng = random.Random(CACHE_SEED)
        self._reasoning_rng = random.Random(REASONING_SEED)

    def _completion(self, index: int, turn: int, body: dict[str, Any],
                    step: Any) -> dict[str, Any]:
        completion = super()._completion(index, turn, body, step)
        usage = completion["usage"]
        prompt = usage["prompt_tokens"]
        cached = self._cache_rng.choice((prompt, prompt * 4 // 5, prompt // 2, 0)) \
            if prompt else self._cache_rng.choice((0, 0))
        usage["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
        answer = usage["completion_tokens"]
        reasoning = self._reasoning_rng.choice((answer, answer * 3 // 4, answer // 2, 0))
        usage["completion_tokens_details"] = {
            "reasoning_tokens": reasoning, "audio_tokens": 0,
            "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        return completion


#: The seed of the cached shares the caching server reports.
CACHE_SEED = 3017
#: The seed of the reasoning shares it reports.
REASONING_SEED = 3023


@contextmanager
def _clocked(script: Sequence[Step], *, timeouts_as: int | None = None, cached: bool = False
             ) -> Iterator[tuple[FrozenClock, FakeLLM, list[float]]]:
    """A detached clock, the fake server on it (its timeouts answered ``timeouts_as`` when
    given; reporting cached prompt tokens when ``cached``), and the waits taken with
    ``time.sleep`` (each moves the clock as the handed sleep would; the client's own are
    not noted)."""
    process_sleeps: list[float] = []
    server = _CachingLLM if cached else FakeLLM
    with FrozenClock(detached=True) as clock, \
            server(script, clock=clock, replay_client_retries=True,
                   timeouts_as=timeouts_as) as llm:

        def stand_in(seconds: float) -> None:
            caller = str(sys._getframe(1).f_globals.get("__name__", ""))  # noqa: SLF001
            if caller.split(".")[0] != "openai":
                process_sleeps.append(plain(seconds))
                clock.sleep(seconds)

        with mock.patch("time.sleep", stand_in), \
                mock.patch("openai._base_client.random", random.Random(0).random):
            yield clock, llm, process_sleeps


def _timing(seen: dict[str, Any], clock: FrozenClock, llm: FakeLLM,
            process_sleeps: list[float]) -> dict[str, Any]:
    seen["requests"] = _requests(llm)
    seen["client_retries"] = sum(1 for r in llm.requests if r.client_retry)
    seen["sleeps"] = [round(s, 6) for s in clock.sleeps]
    seen["process_sleeps"] = process_sleeps
    seen["ended_at"] = clock.elapsed()
    return seen


class _QuarterDice(random.Random):
    """An rng whose ``uniform(a, b)`` is always a quarter of the way from a to b."""

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) / 4


def _options(step_timeout: float | None, **more: Any) -> dict[str, Any]:
    """Keyword arguments for the lab: ``step_timeout`` left out when None (its default)."""
    options = {key: value for key, value in more.items() if value is not None}
    if step_timeout is not None:
        options["step_timeout"] = step_timeout
    return options


def _run_fields(run: AgentRun) -> dict[str, Any]:
    state = run.state
    return {
        "state": plain(getattr(state, "value", state)),
        "error": plain(run.error),
        "exhausted": plain(run.exhausted),
        "steps": plain(run.steps),
        "llm_tokens": plain(run.llm_tokens),
        "roles": [plain(m.get("role")) if isinstance(m, dict) else None for m in run.messages],
        "result": plain(run.result),
    }


def _agent(
    lab: ModuleType,
    script: Sequence[Step],
    budget: Budget,
    *,
    step_timeout: float | None,
    policy: dict[str, Any] | None = None,
    slow_tools: dict[str, float] | None = None,
    model: str | None = None,
    rng: random.Random | None = None,
    spent: tuple[int, int] = (0, 0),
    timeouts_as: int | None = None,
    failing_tools: Sequence[str] = (),
    extra_messages: Sequence[dict[str, Any]] = (),
    cached: bool = False,
) -> dict[str, Any]:
    """``run_agent`` on a fresh run (with ``spent`` steps and tokens already on it, and
    ``extra_messages`` after its prompt); what it returned, the run (its messages too), the
    messages of each request, the requests and the clock. ``step_timeout``, ``model`` and
    ``rng`` are not passed when None."""
    with _clocked(script, timeouts_as=timeouts_as, cached=cached) as (clock, llm,
                                                                      process_sleeps):
        run = AgentRun.start(GOAL, budget)
        run.steps, run.llm_tokens = spent
        run.messages.extend(extra_messages)
        states: list[Any] = []
        llm.before_reply = lambda _request: states.append(
            plain(getattr(run.state, "value", run.state)))
        # the run's state as each request of its own was answered (any answer)
        at_requests: list[Any] = []
        record = llm._record  # noqa: SLF001

        def noting(*args: Any, **kwargs: Any) -> None:
            if not kwargs.get("client_retry"):
                at_requests.append(plain(getattr(run.state, "value", run.state)))
            record(*args, **kwargs)

        llm._record = noting  # type: ignore[method-assign]  # noqa: SLF001
        tools = DevOpsTools(clock=clock, durations=slow_tools)
        for name in failing_tools:
            tools.fail_next(name)
        seen = outcome(
            lambda: lab.run_agent(
                llm.client(max_retries=0), run, tools, policy=_policy(**(policy or {})),
                sleep=clock.sleep, clock=clock.monotonic,
                **_options(step_timeout, model=model, rng=rng),
            ),
            keep=lambda value: value is run,
            describe=lambda e: _raised(e, lab),
        )
        seen["run"] = _run_fields(run)
        seen["run"]["messages"] = [_sent(m) for m in run.messages]
        seen["sent"] = [[_sent(m) for m in r.messages] for r in llm.requests
                        if not r.client_retry]
        seen["states_while_running"] = states
        seen["states_at_requests"] = at_requests
        seen["spent_before"] = list(spent)
        seen["budget_s"] = budget.max_wall_time
        return _timing(seen, clock, llm, process_sleeps)


def _call(
    lab: ModuleType,
    script: Sequence[Step],
    *,
    deadline_s: float,
    step_timeout: float | None,
    policy: dict[str, Any],
    elapsed_first: float = 0.0,
    client_options: dict[str, Any] | None = None,
    rng: random.Random | None = None,
    random_seed: int | None = None,
    timeouts_as: int | None = None,
    tools: list[dict[str, Any]] | None = None,
    messages: Sequence[dict[str, Any]] = PROMPT,
) -> dict[str, Any]:
    """``call_llm`` once, with a deadline ``deadline_s`` from the start of the clock
    (``step_timeout`` not passed when None)."""
    with _clocked(script, timeouts_as=timeouts_as) as (clock, llm, process_sleeps):

        def call() -> Any:
            deadline = lab.Deadline.after(deadline_s, clock=clock.monotonic)
            clock.advance(elapsed_first)
            options = {"max_retries": 0} if client_options is None else client_options
            if random_seed is not None:
                random.seed(random_seed)  # what a jittered wait without an rng draws from
            completion = lab.call_llm(
                llm.client(**options), messages,
                deadline=deadline, policy=_policy(**policy), sleep=clock.sleep,
                **_options(step_timeout, rng=rng, tools=tools),
            )
            return completion.choices[0].message.content

        seen = outcome(call, describe=lambda e: _raised(e, lab))
        return _timing(seen, clock, llm, process_sleeps)


def _turn(latency: float, call_id: str, tokens: tuple[int, int] = (0, 0)) -> Step:
    return reply(tool_calls=[tool_call("check_disk", id=call_id)], latency=latency,
                 prompt_tokens=tokens[0], completion_tokens=tokens[1])


@SCENARIOS.scenario
def slow_model(lab: ModuleType) -> dict[str, Any]:
    """A 300 s run whose model takes 100 s a turn and never finishes; and one whose third
    tool takes 290 s."""
    script = [_turn(100.0, f"call_s{n}") for n in range(5)] + [reply("done")]
    slow_tool = [
        reply(tool_calls=[tool_call("verify", {"service": "web"}, id="call_v1")], latency=10.0),
        reply("web is healthy", latency=5.0),
    ]
    budget = Budget(max_steps=50, max_wall_time=300.0)
    slow_tools = [_turn(0.0, f"call_w{n}") for n in range(5)] + [reply("done")]
    return {
        "slow_turns": _agent(lab, script, budget, step_timeout=200.0),
        "slow_tool": _agent(lab, slow_tool, budget, step_timeout=200.0,
                            slow_tools={"verify": 290.0}),
        # the time goes by in the tools, so the requests' timeouts decide nothing here
        "slow_tool_turns": _agent(lab, slow_tools, budget, step_timeout=200.0,
                                  slow_tools={"check_disk": 100.0}),
    }


@SCENARIOS.scenario
def expired_call(lab: ModuleType) -> dict[str, Any]:
    """``call_llm`` asked to start 31 s into a 30 s deadline."""
    return _call(lab, [reply("too late")], deadline_s=30.0, step_timeout=10.0,
                 policy={"max_attempts": 3}, elapsed_first=31.0)


@SCENARIOS.scenario
def step_timeouts(lab: ModuleType) -> dict[str, Any]:
    """A roomy 600 s run with a 45 s step timeout; a 100 s run whose turns take 30 s; and a
    100 s run whose third turn starts with half a second left and takes a quarter."""
    roomy = [_turn(10.0, "call_r1"), _turn(20.0, "call_r2"), reply("all done", latency=5.0)]
    tight = [_turn(30.0, f"call_t{n}") for n in range(4)] + [reply("done")]
    last_half_second = [_turn(49.75, "call_h1"), _turn(49.75, "call_h2"),
                        reply("done in time", latency=0.25)]
    return {
        "roomy": _agent(lab, roomy, Budget(max_wall_time=600.0), step_timeout=45.0),
        "tight": _agent(lab, tight, Budget(max_wall_time=100.0), step_timeout=45.0),
        "last_half_second": _agent(lab, last_half_second, Budget(max_wall_time=100.0),
                                   step_timeout=60.0),
    }


@SCENARIOS.scenario
def request_options(lab: ModuleType) -> dict[str, Any]:
    """What the requests carry when no step timeout is given: a run on a model of its own,
    and ``call_llm`` alone."""
    script = [_turn(1.0, "call_o1"), reply("done", latency=1.0)]
    return {
        "run": _agent(lab, script, Budget(max_wall_time=600.0), step_timeout=None,
                      model=RUN_MODEL),
        "call": _call(lab, [reply("ok")], deadline_s=600.0, step_timeout=None, policy={}),
        "own_tools": _call(lab, [reply("ok")], deadline_s=600.0, step_timeout=None, policy={},
                           tools=[OWN_TOOL]),
        # a client built with a short timeout of its own: the request's timeout still decides
        "short_client_far": _call(lab, [reply("ok")], deadline_s=300.0, step_timeout=20.0,
                                  policy={}, client_options={"max_retries": 0, "timeout": 5.0}),
        "short_client_near": _call(lab, [reply("ok")], deadline_s=15.0, step_timeout=20.0,
                                   policy={}, client_options={"max_retries": 0, "timeout": 5.0}),
        # step timeouts at the ends of their range
        "zero_step": _call(lab, [reply("ok")], deadline_s=300.0, step_timeout=0.0, policy={}),
        "infinite_step": _call(lab, [reply("ok")], deadline_s=100.0,
                               step_timeout=float("inf"), policy={}),
    }


@SCENARIOS.scenario
def nested_deadlines(lab: ModuleType) -> dict[str, Any]:
    """Children of a 100 s deadline, before and after 80 s pass; and of an explicit one."""

    def observe() -> dict[str, Any]:
        with FrozenClock(detached=True) as clock:
            parent = lab.Deadline.after(100.0, clock=clock.monotonic)
            short, long_ = parent.child(30.0), parent.child(300.0)
            seen = {"short": short.remaining(), "long": long_.remaining()}
            clock.advance(80.0)
            seen.update(
                parent_later=parent.remaining(),
                short_later=short.remaining(),
                short_expired=short.expired(),
                long_later=long_.remaining(),
                grandchild_short=long_.child(5.0).remaining(),
                grandchild_long=long_.child(50.0).remaining(),
                # where each instant lies, from the start: what a passed one says is the
                # Deadline's own rule, not the child's
                short_at=short.at - parent.at + 100.0,
                grandchild_short_at=long_.child(5.0).at - parent.at + 100.0,
                grandchild_long_at=long_.child(50.0).at - parent.at + 100.0,
                negative_child_at=parent.child(-5.0).at - parent.at + 100.0,
            )
            explicit = lab.Deadline(clock.monotonic() + 10.0, clock=clock.monotonic)
            seen["explicit_child"] = explicit.child(20.0).remaining()
            zero = parent.child(0.0)
            seen["zero_child"] = zero.remaining()
            seen["zero_child_expired"] = zero.expired()
            clock.advance(40.0)  # the parent has passed by 20 s
            seen["child_of_passed_at"] = parent.child(15.0).at - parent.at
            seen["negative_child_of_passed_at"] = parent.child(-5.0).at - parent.at
            seen = {key: plain(value) for key, value in seen.items()}
            seen["passed_children"] = _passed_children(lab, clock)
            seen["chains"] = _nested_chains(lab, clock)
            return seen

    return outcome(observe)


#: The seed of the children asked of passed deadlines.
CHILDREN_SEED = 3019


def _passed_children(lab: ModuleType, clock: FrozenClock) -> list[dict[str, Any]]:
    """Children of deadlines that have just passed (or pass right now), of seconds on
    both sides of the time since: each as the parent's age (how long ago it passed), the
    child's seconds, its ``at`` from the parent's, and whether it is the parent itself.
    Then the same twice over, and a grandchild, for the first."""
    rng = random.Random(CHILDREN_SEED)
    found = []
    for _ in range(8):
        ago = rng.choice((0.0, 1.0, 2.5, 20.0))
        seconds = rng.choice((-30.0, -5.0, -3.0, -1.0, 0.0, 4.0, 15.0))
        parent = lab.Deadline.after(10.0, clock=clock.monotonic)
        clock.advance(10.0 + ago)
        child = parent.child(seconds)
        again = parent.child(seconds)
        found.append({
            "ago": ago, "seconds": seconds,
            "at": plain(child.at - parent.at), "is_parent": child is parent,
            "again_at": plain(again.at - parent.at), "again_is_parent": again is parent,
            "grandchild_at": plain(child.child(seconds).at - parent.at),
        })
    return found


#: The seed of the nested chains of children.
CHAINS_SEED = 3029


def _nested_chains(lab: ModuleType, clock: FrozenClock) -> list[dict[str, Any]]:
    """Chains of nested deadlines: a root, its child, the child's child and that one's
    child, each asked for after some time has passed, most of them (the inner parents)
    earlier than the root. Each as the root's seconds and, per level, the seconds asked
    for, the time since the root was made, and the level's ``at`` from the root's."""
    rng = random.Random(CHAINS_SEED)
    found = []
    for _ in range(12):
        root_seconds = rng.choice((100.0, 300.0, 1000.0))
        root = lab.Deadline.after(root_seconds, clock=clock.monotonic)
        start = clock.elapsed()
        node, levels = root, []
        for _depth in range(3):
            clock.advance(rng.choice((0.0, 0.0, 2.0, 7.5)))
            seconds = rng.choice((-3.0, 5.0, 10.0, 20.0, 45.0, 60.0, 150.0, 500.0))
            node = node.child(seconds)
            levels.append({"seconds": seconds, "since": plain(clock.elapsed() - start),
                           "at": plain(node.at - root.at)})
        found.append({"root": root_seconds, "levels": levels})
    return found


@SCENARIOS.scenario
def retry_and_deadline(lab: ModuleType) -> dict[str, Any]:
    """Backoff and server delays that would cross the deadline, alone and in a run; a
    server delay ending exactly at the deadline; a server asking for no wait where the
    backoff would not fit; a wait in a later turn of a run, measured against the run's one
    deadline; and a run's jittered waits, drawn with the rng it was given."""
    return {
        "zero_server_delay": _call(
            lab, [failure(429, retry_after=0), reply("ok")], deadline_s=10.0, step_timeout=5.0,
            policy={"max_attempts": 3, "base_delay": 20.0, "max_delay": 60.0},
        ),
        "in_a_later_turn": _agent(
            lab, [_turn(15.0, "call_l1"), *[failure(503)] * 4], Budget(max_wall_time=30.0),
            step_timeout=20.0,
            policy={"max_attempts": 4, "base_delay": 20.0, "factor": 1.0, "max_delay": 60.0},
        ),
        "backoff": _call(lab, [failure(500)] * 5, deadline_s=10.0, step_timeout=5.0,
                         policy={"max_attempts": 5, "base_delay": 4.0, "max_delay": 60.0}),
        "server_delay": _call(
            lab, [failure(429, retry_after=15), failure(503, retry_after=10), reply("ok")],
            deadline_s=20.0, step_timeout=5.0,
            policy={"max_attempts": 5, "base_delay": 1.0, "max_delay": 60.0},
        ),
        "in_a_run_even": _agent(lab, [failure(503)] * 4, Budget(max_wall_time=30.0),
                                step_timeout=5.0,
                                policy={"max_attempts": 4, "base_delay": 20.0, "factor": 1.0,
                                        "max_delay": 60.0}),
        "in_a_run": _agent(lab, [failure(503)] * 4, Budget(max_wall_time=30.0), step_timeout=5.0,
                           policy={"max_attempts": 4, "base_delay": 20.0, "max_delay": 60.0}),
        "exactly_at_the_deadline": _call(
            lab, [failure(429, retry_after=10), reply("ok")], deadline_s=10.0, step_timeout=5.0,
            policy={"max_attempts": 3, "max_delay": 60.0},
        ),
        "zero_wait_at_the_deadline": _call(
            lab, [failure(429, retry_after=0, latency=10.0), reply("ok")], deadline_s=10.0,
            step_timeout=20.0, policy={"max_attempts": 3},
        ),
        "jitter_in_a_run": _agent(
            lab, [failure(503), failure(503), reply("done")], Budget(max_wall_time=300.0),
            step_timeout=5.0, policy={"max_attempts": 4, "base_delay": 4.0, "jitter": True},
            rng=_QuarterDice(3),
        ),
    }


@SCENARIOS.scenario
def llm_timeouts(lab: ModuleType) -> dict[str, Any]:
    """A request that times out once in a roomy budget; requests that keep timing out in a
    50 s budget, alone and in a run; requests that keep timing out in a 300 s budget until
    the 3 attempts are used, alone and in a run; and a permanent error (HTTP 400), alone and
    in a run."""
    roomy = 300.0
    gives_up = [timeout()] * 3 + [reply("one attempt too many")]
    permanent = [failure(400, message="unknown parameter"), reply("retried a 400")]
    cases: dict[str, Any] = {
        "recovers": lambda **twin: _call(lab, [timeout(), reply("ok after a timeout")],
                                         deadline_s=300.0, step_timeout=20.0,
                                         policy={"max_attempts": 4}, **twin),
        "runs_out": lambda **twin: _call(lab, [timeout()] * 6, deadline_s=50.0,
                                         step_timeout=20.0, policy={"max_attempts": 6}, **twin),
        "in_a_run": lambda **twin: _agent(lab, [timeout()] * 6, Budget(max_wall_time=50.0),
                                          step_timeout=20.0, policy={"max_attempts": 6}, **twin),
        "gives_up": lambda **twin: _call(lab, gives_up, deadline_s=roomy, step_timeout=20.0,
                                         policy={"max_attempts": 3}, **twin),
        "gives_up_in_a_run": lambda **twin: _agent(lab, gives_up, Budget(max_wall_time=roomy),
                                                   step_timeout=20.0,
                                                   policy={"max_attempts": 3}, **twin),
    }
    seen = {name: run() for name, run in cases.items()}
    # each with its twin: the server answering a 503 wherever it timed out
    seen.update({f"{name}-twin": run(timeouts_as=503) for name, run in cases.items()})
    return {
        **seen,
        "permanent": _call(lab, permanent, deadline_s=roomy, step_timeout=20.0,
                           policy={"max_attempts": 3}),
        "permanent_in_a_run": _agent(lab, permanent, Budget(max_wall_time=roomy),
                                     step_timeout=20.0, policy={"max_attempts": 3}),
        # a message the client cannot serialise: it raises TypeError before sending
        "unsendable": _call(lab, [reply("never sent")] * 4, deadline_s=roomy,
                            step_timeout=20.0, policy={"max_attempts": 4},
                            messages=[*PROMPT, {"role": "user", "content": _ToolReport()}]),
        # the same message in a run's conversation: the client's TypeError in run_agent
        "unsendable_in_a_run": _agent(
            lab, [reply("never sent")] * 4, Budget(max_wall_time=roomy), step_timeout=20.0,
            policy={"max_attempts": 4},
            extra_messages=[{"role": "user", "content": _ToolReport()}]),
    }


class _ToolReport:
    """A tool's result left as an object instead of text: not JSON."""


@SCENARIOS.scenario
def other_budgets(lab: ModuleType) -> dict[str, Any]:
    """max_steps 2, max_llm_tokens 1000 and max_llm_tokens 1200 (reached exactly after two
    turns) against a model that never finishes; a run that finishes in exactly its 3 steps."""
    endless = [_turn(1.0, f"call_e{n}", (500, 100)) for n in range(6)]
    finishing = [_turn(1.0, "call_f1", (50, 10)), _turn(1.0, "call_f2", (50, 10)),
                 reply("done", prompt_tokens=50, completion_tokens=10)]
    roomy = 10_000.0
    return {
        "steps": _agent(lab, endless, Budget(max_steps=2, max_wall_time=roomy,
                                             max_llm_tokens=10**9), step_timeout=30.0),
        "tokens": _agent(lab, endless, Budget(max_steps=50, max_wall_time=roomy,
                                              max_llm_tokens=1000), step_timeout=30.0),
        "tokens_exact": _agent(lab, endless, Budget(max_steps=50, max_wall_time=roomy,
                                                    max_llm_tokens=1200), step_timeout=30.0),
        "within": _agent(lab, finishing, Budget(max_steps=3, max_wall_time=roomy,
                                                max_llm_tokens=10_000), step_timeout=30.0),
        "already_spent": _agent(lab, endless, Budget(max_steps=4, max_wall_time=roomy,
                                                     max_llm_tokens=10**9), step_timeout=30.0,
                                spent=(2, 0)),
        "tokens_already_spent": _agent(lab, endless, Budget(max_steps=50, max_wall_time=roomy,
                                                            max_llm_tokens=1200),
                                       step_timeout=30.0, spent=(0, 900)),
        "no_steps_left": _agent(lab, endless, Budget(max_steps=0, max_wall_time=roomy,
                                                     max_llm_tokens=10**9), step_timeout=30.0),
        "no_tokens_left": _agent(lab, endless, Budget(max_steps=50, max_wall_time=roomy,
                                                      max_llm_tokens=1200), step_timeout=30.0,
                                 spent=(0, 1200)),
        "zero_tokens": _agent(lab, endless, Budget(max_steps=50, max_wall_time=roomy,
                                                   max_llm_tokens=0), step_timeout=30.0),
        "steps_overspent": _agent(lab, endless, Budget(max_steps=4, max_wall_time=roomy,
                                                       max_llm_tokens=10**9),
                                  step_timeout=30.0, spent=(5, 0)),
        "tokens_overspent": _agent(lab, endless, Budget(max_steps=50, max_wall_time=roomy,
                                                        max_llm_tokens=1200),
                                   step_timeout=30.0, spent=(0, 1500)),
        "two_calls_a_turn": _agent(lab, [reply(tool_calls=[
            tool_call("check_disk", id=f"call_p{n}a"), tool_call("check_status", {"service": "web"},
                                                                 id=f"call_p{n}b")])
            for n in range(6)], Budget(max_steps=4, max_wall_time=roomy, max_llm_tokens=10**9),
            step_timeout=30.0),
    }


@SCENARIOS.scenario
def deadline_object(lab: ModuleType) -> dict[str, Any]:
    """A 50 s deadline asked for its ``at``, its timeouts and its checks as time goes by:
    at the start, 40 s in, exactly at the deadline, and past it."""

    def observe() -> dict[str, Any]:
        with FrozenClock(detached=True) as clock:
            start = clock.monotonic()
            deadline = lab.Deadline.after(50.0, clock=clock.monotonic)
            seen: dict[str, Any] = {"at_offset": plain(deadline.at - start),
                                    "past_offset": plain(lab.Deadline.after(
                                        -5.0, clock=clock.monotonic).at - start)}
            for name, moment in (("start", 0.0), ("forty", 40.0), ("at", 50.0),
                                 ("past", 65.0)):
                clock.advance(moment - clock.elapsed())
                seen[name] = {
                    "remaining": outcome(lambda: plain(deadline.remaining())),
                    "expired": outcome(lambda: plain(deadline.expired())),
                    "check": outcome(lambda: plain(deadline.check()),
                                     describe=lambda e: _raised(e, lab)),
                    "timeout": outcome(lambda: plain(deadline.timeout(30.0)),
                                       describe=lambda e: _raised(e, lab)),
                }
            return seen

    return outcome(observe)


@SCENARIOS.scenario
def simultaneous_budgets(lab: ModuleType) -> dict[str, Any]:
    """Budgets that run out together: steps and tokens after the same turn; the deadline and
    the steps at the same moment."""
    endless = [_turn(0.0, f"call_b{n}", (500, 100)) for n in range(6)]
    slow = {"check_disk": 100.0}
    return {
        "steps_and_tokens": _agent(lab, endless, Budget(max_steps=2, max_wall_time=10_000.0,
                                                        max_llm_tokens=1200), step_timeout=30.0,
                                   slow_tools=slow),
        "deadline_and_steps": _agent(lab, endless, Budget(max_steps=2, max_wall_time=199.0,
                                                          max_llm_tokens=10**9),
                                     step_timeout=30.0, slow_tools=slow),
    }


@SCENARIOS.scenario
def no_time(lab: ModuleType) -> dict[str, Any]:
    """Runs given no time at all (``max_wall_time=0``): alone, and with the steps or the
    tokens used up as well; a run whose second turn's tool fails; and runs whose time runs
    out at a turn's answer, or in its tools."""
    endless = [_turn(1.0, f"call_z{n}", (500, 100)) for n in range(6)]
    return {
        "zero": _agent(lab, endless, Budget(max_steps=50, max_wall_time=0.0,
                                            max_llm_tokens=10**9), step_timeout=30.0),
        "negative": _agent(lab, endless, Budget(max_steps=50, max_wall_time=-5.0,
                                                max_llm_tokens=10**9), step_timeout=30.0),
        "zero_and_no_steps": _agent(lab, endless, Budget(max_steps=2, max_wall_time=0.0,
                                                         max_llm_tokens=10**9),
                                    step_timeout=30.0, spent=(2, 0)),
        "zero_and_no_tokens": _agent(lab, endless, Budget(max_steps=50, max_wall_time=0.0,
                                                          max_llm_tokens=1200),
                                     step_timeout=30.0, spent=(0, 1200)),
        "tool_fails": _agent(lab, [_turn(1.0, "call_f1", (50, 10)),
                                   reply(tool_calls=[tool_call("clean_logs", id="call_f2")],
                                         latency=1.0, prompt_tokens=50, completion_tokens=10),
                                   reply("never asked")],
                             Budget(max_steps=50, max_wall_time=600.0, max_llm_tokens=10**9),
                             step_timeout=30.0, failing_tools=("clean_logs",)),
        # the tools of a turn all run, even when its answer comes at the deadline itself or
        # a tool overruns it; the next turn is not taken
        "answer_at_the_deadline": _agent(
            lab, [_two_tools(100.0, "call_a"), reply("too late")],
            Budget(max_steps=50, max_wall_time=100.0, max_llm_tokens=10**9),
            step_timeout=200.0),
        "tool_overruns": _agent(
            lab, [_two_tools(1.0, "call_o", first="verify"), reply("too late")],
            Budget(max_steps=50, max_wall_time=100.0, max_llm_tokens=10**9),
            step_timeout=30.0, slow_tools={"verify": 150.0}),
    }


def _two_tools(latency: float, ids: str, *, first: str = "check_disk") -> Step:
    arguments = {"service": "web"} if first == "verify" else None
    return reply(tool_calls=[tool_call(first, arguments, id=f"{ids}1"),
                             tool_call("check_status", {"service": "web"}, id=f"{ids}2")],
                 latency=latency)


@SCENARIOS.scenario
def one_retry_layer(lab: ModuleType) -> dict[str, Any]:
    """``call_llm`` through a client left with its own retries (the default, 2), against a
    server that keeps failing."""
    return {"call": _call(lab, [failure(503)] * 12, deadline_s=300.0, step_timeout=10.0,
                          policy={"max_attempts": 3, "base_delay": 1.0}, client_options={})}


@SCENARIOS.scenario
def last_steps(lab: ModuleType) -> dict[str, Any]:
    """Runs of ``max_steps`` 1, 2 and 3 against a model that never finishes, their
    deadline far away (600 s, a 30 s step timeout): the turn that uses the last step is a
    turn like the others."""
    endless = [_turn(1.0, f"call_m{n}", (50, 10)) for n in range(6)]
    return {f"max_steps_{steps}": _agent(lab, endless, Budget(max_steps=steps,
                                                              max_wall_time=600.0,
                                                              max_llm_tokens=10**9),
                                         step_timeout=30.0)
            for steps in (1, 2, 3)}


@SCENARIOS.scenario
def server_verdicts(lab: ModuleType) -> dict[str, Any]:
    """A server that says whether to retry (``x-should-retry``, as OpenAI's may): every
    request a 503 sent with ``x-should-retry: false`` (max_attempts 3, 300 s to go), and
    a 400 sent with ``x-should-retry: true``."""
    told_not_to = [failure(503, headers={"x-should-retry": "false"})] * 3 \
        + [reply("one attempt too many")]
    told_to = [failure(400, headers={"x-should-retry": "true"}, message="unknown parameter"),
               reply("retried a 400")]
    return {
        "transient_told_not_to": _call(lab, told_not_to, deadline_s=300.0, step_timeout=20.0,
                                       policy={"max_attempts": 3}),
        "permanent_told_to": _call(lab, told_to, deadline_s=300.0, step_timeout=20.0,
                                   policy={"max_attempts": 3}),
    }


@dataclass(frozen=True)
class DelayCase:
    """One ``call_llm`` whose first request fails at once (``late`` s in, ``left`` s before
    the deadline) with ``status`` and a server delay with a fraction: ``header``
    (``retry-after-ms`` or ``retry-after``) set to ``value``; then an answer."""

    name: str
    late: float
    left: float
    status: int
    header: str
    value: float

    @property
    def delay(self) -> float:
        """The delay the server asked for, in seconds, as given."""
        return self.value / 1000.0 if self.header == "retry-after-ms" else self.value


#: The seed of the server delays with a fraction.
DELAYS_SEED = 3031


def delay_cases() -> list[DelayCase]:
    """Server delays with a fraction (``retry-after-ms: 1500.5`` is 1.5005 s), far from the
    deadline, just beyond it (the time left between the whole seconds of the delay and the
    delay itself), and just within it."""
    rng = random.Random(DELAYS_SEED)
    cases = [DelayCase("ms-far", 0.0, 300.0, 429, "retry-after-ms", 1500.5),
             DelayCase("ms-near", 0.0, 1.2, 429, "retry-after-ms", 1500.0)]
    for number in range(14):
        # a fraction travels in retry-after-ms: lab 01 leaves a retry-after in seconds with
        # a fraction ("3.5") to the submission
        header = "retry-after-ms"
        value = rng.choice((250.0, 750.5, 1200.7, 1500.5, 2500.0, 3999.0, 4750.25, 500.0,
                            1250.0, 2750.0, 3500.0))
        delay = value / 1000.0
        whole = float(int(delay))
        left = rng.choice((300.0, whole + (delay - whole) * 0.5, whole + (delay - whole) * 0.9,
                           delay + 0.3))
        late = rng.choice((0.0, 10.0))
        cases.append(DelayCase(f"delay-{number + 1}", late, left, rng.choice((429, 503)),
                               header, value))
    return cases


@SCENARIOS.scenario
def fractional_delays(lab: ModuleType) -> dict[str, Any]:
    """Every :func:`delay_cases` call (a 20 s step timeout, 3 attempts, a 20 s backoff that
    the server's delay replaces, capped at 60 s)."""
    return {case.name: _call(
        lab, [failure(case.status, headers={case.header: repr(case.value)}), reply("answered"),
              reply("one too many")],
        deadline_s=case.late + case.left, step_timeout=20.0, elapsed_first=case.late,
        policy={"max_attempts": 3, "base_delay": 20.0, "max_delay": 60.0})
        for case in delay_cases()}


# -- generated calls near the deadline ----------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """What the server does with one request: ``kind`` is ``"ok"``, ``"timeout"`` (it never
    answers), an HTTP status; ``latency`` is how long it takes; ``retry_after`` a delay the
    server asks for (seconds, or None)."""

    kind: str
    latency: float = 0.0
    retry_after: int | None = None

    def step(self) -> Step:
        if self.kind == "ok":
            return reply("answered", latency=self.latency)
        if self.kind == "timeout":
            return timeout()
        if self.kind == "connect":
            return connect_error(latency=self.latency)
        return failure(int(self.kind), retry_after=self.retry_after, latency=self.latency)


@dataclass(frozen=True)
class CallCase:
    """One ``call_llm``: a deadline ``deadline`` s from the start, entered ``late`` s in, a
    step timeout, a policy without jitter, and the server's answers in order."""

    name: str
    deadline: float
    late: float
    step_timeout: float
    policy: tuple[tuple[str, Any], ...]
    answers: tuple[Answer, ...]
    seed: int | None = None
    random_seed: int | None = None

    @property
    def settings(self) -> dict[str, Any]:
        return dict(self.policy)


#: The seed the generated calls come from.
CALLS_SEED = 3003


def call_cases() -> list[CallCase]:
    """Calls whose attempts are slow, time out, fail transiently or for good, and run into
    the deadline at every point: before a request, during one, during a wait."""
    rng = random.Random(CALLS_SEED)
    cases = []
    for number in range(40):
        deadline = rng.choice((12.0, 30.0, 45.0, 60.0, 90.0))
        step_timeout = rng.choice((2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 120.0))
        late = rng.choice((0.0, 0.0, deadline - step_timeout / 2, deadline - 1.5,
                           deadline - 4.0, deadline / 3))
        late = max(0.0, min(late, deadline - 0.5))
        policy = {"max_attempts": rng.randint(2, 6), "base_delay": rng.choice((0.5, 1.0, 2.0,
                                                                               5.0)),
                  "factor": 2.0, "max_delay": rng.choice((60.0, 60.0, 10.0, 4.0))}
        answers = []
        for _ in range(policy["max_attempts"] + 1):
            kind = rng.choice(("timeout", "timeout", "503", "503", "429", "500", "ok", "400"))
            latency = rng.choice((0.0, 0.5, step_timeout * 0.8, step_timeout * 1.5, 3.0))
            retry_after = rng.choice((None, None, 2, 9, 90)) if kind == "429" else None
            answers.append(Answer(kind, 0.0 if kind == "timeout" else latency, retry_after))
            if kind in ("ok", "400"):
                break
        cases.append(CallCase(f"call-{number + 1}", deadline, late, step_timeout,
                              tuple(policy.items()), tuple(answers)))
    for number in range(10):
        deadline = rng.choice((10.0, 20.0, 40.0))
        policy = {"max_attempts": rng.randint(3, 6), "base_delay": rng.choice((2.0, 4.0)),
                  "factor": 2.0, "max_delay": 60.0, "jitter": True}
        answers = [Answer(rng.choice(("503", "500")), rng.choice((0.0, 1.0, 2.5)))
                   for _ in range(policy["max_attempts"])]
        cases.append(CallCase(f"jitter-{number + 1}", deadline, 0.0, 10.0,
                              tuple(policy.items()), tuple(answers) + (Answer("ok"),),
                              seed=rng.randint(1, 10**6)))
    cases += _mixed_cases()
    cases += _few_attempts_cases()
    cases.append(CallCase("timeout-and-conflict", 60.0, 0.0, 10.0,
                          (("max_attempts", 4), ("base_delay", 1.0), ("factor", 2.0),
                           ("max_delay", 60.0)),
                          (Answer("408"), Answer("409", 0.5), Answer("408"), Answer("409"))))
    no_waits = {"max_attempts": 4, "base_delay": 2.0, "factor": 2.0, "max_delay": 0.0}
    cases.append(CallCase("cap-of-zero", 60.0, 0.0, 10.0, tuple(no_waits.items()),
                          (Answer("503"), Answer("429", 1.0, 5), Answer("500"), Answer("ok"))))
    fixed = {"max_attempts": 4, "base_delay": 8.0, "factor": 2.0, "max_delay": 60.0}
    cases += [
        CallCase("server-shorter", 90.0, 0.0, 10.0, tuple(fixed.items()),
                 (Answer("429", 0.0, 1), Answer("429", 0.5, 2), Answer("ok"))),
        CallCase("server-past-cap", 40.0, 10.0, 10.0,
                 tuple({**fixed, "base_delay": 1.0, "max_delay": 10.0}.items()),
                 (Answer("429", 0.0, 40), Answer("ok"))),
    ]
    return cases


#: The seed of the second batch of generated calls.
MIXED_SEED = 3006


def _mixed_cases() -> list[CallCase]:
    """Calls with refused connections among the failures, step timeouts far longer than
    the client's default (a slow reasoning model), and jittered waits without an rng,
    drawn from the random module seeded just before the call."""
    rng = random.Random(MIXED_SEED)
    cases = []
    for number in range(24):
        deadline = rng.choice((30.0, 60.0, 1800.0, 3000.0, 5000.0))
        step_timeout = rng.choice((5.0, 20.0, 900.0, 1000.0) if deadline > 60 else
                                  (2.0, 5.0, 20.0))
        late = rng.choice((0.0, 0.0, deadline - step_timeout / 2, deadline / 3, deadline - 2.0))
        late = max(0.0, min(late, deadline - 0.5))
        jitter = number % 3 == 2
        policy = {"max_attempts": rng.randint(2, 6), "base_delay": rng.choice((0.5, 1.0, 4.0)),
                  "factor": 2.0, "max_delay": 60.0, **({"jitter": True} if jitter else {})}
        answers = []
        for _ in range(policy["max_attempts"] + 1):
            kind = rng.choice(("connect", "connect", "timeout", "503", "429", "500", "ok"))
            latency = rng.choice((0.0, 0.5, step_timeout * 0.8, 3.0)) if kind != "timeout" \
                else 0.0
            retry_after = rng.choice((None, 2, 40)) if kind == "429" else None
            answers.append(Answer(kind, latency, retry_after))
            if kind == "ok":
                break
        cases.append(CallCase(f"mixed-{number + 1}", deadline, late, step_timeout,
                              tuple(policy.items()), tuple(answers),
                              random_seed=rng.randint(1, 10**6) if jitter else None))
    return cases


#: The seed of the third batch: policies of one to three attempts.
FEW_ATTEMPTS_SEED = 3011


def _few_attempts_cases() -> list[CallCase]:
    """Calls whose policy allows one to three attempts (``max_attempts=1`` most often:
    the first attempt is the last), against servers that time out, refuse, fail
    transiently or for good, or answer; with and without jitter."""
    rng = random.Random(FEW_ATTEMPTS_SEED)
    cases = []
    for number in range(24):
        deadline = rng.choice((20.0, 60.0, 300.0))
        step_timeout = rng.choice((2.0, 5.0, 10.0, 30.0))
        late = rng.choice((0.0, 0.0, deadline / 3, deadline - step_timeout / 2))
        late = max(0.0, min(late, deadline - 0.5))
        jitter = number % 4 == 3
        policy = {"max_attempts": rng.choice((1, 1, 1, 2, 3)),
                  "base_delay": rng.choice((0.5, 1.0, 2.0)), "factor": 2.0,
                  "max_delay": 60.0, **({"jitter": True} if jitter else {})}
        answers = []
        for _ in range(policy["max_attempts"] + 1):
            kind = rng.choice(("timeout", "timeout", "503", "429", "500", "connect", "ok",
                               "400"))
            latency = 0.0 if kind == "timeout" else rng.choice((0.0, 0.5, step_timeout * 1.5))
            retry_after = rng.choice((None, 1, 5)) if kind == "429" else None
            answers.append(Answer(kind, latency, retry_after))
            if kind in ("ok", "400"):
                break
        cases.append(CallCase(f"few-{number + 1}", deadline, late, step_timeout,
                              tuple(policy.items()), tuple(answers),
                              seed=rng.randint(1, 10**6) if jitter else None))
    return cases


@SCENARIOS.scenario
def generated_calls(lab: ModuleType) -> dict[str, Any]:
    """Every generated call, and its twin: the same call against a server that answers a
    503 wherever it would have timed out, at the same moment."""
    seen = {}
    for case in call_cases():
        for name, timeouts_as in ((case.name, None), (f"{case.name}-twin", 503)):
            seen[name] = _call(
                lab, [a.step() for a in case.answers] + [reply("one too many")],
                deadline_s=case.deadline, step_timeout=case.step_timeout,
                policy=case.settings, elapsed_first=case.late,
                rng=None if case.seed is None else random.Random(case.seed),
                random_seed=case.random_seed, timeouts_as=timeouts_as)
    return seen


# -- generated runs: what each request sends, what each turn costs ------------------------


#: The seed the generated runs come from.
RUNS_SEED = 3010

#: Tool calls a generated turn may ask for, with their arguments.
_TOOL_CHOICES = (("check_disk", None), ("check_status", {"service": "web"}),
                 ("build_config", {"service": "web", "version": "2.4.1"}),
                 ("verify", {"service": "web"}), ("clean_logs", None))


@dataclass(frozen=True)
class RunCase:
    """One generated ``run_agent``: its turns (each the tool calls it asks for, none for
    the final answer, and the usage it reports), which turns meet a 503 first, and the
    token budget (``max_llm_tokens``)."""

    name: str
    turns: tuple[tuple[tuple[str, ...], tuple[int, int]], ...]
    failing_first: tuple[int, ...]
    max_llm_tokens: int

    def script(self) -> list[Step]:
        steps: list[Step] = []
        for number, (names, (prompt, completion)) in enumerate(self.turns):
            if number in self.failing_first:
                steps.append(failure(503))
            calls = [tool_call(name, dict(_TOOL_CHOICES)[name],
                               id=f"call_{self.name}_{number}_{k}")
                     for k, name in enumerate(names)]
            steps.append(reply(None if calls else f"{self.name} done", tool_calls=calls,
                               latency=0.5, prompt_tokens=prompt, completion_tokens=completion))
        return steps


def _usage(rng: random.Random) -> tuple[int, int]:
    """A turn's usage, 0 tokens as often as not (a server may report none)."""
    return rng.choice(((0, 0), (0, 0), (0, rng.randint(1, 40)), (rng.randint(1, 400), 0),
                       (rng.randint(1, 400), rng.randint(1, 40))))


def run_cases() -> list[RunCase]:
    """Conversations of one to eight tool turns (one to three tools each) and a final
    answer, some turns met first by a 503, usages of 0 tokens among the others; half with
    a roomy token budget, half with one that runs out (or is reached exactly, or is 1
    token, which turns of 0 tokens never reach)."""
    rng = random.Random(RUNS_SEED)
    cases = []
    for number in range(16):
        tool_turns = rng.choice((1, 3, 4, 5, 6, 7, 8))
        turns = [(tuple(rng.choice(_TOOL_CHOICES)[0] for _ in range(rng.randint(1, 3))),
                  _usage(rng)) for _ in range(tool_turns)]
        turns.append(((), _usage(rng)))
        failing = tuple(n for n in range(len(turns)) if rng.random() < 0.2)
        totals = [p + c for _, (p, c) in turns]
        cut = rng.randint(1, len(totals))
        max_tokens = 10**9 if number % 2 == 0 else rng.choice(
            (1, 1, max(1, sum(totals[:cut])), sum(totals[:cut]) + 1))
        cases.append(RunCase(f"run-{number + 1}", tuple(turns), failing, max_tokens))
    return cases


def _sent(message: Any) -> list[Any]:
    """One message as ``[role, a digest of its text, tool_call_id, the ids of its tool
    calls]``: enough to tell two messages apart, small enough to list for every request."""
    if not isinstance(message, dict):
        return [type_name(message), None, None, []]
    calls = message.get("tool_calls") or []
    content = message.get("content")
    text = hashlib.sha256(content.encode("utf-8", "replace")).hexdigest()[:12] \
        if isinstance(content, str) else None
    return [plain(message.get("role")), text,
            plain(message.get("tool_call_id")),
            [plain(c.get("id")) if isinstance(c, dict) else None for c in calls]
            if isinstance(calls, list) else []]


@SCENARIOS.scenario
def generated_runs(lab: ModuleType) -> dict[str, Any]:
    """Every generated run: what it ended with, and the messages of each request it sent
    next to the run's own messages (digested, and as they are, key for key); the server
    reports part of the prompt tokens as cached and part of the completion tokens as
    reasoning (the total it reports is what counts)."""
    seen = {}
    for case in run_cases():
        with _clocked(case.script(), cached=True) as (clock, llm, process_sleeps):
            run = AgentRun.start(GOAL, Budget(max_steps=50, max_wall_time=10_000.0,
                                              max_llm_tokens=case.max_llm_tokens))
            tools = DevOpsTools(clock=clock)
            found = outcome(
                lambda: lab.run_agent(
                    llm.client(max_retries=0), run, tools,
                    policy=_policy(max_attempts=3, base_delay=1.0), sleep=clock.sleep,
                    clock=clock.monotonic, step_timeout=30.0),
                keep=lambda value: value is run,
                describe=lambda e: _raised(e, lab),
            )
            found["run"] = _run_fields(run)
            found["run"]["messages"] = [_sent(m) for m in run.messages]
            found["sent"] = [[_sent(m) for m in r.messages]
                             for r in llm.requests if not r.client_retry]
            # the messages themselves, key for key (None-valued keys included): the run's,
            # and each request's as its JSON body carried them
            found["run"]["messages_as_held"] = [plain(m) for m in run.messages]
            found["sent_as_given"] = [[plain(m) for m in r.messages]
                                      for r in llm.requests if not r.client_retry]
            found["spent_before"] = [0, 0]
            found["budget_s"] = 10_000.0
            seen[case.name] = _timing(found, clock, llm, process_sleeps)
    return seen
