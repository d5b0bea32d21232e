"""How fast the kit is, in one command: grading, batches, notebooks, and the per-lab figures.

    python3 dev.py speed                       everything (about ten minutes on 2 cores)
    .venv/bin/python benchmarks/speed.py --quick   grading and its profile only

Prints, in order:

1. the wall time of ``python -m grader`` on every lab for one submission (the reference
   solutions, then the stubs), median of ``--repeat`` runs;
2. where that time goes, lab by lab (:attr:`grader.sandbox.LabRun.seconds`): the child's
   start-up (the interpreter and the trusted imports, the floor of every lab), the
   submission's import, and the slowest scenarios;
3. batch throughput with 1 and 2 workers (``benchmarks/batch_throughput.py``);
4. nbval over every notebook, strictly against the solutions and laxly against the stubs;
5. the per-lab benchmarks: ``grade_lab01.py``, ``add_messages.py``, and the SQLite
   checkpoint store beside LangGraph's (``python3 dev.py bench``, in its own environment).

A command, not a test: it prints figures and asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.checklist import LABS  # noqa: E402
from grader.sandbox import LabRun, run_lab  # noqa: E402

STARTUP = "start-up"
IMPORT = "import"


def heading(text: str) -> None:
    print(f"\n== {text}", flush=True)


def timed_command(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, capture_output=True, env=env)
    return time.perf_counter() - started


def grading(repeat: int) -> None:
    heading(f"grading every lab for one submission (python -m grader), median of {repeat}")
    for impl in ("solutions", "labs"):
        samples = [timed_command([sys.executable, "-m", "grader", "--impl", impl])
                   for _ in range(repeat)]
        print(f"  {impl:<10} {statistics.median(samples):6.2f} s "
              f"(min {min(samples):.2f}, max {max(samples):.2f})")


def profile() -> None:
    heading("where the time goes: each lab of the solutions alone, one lab at a time")
    print(f"  {'lab':<6} {'wall s':>7} {'start-up':>9} {'import':>7} {'scenarios':>10}  "
          "slowest scenarios")
    for lab in LABS:
        started = time.perf_counter()
        run: LabRun = run_lab(lab, ROOT / "solutions")
        wall = time.perf_counter() - started
        phases = dict(run.seconds)
        startup, imported = phases.pop(STARTUP, 0.0), phases.pop(IMPORT, 0.0)
        phases.pop("scenarios", None)
        slowest = sorted(phases.items(), key=lambda pair: -pair[1])[:3]
        named = ", ".join(f"{name} {seconds:.2f}" for name, seconds in slowest)
        print(f"  {lab.id:<6} {wall:7.2f} {startup:9.2f} {imported:7.2f} "
              f"{sum(phases.values()):10.2f}  {named}")
    floor = timed_command([sys.executable, "-s", "-B", "-c",
                           "import freezegun, httpx, openai, openai.resources, respx; "
                           "import labs.kit.fake_llm"])
    print(f"  floor: a bare interpreter importing the trusted libraries takes {floor:.2f} s")


def notebooks() -> None:
    heading("nbval over every notebook (one pytest run per mode)")
    sanitize = ROOT / "notebooks" / "nbval_sanitize.cfg"
    notebooks_ = sorted(str(p) for p in (ROOT / "notebooks").glob("*.ipynb"))

    def run(mode: str, impl: str) -> float:
        env = dict(os.environ, LAB_IMPL=impl,
                   PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT),
                                                            os.environ.get("PYTHONPATH")])))
        return timed_command([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              mode, "--nbval-current-env", "--nbval-sanitize-with",
                              str(sanitize), *notebooks_], env)

    strict = run("--nbval", "solutions")  # one after the other: each uses both cores
    lax = run("--nbval-lax", "labs")
    print(f"  strict, against the solutions: {strict:6.1f} s for {len(notebooks_)} notebooks")
    print(f"  lax, against the stubs:        {lax:6.1f} s")


def script(*command: str) -> None:
    """Run another benchmark, its output passed through."""
    sys.stdout.flush()
    subprocess.run(list(command), cwd=ROOT, check=False)


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--repeat", type=int, default=3)
    cli.add_argument("--quick", action="store_true", help="grading and its profile only")
    args = cli.parse_args()
    print(f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")
    grading(args.repeat)
    profile()
    if args.quick:
        return
    heading("batch throughput")
    script(sys.executable, "benchmarks/batch_throughput.py")
    notebooks()
    heading("lab 01: grading one submission, and the simulated time it covers")
    script(sys.executable, "benchmarks/grade_lab01.py")
    heading("lab 05: add_messages at 1,000 and 10,000 messages")
    script(sys.executable, "benchmarks/add_messages.py")
    heading("lab 06: the SQLite checkpoint store beside LangGraph's")
    script(sys.executable, "dev.py", "bench")


if __name__ == "__main__":
    main()
