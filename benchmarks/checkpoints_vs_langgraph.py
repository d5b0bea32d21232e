"""Benchmark: the reference SQLite checkpoint store beside LangGraph's SqliteSaver.

    python3 dev.py bench                      # makes .venv-bench with LangGraph's saver
    .venv-bench/bin/python benchmarks/checkpoints_vs_langgraph.py [--count 10000]

The same workload for both, each on a fresh database file in a temporary folder, in one
thread: save ``--count`` small checkpoints of one thread, each after the one before; read
the latest checkpoint 1,000 times; list the thread's whole history once. Prints each
phase for both stores and the ratio (ours / LangGraph's: below 1 is faster). LangGraph's
package (``langgraph-checkpoint-sqlite``) is installed only for this benchmark, by the
``bench`` extra; without it the script says how to get it and measures ours alone.

A command, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from labs.kit.checkpoints import Checkpoint  # noqa: E402
from solutions.lab06_checkpoints import SqliteCheckpointStore  # noqa: E402

READS = 1_000
THREAD = "bench"


def small_state(n: int) -> dict[str, Any]:
    return {"step": n, "log": [f"node ran at step {n}"], "status": "running"}


class Ours:
    name = "reference SqliteCheckpointStore"

    def __init__(self, folder: Path) -> None:
        self.store = SqliteCheckpointStore(folder / "ours.db")
        self.parent: str | None = None

    def save(self, n: int) -> None:
        self.parent = self.store.save(Checkpoint(
            thread_id=THREAD, step=n, ran=("node",), next=("node",), state=small_state(n),
            created_at=time.time(), parent_id=self.parent))

    def latest(self) -> Any:
        return self.store.latest(THREAD)

    def history(self) -> int:
        return len(self.store.list(THREAD))


class LangGraphs:
    name = "LangGraph SqliteSaver"

    def __init__(self, folder: Path) -> None:
        from langgraph.checkpoint.base import empty_checkpoint
        from langgraph.checkpoint.sqlite import SqliteSaver

        self.empty = empty_checkpoint
        self.saver = SqliteSaver(sqlite3.connect(folder / "langgraph.db", check_same_thread=False))
        self.saver.setup()
        self.config: dict[str, Any] = {"configurable": {"thread_id": THREAD, "checkpoint_ns": ""}}
        self.thread = dict(self.config)

    def save(self, n: int) -> None:
        checkpoint = self.empty()
        checkpoint["channel_values"] = small_state(n)
        self.config = self.saver.put(self.config, checkpoint,
                                     {"source": "loop", "step": n, "parents": {}}, {})

    def latest(self) -> Any:
        return self.saver.get_tuple(self.thread)

    def history(self) -> int:
        return sum(1 for _ in self.saver.list(self.thread))


def timed(action: Callable[[], Any]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def measure(store: Any, count: int) -> dict[str, float]:
    def saves() -> None:
        for n in range(count):
            store.save(n)

    def reads() -> None:
        for _ in range(READS):
            store.latest()

    listed: list[int] = []
    figures = {
        "save": timed(saves),
        "latest": timed(reads),
        "list": timed(lambda: listed.append(store.history())),
    }
    if listed != [count]:
        raise RuntimeError(f"{store.name} listed {listed} checkpoints, not {count}")
    return figures


def describe(figures: dict[str, float], count: int) -> list[str]:
    return [
        f"save {count:,}: {figures['save']:.2f} s ({count / figures['save']:,.0f}/s)",
        f"latest x{READS:,}: {figures['latest'] * 1e6 / READS:.1f} us each",
        f"list all: {figures['list']:.3f} s",
    ]


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--count", type=int, default=10_000, help="checkpoints to save")
    args = cli.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        kinds: list[Callable[[Path], Any]] = [Ours]
        try:
            import langgraph.checkpoint.sqlite  # noqa: F401
        except ImportError:
            print("LangGraph's saver is not installed here: `python3 dev.py bench` makes "
                  ".venv-bench with it (the bench extra). Measuring ours alone.")
        else:
            kinds.append(LangGraphs)
        for kind in kinds:
            store = kind(folder)
            results[store.name] = measure(store, args.count)
    for name, figures in results.items():
        print(f"{name}:\n  " + "\n  ".join(describe(figures, args.count)))
    if len(results) == 2:
        ours, theirs = results.values()
        ratios = ", ".join(f"{phase} x{ours[phase] / theirs[phase]:.2f}" for phase in ours)
        print(f"ours / LangGraph's time: {ratios}")


if __name__ == "__main__":
    main()
