"""The sandboxed child: import one submission and run one lab's scenarios.

Started by :mod:`grader.sandbox` and never by hand. It reads its job as JSON on stdin,
fences itself in (:mod:`grader.isolation`), imports the heavy libraries, the kit, the
scenarios and the reference solutions standing in for earlier labs, then seals the fence
(hides the job's ``hide`` paths, drops every privilege), imports the submission, and runs
the scenarios one by one. It reports on a private pipe (the job's ``channel`` fd), one
JSON object a line, each carrying the job's nonce; what the submission prints to stdout or
stderr is never read as a result. Events, in order:

``ready`` (with ``isolation`` and the lab's ``scenarios``), then ``imported`` or
``import-failed`` (with ``reason``), then for each scenario ``start`` and ``done`` (with
``status`` ``ok`` and ``observation``, or ``aborted`` / ``crashed`` and ``reason``), then
``finished``. The parent times every step and reruns in a fresh child what a dead child
did not finish.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import random
import sys
import time
import traceback
import types
from types import ModuleType
from typing import Any

from grader.isolation import (Isolation, Limits, die_with_parent, isolate, limit_resources,
                              seal)


#: The exit status of a child whose result channel was closed or replaced under it.
CHANNEL_LOST = 86


class _Channel:
    """The write end of the private pipe to the parent.

    A submission that closes it, or puts something else under its number, leaves the child
    nobody to tell: the child then exits at once with :data:`CHANNEL_LOST`, which the
    parent reports as such.
    """

    def __init__(self, fd: int, nonce: str) -> None:
        self.fd = fd
        self.nonce = nonce
        self.pipe = self._identity()

    def _identity(self) -> tuple[int, int]:
        state = os.fstat(self.fd)
        return state.st_dev, state.st_ino

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"nonce": self.nonce, "event": event, **fields}, sort_keys=True)
        data = (line + "\n").encode()
        try:
            if self._identity() != self.pipe:
                raise OSError("the result channel was replaced")
            while data:
                data = data[os.write(self.fd, data) :]
        except OSError:
            os._exit(CHANNEL_LOST)


def main() -> None:
    job = json.loads(sys.stdin.buffer.read(1 << 20))
    die_with_parent(job["parent"])
    channel = _Channel(job["channel"], job["nonce"])
    limits = Limits(**job["limits"])
    workdir = job["workdir"]
    isolation = isolate(workdir, limits) if job["isolate"] else Isolation()
    limit_resources(limits)
    os.chdir(workdir)
    os.environ.update(HOME=workdir, TMPDIR=workdir)
    if isolation.network is not None:
        isolation.network = _block_network_in_process(isolation.network)

    # Everything trusted is imported before the submission runs a single line.
    import freezegun  # noqa: F401
    import httpx  # noqa: F401
    import openai  # noqa: F401
    import openai.resources  # noqa: F401 - else the first client.chat imports every resource
    import respx  # noqa: F401

    import labs
    import labs.kit.clock  # noqa: F401
    import labs.kit.devops  # noqa: F401
    import labs.kit.fake_llm  # noqa: F401
    from grader.observe import ScenarioAbort, describe_error
    from grader.scenarios import scenarios_of

    registry = scenarios_of(job["lab"])
    names = job["scenarios"] if job["scenarios"] is not None else list(registry)
    for earlier, reference in job["substitutes"].items():
        sys.modules[f"labs.{earlier}"] = importlib.import_module(reference)
    seal(isolation, job["hide"])
    channel.emit("ready", isolation=isolation.as_dict(), scenarios=list(registry))

    try:
        module = _load_submission(labs, job["submission"], job["module"])
        for loaded in (module, *(sys.modules[f"labs.{e}"] for e in job["substitutes"])):
            late_bind_time_defaults(loaded)
    except BaseException as error:  # noqa: BLE001 - SystemExit at import is a failure too
        channel.emit("import-failed", reason=_import_failure(job["module"], error))
        _finish()
    channel.emit("imported")

    for name in names:
        channel.emit("start", scenario=name)
        random.seed(_seed(job["lab"], name))
        try:
            observation = registry[name](module)
        except ScenarioAbort as abort:
            channel.emit("done", scenario=name, status="aborted", reason=str(abort))
        except BaseException as error:  # noqa: BLE001
            described = describe_error(error)
            reason = f"the scenario stopped on {described['type']}: {described['message']}"
            channel.emit("done", scenario=name, status="crashed", reason=reason)
        else:
            channel.emit("done", scenario=name, status="ok", observation=observation)
    channel.emit("finished")
    _finish()


#: The process's own clock and sleep, as they are before any scenario patches them.
_TIME_FUNCTIONS = {name: getattr(time, name)
                   for name in ("sleep", "time", "monotonic", "perf_counter")}


def late_bind_time_defaults(module: ModuleType) -> None:
    """Make a default of ``time.sleep`` (or ``time.time``, ``time.monotonic``,
    ``time.perf_counter``) in ``module``'s functions and methods look the function up when
    it is called, as a call of ``time.sleep(...)`` in the body does.

    ``def retry_call(..., sleep=time.sleep)`` binds the real function when the module is
    imported, before any scenario runs: a submission that forgets to pass the ``sleep``
    it was handed would then really sleep (a wall-clock timeout, every item lost) and one
    that forgets its ``clock`` would read real time (figures that differ run to run).
    Bound late, the default meets the scenario's stand-ins, which show the mistake on the
    item it breaks, the same on every run.
    """
    seen: set[int] = set()

    def late(name: str) -> Any:
        def call(*args: Any) -> Any:
            return getattr(time, name)(*args)

        call.__name__ = call.__qualname__ = name
        return call

    swaps = {id(function): late(name) for name, function in _TIME_FUNCTIONS.items()}

    def fix(function: Any) -> None:
        if not isinstance(function, types.FunctionType) or id(function) in seen \
                or function.__module__ != module.__name__:
            return
        seen.add(id(function))
        if function.__defaults__:
            function.__defaults__ = tuple(swaps.get(id(d), d) for d in function.__defaults__)
        if function.__kwdefaults__:
            function.__kwdefaults__ = {k: swaps.get(id(d), d)
                                       for k, d in function.__kwdefaults__.items()}

    def visit(namespace: dict[str, Any], depth: int) -> None:
        for value in list(namespace.values()):
            if isinstance(value, (staticmethod, classmethod)):
                value = value.__func__
            if isinstance(value, property):
                for accessor in (value.fget, value.fset, value.fdel):
                    fix(accessor)
            elif isinstance(value, type) and depth < 3 and id(value) not in seen \
                    and value.__module__ == module.__name__:
                seen.add(id(value))
                visit(dict(vars(value)), depth + 1)
            else:
                fix(value)

    visit(dict(vars(module)), 0)


def _load_submission(labs: ModuleType, folder: str, module: str) -> ModuleType:
    """Import ``labs.<module>`` from the submission's folder (the reference solutions of
    earlier labs are already in ``sys.modules``)."""
    labs.__path__[:] = [folder]  # labs.kit stays the trusted one, already imported
    return importlib.import_module(f"labs.{module}")


def _import_failure(module: str, error: BaseException) -> str:
    kind = type(error).__name__
    if isinstance(error, SyntaxError):
        return f"{module}.py does not parse: {error.msg} (line {error.lineno})"
    if isinstance(error, (SystemExit, KeyboardInterrupt)):
        return f"{module}.py raised {kind} while it was being imported"
    frames = traceback.extract_tb(error.__traceback__)
    where = next(
        (f" (line {f.lineno})" for f in reversed(frames) if f.filename.endswith(f"{module}.py")),
        "",
    )
    return f"{module}.py failed to import: {kind}: {BaseException.__str__(error)}{where}"


def _seed(lab: str, scenario: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{lab}/{scenario}".encode()).digest()[:8], "big")


def _block_network_in_process(why_no_namespace: str) -> str:
    """Without a network namespace, refuse connections through an audit hook (a fence a
    determined submission can climb with ctypes; the report says so)."""

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
            raise PermissionError(f"network access is blocked while grading ({event})")

    sys.addaudithook(hook)
    return f"{why_no_namespace}; network blocked in-process only"


def _finish() -> None:
    """Leave at once: no atexit handler or finaliser of the submission's runs."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 - a closed or broken stream is not our problem
            pass
    os._exit(0)
