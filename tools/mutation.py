#!/usr/bin/env python3
"""Mutation testing of the grader: mutate the reference solutions, grade every mutant.

    .venv/bin/python tools/mutation.py                      every lab, every mutant
    .venv/bin/python tools/mutation.py --lab lab01 --workers 2
    .venv/bin/python tools/mutation.py --list --lab lab03   the mutants, not graded

Each mutant is a reference solution ``solutions/<module>.py`` with one small change made
on its syntax tree (the operators are in :data:`OPERATORS`: a comparison, an arithmetic or
boolean operator flipped, a constant moved by one, a ``not`` dropped, a return value
dropped, a call statement, a keyword argument or a ``raise`` removed, ``break`` and
``continue`` swapped) in the student's part of the module: what the stub gives as it is
(constants, given classes and methods) is not mutated, nor are docstrings, annotations and
the text of messages.
Every mutant is graded as a submission (``python -m grader --lab LAB``, the reference
solutions of the labs it composes beside it), by a copy of the grader taken when the run
starts, so the kit can be edited meanwhile: it is *killed* when the grader marks at least
one item of its lab not done, and *survives* when every item is done.

A survivor is either a gap in the grader (add a check that catches it) or a change that
makes no difference a student's work could show (an equivalent mutant). The second kind is
written down, with why, in ``tools/mutation_equivalents/<lab>.toml`` under the mutant's
id; the id names the function, the operator and the line's text, so it outlives edits
elsewhere in the file. The command prints, per lab, the mutants made, killed, survived and
recorded as equivalent, the mutation score (killed out of the mutants not equivalent), and
every survivor with its explanation or ``UNEXPLAINED``; it exits 1 when a lab scores below
:data:`TARGET` or a survivor is unexplained, and 2 when the grader fails on a mutant (a
grader bug). ``--json FILE`` writes every mutant's outcome, with why each killed one was
marked not done.
"""

from __future__ import annotations

import argparse
import ast
import copy
import json
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.checklist import LABS, LABS_BY_ID, Lab  # noqa: E402
from tools.submission import grade_source, snapshot  # noqa: E402

SOLUTIONS = ROOT / "solutions"
STUBS = ROOT / "labs"
EQUIVALENTS = ROOT / "tools" / "mutation_equivalents"
#: The mutation score (:func:`score`) every lab must reach.
TARGET = 0.90

#: A mutation of one node: the name of the change, and the node it becomes.
Mutation = tuple[str, ast.AST]

_FLIPPED_COMPARISONS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_FLIPPED_ARITHMETIC: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
    ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv,
}


def _comparison(node: ast.AST) -> Iterator[Mutation]:
    if isinstance(node, ast.Compare):
        for index, op in enumerate(node.ops):
            if type(op) in _FLIPPED_COMPARISONS:
                new = copy.deepcopy(node)
                new.ops[index] = _FLIPPED_COMPARISONS[type(op)]()
                yield "comparison", new


def _arithmetic(node: ast.AST) -> Iterator[Mutation]:
    if isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in _FLIPPED_ARITHMETIC:
        if isinstance(node, ast.BinOp) and _is_text(node.left):
            return  # "..." % args, "a" + "b": a message, not a computation
        new = copy.deepcopy(node)
        new.op = _FLIPPED_ARITHMETIC[type(node.op)]()
        yield "arithmetic", new


def _boolean(node: ast.AST) -> Iterator[Mutation]:
    if isinstance(node, ast.BoolOp):
        new = copy.deepcopy(node)
        new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        yield "boolean", new
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield "drop-not", copy.deepcopy(node.operand)


def _constant(node: ast.AST) -> Iterator[Mutation]:
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, bool):
            yield "constant", ast.Constant(not value)
        elif isinstance(value, int):
            yield "constant", ast.Constant(value + 1)
        elif isinstance(value, float):
            yield "constant", ast.Constant(value * 2 if value else 1.0)


def _statement(node: ast.AST) -> Iterator[Mutation]:
    if isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        yield "return-none", ast.Return(value=None)
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield "drop-call", ast.Pass()
    if isinstance(node, ast.Raise):
        yield "drop-raise", ast.Pass()
    if isinstance(node, ast.Break):
        yield "break-continue", ast.Continue()
    if isinstance(node, ast.Continue):
        yield "break-continue", ast.Break()


def _keyword(node: ast.AST) -> Iterator[Mutation]:
    if isinstance(node, ast.Call):
        for index, keyword in enumerate(node.keywords):
            if keyword.arg is not None:
                new = copy.deepcopy(node)
                del new.keywords[index]
                yield f"drop-keyword-{keyword.arg}", new


#: Every operator, in the order its mutants are numbered.
OPERATORS: tuple[Callable[[ast.AST], Iterator[Mutation]], ...] = (
    _comparison, _arithmetic, _boolean, _constant, _statement, _keyword,
)


def _is_text(node: ast.AST) -> bool:
    return isinstance(node, ast.JoinedStr) or (
        isinstance(node, ast.Constant) and isinstance(node.value, str))


