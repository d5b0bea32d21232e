"""Pictures for the notebooks: timelines of requests and waits, the load on a server, how
a run spends its time budget (:func:`budget`), a run across its crashes and restarts
(:func:`lives`), and a thread's checkpoint history as a tree (:func:`checkpoint_tree`).

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
import math
from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text

from labs.kit.checkpoints import Checkpoint
from labs.kit.fake_llm import RecordedRequest
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


# -- the budget of a run ------------------------------------------------------------------

DEADLINE_COLOUR = "#000000"
RUN_END_COLOUR = "#666666"
TIME_LEFT_COLOUR = "#0072B2"
ALLOWANCE_HATCH = "////"
TIME_TAKEN_COLOUR = "#555555"


def budget(
    run: Run,
    *,
    deadline: float,
    step_timeout: float | None = None,
    title: str | None = None,
    width: float = 9.0,
) -> KitFigure:
    """How one run spends its time budget: two panels on one time axis (the frozen clock).

    ``deadline`` is where the run's deadline lies, in seconds on the clock (a run that
    starts with the clock and may take 300 s: 300); ``step_timeout``, when given, is drawn
    as a level line.

    - Top, one row per request, the first on top, labelled with its outcome and timeout:
      a hatched bar from its arrival for the timeout it carried (its read timeout; a
      request without one reaches the right edge), and over it a solid bar for the time it
      took: until the next event (a wait, the next request or the end of the run), but
      never longer than its timeout (time spent after that went into something else, such
      as a tool), in the colour of its outcome, with the outcome's marker at its arrival.
      The waits after it sit on its row, labelled with their length; a wait that no
      request followed is hatched in another colour, as in :func:`timeline`.
    - Bottom, the budget: the seconds left until the deadline, falling to 0, and at each
      request's arrival a stem as tall as its timeout. A stem that rises above the line is
      a request allowed to outlive the run. A dot on the line says how much was left when
      the run ended (or how far past the deadline it went).

    The deadline is a dashed line and the end of the run a dotted one, across both panels.
    """
    requests = [request for request in run.requests if request.at is not None]
    arrivals = [request.at for request in run.requests if request.at is not None]
    timeouts = [_read_timeout(request) for request in requests]
    ends = [at + timeout for at, timeout in zip(arrivals, timeouts) if timeout is not None]
    right = max([1.0, deadline, run.end, *ends])
    window = (-0.03 * right, 1.03 * right)
    rows = max(len(requests), 1)
    fig = KitFigure(figsize=(width, 2.9 + 0.5 * rows), dpi=DPI)
    top, bottom = fig.subplots(
        2, 1, sharex=True,
        gridspec_kw={"height_ratios": [0.6 + 0.5 * rows, 1.9], "hspace": 0.35},
    )
    seen: dict[str, tuple[str, str, str]] = {}
    late_wait = _draw_requests(top, run, requests, arrivals, timeouts, window[1], seen)
    labels = [
        f"#{number}  {request.outcome}\n{_timeout_text(timeout)}"
        for number, (request, timeout) in enumerate(zip(requests, timeouts), start=1)
    ]
    top.set_yticks(range(rows), list(reversed(labels)) or [""])
    top.set_ylim(-0.7, rows - 0.3)
    top.tick_params(axis="y", length=0)
    top.spines["left"].set_visible(False)
    top.set_title("each request: the timeout it carried, and the time it took", fontsize=9,
                  loc="left")
    _draw_time_left(bottom, run, requests, arrivals, timeouts, deadline, step_timeout,
                    window[1])
    bottom.set_ylim(0, 1.15 * max([deadline, step_timeout or 0.0, *filter(None, timeouts)]))
    bottom.set_ylabel("seconds")
    bottom.set_xlabel("seconds on the frozen clock")
    bottom.set_title("the budget: the seconds left, and each request's timeout", fontsize=9,
                     loc="left")
    for ax in (top, bottom):
        ax.set_xlim(*window)
        ax.axvline(deadline, color=DEADLINE_COLOUR, linestyle="--", linewidth=1.3, zorder=4)
        ax.axvline(run.end, color=RUN_END_COLOUR, linestyle=":", linewidth=1.5, zorder=4)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    fig.legend(
        handles=_budget_legend(run, deadline, seen, late_wait)
        + bottom.get_legend_handles_labels()[0],
        loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=4, frameon=False, fontsize=8.5,
    )
    if title:
        fig.suptitle(title, fontsize=11)
    return fig


def _read_timeout(request: RecordedRequest) -> float | None:
    """The read timeout a request carried; None when it had none."""
    value = request.timeout.get("read")
    return None if value is None or not math.isfinite(value) else float(value)


def _timeout_text(timeout: float | None) -> str:
    return "no timeout" if timeout is None else f"timeout {seconds(timeout)}"


def _draw_requests(
    ax: Axes,
    run: Run,
    requests: Sequence[RecordedRequest],
    arrivals: Sequence[float],
    timeouts: Sequence[float | None],
    right: float,
    seen: dict[str, tuple[str, str, str]],
) -> bool:
    """Draw the rows of the top panel; True when a wait came after the last request."""
    rows, height = max(len(requests), 1), 0.56
    for index, (request, timeout) in enumerate(zip(requests, timeouts)):
        y, at = rows - 1 - index, arrivals[index]
        style = outcome_style(request.outcome)
        seen[style[2]] = style
        colour, marker, _ = style
        allowed = timeout if timeout is not None else right - at
        ax.broken_barh([(at, allowed)], (y - height / 2, height), facecolor="white",
                       edgecolor=colour, hatch=ALLOWANCE_HATCH, linewidth=0.8, zorder=2)
        nxt = min([run.end, *arrivals[index + 1:],
                   *(wait.start for wait in run.waits if wait.start >= at - 1e-6)])
        took = min(nxt - at, allowed)
        if took > 0:
            ax.broken_barh([(at, took)], (y - height / 2, height), facecolor=colour,
                           edgecolor=colour, linewidth=0.8, zorder=3)
        ax.plot([at], [y], marker=marker, color=colour, markersize=9, markeredgecolor="white",
                linestyle="none", zorder=5)
    late = run.waits_after_last()
    for wait in run.waits:
        row = max([0, *(i for i, at in enumerate(arrivals) if at <= wait.start + 1e-6)])
        y, is_late = rows - 1 - row, wait in late
        ax.broken_barh(
            [(wait.start, wait.seconds)], (y - 0.14, 0.28),
            facecolor=LATE_WAIT_COLOUR if is_late else _wait_colour(wait.via),
            edgecolor="white", hatch="//" if is_late else None, linewidth=0.5, zorder=3,
        )
        ax.text(wait.start + wait.seconds / 2, y - height / 2 - 0.04, seconds(wait.seconds),
                ha="center", va="top", fontsize=7.5,
                color="#7a2e5c" if is_late else "#1f4e79", clip_on=True)
    return bool(late)


def _draw_time_left(
    ax: Axes,
    run: Run,
    requests: Sequence[RecordedRequest],
    arrivals: Sequence[float],
    timeouts: Sequence[float | None],
    deadline: float,
    step_timeout: float | None,
    right: float,
) -> None:
    """Draw the bottom panel: the seconds left, the step timeout, a stem per request."""
    xs, ys = [0.0, deadline, right], [deadline, 0.0, 0.0]
    ax.fill_between(xs, ys, color=TIME_LEFT_COLOUR, alpha=0.12, linewidth=0)
    ax.plot(xs, ys, color=TIME_LEFT_COLOUR, linewidth=1.6, label="seconds left until the deadline")
    if step_timeout is not None:
        ax.axhline(step_timeout, color=TIME_TAKEN_COLOUR, linestyle="-.", linewidth=1.0,
                   label=f"step timeout {seconds(step_timeout)}")
    for request, at, timeout in zip(requests, arrivals, timeouts):
        if timeout is None:
            continue
        colour, marker, _ = outcome_style(request.outcome)
        ax.vlines(at, 0, timeout, color=colour, linewidth=2.0, zorder=3)
        ax.plot([at], [timeout], marker=marker, color=colour, markersize=8,
                markeredgecolor="white", linestyle="none", zorder=4)
    ax.plot([], [], color=TIME_TAKEN_COLOUR, marker="o", linewidth=2.0,
            label="a request's timeout, at its arrival")
    left = deadline - run.end
    note = f"{seconds(left)} left" if left >= 0 else f"{seconds(-left)} past the deadline"
    ax.plot([run.end], [max(left, 0.0)], marker="o", color=TIME_LEFT_COLOUR, markersize=6,
            zorder=5)
    near_edge = run.end > 0.8 * right
    ax.annotate(note, (run.end, max(left, 0.0)), xytext=(-6 if near_edge else 6, 6),
                textcoords="offset points", ha="right" if near_edge else "left", fontsize=8,
                color=TIME_LEFT_COLOUR, zorder=6,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0, "alpha": 0.85})


def _budget_legend(
    run: Run, deadline: float, seen: dict[str, tuple[str, str, str]], late_wait: bool
) -> list[Any]:
    """The legend of the top panel and the lines across both: outcomes, bars, waits."""
    handles: list[Any] = [
        Line2D([], [], color=colour, marker=marker, linestyle="none", markersize=8, label=label)
        for colour, marker, label in sorted(seen.values(), key=_legend_order)
    ]
    handles += [
        Patch(facecolor="white", edgecolor=TIME_TAKEN_COLOUR, hatch=ALLOWANCE_HATCH,
              label="its timeout: the time it may take"),
        Patch(facecolor=TIME_TAKEN_COLOUR, label="the time it took"),
    ]
    vias = {wait.via for wait in run.waits}
    if "sleep" in vias:
        handles.append(Patch(color=WAIT_COLOUR, label="wait: the sleep passed in"))
    if "time.sleep" in vias:
        handles.append(Patch(color=INNER_WAIT_COLOUR, label="wait: time.sleep (inside the client)"))
    if late_wait:
        handles.append(Patch(facecolor=LATE_WAIT_COLOUR, hatch="//", edgecolor="white",
                             label="wait after the last request"))
    handles += [
        Line2D([], [], color=DEADLINE_COLOUR, linestyle="--",
               label=f"deadline {seconds(deadline)}"),
        Line2D([], [], color=RUN_END_COLOUR, linestyle=":", linewidth=1.5,
               label=f"end of the run {seconds(run.end)}"),
    ]
    return handles


# -- a run across crashes and restarts ---------------------------------------------------


def lives(
    marks: Sequence[tuple[Any, ...]],
    *,
    title: str | None = None,
    width: float = 9.0,
) -> KitFigure:
    """One task's run across crashes and restarts: a lane per life of the agent's process
    (the first on top), its events on the frozen clock, in minutes.

    Each mark is a tuple that starts ``(lane, seconds, kind, label)`` (further items are
    ignored): the life it belongs to, when it happened in seconds on the clock, what it
    was, and the text beside it. ``kind`` is one of

    - ``"start"``: the process starts (a grey tick where its lane begins);
    - ``"reply"``: a reply of the model reached the agent;
    - ``"read"``: a read-only tool ran;
    - ``"effect"``: a tool changed the world (a filled square);
    - ``"replayed"``: a side-effecting call sent again and answered from the server's
      record of its idempotency key, nothing changed (a hollow square);
    - ``"crash"``: the process died (a bar across its lane, labelled above);
    - ``"answer"``: the agent's final answer.

    From a lane's last crash to the start of the next lane the process is down: that
    stretch is shaded. A lane that starts later than another shows where a restart picked
    the work up.
    """
    styles = {  # kind -> marker, face, edge, size, legend label
        "reply": ("|", "#555555", "#555555", 13, "a reply of the model"),
        "read": ("o", "#999999", "#999999", 9, "read-only tool"),
        "effect": ("s", "#D55E00", "#D55E00", 10, "side effect, done"),
        "replayed": ("s", "white", "#009E73", 10, "side effect resent, answered from the record"),
        "crash": ("|", "#CC79A7", "#CC79A7", 16, "the process dies"),
        "answer": ("D", "#222222", "#222222", 9, "the answer"),
    }
    unknown = {mark[2] for mark in marks} - {*styles, "start"}
    if unknown:
        raise ValueError(f"unknown kinds of mark: {', '.join(sorted(map(str, unknown)))}")
    lanes = list(dict.fromkeys(mark[0] for mark in marks))
    if not lanes:
        raise ValueError("lives() needs at least one mark")
    fig = KitFigure(figsize=(width, 0.9 + 1.2 * len(lanes)), dpi=DPI)
    ax = fig.subplots()
    right = max(mark[1] for mark in marks) / 60
    for index, lane in enumerate(lanes):
        y = len(lanes) - 1 - index
        mine = sorted((mark for mark in marks if mark[0] == lane), key=lambda mark: mark[1])
        ax.plot([mine[0][1] / 60, mine[-1][1] / 60], [y, y], color="#bbbbbb", linewidth=1.2,
                zorder=1)
        below = 0
        for _, at, kind, label, *_ in mine:
            x = at / 60
            if kind == "start":
                ax.plot([x], [y], marker="|", markersize=18, color="#bbbbbb", zorder=2)
                continue
            marker, face, edge, size, _ = styles[kind]
            if kind == "crash":
                ax.vlines(x, y - 0.3, y + 0.18, color=edge, linewidth=3, zorder=2)
                ax.text(x, y + 0.2, label, ha="center", va="bottom", fontsize=8, color=edge,
                        fontweight="bold")
                continue
            ax.plot([x], [y], marker=marker, markersize=size, markerfacecolor=face,
                    markeredgecolor=edge, markeredgewidth=2, color=edge, linestyle="none",
                    zorder=3)
            if kind == "reply":
                ax.text(x, y + 0.2, label, ha="center", va="bottom", fontsize=7.5,
                        color=edge)
            else:
                ax.text(x, y - (0.2, 0.42)[below % 2], label, ha="center", va="top",
                        fontsize=8, color="#222222")
                below += 1
        later = [mark[1] / 60 for mark in marks
                 if index + 1 < len(lanes) and mark[0] == lanes[index + 1]
                 and mark[2] == "start"]
        crashes = [mark[1] / 60 for mark in mine if mark[2] == "crash"]
        if later and crashes:
            ax.axvspan(crashes[-1], min(later), color="#eeeeee", zorder=0)
            ax.text((crashes[-1] + min(later)) / 2, len(lanes) - 0.45, "down", ha="center",
                    va="top", fontsize=8, color="#777777")
    step = 1 if right <= 12 else 2
    ax.set_xticks(range(0, int(right) + step + 1, step))
    ax.set_xlim(-0.3 - 0.02 * right, 0.3 + 1.02 * right)
    ax.set_ylim(-0.75, len(lanes) - 0.4)
    ax.set_yticks(range(len(lanes)), list(reversed(lanes)))
    ax.set_xlabel("minutes on the frozen clock")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.grid(axis="x", color="#eeeeee", linewidth=0.6)
    ax.set_axisbelow(True)
    kinds = {mark[2] for mark in marks}
    handles = [
        Line2D([], [], marker=marker, markerfacecolor=face, markeredgecolor=edge,
               markeredgewidth=3 if kind == "crash" else 2, color=edge, linestyle="none",
               markersize=min(size, 12), label=text)
        for kind, (marker, face, edge, size, text) in styles.items() if kind in kinds
    ]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
              ncol=min(len(handles), 3), frameon=False, fontsize=8.5)
    if title:
        ax.set_title(title, fontsize=11, pad=36)
    return fig


# -- a thread's checkpoints as a tree -----------------------------------------------------

CHECKPOINT_FACE = "#E8F1FA"
CHECKPOINT_EDGE = "#0072B2"
UPDATE_FACE = "#FFF1D6"
UPDATE_EDGE = "#B87700"
LATEST_EDGE = "#000000"
ARROW_COLOUR = "#444444"


def checkpoint_tree(
    checkpoints: Sequence[Checkpoint],
    *,
    title: str | None = None,
    width: float | None = None,
) -> KitFigure:
    """One thread's checkpoints as a tree, its history read from left to right.

    Each checkpoint is a box that says its id (a counter id as its number: ``#3``), its
    step, and what made it: the nodes that ran, ``input`` for a run's first checkpoint, or
    ``update`` for one that ``update_state`` saved (``metadata["source"]``; a dashed
    border). An arrow leads from each checkpoint to each one whose ``parent_id`` it is. The
    first of a checkpoint's children (ids sort in save order) goes on along its row; each
    later child starts a row of its own below, reached by a bent arrow: a branch, as going
    on from an earlier checkpoint makes one. The latest checkpoint (the greatest id) has a
    thick border and is marked ``latest``. A checkpoint whose parent is not among those
    given starts a tree of its own, in the column of its step.

    ``checkpoints``: those of one thread, in any order (``history(thread)`` gives them
    newest first). An empty list, or checkpoints of several threads, is a ValueError.
    ``width`` in inches; by default 1.6 for each step the tree spans.
    """
    if not checkpoints:
        raise ValueError("checkpoint_tree() needs at least one checkpoint")
    threads = sorted({checkpoint.thread_id for checkpoint in checkpoints})
    if len(threads) > 1:
        raise ValueError(f"checkpoints of one thread only, not of {', '.join(threads)}")
    ordered = sorted({c.id: c for c in checkpoints}.values(), key=lambda c: c.id)
    known = {checkpoint.id for checkpoint in ordered}
    children: dict[str, list[Checkpoint]] = {}
    for checkpoint in ordered:
        if checkpoint.parent_id in known and checkpoint.parent_id != checkpoint.id:
            children.setdefault(checkpoint.parent_id, []).append(checkpoint)
    places = _tree_places(ordered, children)
    left = min(column for column, _ in places.values())
    right = max(column for column, _ in places.values())
    rows = 1 - min(row for _, row in places.values())
    size = (width or 1.2 + 1.6 * (right - left + 1), 1.0 + 0.9 * rows)
    fig = KitFigure(figsize=size, dpi=DPI)
    ax = fig.subplots()
    latest = ordered[-1].id
    boxes = {c.id: _tree_box(ax, c, places[c.id], c.id == latest) for c in ordered}
    for parent, kids in children.items():
        for index, kid in enumerate(kids):
            bend = "angle,angleA=-90,angleB=180,rad=0" if index else "arc3"
            ax.annotate(
                "", xy=places[kid.id], xytext=places[parent], zorder=3,
                arrowprops={"arrowstyle": "-|>", "color": ARROW_COLOUR, "linewidth": 1.2,
                            "shrinkA": 0, "shrinkB": 0, "connectionstyle": bend,
                            "patchA": boxes[parent].get_bbox_patch(),
                            "patchB": boxes[kid.id].get_bbox_patch()},
            )
    ax.annotate("◀ latest", xy=places[latest], xytext=(40, 0), textcoords="offset points",
                ha="left", va="center", fontsize=8.5, fontweight="bold", color=LATEST_EDGE)
    ax.set_xlim(left - 0.55, right + 0.85)
    ax.set_ylim(-rows + 0.5, 0.5)
    ax.set_axis_off()
    handles = [
        Patch(facecolor=CHECKPOINT_FACE, edgecolor=CHECKPOINT_EDGE,
              label="a checkpoint: #id, step, what ran"),
        Patch(facecolor=UPDATE_FACE, edgecolor=UPDATE_EDGE, linestyle="--",
              label="saved by update_state"),
        Patch(facecolor="white", edgecolor=LATEST_EDGE, linewidth=2.2, label="the latest"),
        Line2D([], [], color=ARROW_COLOUR, label="parent → child; a bend starts a branch"),
    ]
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
              frameon=False, fontsize=8.5)
    if title:
        ax.set_title(title, fontsize=11, pad=36)
    return fig


def _tree_places(
    ordered: Sequence[Checkpoint], children: Mapping[str, Sequence[Checkpoint]]
) -> dict[str, tuple[float, float]]:
    """Where each checkpoint's box goes: ``(column, -row)``. Depth first from each root
    (a checkpoint without a parent among ``ordered``), a first child on its parent's row
    one column on, each later child on the next free row."""
    followers = {kid.id for kids in children.values() for kid in kids}
    roots = [c for c in ordered if c.id not in followers]
    places: dict[str, tuple[float, float]] = {}
    rows = 0
    for root in roots + list(ordered):  # then whatever a loop of parent ids left out
        stack: list[tuple[Checkpoint, float, int | None]] = [(root, float(root.step), None)]
        while stack:
            checkpoint, column, row = stack.pop()
            if checkpoint.id in places:
                continue
            if row is None:
                row, rows = rows, rows + 1
            places[checkpoint.id] = (column, -row)
            kids = children.get(checkpoint.id, [])
            stack += [(kid, column + 1, None) for kid in reversed(kids[1:])]
            if kids:
                stack.append((kids[0], column + 1, row))
    return places


def _tree_box(ax: Axes, checkpoint: Checkpoint, place: tuple[float, float], latest: bool) -> Text:
    """Draw one checkpoint's box at ``place``; the text artist that holds it."""
    source = checkpoint.metadata.get("source") if isinstance(checkpoint.metadata, dict) else None
    made = "update" if source == "update" else "\n".join(checkpoint.ran) or "input"
    number = str(int(checkpoint.id)) if checkpoint.id.isdigit() else checkpoint.id[-8:]
    update = made == "update"
    return ax.text(
        *place, f"#{number} · step {checkpoint.step}\n{made}", ha="center", va="center",
        fontsize=8, linespacing=1.3, zorder=2,
        bbox={"boxstyle": "round,pad=0.45",
              "facecolor": UPDATE_FACE if update else CHECKPOINT_FACE,
              "edgecolor": LATEST_EDGE if latest else UPDATE_EDGE if update else CHECKPOINT_EDGE,
              "linewidth": 2.4 if latest else 1.1, "linestyle": "--" if update else "-"},
    )
