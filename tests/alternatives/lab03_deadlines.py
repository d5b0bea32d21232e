"""Lab 03 — Deadlines and budgets: an independent implementation, written from the contract.

A ``Deadline`` is an absolute instant on a clock; ``call_llm`` walks through explicit
attempt records; ``run_agent`` runs a row of budget guards before every turn.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from openai import OpenAI
from openai.types.chat import ChatCompletion, ChatCompletionMessage

from labs.kit.agent import AgentRun, Message, assistant_message, run_tool_calls
from labs.kit.devops import TOOL_SCHEMAS, DevOpsTools
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.tasks import TaskState
from labs.lab01_retry import (
    RetryError,
    RetryPolicy,
    backoff_delay,
    is_transient,
    server_delay,
)

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class BudgetExceeded(Exception):
    """A run's budget ran out; ``budget`` names which one (``"max_steps"``,
    ``"max_llm_tokens"`` or ``"max_wall_time"``). Given."""

    def __init__(self, budget: str, detail: str) -> None:
        super().__init__(f"{budget} exhausted: {detail}")
        self.budget = budget


class DeadlineExceeded(BudgetExceeded):
    """The run's deadline has passed (its ``max_wall_time`` budget ran out). Given.

    Deliberately not a ``TimeoutError``: lab 01 retries those, and a passed deadline must
    never be retried.
    """

    def __init__(self, detail: str = "the deadline has passed") -> None:
        super().__init__("max_wall_time", detail)


# -- Deadline ----------------------------------------------------------------------------


class Deadline:
    """A point in time on ``clock`` by which the work must be done (Go's context deadline).

    ``at`` is in the clock's own seconds (``time.monotonic`` by default). The object never
    changes; :meth:`child` makes a new one.
    """

    __slots__ = ("_at", "_clock")

    def __init__(self, at: float, *, clock: Clock = time.monotonic) -> None:
        """Keep ``at`` (as the attribute ``at``) and ``clock``."""
        self._at = float(at)
        self._clock = clock

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> "Deadline":
        """The deadline ``seconds`` from now on ``clock``."""
        return cls(clock() + seconds, clock=clock)

    @property
    def at(self) -> float:
        """The instant of the deadline, in the clock's seconds."""
        return self._at

    @property
    def clock(self) -> Clock:
        """The clock the deadline is measured on."""
        return self._clock

    def remaining(self) -> float:
        """Seconds left until the deadline; 0 once it has passed (never negative)."""
        return max(0.0, self._at - self._clock())

    def expired(self) -> bool:
        """True once no time is left."""
        return self.remaining() <= 0.0

    def check(self) -> None:
        """Raise :class:`DeadlineExceeded` once the deadline has passed; else nothing."""
        overdue = self._clock() - self._at
        if overdue >= 0.0:
            raise DeadlineExceeded(f"the deadline passed {overdue:g} s ago")

    def child(self, seconds: float) -> "Deadline":
        """A deadline for a part of the work: ``seconds`` from now, or this deadline if
        that comes first. The earlier one wins, as in Go; this deadline is unchanged."""
        own = self._clock() + seconds
        return Deadline(min(self._at, own), clock=self._clock)

    def timeout(self, step_timeout: float) -> float:
        """The timeout for one operation: ``step_timeout``, or the time left if that is
        less. Raises :class:`DeadlineExceeded` when no time is left."""
        left = self.remaining()
        if left <= 0.0:
            raise DeadlineExceeded("no time is left for another operation")
        return min(step_timeout, left)

    def __repr__(self) -> str:
        return f"Deadline(at={self._at!r}, remaining={self.remaining():g}s)"


# -- call_llm ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    """One request of :func:`call_llm`: its place in the policy and the timeout it carries."""

    index: int
    """Counting from 0: the ``n`` of ``backoff_delay`` when this attempt fails."""
    limit: int
    """``policy.max_attempts``."""
    timeout: float

    @property
    def number(self) -> int:
        """How many attempts have been made once this one is sent."""
        return self.index + 1

    @property
    def is_last(self) -> bool:
        return self.number >= self.limit


def _attempts(policy: RetryPolicy, deadline: Deadline, step_timeout: float) -> Iterator[_Attempt]:
    """The attempts ``policy`` allows, each with its timeout taken just before it is sent
    (so the deadline is asked afresh, and :class:`DeadlineExceeded` ends the walk)."""
    for index in range(policy.max_attempts):
        yield _Attempt(index, policy.max_attempts, deadline.timeout(step_timeout))


def _retry_wait(
    failure: Exception, attempt: _Attempt, policy: RetryPolicy, rng: random.Random | None
) -> float:
    """The wait after a transient ``failure``: the server's delay (capped) or the backoff."""
    asked = server_delay(failure)
    if asked is not None:
        return min(asked, policy.max_delay)
    return backoff_delay(attempt.index, policy, rng)


def _wait_before_retry(
    failure: Exception,
    attempt: _Attempt,
    *,
    policy: RetryPolicy,
    deadline: Deadline,
    rng: random.Random | None,
) -> float:
    """How long to wait before the next attempt, or raise what ends the call."""
    if not is_transient(failure):
        raise failure
    if attempt.is_last:
        raise RetryError(attempt.number, failure) from failure
    wait = _retry_wait(failure, attempt, policy, rng)
    left = deadline.remaining()
    if wait >= left:
        raise DeadlineExceeded(
            f"a {wait:g} s wait before attempt {attempt.number + 1} would not end before "
            f"the deadline ({left:g} s left)"
        ) from failure
    return wait


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
    """One chat completion within ``deadline``, retried as ``policy`` says.

    - Turn the client's own retries off (``client.with_options(max_retries=0)``, as in
      lab 01): this loop is the only retry layer.
    - Before every attempt take the request's timeout from ``deadline.timeout(step_timeout)``
      (this raises :class:`DeadlineExceeded` when no time is left) and send it with the
      request: ``create(model=..., messages=..., tools=..., timeout=timeout)``.
    - A permanent error (not ``is_transient``) is raised at once, as it is. A timed-out
      request (``openai.APITimeoutError``) is transient like the others.
    - After a transient failure: on the last attempt raise lab 01's ``RetryError`` from it.
      Otherwise the wait is the server's delay (``server_delay``, capped at
      ``policy.max_delay``) or ``backoff_delay(attempt_index, policy, rng)``. If that wait
      would not end before the deadline (``wait >= deadline.remaining()``), do not sleep:
      raise :class:`DeadlineExceeded` from the failure at once. Else ``sleep(wait)`` and
      try again.
    """
    completions = client.with_options(max_retries=0).chat.completions
    conversation = list(messages)
    schemas = list(tools)
    for attempt in _attempts(policy, deadline, step_timeout):
        try:
            return completions.create(
                model=model,
                messages=conversation,  # type: ignore[arg-type]
                tools=schemas,  # type: ignore[arg-type]
                timeout=attempt.timeout,
            )
        except Exception as failure:  # noqa: BLE001 - classified by _wait_before_retry
            wait = _wait_before_retry(
                failure, attempt, policy=policy, deadline=deadline, rng=rng
            )
        sleep(wait)
    raise AssertionError("unreachable: the last attempt returns or raises")


# -- run_agent ---------------------------------------------------------------------------

#: A check made before every turn; it raises :class:`BudgetExceeded` when its budget is spent.
_Guard = Callable[[AgentRun, Deadline], None]
#: One LLM turn: the conversation so far in, the completion out.
_Ask = Callable[[Sequence[Message]], ChatCompletion]


def _guard_wall_time(run: AgentRun, deadline: Deadline) -> None:
    deadline.check()


def _guard_steps(run: AgentRun, deadline: Deadline) -> None:
    limit = run.budget.max_steps
    if run.steps >= limit:
        raise BudgetExceeded("max_steps", f"{run.steps} of {limit} LLM turns taken")


def _guard_tokens(run: AgentRun, deadline: Deadline) -> None:
    limit = run.budget.max_llm_tokens
    if run.llm_tokens >= limit:
        raise BudgetExceeded("max_llm_tokens", f"{run.llm_tokens} of {limit} tokens used")


#: The guards, in the order the contract lists the budgets.
_GUARDS: tuple[_Guard, ...] = (_guard_wall_time, _guard_steps, _guard_tokens)


def _enforce_budgets(run: AgentRun, deadline: Deadline) -> None:
    for guard in _GUARDS:
        guard(run, deadline)


def _record_turn(run: AgentRun, completion: ChatCompletion) -> ChatCompletionMessage:
    """Count one LLM turn on ``run`` and keep the model's reply in its conversation."""
    reply = completion.choices[0].message
    run.steps += 1
    run.llm_tokens += completion.usage.total_tokens if completion.usage is not None else 0
    run.messages.append(assistant_message(reply))
    return reply


def _final_answer(run: AgentRun, tools: DevOpsTools, deadline: Deadline, ask: _Ask) -> str:
    """Take turns until the model answers without a tool call; that answer's text."""
    while True:
        _enforce_budgets(run, deadline)
        reply = _record_turn(run, ask(run.messages))
        if not reply.tool_calls:
            return reply.content or ""
        run.messages.extend(run_tool_calls(reply, tools.execute))


def _end_failed(run: AgentRun, error: Exception, exhausted: str | None) -> None:
    run.state = TaskState.FAILED
    run.exhausted = exhausted
    run.error = f"{type(error).__name__}: {error}"


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
    """Run the agent loop on ``run`` within ``run.budget``; return ``run``, ended.

    The run's deadline is ``run.budget.max_wall_time`` seconds from the start of this call
    on ``clock``. Set ``run.state`` to running, then loop:

    1. Before each turn: the deadline has passed → :class:`DeadlineExceeded`;
       ``run.steps`` has reached ``max_steps`` → ``BudgetExceeded("max_steps", ...)``;
       ``run.llm_tokens`` has reached ``max_llm_tokens`` →
       ``BudgetExceeded("max_llm_tokens", ...)``. No request is sent after any of them.
    2. Ask the model with :func:`call_llm` (the run's messages, the deadline, the step
       timeout, ``policy``, ``sleep``, ``rng``, ``model``).
    3. Count the turn: ``run.steps += 1``, ``run.llm_tokens += usage.total_tokens``; append
       the reply with ``assistant_message``.
    4. No tool calls: the run is completed, ``run.result`` is the reply's text; return.
       Else append the tool results (``run_tool_calls(reply, tools.execute)``) and go on.

    The run never raises. When a budget runs out, ``run.state`` is failed,
    ``run.exhausted`` names the budget (``exception.budget``) and ``run.error`` is
    ``"<ExceptionType>: <message>"``; any other failure (a permanent error, a
    ``RetryError``) ends it failed the same way with ``run.exhausted`` left None. Either
    way ``run.messages``, ``run.steps`` and ``run.llm_tokens`` keep the progress made.
    """
    deadline = Deadline.after(run.budget.max_wall_time, clock=clock)
    run.state = TaskState.RUNNING
    ask: _Ask = functools.partial(
        call_llm, client, deadline=deadline, step_timeout=step_timeout,
        policy=policy, sleep=sleep, rng=rng, model=model,
    )
    try:
        answer = _final_answer(run, tools, deadline, ask)
    except BudgetExceeded as spent:
        _end_failed(run, spent, spent.budget)
    except Exception as error:  # noqa: BLE001 - the run records every failure, never raises
        _end_failed(run, error, None)
    else:
        run.state = TaskState.COMPLETED
        run.result = answer
    return run
