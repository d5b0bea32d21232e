#!/usr/bin/env python3
"""Grade hand-written mutants and measure the grader's blame: the exact items each fails.

    .venv/bin/python tools/blame.py                              tests/mutants, every lab
    .venv/bin/python tools/blame.py --set tests.rounds.round1    a held-out round
    .venv/bin/python tools/blame.py --lab lab02 --only race      some of them

Every mutant (see ``tests/mutants/base.py``) names the exact set of items its mistake
breaks. Each is graded as a submission of its lab, by a copy of the grader taken when the
run starts, and sorted into one of:

- **exact**: the grader failed exactly the mutant's items, no more and no fewer;
- **false pass**: none of the mutant's items failed (the mistake got through);
- **partly missed**: some of its items failed, not all;
- **mis-blamed**: every one of its items failed, and also another one that the mistake
  does not break (a defect of the check as serious as a miss).

A mutant that is both partly missed and mis-blamed counts under partly missed. Prints a
table per lab and, for every mutant that is not exact, its items, what failed, and the
detail of each item it got wrong. Exits 1 unless every mutant is exact, 2 when the
grader produced no report for one.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.checklist import LABS, LABS_BY_ID  # noqa: E402
from tests.mutants.base import Mutant  # noqa: E402
from tools.submission import Graded, grade_source, snapshot  # noqa: E402

VERDICTS = ("exact", "false pass", "partly missed", "mis-blamed", "error")


@dataclass
class Blame:
    """How the grader judged one mutant against the items it names."""

    lab: str
    name: str
    intended: list[str]
    failed: list[str]
    verdict: str
    details: dict[str, str]
    seconds: float


def judge(mutant: Mutant, graded: Graded) -> Blame:
    """Sort one grading into a verdict of :data:`VERDICTS`."""
    intended, failed = set(mutant.items), set(graded.failed)
    if graded.error:
        verdict = "error"
    elif failed == intended:
        verdict = "exact"
    elif not failed & intended:
        verdict = "false pass"
    elif intended - failed:
        verdict = "partly missed"
    else:
        verdict = "mis-blamed"
    wrong = (failed ^ intended) or failed
    details = {item: graded.failed.get(item, "done") for item in sorted(wrong)}
    if graded.error:
        details = {"grader": graded.error}
    return Blame(mutant.lab, mutant.name, sorted(intended), sorted(failed), verdict,
                 details, graded.seconds)


def load(module: str) -> tuple[Mutant, ...]:
    """The ``MUTANTS`` of a module path such as ``tests.mutants`` or ``tests.rounds.round1``;
    a package without its own ``MUTANTS`` gives those of its ``labNN`` modules."""
    package = importlib.import_module(module)
    if hasattr(package, "MUTANTS"):
        return tuple(package.MUTANTS)
    found: list[Mutant] = []
    for lab in LABS:
        try:
            found += importlib.import_module(f"{module}.{lab.id}").MUTANTS
        except ModuleNotFoundError:
            continue
    return tuple(found)


def table(blames: list[Blame], labs: list[str]) -> list[str]:
    """The per-lab figures, as lines."""
    lines = [f"{'lab':<6} {'mutants':>8} " + " ".join(f"{v:>13}" for v in VERDICTS)]
    for lab in labs:
        mine = [b for b in blames if b.lab == lab]
        if mine:
            lines.append(f"{lab:<6} {len(mine):>8} " + " ".join(
                f"{sum(b.verdict == v for b in mine):>13}" for v in VERDICTS))
    return lines


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--set", default="tests.mutants", metavar="MODULE",
                     help="where the mutants are (default: tests.mutants)")
    cli.add_argument("--lab", action="append", choices=list(LABS_BY_ID), metavar="LAB")
    cli.add_argument("--only", action="append", default=[], metavar="TEXT",
                     help="grade only the mutants whose name holds TEXT (repeatable)")
    cli.add_argument("--workers", type=int, default=2)
    cli.add_argument("--scenario-timeout", type=float, default=None)
    cli.add_argument("--json", type=Path, help="write every mutant's verdict here")
    cli.add_argument("--kit", type=Path, default=ROOT,
                     help="the checkout whose grader judges (default: this one), e.g. a "
                          "worktree of an earlier commit, to measure a round before a fix")
    args = cli.parse_args(argv)
    labs = args.lab or [lab.id for lab in LABS]
    mutants = [m for m in load(args.set) if m.lab in labs
               and (not args.only or any(text in m.name for text in args.only))]
    started = time.perf_counter()
    blames: list[Blame] = []
    with tempfile.TemporaryDirectory(prefix="blame-kit-") as copy, \
            ThreadPoolExecutor(max_workers=args.workers) as pool:
        kit = snapshot(Path(copy), args.kit.resolve())
        futures = {pool.submit(grade_source, m.lab, m.source(), kit=kit,
                               scenario_timeout=args.scenario_timeout): m for m in mutants}
        for done, future in enumerate(as_completed(futures), 1):
            blames.append(judge(futures[future], future.result()))
            print(f"\r{done}/{len(mutants)} graded", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    order = {(m.lab, m.name): index for index, m in enumerate(mutants)}
    blames.sort(key=lambda b: order[b.lab, b.name])
    if args.json:
        args.json.write_text(json.dumps([asdict(b) for b in blames], indent=2,
                                        ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.set}:")
    print("\n".join(table(blames, labs)))
    for blame in blames:
        if blame.verdict != "exact":
            print(f"\n{blame.verdict}: {blame.lab} {blame.name}\n"
                  f"    must fail: {', '.join(blame.intended)}\n"
                  f"    failed:    {', '.join(blame.failed) or 'nothing'}")
            for item, detail in blame.details.items():
                print(f"    {item}: {detail[:400]}")
    seconds = time.perf_counter() - started
    print(f"\n{len(blames)} mutants graded in {seconds:.0f} s")
    if any(b.verdict == "error" for b in blames):
        return 2
    return 0 if all(b.verdict == "exact" for b in blames) else 1


if __name__ == "__main__":
    sys.exit(main())
