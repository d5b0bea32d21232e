"""Crashes on cue: an agent that dies at its k-th step, as it does when its server reboots.

The seed's real case is a deploy that the server's reboot cuts off at minute 8. To study
it, the kit counts the *events* of a run, the moments after which the world has changed:
each reply of the model (``FakeLLM(before_reply=...)``) and each side effect of a tool
(``DevOpsTools(after_effect=...)``). A :class:`CrashPlan` ends the run at the event it is
told to:

* ``how="raise"`` raises :class:`Crash`, a ``BaseException`` that no ``except Exception``
  catches: the run stops where it is, in this process, and what it had saved is all that
  is left of it. Handy in a notebook.
* ``how="kill"`` sends the process SIGKILL: no ``finally`` block, no ``atexit`` handler,
  no buffered write survives, as in a power cut. Run the agent with
  :func:`in_child_process` so that only the child dies.
* ``how="pause"`` holds the run still at that event, so that another process can look at
  it mid-way: the run creates ``<hold>/paused`` and waits (real time, at most
  ``hold_limit`` seconds) until ``<hold>/go`` exists. :func:`wait_for_file` is the other
  side's wait.

A crash at a reply loses that reply in flight; a crash at a side effect happens after the
effect is on record in the world and before the agent hears of it, the hardest moment for
exactly-once.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs.kit.fake_llm import RecordedRequest

#: Real seconds between two looks at a child that has not ended yet.
_POLL = 0.002
#: Bytes of a child's exception kept for its parent.
_MAX_ERROR = 2000


class Crash(BaseException):
    """The process dies here (raised by a :class:`CrashPlan` with ``how="raise"``)."""


class CrashPlan:
    """Crash at event number ``at`` (from 1) of the run; never, when ``at`` is None.

    ``events`` lists what happened so far (``"reply to turn 2"``, ``"apply_deploy"``), the
    last one being where it crashed.
    """

    def __init__(self, at: int | None = None, *, how: str = "raise",
                 hold: str | os.PathLike[str] | None = None, hold_limit: float = 30.0) -> None:
        if how not in ("raise", "kill", "pause"):
            raise ValueError(f"how must be 'raise', 'kill' or 'pause', not {how!r}")
        if (how == "pause") != (hold is not None):
            raise ValueError("a pause needs the folder to hold in (hold=), and only a pause")
        self.at = at
        self.how = how
        self.hold = Path(hold) if hold is not None else None
        self.hold_limit = hold_limit
        self.events: list[str] = []

    def event(self, what: str) -> None:
        """Note one event; crash (or pause) if it is the chosen one."""
        self.events.append(what)
        if len(self.events) != self.at:
            return
        if self.how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if self.how == "pause" and self.hold is not None:
            # written whole, then renamed: whoever waits for the file reads it complete
            (self.hold / ".paused.partial").write_text(what)
            os.replace(self.hold / ".paused.partial", self.hold / "paused")
            if not wait_for_file(self.hold / "go", limit=self.hold_limit):
                raise Crash(f"paused at event {self.at} and never told to go on")
            return
        raise Crash(f"crashed at event {self.at}: {what}")

    def before_reply(self, request: RecordedRequest) -> None:
        """For ``FakeLLM(before_reply=...)``: a reply of the model is an event."""
        self.event(f"reply to turn {request.turn + 1}")

    def after_effect(self, tool: str) -> None:
        """For ``DevOpsTools(after_effect=...)``: a tool's side effect is an event."""
        self.event(tool)


@dataclass(frozen=True)
class Ending:
    """How a child process ended: its exit ``code`` (with ``error``, what it raised, when
    that was 1), or the ``signal`` that killed it (``hung`` when it was killed after the
    time limit)."""

    code: int | None = None
    signal: int | None = None
    hung: bool = False
    error: str | None = None

    @property
    def killed(self) -> bool:
        """True when SIGKILL ended it, and not because it hung."""
        return self.signal == signal.SIGKILL and not self.hung

    def __str__(self) -> str:
        if self.hung:
            return "hung, killed after the time limit"
        if self.signal is not None:
            return f"killed by {signal.Signals(self.signal).name}"
        if self.error is not None:
            return f"exited with status {self.code} after {self.error}"
        return f"exited with status {self.code}"


