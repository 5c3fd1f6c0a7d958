"""A letter as a PDF: return address and recipient where an envelope window shows them, the
letter below, in one embedded TrueType font that covers Latin and Chinese.

The font is subset into each PDF (only the glyphs used), so a letter stays around 15 kB.
fpdf2 embeds TrueType (``glyf``) fonts with correct widths and a ToUnicode map, so the text
can be extracted again; its CFF (``.otf``) path does not, which is why the default is a
TrueType CJK font from the package index (WenQuanYi Micro Hei) rather than Noto's ``.otf``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher_plugins.letter.address import Recipient

if TYPE_CHECKING:
    from fpdf import FPDF

FONT = "letter"
# DIN 5008 form B / C5-C6 window: 20 mm from the left, 45 mm from the top, 85 x 45 mm. A US
# #10 window sits inside the same area on letter paper. Nothing else is printed there.
WINDOW_LEFT, WINDOW_TOP, WINDOW_WIDTH = 20.0, 45.0, 85.0
# Lob prints the addresses itself in the top of the first page (its address_placement
# top_first_page): the letter starts below that area whoever prints the window.
LETTER_TOP = 100.0
MARGIN = 20.0


# Languages written without spaces between words: justifying them can only stretch the few
# spaces a line has (around a number, a Latin word), so "请于 30 日内致电 +1 800 555 0100"
# would be spread across the line. Their letters, and any letter with such text in it, are
# left-aligned; text in space-separated scripts keeps the justified block of a formal letter.
UNSPACED_LANGUAGES = frozenset({"zh", "ja", "ko", "th", "lo", "km", "my"})
_UNSPACED_TEXT = re.compile(
    "[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef\u0e00-\u0eff\u1000-\u109f]"
)


def alignment(locale: str, text: str) -> str:
    """fpdf2's ``align`` for a letter's text in ``locale``: ``J`` (justified) only where
    words are separated by spaces throughout, else ``L``."""
    language = locale.split("-", 1)[0].lower()
    if language in UNSPACED_LANGUAGES or _UNSPACED_TEXT.search(text):
        return "L"
    return "J"


def bundled_font() -> Path:
    return Path(str(files("paperang_p2_fonts_cjk") / "fonts" / "wqy-microhei.ttc"))


@dataclass(frozen=True, slots=True)
class Layout:
    """What is fixed for every letter of one channel."""

    page_size: str
    sender_lines: tuple[str, ...]
    font: Path
    print_window: bool


def render_letter(
    layout: Layout,
    recipient: Recipient,
    text: str,
    *,
    html: str | None = None,
    subject: str | None = None,
    dated: date,
    locale: str = "en",
) -> bytes:
    """The PDF bytes of one letter in ``locale``. ``html``, when given, is the letter instead
    of ``text``."""
    # fpdf2 (with fontTools) takes longer to import than the rest of the daemon; it is loaded
    # by the first letter, not by every start, `check` and command that loads the plugins.
    from fpdf import FPDF

    pdf = FPDF(format="A4" if layout.page_size == "A4" else "letter", unit="mm")
    pdf.set_auto_page_break(auto=True, margin=MARGIN)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_creator("dispatcher letter")
    pdf.add_font(FONT, fname=str(layout.font))
    pdf.add_page()
    if layout.print_window:
        _window(pdf, layout.sender_lines, recipient)
    pdf.set_xy(MARGIN, LETTER_TOP)
    pdf.set_font(FONT, size=10)
    pdf.cell(0, 5, dated.isoformat(), align="R", new_x="LMARGIN", new_y="NEXT")
    if subject:
        pdf.ln(4)
        pdf.set_font(FONT, size=11)
        pdf.multi_cell(
            0, 6, subject, align=alignment(locale, subject), new_x="LMARGIN", new_y="NEXT"
        )
    pdf.ln(4)
    pdf.set_font(FONT, size=11)
    if html:
        # One face only: <b> and <i> keep the regular face rather than fail.
        for style in ("B", "I", "BI"):
            pdf.add_font(FONT, style=style, fname=str(layout.font))
        pdf.write_html(html, font_family=FONT)
    else:
        pdf.multi_cell(0, 6, text, align=alignment(locale, text), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _window(pdf: FPDF, sender_lines: tuple[str, ...], recipient: Recipient) -> None:
    # One small line of return address, then the recipient: name and address only.
    pdf.set_xy(WINDOW_LEFT, WINDOW_TOP)
    pdf.set_font(FONT, size=7)
    pdf.cell(WINDOW_WIDTH, 4, ", ".join(sender_lines), new_x="LEFT", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(FONT, size=11)
    for line in recipient.window_lines():
        pdf.set_x(WINDOW_LEFT)
        pdf.cell(WINDOW_WIDTH, 5.5, line, new_x="LEFT", new_y="NEXT")
