"""The one font of the stakeholder report, for its text and its charts alike: DejaVu Sans.

matplotlib ships DejaVu Sans (regular and bold), so the font is the same file on every machine
and no system font package is needed. It is registered with ReportLab under ``FONT`` and
``FONT_BOLD`` (embedded as a subset in the PDF) and mapped in svglib's font map, so the chart
text that matplotlib writes as ``font-family: 'DejaVu Sans'`` becomes real PDF text in the
same embedded font instead of a guess through fontconfig.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from svglib.fonts import register_font

FONT = "PetProSans"
FONT_BOLD = "PetProSans-Bold"
FAMILY = "DejaVu Sans"


def register_fonts() -> None:
    """Register the report's fonts with ReportLab and svglib (once per process)."""
    if FONT in pdfmetrics.getRegisteredFontNames():
        return
    ttf = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(ttf / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(ttf / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=FONT_BOLD)
    register_font(FAMILY, rlgFontName=FONT)
    register_font(FAMILY, weight="bold", rlgFontName=FONT_BOLD)
