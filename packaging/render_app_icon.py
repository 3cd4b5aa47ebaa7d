"""Render resources/icons/pa-console.svg to the PNG sizes platforms want (window icon, .desktop, installers).

Run after editing the SVG: `QT_QPA_PLATFORM=offscreen python packaging/render_app_icon.py`.
The PNGs are committed so that neither the wheel nor the bundle needs Qt's SVG plugin for its own icon.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtCore import QRectF
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (256,)


def render(svg: Path, size: int, out: Path) -> None:
    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"not a valid SVG: {svg}")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)  # transparent corners around the rounded tile
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    if not image.save(str(out), "PNG"):
        raise SystemExit(f"could not write {out}")


def main() -> int:
    app = QGuiApplication(sys.argv[:1])  # QPainter on a QImage needs a Gui application for fonts/plugins
    for size in SIZES:
        out = ICONS / f"pa-console-{size}.png"
        render(ICONS / "pa-console.svg", size, out)
        print(out)
    del app
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
