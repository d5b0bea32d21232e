"""Lab 03 — Deadlines and budgets.

An agent without a deadline can hang forever: a model that takes minutes to answer, a
retry loop that keeps waiting, a conversation that never ends. The user waits and nothing
happens (the seed's mistake 3). Give every run a budget, as the seed's AgentState does,
and keep to it:

- **A run deadline** (``Budget.max_wall_time``), checked before every turn of the loop:
  once it has passed, no request is sent and the run ends *failed* with a
  :class:`DeadlineExceeded`, keeping the progress made so far.
- **A timeout on every request**, so that one slow answer cannot eat the run: the step
  timeout, or the time left in the run when that is less. Pass it to the OpenAI client as
  ``timeout=`` (it reaches the HTTP request).
- **Nested deadlines** follow Go's ``context.WithDeadline``: a part of the work gets its
  own deadline, but never a later one than the whole (:meth:`Deadline.child`).
- **Retries that know the deadline**: a wait that would end after the deadline is not
  slept; the call fails with :class:`DeadlineExceeded` at once. A request that timed out
  is retried like any transient failure while time remains.
- **The other budgets**: ``max_steps`` (LLM turns) and ``max_llm_tokens`` (counted from
  the responses' ``usage``). The run records which budget ran out.

This lab builds on lab 01: :func:`call_llm` retries with your ``is_transient``,
``backoff_delay`` and ``server_delay`` (the grader uses the reference lab 01 here, so a
mistake there is not counted twice).

Given (nothing to complete): the exceptions below; from the kit, ``Budget``, ``AgentRun``
and the message helpers in ``labs.kit.agent``. Complete every function and method that
raises ``NotImplementedError``; keep the names and signatures.

Time: read the time only through the ``clock`` you are given (``time.monotonic`` by
default) and wait only with the ``sleep`` you are given. In the notebook and the grader
both move a frozen clock, and the mocked LLM moves it too while it "thinks".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import Any

from openai import OpenAI
from openai.types.chat import ChatCompletion

from labs.kit.agent import AgentRun, Message, assistant_message, run_tool_calls  # noqa: F401
from labs.kit.devops import TOOL_SCHEMAS, DevOpsTools
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.tasks import TaskState  # noqa: F401 - for your solution
from labs.lab01_retry import (  # noqa: F401 - for your solution
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


class Deadline:
    """A point in time on ``clock`` by which the work must be done (Go's context deadline).

    ``at`` is in the clock's own seconds (``time.monotonic`` by default). The object never
    changes; :meth:`child` makes a new one.
    """

    def __init__(self, at: float, *, clock: Clock = time.monotonic) -> None:
        """Keep ``at`` (as the attribute ``at``) and ``clock``."""
        raise NotImplementedError("Deadline.__init__")

    @classmethod
    def after(cls, seconds: float, *, clock: Clock = time.monotonic) -> "Deadline":
        """The deadline ``seconds`` from now on ``clock`` (a negative ``seconds`` is a moment
        already past; 0 is now, and no time is left)."""
        raise NotImplementedError("Deadline.after")

    def remaining(self) -> float:
        """Seconds left until the deadline; 0 once it has passed (never negative)."""
        raise NotImplementedError("Deadline.remaining")

    def expired(self) -> bool:
        """True once no time is left (at the deadline itself, none is)."""
        raise NotImplementedError("Deadline.expired")

    def check(self) -> None:
        """Raise :class:`DeadlineExceeded` once no time is left; else nothing."""
        raise NotImplementedError("Deadline.check")

    def child(self, seconds: float) -> "Deadline":
        """A deadline for a part of the work: ``seconds`` from now (negative: already
        past), or this deadline if that comes first. The earlier one wins, as in Go; this
        deadline is unchanged. Always a new ``Deadline`` at the earlier of the two instants,
        for a passed deadline too (its child may lie further in the past), never this
        object itself."""
        raise NotImplementedError("Deadline.child")

    def timeout(self, step_timeout: float) -> float:
        """The timeout for one operation: ``step_timeout``, or the time left if that is
        less. Raises :class:`DeadlineExceeded` when no time is left."""
        raise NotImplementedError("Deadline.timeout")


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
      request: ``create(model=..., messages=..., tools=..., timeout=timeout)``, one number,
      so that connecting, reading, writing and waiting for a connection all get it. The
      request carries every one of ``messages``, in order, as given, and nothing added;
      and only these parameters: no ``max_tokens`` or other option.
    - A permanent error (not ``is_transient``) is raised at once, as it is. A timed-out
      request (``openai.APITimeoutError``) is transient like the others. ``is_transient``
      alone decides: the server's headers, its ``x-should-retry`` included, change nothing
      (a 503 with ``x-should-retry: false`` is retried, a 400 with ``x-should-retry: true``
      raised at once).
    - After a transient failure: on the last attempt raise lab 01's ``RetryError`` from it
      (with ``max_attempts=1`` the first attempt is the last: ``RetryError(1, error)``).
      Otherwise the wait is the server's delay (``server_delay``, capped at
      ``policy.max_delay``) or ``backoff_delay(attempt_index, policy, rng)``. If that wait
      would not end before the deadline (``wait >= deadline.remaining()``), do not sleep:
      raise :class:`DeadlineExceeded` from the failure at once. Else ``sleep(wait)`` and
      try again.
    """
    raise NotImplementedError("call_llm")


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

    1. Before each turn, in this order (the first that holds decides):
       no time is left → :class:`DeadlineExceeded`;
       ``run.steps`` has reached ``max_steps`` → ``BudgetExceeded("max_steps", ...)``;
       ``run.llm_tokens`` has reached ``max_llm_tokens`` →
       ``BudgetExceeded("max_llm_tokens", ...)``. No request is sent after any of them.
    2. Ask the model with :func:`call_llm` (the run's messages, the deadline, the step
       timeout, ``policy``, ``sleep``, ``rng``, ``model``). Every request, with its
       timeout, sends the run's whole conversation so far: ``run.messages`` as it stands,
       no window, no trimming, no message added (near the deadline too). A turn is
       started whenever any time is left, its timeout shrunk to the time left: never
       refused because less than a step timeout is left.
    3. Count the turn once its answer is in: ``run.steps += 1``,
       ``run.llm_tokens += usage.total_tokens``, as the response reports it (a usage of 0
       tokens counts 0, never an estimate; cached prompt tokens,
       ``usage.prompt_tokens_details.cached_tokens``, are in the total and count like any
       other, and so are reasoning tokens,
       ``usage.completion_tokens_details.reasoning_tokens``: nothing is added for them);
       append the reply with ``assistant_message``.
    4. No tool calls: the run is completed, ``run.result`` is the reply's text; return.
       Else append the tool results (``run_tool_calls(reply, tools.execute)``) and go on;
       this holds for the turn that used the last step too: its tool calls are run, and
       ``max_steps`` stops the run before the next request.

    The run never raises. When a budget runs out, ``run.state`` is failed,
    ``run.exhausted`` names the budget (``exception.budget``) and ``run.error`` is
    ``"<ExceptionType>: <message>"``; any other failure (a permanent error, a
    ``RetryError``, any exception out of the loop: a tool whose ``execute`` raises, a
    ``TypeError`` from the client) ends it failed the same way with ``run.exhausted``
    left None. Either way ``run.messages``, ``run.steps`` and ``run.llm_tokens`` keep the
    progress made.
    """
    raise NotImplementedError("run_agent")