def in_child_process(work: Callable[[], Any], *, limit: float = 30.0) -> Ending:
    """Run ``work()`` in a forked child process and wait for it to end (Linux and macOS).

    The child starts as a copy of this process (everything imported is there, nothing
    runs twice), writes nothing to this process's output, and leaves with status 0 when
    ``work`` returned, 1 when it raised (the :class:`Ending` says what it raised).
    Whatever it changed in memory dies with it: only what it wrote to disk remains. After
    ``limit`` real seconds it is killed and reported as hung.
    """
    return start_child_process(work).wait(limit)


class ChildProcess:
    """A forked child running ``work`` (see :func:`start_child_process`)."""

    def __init__(self, pid: int, said: int) -> None:
        self.pid = pid
        self._said = said
        self._ending: Ending | None = None

    def wait(self, limit: float = 30.0) -> Ending:
        """Wait until the child ends, at most ``limit`` real seconds (then kill it and
        call it hung); how it ended. Waiting again gives the same answer."""
        if self._ending is None:
            self._ended(_wait(self.pid, limit))
        assert self._ending is not None
        return self._ending

    def poll(self) -> Ending | None:
        """How the child ended, or None while it still runs; never waits."""
        if self._ending is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self._ended(_ending_of(status))
        return self._ending

    def _ended(self, ending: Ending) -> None:
        try:
            said = _read_all(self._said)
        finally:
            os.close(self._said)
        self._ending = Ending(code=1, error=said) if ending.code == 1 and said else ending


def start_child_process(work: Callable[[], Any]) -> ChildProcess:
    """Start ``work()`` in a forked child process and return at once, so that this process
    can do something else (look at the child's files, start a second one) before it waits.
    The child is what :func:`in_child_process` describes."""
    if not hasattr(os, "fork"):
        raise RuntimeError("a real crash needs os.fork (Linux or macOS)")
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into the caller's code
        code = 1
        try:
            os.close(read_end)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - dies with us
            work()
            code = 0
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            text = f"{type(error).__name__}: {BaseException.__str__(error)}"
            os.write(write_end, text.encode("utf-8", "replace")[:_MAX_ERROR])
        finally:
            os._exit(code)
    os.close(write_end)
    return ChildProcess(pid, read_end)


def wait_for_file(path: str | os.PathLike[str], *, limit: float = 30.0,
                  child: ChildProcess | None = None) -> bool:
    """Wait until ``path`` exists, at most ``limit`` real seconds (``select``, not
    ``time``, so a frozen clock does not stop it); True when it does. With ``child``, the
    process that is to create it: stop waiting as soon as that one has ended."""
    for _ in range(max(1, int(limit / _POLL))):
        if os.path.exists(path):
            return True
        if child is not None and child.poll() is not None:
            break
        select.select([], [], [], _POLL)
    return os.path.exists(path)


def _read_all(fd: int) -> str:
    os.set_blocking(fd, False)
    chunks = []
    try:
        while chunk := os.read(fd, _MAX_ERROR):
            chunks.append(chunk)
    except BlockingIOError:
        pass  # a grandchild still holds the pipe open: what is there is enough
    return b"".join(chunks)[:_MAX_ERROR].decode("utf-8", "replace")


def _wait(pid: int, limit: float) -> Ending:
    """Wait for ``pid``, at most ``limit`` real seconds. The waiting uses ``select``, not
    ``time``: under a frozen clock ``time.sleep`` and ``time.monotonic`` do not move."""
    for _ in range(max(1, int(limit / _POLL))):
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        select.select([], [], [], _POLL)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return Ending(signal=signal.SIGKILL, hung=True)
    return _ending_of(status)


def _ending_of(status: int) -> Ending:
    if os.WIFSIGNALED(status):
        return Ending(signal=os.WTERMSIG(status))
    return Ending(code=os.WEXITSTATUS(status))
