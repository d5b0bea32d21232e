#!/usr/bin/env python3
"""Grade one submission many times and show that every report is byte-identical.

    .venv/bin/python tools/determinism.py                 the mixed submission, 20 times
    .venv/bin/python tools/determinism.py --impl solutions --runs 20

The mixed submission (the default) is one mutant of every lab's reference solution, so
every lab has items done and items not done, with details that quote what the submission
did: the report has something to differ in. Each run is ``python -m grader --impl DIR
--name submission --format json`` from scratch (its own sandboxes, temporary folders and
processes), ``--workers`` at a time. The JSON has sorted keys and no timestamp, and the
paths of the grader's temporary folders are written as ``<sandbox>``: the same submission
must give the same bytes. Prints the runs, the distinct reports and the verdicts; when two
reports differ, the first lines where they do. Exits 1 then.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.checklist import LABS  # noqa: E402
from tests.mutants import MUTANTS  # noqa: E402

#: The mutant of each lab in the mixed submission: its first one.
MIXED = {lab.id: next(m for m in MUTANTS if m.lab == lab.id) for lab in LABS}


def write_mixed(folder: Path) -> None:
    """One mutant of every lab, side by side in ``folder``."""
    for mutant in MIXED.values():
        (folder / f"{mutant.module}.py").write_text(mutant.source(), encoding="utf-8")


def grade(impl: Path) -> str:
    done = subprocess.run([sys.executable, "-m", "grader", "--impl", str(impl), "--name",
                           "submission", "--format", "json"],
                          cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 1):
        return f"the grader failed (exit {done.returncode}): {done.stderr[-500:]}"
    return done.stdout


def check(impl: Path, runs: int, workers: int) -> tuple[list[str], str]:
    """The reports of ``runs`` gradings of ``impl``, and a summary of how they compare."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        reports = list(pool.map(lambda _: grade(impl), range(runs)))
    distinct = sorted({hashlib.sha256(r.encode()).hexdigest() for r in reports})
    lines = [f"{runs} gradings, {len(distinct)} distinct report(s)"]
    try:
        for lab in json.loads(reports[0])["labs"]:
            lines.append(f"  {lab['lab']}: {lab['score']}/{lab['max_score']} done")
    except (ValueError, KeyError):
        lines.append(f"  not a report: {reports[0][:300]}")
    if len(distinct) > 1:
        other = next(r for r in reports if r != reports[0])
        diff = difflib.unified_diff(reports[0].splitlines(), other.splitlines(),
                                    "run 1", "another run", lineterm="", n=1)
        lines += ["  they differ:", *(f"    {line}" for line in list(diff)[:40])]
    return reports, "\n".join(lines)


def main() -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--impl", type=Path, help="the submission (default: the mixed one)")
    cli.add_argument("--runs", type=int, default=20)
    cli.add_argument("--workers", type=int, default=2)
    args = cli.parse_args()
    with tempfile.TemporaryDirectory(prefix="determinism-") as scratch:
        impl = args.impl
        if impl is None:
            impl = Path(scratch)
            write_mixed(impl)
            print("the mixed submission: " + ", ".join(
                f"{lab} {m.name}" for lab, m in MIXED.items()))
        reports, summary = check(impl.resolve(), args.runs, args.workers)
    print(summary)
    return 0 if len(set(reports)) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
