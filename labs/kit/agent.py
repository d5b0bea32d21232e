"""The agent loop's plumbing: messages, tool calls, and the record of a run.

The seed's agent loop asks the model, appends its reply, runs the tools it asked for,
appends their results, and goes round again until the model answers without a tool call.
The labs change what happens around that loop (idempotent tools, deadlines, persistence);
the plumbing stays the same and lives here:

* :func:`start_messages`, :func:`assistant_message`, :func:`tool_message`: the chat
  messages, as plain dicts the OpenAI API takes back (:func:`for_the_api` drops the ``id``
  a graph's state keeps on them);
* :func:`run_tool_calls`: run every tool call of one reply through an executor
  ``execute(name, arguments_json) -> str`` and return the tool messages, each linked to its
  call by ``tool_call_id``;
* :func:`run_agent`: the seed's loop as it is, with no deadline and no budget;
* :class:`Budget` and :class:`AgentRun`: the seed's AgentState budget, and what a run has
  done so far (messages, steps, tokens) and how it ended.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from openai import OpenAI
from openai.types.chat import ChatCompletionMessage

from labs.kit.devops import TOOL_SCHEMAS
from labs.kit.fake_llm import DEFAULT_MODEL
from labs.kit.tasks import TaskState

SYSTEM_PROMPT = "You are an autonomous DevOps agent. Use the tools; answer when the job is done."

#: Runs one tool call: the tool's name and its arguments as the model sent them (JSON text).
ExecuteTool = Callable[[str, str], str]
Message = dict[str, Any]


def start_messages(goal: str) -> list[Message]:
    """The conversation a run starts from: the system prompt and the user's request."""
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": goal},
    ]


def assistant_message(message: ChatCompletionMessage) -> Message:
    """The model's reply as a message to send back: its text and its tool calls."""
    out: Message = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ]
    return out


def tool_message(tool_call_id: str, content: str) -> Message:
    """A tool's result, linked to the call that asked for it."""
    return {"role": "tool", "tool_call_id": tool_call_id, "content": content}


def for_the_api(messages: Iterable[Mapping[str, Any]]) -> list[Message]:
    """Messages as the API takes them: the ``id`` a graph's state keeps to upsert a
    message by (lab 05) left out."""
    return [{key: value for key, value in message.items() if key != "id"} for message in messages]


def run_tool_calls(message: ChatCompletionMessage, execute: ExecuteTool) -> list[Message]:
    """Run each tool call of ``message`` in order; one tool message per call.

    An exception from ``execute`` propagates: what a failed tool means is the caller's call.
    """
    return [
        tool_message(call.id, execute(call.function.name, call.function.arguments))
        for call in message.tool_calls or ()
    ]


class NoFinalAnswer(RuntimeError):
    """The model was still asking for tools when the loop's turn limit ran out."""


def run_agent(
    client: OpenAI,
    messages: list[Message],
    execute: ExecuteTool,
    *,
    model: str = DEFAULT_MODEL,
    tools: Sequence[dict[str, Any]] = TOOL_SCHEMAS,
    max_turns: int = 10,
) -> str:
    """The seed's agent loop: ask, run the tools asked for, repeat; the final answer's text.

    ``messages`` grows in place with every reply and tool result, so the caller keeps the
    conversation. No retry, deadline or budget here: those are the labs'.
    """
    for _ in range(max_turns):
        completion = client.chat.completions.create(
            model=model, messages=messages, tools=list(tools)  # type: ignore[arg-type]
        )
        reply = completion.choices[0].message
        messages.append(assistant_message(reply))
        if not reply.tool_calls:
            return reply.content or ""
        messages.extend(run_tool_calls(reply, execute))
    raise NoFinalAnswer(f"no final answer after {max_turns} turns")


@dataclass(frozen=True)
class Budget:
    """The seed's AgentState budget: what one run may spend.

    - ``max_steps``: LLM turns (a retried request is still one turn);
    - ``max_wall_time``: seconds from the start of the run to its deadline;
    - ``max_llm_tokens``: tokens, as the responses' ``usage.total_tokens`` count them.
    """

    max_steps: int = 20
    max_wall_time: float = 300.0
    max_llm_tokens: int = 200_000


@dataclass
class AgentRun:
    """One agent run: what it was asked, what it has done so far, and how it ended.

    ``state`` is a :class:`~labs.kit.tasks.TaskState`. When a budget runs out the run is
    ``failed``, ``exhausted`` names the budget (``"max_wall_time"``, ``"max_steps"`` or
    ``"max_llm_tokens"``) and ``error`` says what happened; ``messages``, ``steps`` and
    ``llm_tokens`` keep the progress made before the end.
    """

    goal: str
    budget: Budget = field(default_factory=Budget)
    state: TaskState = TaskState.PENDING
    messages: list[Message] = field(default_factory=list)
    steps: int = 0
    llm_tokens: int = 0
    result: str | None = None
    error: str | None = None
    exhausted: str | None = None

    @classmethod
    def start(cls, goal: str, budget: Budget | None = None) -> "AgentRun":
        """A pending run whose conversation is :func:`start_messages` of ``goal``."""
        return cls(goal=goal, budget=budget or Budget(), messages=start_messages(goal))
