"""The grader on the kit's own folders: the solutions pass everything, the stubs nothing."""

from __future__ import annotations

import importlib
import importlib.util
import sys

import pytest

from grader.checklist import LABS, LABS_BY_ID
from grader.observe import ScenarioAbort
from grader.run import is_built
from grader.scenarios import scenarios_of
from tests.conftest import REPO, grade_json, items_of

BUILT = [lab for lab in LABS if is_built(lab)]


@pytest.fixture(scope="module")
def on_solutions():
    return grade_json("solutions")


@pytest.fixture(scope="module")
def on_stubs():
    return grade_json("labs")


@pytest.mark.parametrize("lab", BUILT, ids=lambda lab: lab.id)
def test_solutions_do_every_item(on_solutions, lab):
    items = items_of(on_solutions, lab.id)
    assert list(items) == list(lab.item_ids)
    not_done = {i: item["detail"] for i, item in items.items() if not item["done"]}
    assert not not_done


@pytest.mark.parametrize("lab", BUILT, ids=lambda lab: lab.id)
def test_stubs_do_no_item_because_not_implemented(on_stubs, lab):
    items = items_of(on_stubs, lab.id)
    assert list(items) == list(lab.item_ids)
    for item in items.values():
        assert not item["done"]
        assert item["detail"].startswith("not implemented"), item
        assert item["hint"].startswith("Symptom:")


def test_every_lab_is_reported_and_unbuilt_ones_say_so(on_stubs):
    assert [entry["lab"] for entry in on_stubs["labs"]] == [lab.id for lab in LABS]
    for entry in on_stubs["labs"]:
        lab = next(lab for lab in LABS if lab.id == entry["lab"])
        assert entry["status"] == ("graded" if is_built(lab) else "not built")
        assert entry["max_score"] == len(lab.items)
        assert entry["passed"] is False


def test_json_shape(on_solutions):
    assert set(on_solutions) >= {"impl", "labs"}
    lab01 = on_solutions["labs"][0]
    assert set(lab01) >= {"lab", "title", "passed", "score", "max_score", "items"}
    assert lab01["passed"] is True and lab01["score"] == lab01["max_score"] == 8
    assert set(lab01["items"][0]) >= {"id", "title", "done", "hint", "detail"}


def test_sandbox_isolation_reported(on_solutions):
    assert set(on_solutions["sandbox"]) == {"filesystem", "network", "processes"}


@pytest.mark.parametrize("lab", BUILT, ids=lambda lab: lab.id)
def test_on_the_stubs_every_scenario_stops_on_what_is_not_written(lab, monkeypatch, tmp_path):
    """A scenario meeting an unwritten function aborts naming it ("not implemented: X"),
    the reason a student's report shows; it never crashes on the stub's
    ``NotImplementedError``. Run in this process, with the reference solutions standing in
    for the earlier labs, as the child does."""
    monkeypatch.chdir(tmp_path)  # scenarios make their folders where they run
    for earlier in lab.uses:
        module = LABS_BY_ID[earlier].module
        monkeypatch.setitem(sys.modules, f"labs.{module}",
                            importlib.import_module(f"solutions.{module}"))
    spec = importlib.util.spec_from_file_location(
        f"stub_{lab.module}", REPO / "labs" / f"{lab.module}.py")
    stub = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, stub)
    spec.loader.exec_module(stub)
    crashed = {}
    for name, scenario in scenarios_of(lab.id).items():
        try:
            scenario(stub)
        except ScenarioAbort as abort:
            if not str(abort).startswith("not implemented: "):
                crashed[name] = str(abort)
        except BaseException as error:  # noqa: BLE001 - every escape is the defect shown
            crashed[name] = repr(error)
    assert not crashed, crashed
