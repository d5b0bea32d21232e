"""A table of idempotency keys: what was done under each key, and with which parameters.

Stripe, the IETF Idempotency-Key draft and durable-execution engines all keep the same
record: the key, the parameters it was first used with (Stripe keeps a fingerprint of
them; this kit keeps their canonical text), and, once the operation has finished, its
result. :class:`KeyRecord` is that record and
:class:`MemoryKeyStore` the table, with the one atomic operation the rest is built on:
:meth:`MemoryKeyStore.put_if_absent`, an insert that fails when the key exists (a
database's ``INSERT ... ON CONFLICT DO NOTHING``). Whoever inserts the key owns the
operation; everyone else finds the record and learns what to do from it.

The kit gives the table; the rules (when a key is claimed, what a conflict is, what happens
when the operation fails) are lab 02's exercise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class KeyRecord:
    """What one idempotency key stands for.

    - ``params``: the parameters the key was first used with, as canonical text;
    - ``done``: False while the operation runs, True once it has finished;
    - ``result``: what the operation returned (set when ``done``).
    """

    key: str
    params: str
    done: bool = False
    result: str | None = None


class KeyStore(Protocol):
    """What every key store offers (lab 04's durable stores too)."""

    def get(self, key: str) -> KeyRecord | None:
        """The record of ``key``, or None."""

    def put_if_absent(self, record: KeyRecord) -> KeyRecord | None:
        """Insert ``record`` unless its key is taken, atomically: None when inserted, else
        the record already there."""

    def put(self, record: KeyRecord) -> None:
        """Store ``record``, replacing what its key held."""

    def delete(self, key: str) -> None:
        """Forget ``key``."""


class MemoryKeyStore:
    """A :class:`KeyStore` in memory, safe to share between threads."""

    def __init__(self) -> None:
        self._records: dict[str, KeyRecord] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> KeyRecord | None:
        """The record of ``key``, or None."""
        with self._lock:
            return self._records.get(key)

    def put_if_absent(self, record: KeyRecord) -> KeyRecord | None:
        """Insert ``record`` unless its key is taken, atomically.

        Returns None when ``record`` was inserted (the caller now owns the key), or the
        record already there (the caller does not).
        """
        _require_record(record)
        with self._lock:
            existing = self._records.get(record.key)
            if existing is None:
                self._records[record.key] = record
            return existing

    def put(self, record: KeyRecord) -> None:
        """Store ``record``, replacing what its key held."""
        _require_record(record)
        with self._lock:
            self._records[record.key] = record

    def delete(self, key: str) -> None:
        """Forget ``key`` (nothing happens when it is unknown)."""
        with self._lock:
            self._records.pop(key, None)

    def keys(self) -> list[str]:
        """Every key, in the order they were first stored."""
        with self._lock:
            return list(self._records)


def _require_record(record: object) -> None:
    if not isinstance(record, KeyRecord):
        raise TypeError(f"a key store keeps KeyRecord objects, not {type(record).__name__}")