@dataclass(frozen=True)
class Mutant:
    """One change to one lab's solution: where, what, and the module it gives."""

    lab: str
    id: str
    line: int
    before: str
    after: str
    source: str


def _given(tree: ast.Module, stub: ast.Module) -> list[ast.AST]:
    """The definitions the stub gives as they are (constants, given classes and methods):
    not the student's work, so not the grader's to judge."""
    def defined(body: list[ast.stmt]) -> dict[str, ast.stmt]:
        names: dict[str, ast.stmt] = {}
        for statement in body:
            if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names[statement.name] = statement
            elif isinstance(statement, (ast.Assign, ast.AnnAssign)):
                targets = statement.targets if isinstance(statement, ast.Assign) \
                    else [statement.target]
                names.update((t.id, statement) for t in targets if isinstance(t, ast.Name))
        return names

    given: list[ast.AST] = []
    theirs = defined(stub.body)
    for name, mine in defined(tree.body).items():
        other = theirs.get(name)
        if other is None:
            continue
        if ast.dump(mine) == ast.dump(other):
            given.append(mine)
        elif isinstance(mine, ast.ClassDef) and isinstance(other, ast.ClassDef):
            inner = defined(other.body)
            given.extend(statement for method, statement in defined(mine.body).items()
                         if method in inner and ast.dump(statement) == ast.dump(inner[method]))
            # a given class whose docstring differs: its decorators and bases are still given
            for part in ("decorator_list", "bases", "keywords"):
                mine_part, their_part = getattr(mine, part), getattr(other, part)
                if [ast.dump(n) for n in mine_part] == [ast.dump(n) for n in their_part]:
                    given.extend(mine_part)
    return given


def _skipped(tree: ast.Module, stub: ast.Module) -> set[int]:
    """The nodes never mutated: what the stub gives as it is, docstrings, annotations, and
    what message text holds."""
    skipped: set[int] = set()

    def skip(node: ast.AST | None) -> None:
        if node is not None:
            skipped.update(id(inner) for inner in ast.walk(node))

    for node in _given(tree, stub):
        skip(node)

    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and _is_text(body[0].value):
            skip(body[0])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            skip(node.returns)
            for argument in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                             node.args.vararg, node.args.kwarg):
                if argument is not None:
                    skip(argument.annotation)
        if isinstance(node, ast.AnnAssign):
            skip(node.annotation)
        if isinstance(node, ast.JoinedStr):
            skip(node)
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            skip(node)
    return skipped


def _places(tree: ast.Module) -> list[tuple[ast.AST, str]]:
    """Every node in source order, with the qualified name of the function around it."""
    found: list[tuple[ast.AST, str]] = []

    def visit(node: ast.AST, where: str) -> None:
        found.append((node, where))
        inner = where
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            inner = f"{where}.{node.name}" if where != "<module>" else node.name
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, "<module>")
    return found


def _parents(tree: ast.Module) -> dict[int, tuple[ast.AST, str, int | None]]:
    """``{id(node): (parent, field, index in the field or None)}`` for every node."""
    found: dict[int, tuple[ast.AST, str, int | None]] = {}
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if isinstance(value, list):
                found.update((id(child), (parent, field, index))
                             for index, child in enumerate(value) if isinstance(child, ast.AST))
            elif isinstance(value, ast.AST):
                found[id(value)] = (parent, field, None)
    return found


def _unparse_with(tree: ast.Module, place: tuple[ast.AST, str, int | None],
                  replacement: ast.AST) -> str:
    """The source of ``tree`` with the node at ``place`` replaced; ``tree`` is left as it was."""
    parent, field, index = place
    holder = getattr(parent, field)
    original = holder[index] if index is not None else holder
    if index is not None:
        holder[index] = replacement
    else:
        setattr(parent, field, replacement)
    try:
        return ast.unparse(tree)
    finally:
        if index is not None:
            holder[index] = original
        else:
            setattr(parent, field, original)


def mutants_of(lab: Lab) -> list[Mutant]:
    """Every mutant of ``lab``'s reference solution, in source order."""
    text = (SOLUTIONS / f"{lab.module}.py").read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    stub = ast.parse((STUBS / f"{lab.module}.py").read_text(encoding="utf-8"))
    skipped = _skipped(tree, stub)
    parents = _parents(tree)
    made: list[Mutant] = []
    counts: dict[str, int] = {}
    for node, where in _places(tree):
        if id(node) in skipped:
            continue
        for operator in OPERATORS:
            for name, replacement in operator(node):
                # quotes and backslashes out, so that the id is a plain TOML key
                line = lines[node.lineno - 1].strip().replace('"', "'").replace("\\", "/")
                key = f"{where}:{name}:{line}"
                counts[key] = counts.get(key, 0) + 1
                source = _unparse_with(tree, parents[id(node)], replacement)
                after = ast.unparse(replacement) if not isinstance(replacement, ast.Pass) \
                    else "pass"
                made.append(Mutant(
                    lab.id, f"{key}#{counts[key]}", node.lineno,
                    ast.unparse(node).splitlines()[0][:100], after.splitlines()[0][:100],
                    source))
    return made


