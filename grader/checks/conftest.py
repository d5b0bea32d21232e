"""The checks' pytest plugin: ``--impl``, the ``observe`` fixture and the ``item`` marker.

Checks are ordinary pytest tests in the trusted parent process. Each carries exactly one
``@pytest.mark.item("labNN.some-item")`` and asks for scenario observations with
``observe("scenario_name")``; the scenarios run in a sandboxed child (see
:mod:`grader.sandbox`), once per lab, all labs in parallel, started as soon as the checks
are collected. An instructor can run them like any tests::

    pytest grader/checks --impl solutions -k lab01
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from grader.checklist import ITEMS_BY_ID, LABS_BY_ID
from grader.sandbox import ROOT, LabRun, SandboxConfig, run_lab

_RUNNER = pytest.StashKey["LabRunner"]()


class LabRunner:
    """Runs each lab's scenarios once, in the background, and hands out the results."""

    def __init__(self, impl: Path, config: SandboxConfig) -> None:
        self.impl = impl
        self.config = config
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="sandbox")
        self._runs: dict[str, Future[LabRun]] = {}

    def start(self, lab_id: str) -> None:
        if lab_id not in self._runs:
            self._runs[lab_id] = self._pool.submit(
                run_lab, LABS_BY_ID[lab_id], self.impl, self.config
            )

    def run(self, lab_id: str) -> LabRun:
        self.start(lab_id)
        return self._runs[lab_id].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def isolation(self) -> dict[str, str]:
        """How well the children were fenced in, over every lab run so far: ``isolated``,
        or the first reason one was not."""
        merged: dict[str, str] = {}
        for future in self._runs.values():
            if not future.done() or future.exception() is not None:
                continue
            for aspect, reason in future.result().isolation.items():
                if merged.get(aspect, "isolated") == "isolated":
                    merged[aspect] = reason or "isolated"
        return dict(sorted(merged.items()))


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grader")
    group.addoption(
        "--impl",
        default=str(ROOT / "labs"),
        help="folder holding the lab modules to grade (default: the kit's labs/)",
    )
    group.addoption(
        "--scenario-timeout",
        type=float,
        default=SandboxConfig.scenario_timeout,
        help="real seconds one scenario may take before it is stopped",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "item(id): the checklist item this check decides")
    impl = Path(config.getoption("--impl")).resolve()
    sandbox = SandboxConfig(scenario_timeout=config.getoption("--scenario-timeout"))
    config.stash[_RUNNER] = LabRunner(impl, sandbox)


def pytest_unconfigure(config: pytest.Config) -> None:
    runner = config.stash.get(_RUNNER, None)
    if runner is not None:
        runner.close()


def sandbox_of(config: pytest.Config) -> dict[str, str]:
    """The isolation notes of the session's lab runs (see :meth:`LabRunner.isolation`)."""
    runner = config.stash.get(_RUNNER, None)
    return runner.isolation() if runner is not None else {}


def item_of(node: pytest.Item) -> str:
    """The checklist item id a check decides; a check without exactly one valid
    ``item`` marker is a usage error."""
    marks = list(node.iter_markers("item"))
    if len(marks) != 1 or len(marks[0].args) != 1:
        raise pytest.UsageError(f"{node.nodeid}: a check needs exactly one @pytest.mark.item(id)")
    item_id = marks[0].args[0]
    if item_id not in ITEMS_BY_ID:
        raise pytest.UsageError(f"{node.nodeid}: {item_id!r} is not a checklist item")
    if not Path(str(node.fspath)).stem.endswith(item_id.split(".")[0]):
        raise pytest.UsageError(f"{node.nodeid}: {item_id!r} belongs in its own lab's checks")
    return item_id


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    runner = config.stash[_RUNNER]
    for node in items:
        runner.start(item_of(node).split(".")[0])


@pytest.fixture
def observe(request: pytest.FixtureRequest) -> Callable[[str], Any]:
    """``observe(name)``: the observation of scenario ``name`` of this check's lab.

    When the scenario has none (not implemented, import failure, timeout, crash), the check
    fails at once with that reason, which becomes the item's detail.
    """
    lab_id = item_of(request.node).split(".")[0]
    run = request.config.stash[_RUNNER].run(lab_id)

    def get(name: str) -> Any:
        result = run.result(name)
        if result.status != "ok":
            pytest.fail(result.reason or f"scenario {name} has no observation", pytrace=False)
        return result.observation

    return get
