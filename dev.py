#!/usr/bin/env python3
"""The kit's two commands, on any machine with Python 3.10+ and the package index.

    python3 dev.py grade [GRADER ARGS...]   grade a folder of labs (default: labs/)
    python3 dev.py test  [PYTEST ARGS...]   run the kit's whole test suite

The first run creates ``.venv`` next to this file and installs the kit into it with its
development extras; later runs reuse it, and reinstall only when ``pyproject.toml`` has
changed. Uses the standard library only, so it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
STAMP = VENV / ".kit-installed"
COMMANDS = {
    "grade": ["-m", "grader"],
    "test": ["-m", "pytest"],
}


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_environment() -> Path:
    """Create and fill ``.venv`` unless it already holds this ``pyproject.toml``."""
    wanted = hashlib.sha256((HERE / "pyproject.toml").read_bytes()).hexdigest()
    python = venv_python()
    if python.exists() and STAMP.exists() and STAMP.read_text().strip() == wanted:
        return python
    if not python.exists():
        print(f"dev.py: creating {VENV.name} with {sys.executable}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("dev.py: installing the kit and its test dependencies", file=sys.stderr)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--editable", f"{HERE}[dev]"],
        check=True,
    )
    STAMP.write_text(wanted + "\n")
    return python


def main(argv: list[str]) -> int:
    if sys.version_info < (3, 10):
        print("dev.py: the kit needs Python 3.10 or newer", file=sys.stderr)
        return 2
    if not argv or argv[0] not in COMMANDS:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        python = ensure_environment()
    except subprocess.CalledProcessError as error:
        print(f"dev.py: installing failed ({error})", file=sys.stderr)
        return 1
    command = [str(python), *COMMANDS[argv[0]], *argv[1:]]
    return subprocess.run(command, cwd=HERE).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