@dataclass
class Outcome:
    """How the grader judged one mutant."""

    lab: str
    id: str
    line: int
    before: str
    after: str
    verdict: str  # "killed", "survived", "error"
    missed: list[str]
    seconds: float
    details: list[str] = field(default_factory=list)  # why each missed item is not done


def grade(mutant: Mutant, scenario_timeout: float | None, kit: Path = ROOT) -> Outcome:
    """Grade ``mutant`` as a submission, with the grader in ``kit``."""
    graded = grade_source(mutant.lab, mutant.source, kit=kit, scenario_timeout=scenario_timeout)
    fields = dict(lab=mutant.lab, id=mutant.id, line=mutant.line, before=mutant.before,
                  after=mutant.after, seconds=graded.seconds)
    if graded.error:
        return Outcome(verdict="error", missed=[graded.error], **fields)
    return Outcome(verdict="killed" if graded.failed else "survived",
                   missed=list(graded.failed),
                   details=[detail[:300] for detail in graded.failed.values()], **fields)


def equivalents() -> dict[tuple[str, str], str]:
    """``{(lab, mutant id): why it is equivalent}``, from :data:`EQUIVALENTS`/``<lab>.toml``
    (one ``"<mutant id>" = "<why>"`` line per survivor)."""
    known: dict[tuple[str, str], str] = {}
    for path in sorted(EQUIVALENTS.glob("lab*.toml")):
        with open(path, "rb") as handle:
            known.update(((path.stem, key), why) for key, why in tomllib.load(handle).items())
    return known


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("--lab", action="append", choices=list(LABS_BY_ID), metavar="LAB")
    cli.add_argument("--workers", type=int, default=2)
    cli.add_argument("--scenario-timeout", type=float, default=None)
    cli.add_argument("--list", action="store_true", help="list the mutants, grade nothing")
    cli.add_argument("--only", action="append", default=[], metavar="TEXT",
                     help="grade only the mutants whose id holds TEXT (repeatable)")
    cli.add_argument("--json", type=Path, help="write every mutant's outcome here")
    args = cli.parse_args(argv)
    labs = [LABS_BY_ID[lab] for lab in args.lab] if args.lab else list(LABS)
    mutants = [mutant for lab in labs for mutant in mutants_of(lab)
               if not args.only or any(text in mutant.id for text in args.only)]
    if args.list:
        for mutant in mutants:
            print(f"{mutant.lab} {mutant.id}\n    line {mutant.line}: {mutant.before}"
                  f"\n    becomes: {mutant.after}")
        print(f"{len(mutants)} mutants")
        return 0
    known = equivalents()
    outcomes: list[Outcome] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mutation-kit-") as copy, \
            ThreadPoolExecutor(max_workers=args.workers) as pool:
        kit = snapshot(Path(copy))
        futures = [pool.submit(grade, mutant, args.scenario_timeout, kit) for mutant in mutants]
        for done, future in enumerate(as_completed(futures), 1):
            outcomes.append(future.result())
            print(f"\r{done}/{len(mutants)} graded", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    order = {(m.lab, m.id): index for index, m in enumerate(mutants)}
    outcomes.sort(key=lambda o: order[o.lab, o.id])
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=2,
                                        ensure_ascii=False) + "\n", encoding="utf-8")
    return report(labs, outcomes, known, time.perf_counter() - started)


def score(killed: int, made: int, equivalent: int) -> float:
    """The mutation score: the share of the mutants a grader *could* kill that it killed.
    An equivalent mutant behaves as the solution does, so no grader can tell it apart."""
    return killed / (made - equivalent) if made > equivalent else 1.0


def report(labs: list[Lab], outcomes: list[Outcome], known: dict[tuple[str, str], str],
           seconds: float) -> int:
    """Print the figures and every survivor; the exit status."""
    status = 0
    print(f"{'lab':<6} {'mutants':>8} {'killed':>7} {'survived':>9} {'equivalent':>11} "
          f"{'score':>7}")
    for lab in labs:
        mine = [o for o in outcomes if o.lab == lab.id]
        killed = sum(o.verdict == "killed" for o in mine)
        survived = [o for o in mine if o.verdict == "survived"]
        equivalent = sum((o.lab, o.id) in known for o in survived)
        share = score(killed, len(mine), equivalent)
        print(f"{lab.id:<6} {len(mine):>8} {killed:>7} {len(survived):>9} {equivalent:>11} "
              f"{share:>7.1%}")
        if share < TARGET or equivalent < len(survived):
            status = max(status, 1)
    for outcome in outcomes:
        if outcome.verdict == "survived":
            why = known.get((outcome.lab, outcome.id), "UNEXPLAINED")
            print(f"\nsurvived {outcome.lab} {outcome.id}\n    line {outcome.line}: "
                  f"{outcome.before}\n    becomes: {outcome.after}\n    why: {why}")
        elif outcome.verdict == "error":
            status = 2
            print(f"\nGRADER ERROR on {outcome.lab} {outcome.id}: {outcome.missed[0]}")
    total = len(outcomes)
    print(f"\n{total} mutants graded in {seconds:.0f} s ({seconds / max(total, 1):.1f} s each)")
    return status


if __name__ == "__main__":
    sys.exit(main())
