"""Grade a folder of lab modules: run the checks with pytest, and fold them into items.

:func:`grade` runs the checks of the chosen labs in this process (pytest, with the plugin
in ``grader/checks/conftest.py``), collects every check's outcome, and reports each
checklist item as done when all its checks passed. A lab the kit has no checks for yet is
reported as ``not built``, every item not done. The submission never runs in this process:
the checks only read the JSON its sandboxed child sent back.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.checklist import LABS, LABS_BY_ID, Lab
from grader.checks.conftest import sandbox_of
from grader.report import ItemResult, LabResult, Report

CHECKS = Path(__file__).resolve().parent / "checks"


class GraderError(RuntimeError):
    """The grader itself could not run (a broken check, not a broken submission)."""


@dataclass
class _Outcome:
    item: str
    passed: bool
    message: str


class _Collector:
    """A pytest plugin that records each check's outcome under its item id."""

    def __init__(self) -> None:
        self.outcomes: list[_Outcome] = []
        self.errors: list[str] = []
        self.sandbox: dict[str, str] = {}

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.errors.append(f"{report.nodeid}: {report.longreprtext.strip()[-500:]}")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        self.sandbox = sandbox_of(session.config)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]):
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        if report.when == "call" or (report.when == "setup" and not report.passed):
            item_id = item.get_closest_marker("item").args[0]  # validated at collection
            self.outcomes.append(_Outcome(item_id, report.passed, _message(report)))


def _message(report: pytest.TestReport) -> str:
    if report.passed:
        return ""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    for prefix in ("AssertionError: ", "Failed: "):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    return text.strip() or "the check failed without a message"


def select_labs(lab_ids: Sequence[str] | None) -> list[Lab]:
    """The labs to grade, in course order; unknown ids are a clear error."""
    if not lab_ids:
        return list(LABS)
    unknown = [lab_id for lab_id in lab_ids if lab_id not in LABS_BY_ID]
    if unknown:
        known = ", ".join(LABS_BY_ID)
        raise GraderError(f"unknown lab {', '.join(unknown)} (the labs are {known})")
    return [lab for lab in LABS if lab.id in lab_ids]


def is_built(lab: Lab) -> bool:
    """True when the kit has checks for ``lab``."""
    return (CHECKS / f"test_{lab.id}.py").exists()


def grade(
    impl: Path,
    lab_ids: Sequence[str] | None = None,
    *,
    scenario_timeout: float | None = None,
    label: str | None = None,
) -> Report:
    """Grade the lab modules in ``impl``; ``label`` is how the report names it."""
    if not impl.is_dir():
        raise GraderError(f"{impl} is not a folder of lab modules")
    labs = select_labs(lab_ids)
    built = [lab for lab in labs if is_built(lab)]
    collector = _Collector()
    if built:
        args = [str(CHECKS / f"test_{lab.id}.py") for lab in built]
        # The checks' own configuration, wherever the grader is started from (pytest would
        # otherwise take the repository's pyproject.toml when run from its root).
        args += ["-c", str(CHECKS / "pytest.ini"), "--rootdir", str(CHECKS)]
        args += ["-q", "--no-header", "-p", "no:cacheprovider", "--impl", str(impl.resolve())]
        if scenario_timeout is not None:
            args += ["--scenario-timeout", str(scenario_timeout)]
        os.environ.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
        with contextlib.redirect_stdout(io.StringIO()) as output:
            code = pytest.main(args, plugins=[collector])
        if collector.errors or code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
            detail = "\n".join(collector.errors) or output.getvalue()[-2000:]
            raise GraderError(f"the checks could not run (pytest exit {int(code)}):\n{detail}")
    results = [_lab_result(lab, collector.outcomes, is_built(lab)) for lab in labs]
    return Report(impl=label or str(impl), labs=results, sandbox=collector.sandbox)


def _lab_result(lab: Lab, outcomes: list[_Outcome], built: bool) -> LabResult:
    items = []
    for item in lab.items:
        if not built:
            items.append(ItemResult(item.id, item.title, False, item.hint, "lab not built yet"))
            continue
        mine = [o for o in outcomes if o.item == item.id]
        failed = [o for o in mine if not o.passed]
        done = bool(mine) and not failed
        detail = failed[0].message if failed else ("" if mine else "no check decides this item")
        items.append(ItemResult(item.id, item.title, done, None if done else item.hint, detail))
    return LabResult(
        lab.id, lab.title, f"{lab.module}.py", "graded" if built else "not built", items
    )
