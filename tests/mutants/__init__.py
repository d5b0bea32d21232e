"""Typical mistakes: small mutants of the reference solutions, one mistake each.

See :mod:`tests.mutants.base` for what a mutant is. Each lab's mutants live in
``tests/mutants/labNN.py`` as a tuple ``MUTANTS``; the held-out rounds that have been
measured (:mod:`tests.rounds`) join them. :data:`MUTANTS` here collects them all, in course
order, and ``tests/test_mutants.py`` grades every one.
"""

from __future__ import annotations

from tests.mutants import lab01, lab02, lab03, lab04, lab05, lab06, lab07
from tests.mutants.base import Mutant, StaleMutant, materialise, mutants_of
from tests.rounds import (
    round1, round2, round3, round4, round5, round6, round7, round8, round9, round10,
)

#: Every mutant of every lab, in course order.
MUTANTS: tuple[Mutant, ...] = (
    *lab01.MUTANTS, *round1.lab01.MUTANTS, *round2.lab01.MUTANTS, *round3.lab01.MUTANTS,
    *round4.lab01.MUTANTS, *round5.lab01.MUTANTS, *round6.lab01.MUTANTS,
    *round7.lab01.MUTANTS, *round8.lab01.MUTANTS, *round9.lab01.MUTANTS, *round10.lab01.MUTANTS,
    *lab02.MUTANTS, *round1.lab02.MUTANTS, *round2.lab02.MUTANTS, *round3.lab02.MUTANTS,
    *round4.lab02.MUTANTS, *round5.lab02.MUTANTS, *round6.lab02.MUTANTS,
    *round7.lab02.MUTANTS, *round8.lab02.MUTANTS, *round9.lab02.MUTANTS, *round10.lab02.MUTANTS,
    *lab03.MUTANTS, *round1.lab03.MUTANTS, *round2.lab03.MUTANTS, *round3.lab03.MUTANTS,
    *round4.lab03.MUTANTS, *round5.lab03.MUTANTS, *round6.lab03.MUTANTS,
    *round7.lab03.MUTANTS, *round8.lab03.MUTANTS, *round9.lab03.MUTANTS, *round10.lab03.MUTANTS,
    *lab04.MUTANTS, *lab05.MUTANTS,
    *lab06.MUTANTS, *lab07.MUTANTS,
)

__all__ = ["MUTANTS", "Mutant", "StaleMutant", "materialise", "mutants_of"]
