"""Pictures for the notebooks: timelines of requests and waits, the load on a server.

Every helper returns a :class:`KitFigure` (a matplotlib ``Figure`` that is not registered
with pyplot): the last expression of a notebook cell shows it once, as a PNG, and nothing is
left open behind it. The pictures depend only on their inputs, so a notebook rebuilt on the
same machine gets the same bytes.

    with RecordingClock(patch_sleep=True) as clock, FakeLLM(script, clock=clock) as llm:
        ...
        run = Run.capture(llm, clock, "max_retries=2")
    timeline(run)
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from labs.kit.notebook import Run, seconds

#: Colours from the Okabe-Ito palette (readable with colour-blindness), and marker shapes
#: so that the outcome reads without colour too.
SUCCESS = ("#009E73", "o", "success")
TRANSIENT = ("#E69F00", "X", "transient failure")
PERMANENT = ("#D55E00", "s", "permanent failure")
OVERRUN = ("#999999", "D", "no scripted reply")
WAIT_COLOUR = "#56B4E9"
INNER_WAIT_COLOUR = "#B3B3E6"
LATE_WAIT_COLOUR = "#CC79A7"
FLIGHT_COLOUR = "#777777"
#: Outcomes another attempt may cure, as the OpenAI client and the labs count them.
TRANSIENT_OUTCOMES = frozenset({"408", "409", "429", "timeout", "connect"})
DPI = 100


class KitFigure(Figure):
    """A Figure that shows itself in a notebook as a PNG with fixed settings.

    Made at :data:`DPI`, so its text form (``<KitFigure size 900x195 with 1 Axes>``, which
    nbval compares) does not depend on a local matplotlibrc; the PNG is drawn with a tight
    bounding box and without the "Software" text chunk. Not registered with pyplot: it is
    shown once, by the cell that returns it, and freed with it.
    """

    def _repr_png_(self) -> bytes:
        return self.png()

    def png(self) -> bytes:
        """The figure as PNG bytes."""
        buffer = io.BytesIO()
        self.savefig(
            buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None}
        )
        return buffer.getvalue()


def outcome_style(outcome: str) -> tuple[str, str, str]:
    """``(colour, marker, legend label)`` for a request outcome such as ``"429"``."""
    if outcome == "overrun":
        return OVERRUN
    if outcome.isdigit() and 200 <= int(outcome) < 300:
        return SUCCESS
    if outcome in TRANSIENT_OUTCOMES or (outcome.isdigit() and int(outcome) >= 500):
        return TRANSIENT
    return PERMANENT


def timeline(
    *runs: Run,
    title: str | None = None,
    width: float = 9.0,
    window: tuple[float, float] | None = None,
) -> KitFigure:
    """Requests and waits on the frozen clock, one lane per run (the first run on top).

    Each request is a marker at its arrival time, coloured and shaped by its outcome
    (success, transient failure, permanent failure) and labelled below with its number and
    outcome. Each wait is a bar where it happened, labelled with its length and coloured
    by who asked for it (the ``sleep`` passed in, or a ``time.sleep`` inside the OpenAI
    client, as a :class:`~labs.kit.notebook.RecordingClock` tells them apart); a thin line
    is time spent otherwise (a slow reply, a timeout). A wait that no request followed,
    which a retry loop should never make, is hatched in another colour. ``window``
    (start, stop) shows only that stretch of the clock, e.g. the retries at minute 8.
    """
    if not runs:
        raise ValueError("timeline() needs at least one run")
    fig = KitFigure(figsize=(width, 0.9 + 1.05 * len(runs)), dpi=DPI)
    ax = fig.subplots()
    seen: dict[str, tuple[str, str, str]] = {}
    late_wait = False
    for lane, run in enumerate(reversed(runs)):
        late_wait |= _draw_lane(ax, lane, run, seen)
    if window is None:
        left = min((min(run.arrivals, default=0.0) for run in runs), default=0.0)
        right = max(max([run.end, *run.arrivals]) for run in runs)
        right = max(right, left + 1.0)
        pad = 0.05 * (right - left)
        window = (left - pad, right + pad)
    ax.set_xlim(*window)
    ax.set_ylim(-0.85, len(runs) - 0.45)
    ax.set_yticks(range(len(runs)), [run.label for run in reversed(runs)])
    ax.set_xlabel("seconds on the frozen clock")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    handles: list[Any] = [
        Line2D([], [], color=colour, marker=marker, linestyle="none", markersize=8, label=label)
        for colour, marker, label in sorted(seen.values(), key=_legend_order)
    ]
    vias = {wait.via for run in runs for wait in run.waits}
    if "sleep" in vias or not vias:
        handles.append(Patch(color=WAIT_COLOUR, label="wait: the sleep passed in"))
    if "time.sleep" in vias:
        handles.append(Patch(color=INNER_WAIT_COLOUR, label="wait: time.sleep (inside the client)"))
    if late_wait:
        handles.append(Patch(facecolor=LATE_WAIT_COLOUR, hatch="//", edgecolor="white",
                             label="wait after the last request"))
    ax.legend(
        handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
        frameon=False, fontsize=9,
    )
    if title:
        ax.set_title(title, fontsize=11, pad=26)
    return fig


def _draw_lane(ax: Axes, lane: int, run: Run, seen: dict[str, tuple[str, str, str]]) -> bool:
    """Draw one run at height ``lane``; True when it waited after its last request."""
    arrivals = run.arrivals
    bar = 0.22
    if arrivals:
        ax.plot([arrivals[0], max(run.end, arrivals[-1])], [lane, lane], color=FLIGHT_COLOUR,
                linewidth=1.0, zorder=1)
    late = run.waits_after_last()
    for wait in run.waits:
        is_late = wait in late
        ax.broken_barh(
            [(wait.start, wait.seconds)], (lane - bar / 2, bar),
            facecolor=LATE_WAIT_COLOUR if is_late else _wait_colour(wait.via),
            edgecolor="white", linewidth=1.5, hatch="//" if is_late else None, zorder=2,
        )
        label = seconds(wait.seconds) + (" (late)" if is_late else "")
        ax.text(wait.start + wait.seconds / 2, lane + bar / 2 + 0.04, label, ha="center",
                va="bottom", fontsize=8, color="#7a2e5c" if is_late else "#1f4e79", clip_on=True)
    for number, request in enumerate(run.requests, start=1):
        if request.at is None:
            continue
        style = outcome_style(request.outcome)
        seen[style[2]] = style
        colour, marker, _ = style
        ax.plot([request.at], [lane], marker=marker, color=colour, markersize=10,
                markeredgecolor="white", linestyle="none", zorder=3)
        ax.text(request.at, lane - 0.2, f"#{number}\n{request.outcome}", ha="center", va="top",
                fontsize=8, color=colour, linespacing=1.1, clip_on=True)
    return bool(late)


def _wait_colour(via: str) -> str:
    return INNER_WAIT_COLOUR if via == "time.sleep" else WAIT_COLOUR


def _legend_order(style: tuple[str, str, str]) -> int:
    return [SUCCESS, TRANSIENT, PERMANENT, OVERRUN].index(style)


def load(
    series: Mapping[str, Sequence[float]],
    *,
    bin_width: float = 0.25,
    title: str | None = None,
    width: float = 9.0,
) -> KitFigure:
    """Requests per time bin reaching a server, one row per series on a shared time axis.

    ``series`` maps a label to the arrival times (seconds) of every request. Spikes show
    clients retrying in lock-step; a flat spread shows jitter doing its work.
    """
    if bin_width <= 0:
        raise ValueError("bin_width must be positive")
    fig = KitFigure(figsize=(width, 0.4 + 1.7 * len(series)), dpi=DPI)
    axes = fig.subplots(len(series), 1, sharex=True, squeeze=False)[:, 0]
    right = max((max(times) for times in series.values() if times), default=1.0)
    bins = int(right / bin_width) + 1
    edges = [i * bin_width for i in range(bins + 1)]
    top = 0
    for ax, (label, times) in zip(axes, series.items()):
        counts, _, _ = ax.hist(times, bins=edges, color="#0072B2")
        top = max(top, int(max(counts, default=0)))
        ax.set_title(label, fontsize=10, loc="left")
        ax.set_ylabel("requests")
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    for ax in axes:
        ax.set_ylim(0, top * 1.1 + 1)
    axes[-1].set_xlabel(f"seconds after the shared failure ({seconds(bin_width)} bins)")
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
