"""Benchmark: what add_messages costs at 1,000 and 10,000 messages.

    .venv/bin/python benchmarks/add_messages.py [--impl solutions] [--repeat 5]

Merges a patch as large as the conversation (half of it upserts of existing ids, a
quarter new ids, a quarter without an id) into conversations of 1,000 and 10,000
messages, and prints the best of several runs of each and their ratio. Linear growth
shows as a ratio near 10; an add_messages that scans the list for every new message grows
near 100. A command, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SIZES = (1_000, 10_000)


def conversation(size: int) -> list[dict[str, Any]]:
    return [{"id": f"m{n}", "role": "user" if n % 2 else "assistant", "content": f"message {n}"}
            for n in range(size)]


def patch(size: int) -> list[dict[str, Any]]:
    upserts = [{"id": f"m{n}", "role": "assistant", "content": f"edited {n}"}
               for n in range(0, size, 2)]
    fresh = [{"id": f"n{n}", "role": "user", "content": f"new {n}"} for n in range(size // 4)]
    idless = [{"role": "tool", "content": f"result {n}"} for n in range(size // 4)]
    return upserts + fresh + idless


def best_seconds(merge: Callable[[Any, Any], Any], size: int, repeat: int) -> float:
    """The fastest of ``repeat`` merges: the least disturbed by the rest of the machine."""
    current, new = conversation(size), patch(size)
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        merge(current, new)
        samples.append(time.perf_counter() - started)
    return min(samples)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--impl", default="solutions", choices=("solutions", "labs"),
                     help="whose add_messages to measure")
    cli.add_argument("--repeat", type=int, default=7, help="measurements per size")
    args = cli.parse_args()
    module = importlib.import_module(f"{args.impl}.lab05_reducers")
    times = [best_seconds(module.add_messages, size, args.repeat) for size in SIZES]
    shown = ", ".join(f"{size:,} messages {seconds * 1000:.2f} ms"
                      for size, seconds in zip(SIZES, times))
    print(f"{args.impl}.add_messages, best of {args.repeat}: {shown}; "
          f"x{times[1] / times[0]:.1f} for x10 messages (linear: about 10)")

if __name__ == "__main__":
    main()
