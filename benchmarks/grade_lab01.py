"""Benchmark: how long grading lab 01 takes for one submission, and how much simulated
time its scenarios covered on the frozen clock.

    .venv/bin/python benchmarks/grade_lab01.py [--impl solutions] [--repeat 5]

Prints the median and spread of the whole grading (``python -m grader --lab lab01`` as a
student runs it, interpreter start included) and of the sandboxed child alone, then the
simulated seconds: the sum of how far the frozen clock moved in every scenario run.
A command, not a test: it prints figures and asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.checklist import LABS_BY_ID  # noqa: E402
from grader.sandbox import run_lab  # noqa: E402


def simulated_seconds(observation: Any) -> tuple[float, int]:
    """Sum of every ``ended_at`` in an observation, and how many runs it covers."""
    if isinstance(observation, dict):
        total, runs = (observation["ended_at"], 1) if "ended_at" in observation else (0.0, 0)
        for value in observation.values():
            if isinstance(value, (dict, list)):
                more, count = simulated_seconds(value)
                total, runs = total + more, runs + count
        return total, runs
    if isinstance(observation, list):
        pairs = [simulated_seconds(value) for value in observation]
        return sum(p[0] for p in pairs), sum(p[1] for p in pairs)
    return 0.0, 0


def timed(action: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = action()
    return time.perf_counter() - start, result


def describe(samples: list[float]) -> str:
    return (
        f"median {statistics.median(samples):.2f} s "
        f"(min {min(samples):.2f}, max {max(samples):.2f}, n={len(samples)})"
    )


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_argument("--impl", default="solutions", help="folder of lab modules to grade")
    cli.add_argument("--repeat", type=int, default=5, help="how many times to measure")
    args = cli.parse_args()
    impl = (ROOT / args.impl).resolve()
    lab = LABS_BY_ID["lab01"]

    whole, child = [], []
    for _ in range(args.repeat):
        command = [sys.executable, "-m", "grader", "--impl", str(impl), "--lab", "lab01"]
        seconds, _ = timed(lambda: subprocess.run(command, cwd=ROOT, capture_output=True))
        whole.append(seconds)
        seconds, run = timed(lambda: run_lab(lab, impl))
        child.append(seconds)

    simulated, runs = 0.0, 0
    for result in run.results.values():
        more, count = simulated_seconds(result.observation)
        simulated, runs = simulated + more, runs + count
    print(f"grading lab01 of {args.impl}")
    print(f"  python -m grader --lab lab01: {describe(whole)}")
    print(f"  sandboxed child alone:        {describe(child)}, {run.children} child per run")
    print(
        f"  scenarios: {len(run.results)}, runs of the submission: {runs}, "
        f"simulated time covered: {simulated:.1f} s "
        f"({simulated / statistics.median(child):.0f}x the child's wall time)"
    )


if __name__ == "__main__":
    main()
