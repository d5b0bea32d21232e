#!/usr/bin/env python3
"""The kit's commands, on any machine with Python 3.10+ and the package index.

    python3 dev.py grade [GRADER ARGS...]   grade a folder of labs (default: labs/)
    python3 dev.py test  [PYTEST ARGS...]   run the kit's whole test suite
    python3 dev.py bench [ARGS...]          the checkpoint store beside LangGraph's
    python3 dev.py speed [ARGS...]          every speed figure of the kit (benchmarks/speed.py)
    python3 dev.py mutation [ARGS...]       grade every mutant of the solutions (tools/mutation.py)
    python3 dev.py determinism [ARGS...]    grade one submission 20 times, compare the bytes
    python3 dev.py blame [ARGS...]          grade hand-written mutants, measure exact blame

The first run creates ``.venv`` next to this file and installs the kit into it with its
development extras; later runs reuse it, and reinstall only when ``pyproject.toml`` has
changed. ``bench`` does the same in ``.venv-bench`` with the ``bench`` extra, so that
LangGraph's packages never reach the environment the tests run in. Uses the standard
library only, so it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Command:
    """What a command runs, and in which environment with which extras."""

    environment: str
    extras: str
    run: tuple[str, ...]


COMMANDS = {
    "grade": Command(".venv", "dev", ("-m", "grader")),
    "test": Command(".venv", "dev", ("-m", "pytest")),
    "bench": Command(".venv-bench", "bench", ("benchmarks/checkpoints_vs_langgraph.py",)),
    "speed": Command(".venv", "dev", ("benchmarks/speed.py",)),
    "mutation": Command(".venv", "dev", ("tools/mutation.py",)),
    "determinism": Command(".venv", "dev", ("tools/determinism.py",)),
    "blame": Command(".venv", "dev", ("tools/blame.py",)),
}


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment(command: Command) -> Path:
    """Create and fill the command's environment unless it already holds this
    ``pyproject.toml`` with the command's extras."""
    folder = HERE / command.environment
    stamp = folder / ".kit-installed"
    wanted = hashlib.sha256((HERE / "pyproject.toml").read_bytes()).hexdigest()
    python = venv_python(folder)
    if python.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return python
    if not python.exists():
        print(f"dev.py: creating {folder.name} with {sys.executable}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(folder)
    print(f"dev.py: installing the kit and its {command.extras} extras", file=sys.stderr)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--editable", f"{HERE}[{command.extras}]"],
        check=True,
    )
    stamp.write_text(wanted + "\n")
    return python


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 10):
        print("dev.py: the kit needs Python 3.10 or newer", file=sys.stderr)
        return 2
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    command = COMMANDS[argv[0]]
    try:
        python = ensure_environment(command)
    except subprocess.CalledProcessError as error:
        print(f"dev.py: installing failed ({error})", file=sys.stderr)
        return 1
    return subprocess.run([str(python), *command.run, *argv[1:]], cwd=HERE).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
