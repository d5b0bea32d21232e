"""Checkpoints: what a graph run looked like after each of its steps (given).

langgraphgo saves a ``Checkpoint`` after every step through a ``CheckpointStore`` with
``Save``, ``Load``, ``List``, ``Delete`` and ``Clear``; LangGraph's checkpointers do the
same per *thread* (one conversation, one run and its forks). A :class:`Checkpoint` here
holds the step's number, the nodes that ran and the nodes to run next, the state as the
step left it (ephemeral keys gone), when it was saved, and the checkpoint it follows.
:class:`CheckpointStore` is the contract every store keeps; lab 06 writes three of them
and the runner that fills them.

Ids are the store's business: a store gives each checkpoint an id when it is saved, and
ids sort (as strings) in the order the checkpoints were saved, whatever the clock says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Checkpoint:
    """One saved step of one thread.

    - ``id``: given by the store on save (empty until then);
    - ``thread_id``: the run it belongs to;
    - ``step``: 0 for the input, then 1, 2, ... (an update at a step keeps its number);
    - ``ran``: the nodes that ran in the step; ``next``: the nodes to run after it
      (empty once the run is over);
    - ``state``: the state after the step, without ephemeral keys;
    - ``created_at``: seconds since the epoch, from the runner's clock;
    - ``parent_id``: the checkpoint this one follows (None for a thread's first).
    """

    thread_id: str
    step: int
    ran: tuple[str, ...]
    next: tuple[str, ...]
    state: dict[str, Any]
    created_at: float
    parent_id: str | None = None
    id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint as plain JSON-ready data."""
        return {
            "id": self.id,
            "thread_id": self.thread_id,
            "step": self.step,
            "ran": list(self.ran),
            "next": list(self.next),
            "state": self.state,
            "created_at": self.created_at,
            "parent_id": self.parent_id,
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Checkpoint":
        """The inverse of :meth:`to_dict`; a missing or mistyped field is an error."""
        parent = data.get("parent_id")
        return cls(
            id=str(data["id"]),
            thread_id=str(data["thread_id"]),
            step=int(data["step"]),
            ran=tuple(str(name) for name in data["ran"]),
            next=tuple(str(name) for name in data["next"]),
            state=dict(data["state"]),
            created_at=float(data["created_at"]),
            parent_id=None if parent is None else str(parent),
            metadata=dict(data.get("metadata") or {}),
        )


class CheckpointStore(Protocol):
    """What every checkpoint store offers (langgraphgo's CheckpointStore, per thread)."""

    def save(self, checkpoint: Checkpoint) -> str:
        """Store a copy of ``checkpoint`` under a new id, and return the id."""

    def load(self, checkpoint_id: str) -> Checkpoint:
        """A copy of the checkpoint with that id (CheckpointNotFound when there is none)."""

    def latest(self, thread_id: str) -> Checkpoint | None:
        """The thread's checkpoint saved last, or None."""

    def list(self, thread_id: str, *, limit: int | None = None,
             before: str | None = None) -> list[Checkpoint]:
        """The thread's checkpoints, newest first; only those saved before the checkpoint
        ``before``, and at most ``limit`` of them."""

    def delete(self, checkpoint_id: str) -> None:
        """Forget one checkpoint."""

    def clear(self, thread_id: str) -> None:
        """Forget every checkpoint of one thread."""
