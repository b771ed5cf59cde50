"""QR codes drawn on the server as inline SVG (segno: pure Python, nothing fetched at run time)."""
from __future__ import annotations

import io

import segno
from markupsafe import Markup


def qr_svg(text: str, scale: int = 4) -> Markup:
    """An <svg> element (no XML declaration) safe to place in a page; error correction M survives a
    creased printout."""
    out = io.BytesIO()
    segno.make(text, error="m").save(out, kind="svg", scale=scale, xmldecl=False, svgns=True,
                                     title="合同码二维码", nl=False)
    return Markup(out.getvalue().decode("utf-8"))
