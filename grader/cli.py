"""The grader's command line.

    python -m grader [--impl DIR] [--lab LAB ...] [--format text|json]

Grades the lab modules in DIR (default: the kit's own ``labs/``) and prints the checklist.
Exit status: 0 when every graded lab passed, 1 when some item is not done, 2 when the
grader could not run (a bad argument, a folder that does not exist).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from grader.checklist import LABS_BY_ID
from grader.report import render_text
from grader.run import GraderError, grade
from grader.sandbox import ROOT

FORMATS = ("text", "json")


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(
        prog="python -m grader",
        description="Grade lab modules and print the done / not-done checklist.",
    )
    cli.add_argument(
        "--impl",
        type=Path,
        default=None,
        help="folder holding the lab modules (default: the kit's labs/)",
    )
    cli.add_argument(
        "--lab",
        action="append",
        choices=list(LABS_BY_ID),
        metavar="LAB",
        help="grade only this lab (repeatable): " + ", ".join(LABS_BY_ID),
    )
    cli.add_argument("--format", choices=FORMATS, default="text", help="output format")
    cli.add_argument(
        "--scenario-timeout",
        type=float,
        default=None,
        help="real seconds one scenario may take before it is stopped (default 10)",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    impl = args.impl if args.impl is not None else ROOT / "labs"
    label = str(args.impl) if args.impl is not None else "labs"
    try:
        report = grade(impl, args.lab, scenario_timeout=args.scenario_timeout, label=label)
    except GraderError as error:
        print(f"grader: {error}", file=sys.stderr)
        return 2
    if args.format == "json":
        sys.stdout.write(report.to_json())
    else:
        render_text(report, Console(highlight=False))
    graded = [lab for lab in report.labs if lab.status == "graded"]
    return 0 if graded and all(lab.passed for lab in graded) else 1
