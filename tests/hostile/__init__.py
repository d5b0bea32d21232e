"""Hostile lab 01 submissions: the stub, plus one way of attacking the grader.

Each case is a few lines appended to the stub ``labs/lab01_retry.py``: what it does at
import time runs when the grader imports it, and what it assigns to the lab's functions
(``RetryingLLM.__init__``, ``retry_call`` and its helpers) runs inside the scenarios, each of
which calls one of them first. Where a case keeps the stub's ``NotImplementedError``, the hostile part did its
worst and the grading goes on as it would for the stub.

The cases live here as text, not as ``.py`` files, because some do not even parse.
:func:`write` fills in the placeholders, each written ``@NAME@``:

``@TOKEN@``
    a number unique to one test run, so that a process, a file or a line the case leaves
    behind can be found (``sleep @TOKEN@``, ``.hostile-@TOKEN@``);
``@HOME@``
    the real home directory of the user running the tests;
``@HOST_IP@`` and ``@PORT@``
    an address of this machine and a port the test listens on, outside the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

STUB = Path(__file__).resolve().parents[2] / "labs" / "lab01_retry.py"


@dataclass(frozen=True)
class Hostile:
    """One hostile submission: its name, the code appended to the stub, and the grader's
    ``--scenario-timeout`` to grade it with (small where it hangs, roomy where it does not)."""

    name: str
    code: str
    timeout: float = 3.0


def write(case: Hostile, folder: Path, **values: object) -> Path:
    """Write ``case`` as ``folder/lab01_retry.py``, placeholders filled from ``values``
    (``token=...`` fills ``@TOKEN@``); returns the file."""
    code = case.code
    for name, value in values.items():
        code = code.replace(f"@{name.upper()}@", str(value))
    unfilled = re.findall(r"@[A-Z_]+@", code)
    assert not unfilled, f"{case.name}: no value for {', '.join(unfilled)}"
    folder.mkdir(parents=True, exist_ok=True)
    module = folder / STUB.name
    module.write_text(STUB.read_text(encoding="utf-8") + "\n\n" + code.strip() + "\n")
    return module


FAILS_TO_IMPORT = Hostile("fails_to_import", "import retry_helpers_nobody_installed")

DOES_NOT_PARSE = Hostile(
    "does_not_parse",
    """
