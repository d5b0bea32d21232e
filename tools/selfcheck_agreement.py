#!/usr/bin/env python3
"""Do the notebooks' public self-checks agree with the grader on the same mistakes?

    .venv/bin/python tools/selfcheck_agreement.py --lab lab01 --lab lab02 --lab lab03
    .venv/bin/python tools/selfcheck_agreement.py --grades blame.json   reuse a blame run

Every hand-written mutant (``tests/mutants``, the measured rounds included) is run through
its lab's public self-checks (``labs.kit.selfcheck.labNN``, one check per item, the module
handed in directly, the reference solutions standing in for earlier labs) and graded (or
its grading read from ``tools/blame.py --json``). Prints per lab: of the items the grader
fails on a mutant's own items, how many the self-check of the same item fails too; and
how often a self-check fails an item the mutant does not break (a self-check that blames
the wrong item). Lists every disagreement. Exits 0: it measures.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.checklist import LABS_BY_ID  # noqa: E402
from tests.mutants import MUTANTS  # noqa: E402
from tools import blame  # noqa: E402


def self_checks(lab_id: str, names: list[str]) -> dict[str, dict[str, bool]]:
    """``{mutant name: {item id: passed}}`` for the named mutants of ``lab_id``, run in a
    child process (a runaway mutant cannot stall this one)."""
    done = subprocess.run([sys.executable, __file__, "--child", lab_id, *names], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        raise RuntimeError(f"self-checks of {lab_id} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def _child(lab_id: str, names: list[str]) -> None:
    import importlib
    import types

    from labs.kit import notebook

    notebook._resolve_labs_from("solutions")  # noqa: SLF001 - earlier labs: the references
    lab = LABS_BY_ID[lab_id]
    checks = importlib.import_module(f"labs.kit.selfcheck.{lab_id}")
    results: dict[str, dict[str, bool]] = {}
    wanted = set(names)
    for mutant in MUTANTS:
        if mutant.lab != lab_id or mutant.name not in wanted:
            continue
        module = types.ModuleType(f"labs.{lab.module}")
        module.__file__ = f"<{mutant.name}>"
        sys.modules[module.__name__] = module
        exec(compile(mutant.source(), module.__file__, "exec"), module.__dict__)  # noqa: S102
        verdicts = {}
        for item in lab.item_ids:
            check = getattr(checks, item.split(".", 1)[1].replace("-", "_"))
            with contextlib.redirect_stdout(io.StringIO()):
                try:
                    verdicts[item] = bool(check(module))
                except BaseException:  # noqa: BLE001 - a check that crashes did not pass
                    verdicts[item] = False
        results[mutant.name] = verdicts
    print(json.dumps(results))


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--lab", action="append", choices=list(LABS_BY_ID), metavar="LAB")
    cli.add_argument("--grades", type=Path, help="a tools/blame.py --json file to reuse")
    cli.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = cli.parse_args(argv)
    if args.child:
        _child(args.child[0], args.child[1:])
        return 0
    labs = args.lab or ["lab01", "lab02", "lab03"]
    mutants = [m for m in MUTANTS if m.lab in labs]
    if args.grades:
        grades = json.loads(args.grades.read_text(encoding="utf-8"))
    else:
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "blame.json"
            blame.main([*[f"--lab={lab}" for lab in labs], "--json", str(out)])
            grades = json.loads(out.read_text(encoding="utf-8"))
    failed_by_grader = {(g["lab"], g["name"]): set(g["failed"]) for g in grades}
    print(f"{'lab':<6} {'caught':>7} {'self-check too':>15} {'self-check mis-blames':>22}")
    disagreements: list[str] = []
    for lab in labs:
        mine = [m for m in mutants if m.lab == lab and (m.lab, m.name) in failed_by_grader]
        checks = self_checks(lab, [m.name for m in mine])
        caught = agreed = wrong = 0
        for mutant in mine:
            grader = failed_by_grader[mutant.lab, mutant.name]
            for item in sorted(mutant.items & grader):
                caught += 1
                if checks[mutant.name][item]:
                    disagreements.append(f"{lab} {mutant.name}: the grader fails {item}, its "
                                         "self-check passes")
                else:
                    agreed += 1
            for item, passed in sorted(checks[mutant.name].items()):
                if not passed and item not in mutant.items:
                    wrong += 1
                    disagreements.append(f"{lab} {mutant.name}: the self-check fails {item}, "
                                         "which the mistake does not break")
        share = f"{agreed} ({agreed / caught:.0%})" if caught else "0"
        print(f"{lab:<6} {caught:>7} {share:>15} {wrong:>22}")
    for line in disagreements:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
