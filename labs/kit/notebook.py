"""Helpers every lab notebook shares: pick the implementation, snapshot a run, print it.

A notebook runs against the student's modules in ``labs/`` or against the reference ones in
``solutions/``, chosen by the environment variable ``LAB_IMPL``::

    lab = load_lab("lab01_retry")        # labs.lab01_retry (yours, or the reference), reloaded

A run on the fake LLM and the frozen clock is captured while both are active, then printed
or drawn (``labs.kit.plots.timeline``) after they have stopped::

    with RecordingClock(patch_sleep=True) as clock, FakeLLM(script, clock=clock) as llm:
        ...
        run = Run.capture(llm, clock, "default client")
    print(request_log(run))

A curious student may point a worked example at a real OpenAI-compatible endpoint; see
:func:`real_llm`. Exercises and checks always use the fake.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import importlib.util
import math
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, NamedTuple
from unittest import mock

from openai import OpenAI

from labs.kit.clock import DEFAULT_START, FrozenClock
from labs.kit.fake_llm import DEFAULT_MODEL, FakeLLM, RecordedRequest, Step

#: The environment variable that picks the implementation a notebook runs against.
IMPL_VARIABLE = "LAB_IMPL"
#: Its allowed values: the student's stubs, or the reference solutions.
IMPLEMENTATIONS = ("labs", "solutions")
#: The opt-in switch for a real endpoint, and the variable that names its model.
REAL_LLM_VARIABLE = "LAB_REAL_LLM"
MODEL_VARIABLE = "LAB_MODEL"

#: ``time.sleep`` as it was before any clock patched it: for other threads' sleeps.
_REAL_SLEEP = time.sleep
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


def implementation() -> str:
    """The package a notebook loads lab modules from: ``LAB_IMPL``, ``"labs"`` if unset.

    Any other value than ``"labs"`` or ``"solutions"`` is a ValueError, so a typo never
    silently runs the wrong code.
    """
    value = os.environ.get(IMPL_VARIABLE, "labs").strip() or "labs"
    if value not in IMPLEMENTATIONS:
        raise ValueError(
            f"{IMPL_VARIABLE}={value!r} is not a known implementation; "
            f"use one of {', '.join(IMPLEMENTATIONS)}"
        )
    return value


def load_lab(module_name: str) -> ModuleType:
    """Import ``labs.<module_name>`` from the chosen implementation, reloaded so that edits
    made since are picked up.

    With ``LAB_IMPL=labs`` (the default) that is the student's module under ``labs/``; with
    ``LAB_IMPL=solutions``, the reference solution of the same name. The choice holds for
    every lab module, not only the one asked for: a lab that imports an earlier one (lab 03
    imports ``labs.lab01_retry``) gets the reference of that one too, as the grader gives
    it. Reloading makes new class objects: an exception raised by an older load is not an
    instance of the reloaded module's class, so call ``load_lab`` again rather than mixing
    loads.
    """
    if not module_name.isidentifier():
        raise ValueError(f"{module_name!r} is not a module name (expected e.g. 'lab01_retry')")
    _resolve_labs_from(implementation())
    qualified = f"labs.{module_name}"
    importlib.invalidate_caches()
    module = sys.modules.get(qualified)
    if module is None:
        return importlib.import_module(qualified)
    return importlib.reload(module)


def _resolve_labs_from(impl: str) -> None:
    """Make ``labs.labNN_*`` resolve to ``impl``'s modules; ``labs.kit`` stays the kit.

    The reference solutions are put first on the ``labs`` package's search path, and any
    lab module already imported from the other folder is forgotten.
    """
    import labs

    stubs = Path(labs.__file__).resolve().parent
    first = _solutions_folder() if impl == "solutions" else stubs
    labs.__path__[:] = list(dict.fromkeys([str(first), str(stubs)]))
    for name, module in list(sys.modules.items()):
        if name.startswith("labs.lab") and "." not in name[len("labs."):]:
            origin = getattr(module, "__file__", None)
            if origin is None or Path(origin).resolve().parent != first:
                del sys.modules[name]


def _solutions_folder() -> Path:
    spec = importlib.util.find_spec("solutions")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            f"{IMPL_VARIABLE}=solutions needs the reference solutions, and this copy of the "
            "kit has none: unset it to run your own labs/"
        )
    return Path(next(iter(spec.submodule_search_locations))).resolve()


# -- the optional real endpoint ---------------------------------------------------------


@dataclass(frozen=True)
class RealLLM:
    """A client for a real OpenAI-compatible endpoint and the model to ask."""

    client: OpenAI
    model: str


def real_llm_requested() -> bool:
    """True when the student opted in with ``LAB_REAL_LLM=1`` (or true/yes/on)."""
    value = os.environ.get(REAL_LLM_VARIABLE, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{REAL_LLM_VARIABLE}={value!r}: use 1 to opt in or 0 to stay on the fake")


def real_llm(**client_options: Any) -> RealLLM | None:
    """A real ``openai.OpenAI()`` client when the student opted in, else None.

    Opting in takes ``LAB_REAL_LLM=1`` and ``OPENAI_API_KEY``; ``OPENAI_BASE_URL`` points
    the client at any OpenAI-compatible server (the client reads both variables itself) and
    ``LAB_MODEL`` names the model (``gpt-4o-mini`` by default). Opting in without a key is
    a RuntimeError rather than a quiet fall-back to the fake. The worked examples use
    :func:`llm_or_fake`, which falls back to the fake when this returns None.
    """
    if not real_llm_requested():
        return None
    if not os.environ.get("OPENAI_API_KEY"):
        raise RuntimeError(
            f"{REAL_LLM_VARIABLE} is set but OPENAI_API_KEY is not: set the key (and "
            "OPENAI_BASE_URL for a server other than OpenAI's), or unset "
            f"{REAL_LLM_VARIABLE} to use the fake LLM"
        )
    model = os.environ.get(MODEL_VARIABLE, "").strip() or DEFAULT_MODEL
    return RealLLM(OpenAI(**client_options), model)


@contextmanager
def llm_or_fake(
    script: Iterable[Step], *, clock: FrozenClock | None = None, **client_options: Any
) -> Iterator[tuple[OpenAI, str, FakeLLM | None]]:
    """Yield ``(client, model, fake)`` for a worked example.

    With a real endpoint opted in (:func:`real_llm`) the client is the real one and ``fake``
    is None; otherwise a :class:`FakeLLM` answers from ``script`` and is yielded too, so
    the example can show its request log. ``client_options`` go to either client.
    """
    real = real_llm(**client_options)
    if real is not None:
        yield real.client, real.model, None
        return
    with FakeLLM(script, clock=clock) as fake:
        yield fake.client(**client_options), DEFAULT_MODEL, fake


# -- runs on the fake LLM and the frozen clock -------------------------------------------


class Wait(NamedTuple):
    """One wait on the frozen clock: when it began, how long it was (seconds), and how it
    was asked for: ``"sleep"`` (the clock's ``sleep``, as handed to a lab) or
    ``"time.sleep"`` (code that called ``time.sleep`` itself, such as the OpenAI client)."""

    start: float
    seconds: float
    via: str = "sleep"

    @property
    def end(self) -> float:
        return self.start + self.seconds


class RecordingClock(FrozenClock):
    """The kit's frozen clock for notebooks: it notes every wait (``waits``), and with
    ``patch_sleep=True`` it stands in for ``time.sleep`` only in the thread that started it.

    ``FrozenClock.sleeps`` keeps how long each wait was; a timeline also needs where it
    sits (a wait need not end where the next request arrives: a slow reply, a wait after
    the last attempt) and who asked for it (the lab's injected ``sleep`` or a ``time.sleep``
    inside the OpenAI client).

    A Jupyter kernel runs a background thread that calls ``time.sleep(1.0)`` once a second
    (ipykernel's parent poller). A plain ``FrozenClock(patch_sleep=True)`` takes that call
    too and sends the thread spinning, moving the frozen clock by thousands of seconds at
    a random moment. Here a ``time.sleep`` from any other thread is a real sleep and leaves
    the clock alone.
    """

    def __init__(self, start: _dt.datetime = DEFAULT_START, *, patch_sleep: bool = False) -> None:
        super().__init__(start)
        self.waits: list[Wait] = []
        self._owner: int | None = None
        self._time_sleep = mock.patch("time.sleep", self._stand_in) if patch_sleep else None

    def __enter__(self) -> "RecordingClock":
        self._owner = threading.get_ident()
        super().__enter__()
        if self._time_sleep is not None:
            self._time_sleep.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._time_sleep is not None:
            self._time_sleep.stop()
        super().__exit__(exc_type, exc, tb)

    def sleep(self, seconds: float) -> None:
        """Pretend to sleep, as :meth:`FrozenClock.sleep`, and note the wait."""
        self._wait(seconds, "sleep")

    def _stand_in(self, seconds: float) -> None:
        """``time.sleep`` while the clock runs: fake in the owner thread, real elsewhere."""
        if threading.get_ident() != self._owner:
            _REAL_SLEEP(seconds)
            return
        self._wait(seconds, "time.sleep")

    def _wait(self, seconds: float, via: str) -> None:
        start = self.elapsed()
        FrozenClock.sleep(self, seconds)
        self.waits.append(Wait(start, self.sleeps[-1], via))


@dataclass(frozen=True)
class Run:
    """What one run looked like from the outside, kept after the clock has stopped.

    - ``requests``: every request the fake LLM received, in order (arrival time, outcome);
    - ``waits``: every wait on the frozen clock, in order (start and length, in seconds);
    - ``end``: seconds on the clock when the run was captured.
    """

    label: str
    requests: tuple[RecordedRequest, ...]
    waits: tuple[Wait, ...]
    end: float

    @classmethod
    def capture(cls, llm: FakeLLM, clock: FrozenClock, label: str = "") -> "Run":
        """Snapshot ``llm`` and ``clock``; call it while the clock is still running.

        With a :class:`RecordingClock` the waits sit where they happened. A plain
        :class:`FrozenClock` keeps only their lengths; then wait ``k`` is placed to end
        where request ``k + 2`` arrived (true of a retry loop whose server answers at
        once), and waits beyond the last request are placed to end at ``end``.
        """
        end = clock.elapsed()
        requests = tuple(llm.requests)
        if isinstance(clock, RecordingClock):
            return cls(label, requests, tuple(clock.waits), end)
        arrivals = [r.at for r in requests if r.at is not None]
        return cls(label, requests, _placed(arrivals, clock.sleeps, end), end)

    @property
    def sleeps(self) -> list[float]:
        """The length of every wait, in order."""
        return [wait.seconds for wait in self.waits]

    @property
    def arrivals(self) -> list[float]:
        """Arrival times of the requests, in seconds on the clock."""
        return [r.at for r in self.requests if r.at is not None]

    @property
    def gaps(self) -> list[float]:
        """Seconds between consecutive requests."""
        times = self.arrivals
        return [round(b - a, 6) for a, b in zip(times, times[1:])]

    @property
    def outcomes(self) -> list[str]:
        """Each request's outcome: ``"200"``, ``"429"``, ``"timeout"``, ``"connect"`` ..."""
        return [r.outcome for r in self.requests]

    def waits_after_last(self) -> list[Wait]:
        """Waits that no request followed: a retry loop should never make one."""
        last = max(self.arrivals, default=None)
        if last is None:
            return list(self.waits)
        return [wait for wait in self.waits if wait.end > last + 1e-6]


def _placed(arrivals: Sequence[float], sleeps: Sequence[float], end: float) -> tuple[Wait, ...]:
    between = max(len(arrivals) - 1, 0)
    waits = [Wait(arrivals[k + 1] - s, s) for k, s in enumerate(sleeps[:between])]
    late: list[Wait] = []
    stop = end
    for s in reversed(sleeps[between:]):
        late.insert(0, Wait(stop - s, s))
        stop -= s
    return tuple(waits + late)


def seconds(values: Iterable[float] | float, unit: str = " s") -> str:
    """Numbers as a person writes them: ``seconds([1.5, 3.0, 6.0])`` is ``"1.5, 3, 6 s"``.

    Rounded to the millisecond, trailing zeros dropped; an empty list is ``"none"``.
    """
    if isinstance(values, (int, float)):
        values = [values]
    texts = [_number(v) for v in values]
    return ", ".join(texts) + unit if texts else "none"


def clock_time(value: float) -> str:
    """Seconds on the clock as ``mm:ss.s`` (``"08:00.0"``): for long, slow scenarios."""
    minutes, rest = divmod(round(value, 1), 60)
    return f"{int(minutes):02d}:{rest:04.1f}"


def request_log(run: Run) -> str:
    """One line per request: its number, arrival time and outcome, then the wait after it.

    A wait after the last request (which a retry loop should never make) gets a line of
    its own.
    """
    lines = []
    late = run.waits_after_last()
    between = [wait for wait in run.waits if wait not in late]
    arrivals = [r.at for r in run.requests]
    for index, request in enumerate(run.requests):
        at = "" if request.at is None else f"at {_number(request.at):>6} s  "
        line = f"request {index + 1}  {at}-> {request.outcome}"
        nxt = arrivals[index + 1] if index + 1 < len(arrivals) else None
        here = [w for w in between if request.at is not None and nxt is not None
                and request.at - 1e-6 <= w.start and w.end <= nxt + 1e-6]
        if here:
            line += f"   then wait {seconds([w.seconds for w in here])}"
        lines.append(line)
    for wait in late:
        lines.append(f"then wait {seconds(wait.seconds)} after the last request")
    return "\n".join(lines) if lines else "no request reached the server"


def _number(value: float) -> str:
    if not math.isfinite(value):
        return repr(value)
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text
