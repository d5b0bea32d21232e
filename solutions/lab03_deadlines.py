"""Lab 03 — Deadlines and budgets (reference solution).

The contract is the stub's, ``labs/lab03_deadlines.py``; read it there.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from openai import OpenAI
from openai.types.chat import ChatCompletion

from labs.kit.agent import AgentRun, Message, assistant_message, run_tool_calls
from labs.kit.devops import TOOL_SCHEMAS, DevOpsTools
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.tasks import TaskState
from labs.lab01_retry import RetryError, RetryPolicy, backoff_delay, is_transient, server_delay

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class BudgetExceeded(Exception):
    """A run's budget ran out; ``budget`` names which one."""

    def __init__(self, budget: str, detail: str) -> None:
        super().__init__(f"{budget} exhausted: {detail}")
        self.budget = budget


class DeadlineExceeded(BudgetExceeded):
    """The run's deadline has passed (its ``max_wall_time`` budget ran out)."""

    def __init__(self, detail: str = "the deadline has passed") -> None:
        super().__init__("max_wall_time", detail)


class Deadline:
    """A point in time on ``clock`` by which the work must be done."""

    def __init__(self, at: float, *, clock: Clock = time.monotonic) -> None:
        self.at = at
        self.clock = clock

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> "Deadline":
        """The deadline ``seconds`` from now."""
        return cls(clock() + seconds, clock=clock)

    def remaining(self) -> float:
        """Seconds left, never below 0."""
        return max(0.0, self.at - self.clock())

    def expired(self) -> bool:
        """True once no time is left."""
        return self.remaining() <= 0

    def check(self) -> None:
        """Raise :class:`DeadlineExceeded` once the deadline has passed."""
        if self.expired():
            raise DeadlineExceeded()

    def child(self, seconds: float) -> "Deadline":
        """A deadline for a part of the work: ``seconds`` from now, or this one if earlier."""
        return Deadline(min(self.at, self.clock() + seconds), clock=self.clock)

    def timeout(self, step_timeout: float) -> float:
        """The timeout for one operation: the step timeout, or what is left if less."""
        self.check()
        return min(step_timeout, self.remaining())


def call_llm(
    client: OpenAI,
    messages: Sequence[Message],
    *,
    deadline: Deadline,
    step_timeout: float = 30.0,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Sleep = time.sleep,
    rng: random.Random | None = None,
    model: str = DEFAULT_MODEL,
    tools: Sequence[dict[str, Any]] = TOOL_SCHEMAS,
) -> ChatCompletion:
    """One chat completion within ``deadline``, retried as ``policy`` says."""
    single = client.with_options(max_retries=0)
    for attempt in range(1, policy.max_attempts + 1):
        timeout = deadline.timeout(step_timeout)
        try:
            return single.chat.completions.create(
                model=model,
                messages=list(messages),  # type: ignore[arg-type]
                tools=list(tools),  # type: ignore[arg-type]
                timeout=timeout,
            )
        except Exception as error:
            if not is_transient(error):
                raise
            if attempt == policy.max_attempts:
                raise RetryError(attempt, error) from error
            requested = server_delay(error)
            wait = (
                backoff_delay(attempt - 1, policy, rng)
                if requested is None
                else min(requested, policy.max_delay)
            )
            if wait >= deadline.remaining():
                raise DeadlineExceeded(
                    f"a {wait:g} s wait before attempt {attempt + 1} would end after the "
                    f"deadline ({deadline.remaining():g} s left)"
                ) from error
            sleep(wait)
    raise AssertionError("unreachable: the loop returns or raises")


def run_agent(
    client: OpenAI,
    run: AgentRun,
    tools: DevOpsTools,
    *,
    step_timeout: float = 30.0,
    policy: RetryPolicy = RetryPolicy(),
    sleep: Sleep = time.sleep,
    clock: Clock = time.monotonic,
    rng: random.Random | None = None,
    model: str = DEFAULT_MODEL,
) -> AgentRun:
    """Run the agent loop on ``run`` within its budget; return ``run``, ended."""
    budget = run.budget
    deadline = Deadline.after(budget.max_wall_time, clock=clock)
    run.state = TaskState.RUNNING
    try:
        while True:
            deadline.check()
            if run.steps >= budget.max_steps:
                raise BudgetExceeded("max_steps", f"{run.steps} of {budget.max_steps} steps used")
            if run.llm_tokens >= budget.max_llm_tokens:
                raise BudgetExceeded(
                    "max_llm_tokens", f"{run.llm_tokens} of {budget.max_llm_tokens} tokens used"
                )
            completion = call_llm(
                client, run.messages, deadline=deadline, step_timeout=step_timeout,
                policy=policy, sleep=sleep, rng=rng, model=model,
            )
            run.steps += 1
            if completion.usage is not None:
                run.llm_tokens += completion.usage.total_tokens
            reply = completion.choices[0].message
            run.messages.append(assistant_message(reply))
            if not reply.tool_calls:
                run.state, run.result = TaskState.COMPLETED, reply.content or ""
                return run
            run.messages.extend(run_tool_calls(reply, tools.execute))
    except BudgetExceeded as exhausted:
        run.exhausted = exhausted.budget
        _fail(run, exhausted)
    except Exception as error:
        _fail(run, error)
    return run


def _fail(run: AgentRun, error: Exception) -> None:
    run.state = TaskState.FAILED
    run.error = f"{type(error).__name__}: {error}"
