"""The grader blames typical mistakes exactly: every mutant in ``tests/mutants/`` is graded as
a submission and must leave exactly its own checklist items not done, no fewer (a mistake
that got through) and no more (a check that blames what the mistake did not break)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from grader.checklist import LABS_BY_ID
from tests.conftest import grade_json, items_of
from tests.mutants import MUTANTS, Mutant, StaleMutant, materialise

#: Each grading is a grader process plus its sandboxed child; these machines have 2 cores.
WORKERS = 2


@pytest.fixture(scope="module")
def graded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[Mutant, dict[str, dict[str, Any]]]:
    """``{mutant: {item id: item}}``: every mutant this session's tests ask for, graded once
    each in its own folder, two at a time."""

    def grade(mutant: Mutant) -> dict[str, dict[str, Any]]:
        folder = tmp_path_factory.mktemp(f"{mutant.lab}-{mutant.name}")
        materialise(mutant, folder)
        return items_of(grade_json(folder, mutant.lab), mutant.lab)

    wanted = list(dict.fromkeys(
        item.callspec.params["mutant"]
        for item in request.session.items
        if getattr(item, "module", None) is sys.modules[__name__]
        and "graded" in getattr(item, "fixturenames", ())
        and "mutant" in getattr(getattr(item, "callspec", None), "params", {})
    ))
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return dict(zip(wanted, pool.map(grade, wanted)))


def _ids(mutant: Mutant) -> str:
    return f"{mutant.lab}-{mutant.name}"


#: The labs whose mutants must fail exactly their items; the others' must fail at least them.
EXACT_BLAME = frozenset({"lab01", "lab02", "lab03"})


@pytest.mark.parametrize("mutant", MUTANTS, ids=_ids)
def test_mutant_is_caught_on_its_items(graded, mutant):
    items = graded[mutant]
    missed = {item_id for item_id, item in items.items() if not item["done"]}
    print(f"{mutant.name}: not done {', '.join(sorted(missed)) or 'none'}")
    survived = sorted(mutant.items - missed)
    assert not survived, f"{mutant.name} survived on {', '.join(survived)} ({mutant.why})"
    if mutant.lab in EXACT_BLAME:
        blamed = sorted(missed - mutant.items)
        assert not blamed, f"{mutant.name} is also blamed on " + "; ".join(
            f"{item_id}: {items[item_id]['detail']}" for item_id in blamed)
    for item_id in mutant.items:
        assert isinstance(items[item_id]["detail"], str) and items[item_id]["detail"].strip()
        assert items[item_id]["hint"]
    # A small mistake, not a broken module: the rest of the lab still grades.
    assert len(missed) < len(items), f"{mutant.name} fails every item"


@pytest.mark.parametrize("mutant", MUTANTS, ids=_ids)
def test_mutant_is_a_real_change_that_compiles(mutant):
    source = mutant.source()
    assert source != mutant.solution.read_text(encoding="utf-8")
    compile(source, f"{mutant.module}.py", "exec")


def test_an_edit_that_no_longer_applies_is_an_error(tmp_path):
    stale = Mutant("lab01", "stale", frozenset({"lab01.retries-transient"}), "gone",
                   (("no such text", ""),))
    with pytest.raises(StaleMutant, match="found it 0 times"):
        materialise(stale, tmp_path)
    ambiguous = Mutant("lab01", "ambiguous", frozenset({"lab01.retries-transient"}), "twice",
                       (("policy", ""),))
    with pytest.raises(StaleMutant, match="exactly once"):
        ambiguous.source()


def test_mutant_names_are_unique_and_kebab_case():
    names = [(m.lab, m.name) for m in MUTANTS]
    assert len(names) == len(set(names))
    for mutant in MUTANTS:
        assert mutant.name == mutant.name.lower() and " " not in mutant.name
        assert "_" not in mutant.name and mutant.why


@pytest.mark.parametrize("lab", sorted({m.lab for m in MUTANTS}))
def test_every_item_has_a_mutant(lab):
    covered = {item for m in MUTANTS if m.lab == lab for item in m.items}
    assert set(LABS_BY_ID[lab].item_ids) - covered == set()
    assert covered <= set(LABS_BY_ID[lab].item_ids), "a mutant names an unknown item"


#: Mutants whose mistake shows only when threads race: each must be caught every time.
RACERS = [m for m in MUTANTS if "lab02.concurrent-once" in m.items]


@pytest.mark.parametrize("mutant", RACERS, ids=_ids)
def test_a_race_is_caught_the_same_way_every_time(graded, mutant, tmp_path):
    materialise(mutant, tmp_path)
    again = [items_of(grade_json(tmp_path, mutant.lab), mutant.lab) for _ in range(2)]
    assert again == [graded[mutant]] * 2
