"""The statement chart: `remainingBalance` over the days as an inline SVG polyline.

Geometry only: points are computed with integer arithmetic from the amounts (minor units)
into a fixed view box; the template draws them. No script, no external library.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 8, 8, 12, 28


@dataclass(frozen=True)
class Chart:
    points: str  # "x,y x,y …" for <polyline>
    dots: list[tuple[int, int]]
    zero_y: int  # where the zero line is drawn
    high: int  # largest value (minor units)
    low: int  # smallest value
    first_label: str
    last_label: str
    width: int = WIDTH
    height: int = HEIGHT


def build(values: Sequence[int], labels: Sequence[str]) -> Chart | None:
    if not values:
        return None
    high, low = max(max(values), 0), min(min(values), 0)
    span = (high - low) or 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    steps = max(len(values) - 1, 1)

    def y(v: int) -> int:
        return TOP + (high - v) * inner_h // span

    dots = [
        (LEFT + (i * inner_w // steps if len(values) > 1 else inner_w // 2), y(v))
        for i, v in enumerate(values)
    ]
    return Chart(
        points=" ".join(f"{px},{py}" for px, py in dots),
        dots=dots,
        zero_y=y(0),
        high=high,
        low=low,
        first_label=labels[0],
        last_label=labels[-1],
    )
