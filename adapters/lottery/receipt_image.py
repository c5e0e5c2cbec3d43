"""The printable receipt of a lottery sale: a PNG a person can read (business, draw, boards,
options, amount, date, the receipt's numbers) with a QR code holding the reference and the
security number (`{"reference_number": …, "security_number": …}`, compact JSON), as base64.

Pillow draws it with its bundled FreeType font; segno builds the QR code (error correction
M). Rendering is deterministic: the same sale gives the same bytes, so a replayed purchase
answers the same body. Text is the sale's own; anything unprintable is dropped and long
lines are wrapped, so no input can make rendering fail.
"""

from __future__ import annotations

import base64
import io
import json
import textwrap
import unicodedata
from functools import lru_cache
from typing import Any

import segno
from PIL import Image, ImageDraw, ImageFont

from gateway.core.lottery.sales import LotterySale

WIDTH = 576  # an 80 mm thermal printer at 180 dpi
MARGIN = 24
QR_SCALE = 4
BOARD_LABELS = "ABCDEF"


@lru_cache(maxsize=8)
def _font(size: int) -> Any:
    return ImageFont.load_default(size=size)


def _clean(text: str) -> str:
    """Printable text in the bundled font, which has no accented letters: `México` is
    printed `Mexico` (as thermal receipts do); control and format characters are dropped."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(
        ch
        for ch in decomposed
        if unicodedata.category(ch)[0] != "C" and not unicodedata.combining(ch)
    )


def qr_payload(reference_number: str, security_number: str) -> str:
    return json.dumps(
        {"reference_number": reference_number, "security_number": security_number},
        separators=(",", ":"),
    )


def _qr(payload: str) -> Image.Image:
    # a fixed mask: choosing the best of eight costs more than everything else drawn here
    code = segno.make(payload, error="m", micro=False, mask=2)
    rows = [list(row) for row in code.matrix_iter(scale=QR_SCALE, border=4)]
    image = Image.new("L", (len(rows[0]), len(rows)), 255)
    image.putdata([0 if bit else 255 for row in rows for bit in row])
    return image


def render_png(s: LotterySale, draw_date: str) -> bytes:
    lines: list[tuple[str, int]] = []  # (text, font size)

    def add(text: str, size: int = 20, width: int = 44) -> None:
        for part in textwrap.wrap(_clean(text), width=width)[:3] or [""]:
            lines.append((part, size))

    add(s.branch_name.upper(), 28, 32)
    add(s.branch_street)
    add(f"{s.branch_neighborhood}, {s.branch_city}")
    lines.append(("-" * 48, 20))
    add(f"SORTEO {s.draw_number}   {draw_date}", 24, 36)
    add(f"FECHA {s.transaction_date}")
    lines.append(("", 10))
    for label, board in zip(BOARD_LABELS, s.combination_numbers.split("|"), strict=False):
        lines.append((f"{label}:  " + "  ".join(f"{int(n):02d}" for n in board.split(",")), 30))
    lines.append(("", 10))
    add(
        f"REVANCHA: {'SI' if s.rematch else 'NO'}    "
        f"REVANCHITA: {'SI' if s.second_rematch else 'NO'}"
    )
    add(f"TOTAL: ${s.total // 100:,}.{s.total % 100:02d} {s.currency}", 32, 30)
    lines.append(("-" * 48, 20))
    add(f"REFERENCIA {s.reference_number}")
    add(f"SERIE {s.serial_number}")
    add(f"TRANSACCION {s.transaction_number}")
    add(f"SESION {s.session_id}")
    add("NUMERO DE SEGURIDAD", 18)
    for chunk in textwrap.wrap(s.security_number, width=45):
        lines.append((chunk, 17))
    qr = _qr(qr_payload(s.reference_number, s.security_number))
    text_height = sum(size + 8 for _, size in lines)
    height = MARGIN + text_height + 16 + qr.height + MARGIN
    image = Image.new("L", (WIDTH, height), 255)
    draw = ImageDraw.Draw(image)
    y = MARGIN
    for text, size in lines:
        draw.text((MARGIN, y), text, fill=0, font=_font(size))
        y += size + 8
    image.paste(qr, ((WIDTH - qr.width) // 2, y + 16))
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False, compress_level=3)
    return out.getvalue()


def render(s: LotterySale, draw_date: str) -> str:
    """The receipt PNG as base64 (seed 003's `receipt.ticket_image`)."""
    return base64.b64encode(render_png(s, draw_date)).decode("ascii")
