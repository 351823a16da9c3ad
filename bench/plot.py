"""A small PNG line chart of wall time and API requests against the number of names.

Drawn pixel by pixel and encoded with zlib and struct, so the benchmark needs
no plotting library. Two panels share the x axis (names in one certificate);
both axes are logarithmic.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bench.measurement import ScenarioResult
from bench.scenarios import GROWTH, MULTI_DEFAULT, MULTI_SHORT, PLUGIN, Tool

Color = tuple[int, int, int]
WHITE: Color = (255, 255, 255)
BLACK: Color = (0, 0, 0)
GRID: Color = (225, 225, 225)
# Colors and legend names, one per line of the chart.
LINES: tuple[tuple[Tool | None, str, Color], ...] = (
    (PLUGIN, "certbot-dns-iijdpf", (31, 119, 180)),
    (MULTI_SHORT, f"certbot-dns-multi {MULTI_SHORT.sleep:g} s", (255, 127, 14)),
    (MULTI_DEFAULT, f"certbot-dns-multi {MULTI_DEFAULT.sleep:g} s", (214, 39, 40)),
    (None, "floor", (110, 110, 110)),
)

SCALE = 2  # font pixels per glyph pixel
PANEL_W, PANEL_H = 330, 210
LEFT, TOP, GAP = 76, 34, 96  # margins around the panels, and between them
WIDTH = LEFT + PANEL_W + GAP + PANEL_W + 20
HEIGHT = TOP + PANEL_H + 56 + 2 * 18 + 10  # panels, x ticks and label, two legend rows

Point = tuple[float, float]


@dataclass
class Series:
    label: str
    color: Color
    points: list[Point]
    dashed: bool = False


def growth_png(results: Sequence[ScenarioResult]) -> bytes | None:
    """The chart for the name-count scenarios in ``results``; None if fewer than two ran."""
    growth = [r for r in results if r.scenario in GROWTH]
    if len(growth) < 2:
        return None
    wall: list[Series] = []
    requests: list[Series] = []
    for tool, label, color in LINES:
        if tool is None:
            floors = [(float(r.scenario.names), r.floor) for r in growth if r.floor is not None]
            wall.append(Series(label, color, floors, dashed=True))
            continue
        runs = [(r.scenario.names, m) for r in growth for m in r.tool_runs(tool) if m.issued]
        wall.append(Series(label, color, [(float(n), m.wall) for n, m in runs]))
        requests.append(Series(label, color, [(float(n), float(m.requests)) for n, m in runs]))
    canvas = Canvas(WIDTH, HEIGHT)
    names = [r.scenario.names for r in growth]
    canvas.panel(LEFT, "wall time, s", names, wall)
    canvas.panel(LEFT + PANEL_W + GAP, "api requests", names, requests)
    canvas.legend([s for s in wall if s.points])
    return canvas.png()


def _log_range(values: Sequence[float]) -> tuple[float, float]:
    low = 10 ** math.floor(math.log10(min(values)))
    high = 10 ** math.ceil(math.log10(max(values)))
    return low, high if high > low else low * 10


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.pixels = bytearray(WHITE * (width * height))

    def dot(self, x: int, y: int, color: Color, size: int = 1) -> None:
        for dy in range(size):
            for dx in range(size):
                px, py = x + dx, y + dy
                if 0 <= px < self.width and 0 <= py < self.height:
                    at = (py * self.width + px) * 3
                    self.pixels[at : at + 3] = bytes(color)

    def line(self, a: Point, b: Point, color: Color, width: int = 1, dash: int = 0) -> None:
        steps = max(1, int(max(abs(b[0] - a[0]), abs(b[1] - a[1]))))
        for i in range(steps + 1):
            if dash and (i // dash) % 2:
                continue
            x = a[0] + (b[0] - a[0]) * i / steps
            y = a[1] + (b[1] - a[1]) * i / steps
            self.dot(round(x - width / 2), round(y - width / 2), color, width)

    def text(self, x: int, y: int, text: str, color: Color = BLACK) -> None:
        for char in text.lower():
            rows = GLYPHS.get(char, GLYPHS["?"]).split()
            for row, bits in enumerate(rows):
                for col, bit in enumerate(bits):
                    if bit == "1":
                        self.dot(x + col * SCALE, y + row * SCALE, color, SCALE)
            x += 6 * SCALE

    @staticmethod
    def text_width(text: str) -> int:
        return len(text) * 6 * SCALE - SCALE

    def panel(self, left: int, title: str, xs: Sequence[int], series: Sequence[Series]) -> None:
        values = [y for s in series for _, y in s.points if y > 0]
        if not values:
            return
        y_low, y_high = _log_range(values)
        x_low, x_high = min(xs) / 1.25, max(xs) * 1.25
        to_x = _log_scale(x_low, x_high, left, left + PANEL_W)
        to_y = _log_scale(y_low, y_high, TOP + PANEL_H, TOP)
        decade = y_low
        while decade <= y_high:
            for multiple in (1, 2, 5):
                y = decade * multiple
                if y_low <= y <= y_high:
                    self.line((left, to_y(y)), (left + PANEL_W, to_y(y)), GRID)
            label = f"{decade:g}"
            self.text(left - 8 - self.text_width(label), round(to_y(decade)) - 7, label)
            decade *= 10
        for x in xs:
            self.line((to_x(x), TOP), (to_x(x), TOP + PANEL_H), GRID)
            label = str(x)
            self.text(round(to_x(x)) - self.text_width(label) // 2, TOP + PANEL_H + 8, label)
        self.line((left, TOP), (left, TOP + PANEL_H), BLACK)
        self.line((left, TOP + PANEL_H), (left + PANEL_W, TOP + PANEL_H), BLACK)
        self.text(left, TOP - 24, title)
        x_label = "names in the certificate"
        self.text(left + (PANEL_W - self.text_width(x_label)) // 2, TOP + PANEL_H + 30, x_label)
        for s in series:
            points = [(to_x(x), to_y(y)) for x, y in sorted(s.points) if y > 0]
            for a, b in zip(points, points[1:]):
                self.line(a, b, s.color, width=3, dash=6 if s.dashed else 0)
            for px, py in points:
                self.dot(round(px) - 3, round(py) - 3, s.color, 7)

    def legend(self, series: Sequence[Series]) -> None:
        column = (WIDTH - LEFT) // 2
        for i, s in enumerate(series):
            x = LEFT + (i % 2) * column
            y = TOP + PANEL_H + 62 + (i // 2) * 18
            self.line((x, y + 7), (x + 28, y + 7), s.color, width=3, dash=6 if s.dashed else 0)
            self.text(x + 38, y, s.label)

    def png(self) -> bytes:
        stride = self.width * 3
        raw = b"".join(
            b"\x00" + bytes(self.pixels[row * stride : (row + 1) * stride])
            for row in range(self.height)
        )

        def chunk(tag: bytes, data: bytes) -> bytes:
            body = tag + data
            return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)  # 8-bit RGB
        return (
            b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(raw, 9))
            + chunk(b"IEND", b"")
        )


def _log_scale(low: float, high: float, start: float, end: float) -> Callable[[float], float]:
    span = math.log10(high) - math.log10(low)
    return lambda value: start + (end - start) * (math.log10(value) - math.log10(low)) / span


# A 5x7 pixel font, rows top to bottom: what the chart's labels need.
GLYPHS = {
    " ": "00000 00000 00000 00000 00000 00000 00000",
    "?": "01110 10001 00001 00010 00100 00000 00100",
    ",": "00000 00000 00000 00000 01100 00100 01000",
    "-": "00000 00000 00000 11111 00000 00000 00000",
    ".": "00000 00000 00000 00000 00000 01100 01100",
    "0": "01110 10001 10011 10101 11001 10001 01110",
    "1": "00100 01100 00100 00100 00100 00100 01110",
    "2": "01110 10001 00001 00010 00100 01000 11111",
    "3": "11111 00010 00100 00010 00001 10001 01110",
    "4": "00010 00110 01010 10010 11111 00010 00010",
    "5": "11111 10000 11110 00001 00001 10001 01110",
    "6": "00110 01000 10000 11110 10001 10001 01110",
    "7": "11111 00001 00010 00100 01000 01000 01000",
    "8": "01110 10001 10001 01110 10001 10001 01110",
    "9": "01110 10001 10001 01111 00001 00010 01100",
    "a": "00000 00000 01110 00001 01111 10001 01111",
    "b": "10000 10000 10110 11001 10001 10001 11110",
    "c": "00000 00000 01110 10000 10000 10001 01110",
    "d": "00001 00001 01101 10011 10001 10001 01111",
    "e": "00000 00000 01110 10001 11111 10000 01110",
    "f": "00110 01001 01000 11100 01000 01000 01000",
    "g": "00000 01111 10001 10001 01111 00001 01110",
    "h": "10000 10000 10110 11001 10001 10001 10001",
    "i": "00100 00000 01100 00100 00100 00100 01110",
    "j": "00010 00000 00110 00010 00010 10010 01100",
    "k": "10000 10000 10010 10100 11000 10100 10010",
    "l": "01100 00100 00100 00100 00100 00100 01110",
    "m": "00000 00000 11010 10101 10101 10001 10001",
    "n": "00000 00000 10110 11001 10001 10001 10001",
    "o": "00000 00000 01110 10001 10001 10001 01110",
    "p": "00000 00000 11110 10001 11110 10000 10000",
    "q": "00000 00000 01101 10011 01111 00001 00001",
    "r": "00000 00000 10110 11001 10000 10000 10000",
    "s": "00000 00000 01110 10000 01110 00001 11110",
    "t": "01000 01000 11100 01000 01000 01001 00110",
    "u": "00000 00000 10001 10001 10001 10011 01101",
    "v": "00000 00000 10001 10001 10001 01010 00100",
    "w": "00000 00000 10001 10001 10101 10101 01010",
    "x": "00000 00000 10001 01010 00100 01010 10001",
    "y": "00000 00000 10001 10001 01111 00001 01110",
    "z": "00000 00000 11111 00010 00100 01000 11111",
}
