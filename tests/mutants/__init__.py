"""Typical mistakes: small mutants of the reference solutions, one mistake each.

See :mod:`tests.mutants.base` for what a mutant is. Each lab's mutants live in
``tests/mutants/labNN.py`` as a tuple ``MUTANTS``; the held-out rounds that have been
measured (:mod:`tests.rounds`) join them. :data:`MUTANTS` here collects them all, in course
order, and ``tests/test_mutants.py`` grades every one.
"""

from __future__ import annotations

from types import ModuleType

from tests.mutants import lab01, lab02, lab03, lab04, lab05, lab06, lab07
from tests.mutants.base import Mutant, StaleMutant, materialise, mutants_of
from tests.rounds import (
    round1, round2, round3, round4, round5, round6, round7, round8, round9, round10, round11,
    round12,
)

#: The held-out rounds measured so far, whose mutants have joined the hand-written ones.
FOLDED_ROUNDS: tuple[ModuleType, ...] = (
    round1, round2, round3, round4, round5, round6, round7, round8, round9, round10, round11,
    round12,
)


def _with_rounds(lab: ModuleType) -> tuple[Mutant, ...]:
    """``lab``'s hand-written mutants, then each folded round's for the same lab, in order."""
    name = lab.__name__.rpartition(".")[2]
    return (*lab.MUTANTS, *(mutant for held_out in FOLDED_ROUNDS
                            for mutant in getattr(held_out, name).MUTANTS))


#: Every mutant of every lab, in course order.
MUTANTS: tuple[Mutant, ...] = (
    *_with_rounds(lab01), *_with_rounds(lab02), *_with_rounds(lab03),
    *lab04.MUTANTS, *lab05.MUTANTS, *lab06.MUTANTS, *lab07.MUTANTS,
)

__all__ = ["MUTANTS", "Mutant", "StaleMutant", "materialise", "mutants_of"]
