"""A check box must be visible in both themes: its box (unchecked) and its tick (checked) stand out from the window.

The dark theme once left the platform's indicator on a dark background, so the Force box of the step-down dialog was
nearly invisible. WCAG asks 3:1 for the parts of a control one needs to see to use it."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QCheckBox

from pa_console.console.views.theme import apply_theme


def _luminance(colour: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def _contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _best_contrast_in_indicator(box: QCheckBox) -> float:
    """The strongest contrast between the window's colour and any pixel of the indicator's area."""
    box.resize(box.sizeHint())
    image: QImage = box.grab().toImage()
    window = image.pixelColor(image.width() - 1, image.height() - 1)  # past the label: the window's background
    best = 1.0
    for x in range(min(22, image.width())):
        for y in range(image.height()):
            best = max(best, _contrast(image.pixelColor(x, y), window))
    return best


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_a_check_box_stands_out_in_both_states(qapp: QApplication, theme: str) -> None:
    assert apply_theme(qapp, theme) == theme
    try:
        box = QCheckBox("  ")  # no text: only the indicator can give contrast
        assert _best_contrast_in_indicator(box) >= 3.0
        box.setChecked(True)
        assert _best_contrast_in_indicator(box) >= 3.0
    finally:
        qapp.setStyleSheet("")
