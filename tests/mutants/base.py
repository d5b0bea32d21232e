"""What a mutant is: the reference solution with one typical mistake made in it.

A :class:`Mutant` is the reference solution ``solutions/<module>.py`` with a few exact text
replacements, named after the mistake a student would make and tied to the exact set of
checklist items the grader must then mark not done: every item whose contract the mistake
breaks, and no other (failing one more is a mis-blame, a defect of the check). :func:`materialise` writes one into a folder as a
submission; an edit whose ``old`` text is not found exactly once is an error, so a mutant
cannot silently stop mutating when the solution changes.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from grader.checklist import LABS_BY_ID

SOLUTIONS = Path(__file__).resolve().parents[2] / "solutions"


class StaleMutant(LookupError):
    """A mutant's ``old`` text is missing from, or ambiguous in, the solution."""


@dataclass(frozen=True)
class Mutant:
    """The solution of ``lab`` with ``edits`` applied: the mistake ``name`` (kebab-case),
    which the grader must mark not done on exactly ``items``; ``why`` is the student's
    reasoning."""

    lab: str
    name: str
    items: frozenset[str]
    why: str
    edits: tuple[tuple[str, str], ...]

    def __post_init__(self) -> None:
        unknown = set(self.items) - set(LABS_BY_ID[self.lab].item_ids)
        if not self.items or unknown:
            raise ValueError(
                f"mutant {self.lab}/{self.name}: needs a non-empty set of {self.lab}'s items, "
                f"got unknown {sorted(unknown)}" if unknown else
                f"mutant {self.lab}/{self.name}: names no item"
            )

    @property
    def module(self) -> str:
        return LABS_BY_ID[self.lab].module

    @property
    def solution(self) -> Path:
        return SOLUTIONS / f"{self.module}.py"

    def source(self) -> str:
        """The mutated module's text; :class:`StaleMutant` if an edit no longer applies."""
        text = self.solution.read_text(encoding="utf-8")
        for old, new in self.edits:
            found = text.count(old)
            if found != 1:
                raise StaleMutant(
                    f"mutant {self.lab}/{self.name}: expected the text {old!r} exactly once "
                    f"in {self.solution.name} (edited so far), found it {found} times"
                )
            text = text.replace(old, new)
        return text


def materialise(mutant: Mutant, folder: Path) -> Path:
    """Write ``mutant`` into ``folder`` as ``<module>.py``, a submission; return the file.

    A lab graded together with the student's own earlier labs (the capstone) gets the
    reference solutions of those beside it, so that the mutant's mistake is the only one.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{mutant.module}.py"
    path.write_text(mutant.source(), encoding="utf-8")
    for earlier in LABS_BY_ID[mutant.lab].composes:
        module = f"{LABS_BY_ID[earlier].module}.py"
        shutil.copyfile(SOLUTIONS / module, folder / module)
    return path


def mutants_of(lab: str) -> Callable[..., Mutant]:
    """A maker of ``lab``'s mutants: ``make(name, items, why, *edits)``, where ``items`` is
    one item id or a collection of them: exactly the items the mistake must fail."""

    def make(name: str, items: str | Iterable[str], why: str, *edits: tuple[str, str]) -> Mutant:
        wanted = frozenset((items,) if isinstance(items, str) else items)
        return Mutant(lab, name, wanted, why, edits)

    return make
