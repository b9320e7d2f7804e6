"""Small charts drawn on the server as inline SVG: no JavaScript, no library, readable in any
browser and by a screen reader (a title, a description, and a ``<title>`` on every bar)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

SENT_COLOUR = "#1a7f37"
REJECTED_COLOUR = "#b42318"


@dataclass(frozen=True)
class RunBar:
    """One run in the chart: its label (shown on hover), rows sent and rejected, and its page."""

    label: str
    sent: int
    rejected: int
    href: str | None = None


def _number(value: int) -> str:
    return f"{value:,}"


def sent_and_rejected(
    bars: Sequence[RunBar], *, width: int = 720, height: int = 180, title: str = ""
) -> Markup:
    """A bar chart of rows sent (succeeded) and rejected per run, oldest on the left, as an SVG
    element. Each run is a pair of bars that links to the run."""
    title = title or "Rows sent and rejected per run"
    left, right, top, bottom = 56, 8, 24, 20
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max([1, *(b.sent for b in bars), *(b.rejected for b in bars)])
    slot = plot_w / max(len(bars), 1)
    bar_w = max(1.0, min(16.0, slot * 0.4))
    total_sent = sum(b.sent for b in bars)
    total_rejected = sum(b.rejected for b in bars)
    description = (
        f"{len(bars)} runs: {_number(total_sent)} rows sent and {_number(total_rejected)} "
        f"rejected in all; the most in one run is {_number(peak)}."
    )
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="group" '
        'aria-labelledby="chart-title chart-desc">',  # a group, not an img: its bars are links
        f'<title id="chart-title">{escape(title)}</title>',
        f'<desc id="chart-desc">{escape(description)}</desc>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11">'
        f"{escape(_number(peak))}</text>",
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end" font-size="11">0</text>',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#5b6475" stroke-width="1"/>',
        f'<line x1="{left}" y1="{top}" x2="{left + plot_w}" y2="{top}" stroke="#d9dde5" '
        'stroke-width="1" stroke-dasharray="3 3"/>',
        f'<rect x="{left}" y="4" width="10" height="10" fill="{SENT_COLOUR}"/>',
        f'<text x="{left + 14}" y="13" font-size="11">sent</text>',
        f'<rect x="{left + 56}" y="4" width="10" height="10" fill="{REJECTED_COLOUR}"/>',
        f'<text x="{left + 70}" y="13" font-size="11">rejected</text>',
    ]
    for index, bar in enumerate(bars):
        x = left + index * slot + (slot - 2 * bar_w) / 2
        group = []
        for offset, value, colour, kind in (
            (0.0, bar.sent, SENT_COLOUR, "sent"),
            (bar_w, bar.rejected, REJECTED_COLOUR, "rejected"),
        ):
            h = plot_h * value / peak
            group.append(
                f'<rect class="bar-{kind}" x="{x + offset:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}">'
                f"<title>{escape(bar.label)}: {escape(_number(value))} {kind}</title></rect>"
            )
        body = "".join(group)
        if bar.href is not None:
            name = f"{bar.label}: {_number(bar.sent)} sent, {_number(bar.rejected)} rejected"
            body = f'<a href="{escape(bar.href)}" aria-label="{escape(name)}">{body}</a>'
        parts.append(body)
    if not bars:
        parts.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" text-anchor="middle" '
            'font-size="13">No runs to chart</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
