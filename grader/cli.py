"""The grader's command line.

    python -m grader [--impl DIR] [--lab LAB ...] [--format FORMAT]
    python -m grader batch SUBMISSIONS --out RESULTS [--workers N] [--lab LAB ...]
    python -m grader release OUT_DIR
    python -m grader gradescope OUT.zip

Without a command it grades the lab modules in DIR (default: the kit's own ``labs/``) and
prints the checklist as text, or as json, markdown, gradescope (``results.json``) or
junit. Exit status: 0 when every graded lab passed, 1 when some item is not done, 2 when
the grader could not run (a bad argument, a folder that does not exist). The commands
grade a whole class (:mod:`grader.batch`), publish the student bundle
(:mod:`grader.release`) and export a Gradescope autograder (:mod:`grader.gradescope`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console

from grader.checklist import LABS_BY_ID
from grader.formats import to_gradescope, to_junit, to_markdown
from grader.report import Report, render_text
from grader.run import GraderError, grade
from grader.sandbox import ROOT

#: The text renderings of a report, by ``--format`` name (``text`` prints to a terminal).
RENDERERS: dict[str, Callable[[Report], str]] = {
    "json": Report.to_json,
    "markdown": to_markdown,
    "gradescope": to_gradescope,
    "junit": to_junit,
}
FORMATS = ("text", *RENDERERS)
#: The commands besides grading, each a module with a ``main(argv) -> int``.
COMMANDS = ("batch", "release", "gradescope")


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
        "--name",
        default=None,
        help="how the report names the submission (default: the folder as given)",
    )
    cli.add_argument(
        "--scenario-timeout",
        type=float,
        default=None,
        help="real seconds one scenario may take before it is stopped (default 10)",
    )
    return cli


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments and arguments[0] in COMMANDS:
        command = importlib.import_module(f"grader.{arguments[0]}")
        return int(command.main(arguments[1:]))
    args = parser().parse_args(arguments)
    impl = args.impl if args.impl is not None else ROOT / "labs"
    label = args.name or (str(args.impl) if args.impl is not None else "labs")
    try:
        report = grade(impl, args.lab, scenario_timeout=args.scenario_timeout, label=label)
    except GraderError as error:
        print(f"grader: {error}", file=sys.stderr)
        return 2
    if args.format == "text":
        render_text(report, Console(highlight=False))
    else:
        sys.stdout.write(RENDERERS[args.format](report))
    graded = [lab for lab in report.labs if lab.status == "graded"]
    return 0 if graded and all(lab.passed for lab in graded) else 1
