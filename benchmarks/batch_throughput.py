"""Benchmark: batch grading throughput, in submissions per minute, with 1 and 2 workers.

    .venv/bin/python benchmarks/batch_throughput.py [--students 6] [--workers 1 2] [--lab LAB ...]

A class of ``--students`` submissions, half the reference solutions and half the stubs
(every lab unless ``--lab`` narrows it), is graded from scratch by ``python -m grader
batch``'s own code for each worker count, into a fresh results folder each time (nothing
is reused). Prints, per worker count, the wall time and the submissions per minute, then
the time a second run over the same results takes (every student unchanged: none graded
again). A command, not a test: it prints figures and asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.batch import run_batch  # noqa: E402
from grader.checklist import LABS  # noqa: E402


def make_class(folder: Path, students: int) -> None:
    """``students`` submissions: solution copies and stub copies, alternately."""
    for index in range(students):
        source = ROOT / ("solutions" if index % 2 == 0 else "labs")
        student = folder / f"{'solution' if index % 2 == 0 else 'stub'}-{index:02d}"
        student.mkdir(parents=True)
        for lab in LABS:
            module = source / f"{lab.module}.py"
            if module.exists():
                shutil.copyfile(module, student / module.name)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--students", type=int, default=6)
    cli.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    cli.add_argument("--lab", action="append", default=[], help="grade only this lab")
    args = cli.parse_args()
    labs = ", ".join(args.lab) or "every lab"
    print(f"batch of {args.students} submissions (half solutions, half stubs), {labs}; "
          f"{os.cpu_count()} cores")
    print(f"{'workers':>8} {'wall s':>8} {'subs/min':>9} {'rerun s':>8}")
    with tempfile.TemporaryDirectory(prefix="batch-bench-") as scratch:
        submissions = Path(scratch) / "submissions"
        make_class(submissions, args.students)
        for workers in args.workers:
            results = Path(scratch) / f"results-{workers}"
            started = time.perf_counter()
            entries = run_batch(submissions, results, workers=workers, labs=args.lab,
                                show_progress=False)
            wall = time.perf_counter() - started
            failed = [e.student for e in entries if e.error]
            started = time.perf_counter()
            again = run_batch(submissions, results, workers=workers, labs=args.lab,
                              show_progress=False)
            rerun = time.perf_counter() - started
            assert all(e.reused for e in again), "a second run graded someone again"
            note = f"  (could not grade: {', '.join(failed)})" if failed else ""
            print(f"{workers:>8} {wall:>8.1f} {len(entries) / wall * 60:>9.1f} {rerun:>8.2f}{note}")


if __name__ == "__main__":
    main()