def retry_call(fn, policy:
    return fn()
""",
)

LOOPS_AT_IMPORT = Hostile(
    "loops_at_import",
    """
while True:
    pass
""",
)

BLOCKS_ON_AN_EVENT = Hostile(
    "blocks_on_an_event",
    """
import threading


def _wait_forever(*args, **kwargs):
    threading.Event().wait()


RetryingLLM.__init__ = _wait_forever
retry_call = is_transient = backoff_delay = server_delay = _wait_forever
""",
    timeout=1.0,
)

SLEEPS_FOR_REAL = Hostile(
    "sleeps_for_real",
    """
from time import sleep as _real_sleep  # taken before a frozen clock can stand in for it


def _sleep_forever(*args, **kwargs):
    _real_sleep(10**6)


RetryingLLM.__init__ = _sleep_forever
retry_call = is_transient = backoff_delay = server_delay = _sleep_forever
""",
    timeout=1.0,
)

EXITS_IN_ITS_FUNCTIONS = Hostile(
    "exits_in_its_functions",
    """
import os


def _exit(*args, **kwargs):
    os._exit(0)


RetryingLLM.__init__ = _exit
retry_call = is_transient = backoff_delay = server_delay = _exit
""",
)

EXITS_AT_IMPORT = Hostile(
    "exits_at_import",
    """
import os

os._exit(0)
""",
)

RAISES_KEYBOARD_INTERRUPT = Hostile(
    "raises_keyboard_interrupt",
    """
def _interrupt(*args, **kwargs):
    raise KeyboardInterrupt


RetryingLLM.__init__ = _interrupt
retry_call = is_transient = backoff_delay = server_delay = _interrupt
""",
)

RAISES_SYSTEM_EXIT = Hostile(
    "raises_system_exit",
    """
import sys


def _exit(*args, **kwargs):
    sys.exit(0)


RetryingLLM.__init__ = _exit
retry_call = is_transient = backoff_delay = server_delay = _exit
""",
)

FLOODS_OUTPUT = Hostile(
    "floods_output",
    """
import sys

_flooded = False
_stub_init = RetryingLLM.__init__


def _flood_once(self, *args, **kwargs):
    global _flooded
    if not _flooded:  # 160 MiB on each stream, then the stub's answer
        _flooded = True
        chunk = "flood " * (1 << 17)
        for _ in range(200):
            sys.stdout.write(chunk)
            sys.stderr.write(chunk)
    _stub_init(self, *args, **kwargs)


RetryingLLM.__init__ = _flood_once
""",
    timeout=10.0,
)

FLOODS_OUTPUT_FOREVER = Hostile(
    "floods_output_forever",
    """
import os

_chunk = b"flood " * (1 << 14)
while True:
    os.write(1, _chunk)
    os.write(2, _chunk)
""",
)

PATCHES_PYTEST_AND_ANSWERS_EQUAL = Hostile(
    "patches_pytest_and_answers_equal",
    """
import os

import _pytest.runner
import pytest


def _pass(*args, **kwargs):
    return None


_pytest.runner.pytest_runtest_call = _pass
_pytest.runner.call_and_report = _pass
pytest.fail = _pass
for _folder in (os.getcwd(), os.path.dirname(os.path.dirname(pytest.__file__))):
    try:
        with open(os.path.join(_folder, "conftest.py"), "w") as _conftest:
            _conftest.write("def pytest_runtest_call(item):  # @TOKEN@\\n    return True\\n")
    except OSError:
        pass


class _EqualToAnything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = object.__hash__

    def __getattr__(self, name):
        return self

    def __getitem__(self, key):
        return self

    def __call__(self, *args, **kwargs):
        return self


class _YesInt(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


class _YesStr(str):
    def __eq__(self, other):
        return True

    __hash__ = str.__hash__


def _init(self, client, **options):
    self.client = client


RetryingLLM.__init__ = _init
RetryingLLM.complete = lambda self, messages, **options: _EqualToAnything()
retry_call = lambda fn, *args, **kwargs: _YesInt(42)
is_transient = lambda error: _YesInt(1)
backoff_delay = lambda retry, policy, rng=None: _YesInt(1)
server_delay = lambda error: _YesStr("2.5")
""",
)

PRINTS_FORGED_RESULTS = Hostile(
    "prints_forged_results",
    """
import json
import os

_items = [
    {"id": f"lab01.{name}", "done": True, "hint": None, "detail": ""}
    for name in ("retries-transient", "exponential-backoff", "no-sleep-after-last")
]
_report = {"impl": "labs", "labs": [{"lab": "lab01", "passed": True, "items": _items}]}
_events = [{"event": "imported"}] + [
    {"event": kind, "scenario": name, "status": "ok", "observation": {"done": True}}
    for name in ("transient_kinds", "backoff_default", "give_up")
    for kind in ("start", "done")
] + [{"event": "finished"}]
_lines = [json.dumps(_report)] + [
    json.dumps(dict(event, nonce=nonce))
    for event in _events
    for nonce in (None, "0" * 32, os.environ.get("GRADER_SANDBOX"))
]
_text = ("\\n".join(_lines) + "\\n").encode()
print(_text.decode(), end="", flush=True)
for _fd in range(1, 64):  # stdout, stderr, and whatever else is open: the result channel too
    try:
        os.write(_fd, _text)
    except OSError:
        pass
""",
)

SPAWNS_A_SESSION = Hostile(
    "spawns_a_session",
    """
import subprocess

subprocess.Popen(
    ["sleep", "@TOKEN@"],
    start_new_session=True,
    stdin=subprocess.DEVNULL,
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
)
""",
)

DOUBLE_FORKS_A_DAEMON = Hostile(
    "double_forks_a_daemon",
    """
import os

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvpe("sleep", ["sleep", "@TOKEN@"], {"PATH": os.environ.get("PATH", "/bin")})
    os._exit(0)
os.wait()
""",
)

WRITES_INTO_THE_GRADER = Hostile(
    "writes_into_the_grader",
    """
import os
import sys

_grader = os.path.dirname(sys.modules["grader"].__file__)
for _path, _mode, _text in (
    (os.path.join(_grader, "evil_@TOKEN@.py"), "w", "FORGED = True  # @TOKEN@\\n"),
    (os.path.join(_grader, "checks", "test_lab01.py"), "a", "\\n# forged @TOKEN@\\n"),
    (os.path.join(_grader, "checks", "conftest.py"), "a", "\\n# forged @TOKEN@\\n"),
):
    try:
        with open(_path, _mode) as _file:
            _file.write(_text)
    except OSError:
        pass
""",
)

WRITES_INTO_HOME = Hostile(
    "writes_into_home",
    """
import os
import pwd

for _home in ("@HOME@", pwd.getpwuid(os.getuid()).pw_dir, os.path.expanduser("~")):
    try:
        with open(os.path.join(_home, ".hostile-@TOKEN@"), "w") as _file:
            _file.write("@TOKEN@\\n")
    except OSError:
        pass
""",
)

OPENS_SOCKETS = Hostile(
    "opens_sockets",
    """
import socket

_said = []
for _where, _address in (
    ("this machine", ("@HOST_IP@", @PORT@)),
    ("loopback", ("127.0.0.1", @PORT@)),
    ("the internet", ("1.1.1.1", 443)),
):
    try:
        socket.create_connection(_address, timeout=2).close()
        _said.append(f"connect to {_where}: connected")
    except OSError as error:
        _said.append(f"connect to {_where}: {error}")
try:
    _server = socket.socket()
    _server.bind(("0.0.0.0", @PORT@))
    _server.listen()
    _said.append("listen: listening")
except OSError as error:
    _said.append(f"listen: {error}")
raise ConnectionError("; ".join(_said))
""",
)

CLIMBS_OUT_WITH_MOUNT = Hostile(
    "climbs_out_with_mount",
    """
import ctypes
import os
import pwd
import sys

_libc = ctypes.CDLL(None, use_errno=True)
_MS_REMOUNT, _MS_BIND = 0x20, 0x1000
_home = pwd.getpwuid(os.getuid()).pw_dir
_grader = os.path.dirname(sys.modules["grader"].__file__)
for _point in ("/", "@HOME@", _home, _grader, os.path.dirname(_grader)):
    _libc.mount(None, _point.encode(), None, _MS_REMOUNT | _MS_BIND, None)
    _libc.umount2(_point.encode(), 2)  # MNT_DETACH: whatever hides the real files
for _path in (
    os.path.join("@HOME@", ".hostile-@TOKEN@"),
    os.path.join(_home, ".hostile-@TOKEN@"),
    os.path.join(_grader, "evil_@TOKEN@.py"),
):
    try:
        with open(_path, "w") as _file:
            _file.write("@TOKEN@\\n")
    except OSError:
        pass
""",
)

JOINS_THE_HOST_NETWORK = Hostile(
    "joins_the_host_network",
    """
import ctypes
import os
import socket

_libc = ctypes.CDLL(None, use_errno=True)
_said = []
for _pid in ("1", str(os.getppid())):
    try:
        _fd = os.open(f"/proc/{_pid}/ns/net", os.O_RDONLY)
        _said.append(f"setns via {_pid}: {_libc.setns(_fd, 0x40000000)}")
    except OSError as error:
        _said.append(f"setns via {_pid}: {error}")
try:
    socket.create_connection(("127.0.0.1", @PORT@), timeout=2).close()
    _said.append("connect: connected")
except OSError as error:
    _said.append(f"connect: {error}")
raise ConnectionError("; ".join(_said))
""",
)

COPIES_THE_SOLUTION = Hostile(
    "copies_the_solution",
    """
import os
import subprocess
import sys

try:
    from solutions.lab01_retry import *  # noqa: F403
except ImportError:  # hidden: look for the file, then in the repository's history
    for _folder in sys.path:
        _path = os.path.join(_folder, "solutions", "lab01_retry.py")
        _git = ["git", "-C", _folder or ".", "show", "HEAD:solutions/lab01_retry.py"]
        try:
            with open(_path) as _file:
                _source = _file.read()
        except OSError:
            _shown = subprocess.run(_git, capture_output=True, text=True)
            _source = _shown.stdout if _shown.returncode == 0 else ""
        if "def retry_call" in _source:
            exec(compile(_source, _path, "exec"))
            break
""",
)

CLOSES_THE_RESULT_CHANNEL = Hostile(
    "closes_the_result_channel",
    """
import os

os.closerange(3, 1024)
for _ in range(8):  # and something else under the freed numbers
    os.open(os.devnull, os.O_WRONLY)
""",
)

KILLS_ITSELF_WITH_A_NAMELESS_SIGNAL = Hostile(
    "kills_itself_with_a_nameless_signal",
    """
import os
import signal

os.kill(os.getpid(), signal.SIGRTMIN + 6)  # PID 1 of a PID namespace ignores it
""",
)

KNOWS_THE_EXPECTED_OBSERVATIONS = Hostile(
    "knows_the_expected_observations",
    """
import json
import sys

_seen = json.loads(@OBSERVATIONS@)
_scenarios = sys.modules["grader.scenarios.lab01"].SCENARIOS
for _name in list(_scenarios):
    _scenarios[_name] = lambda lab, _observation=_seen[_name]: _observation
""",
)

CASES = [value for value in list(globals().values()) if isinstance(value, Hostile)]
CASES_BY_NAME = {case.name: case for case in CASES}
