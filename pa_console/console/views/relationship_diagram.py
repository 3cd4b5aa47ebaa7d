"""The relationship drawn with QPainter: two appliance boxes, their roles, the link's state between."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from pa_console.console.state.picture import NodePicture, RelationshipPicture
from pa_console.console.state.status import LinkState
from pa_console.console.views.theme import STATUS_COLOURS

LINK_COLOURS = {
    LinkState.IN_SYNC: STATUS_COLOURS["in-sync"],
    LinkState.SYNCING: STATUS_COLOURS["syncing"],
    LinkState.BEHIND: STATUS_COLOURS["behind"],
    LinkState.BROKEN: STATUS_COLOURS["broken"],
    LinkState.PRIMARY_LOST: STATUS_COLOURS["primary-lost"],
    LinkState.UNKNOWN: "#9AA3AE",
    LinkState.NONE: "#9AA3AE",
}
ROLE_COLOURS = {"primary": "#2F6FDE", "backup": "#7B61C9", "standalone": "#6C7580", "unknown": "#6C7580"}


class RelationshipDiagram(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.picture: RelationshipPicture | None = None
        self.drawn_label = ""  # the link's words as last painted (whole, or elided when even wrapped they overflow)
        self.setAccessibleName("Relationship diagram")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(self.fontMetrics().height() * 7)

    def sizeHint(self) -> QSize:
        line = self.fontMetrics().height()
        return QSize(line * 36, line * 8)

    def set_picture(self, picture: RelationshipPicture) -> None:
        self.picture = picture
        description = f"{picture.left.name} ({picture.left.role})"
        if picture.right is not None:
            description += f" and {picture.right.name} ({picture.right.role}): {picture.link_label}"
        else:
            description += f": {picture.link_label}"
        self.setAccessibleDescription(description)
        self.setToolTip(description)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        picture = self.picture
        if picture is None:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        line = self.fontMetrics().height()
        margin = line * 0.5
        box_w = max(line * 9, self.width() * 0.3)
        box_h = self.height() - 2 * margin - line * 1.5
        left = QRectF(margin, margin, box_w, box_h)
        self._node(painter, left, picture.left)
        colour = QColor(LINK_COLOURS[picture.link])
        if picture.right is not None:
            right = QRectF(self.width() - margin - box_w, margin, box_w, box_h)
            self._node(painter, right, picture.right)
            y = left.center().y()
            pen = QPen(colour, max(2.0, line / 5))
            if picture.link in (LinkState.BROKEN, LinkState.PRIMARY_LOST, LinkState.UNKNOWN):
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            a, b = QPointF(left.right(), y), QPointF(right.left(), y)
            painter.drawLine(a, b)
            # The backup pulls: an arrow head points from the primary to the backup.
            painter.setBrush(colour)
            tip = b if picture.right.role == "backup" else a
            direction = -1 if tip is b else 1
            size = line * 0.6
            painter.drawPolygon(
                [
                    tip,
                    QPointF(tip.x() + direction * size, y - size / 2),
                    QPointF(tip.x() + direction * size, y + size / 2),
                ]
            )
            painter.setPen(colour)
            # Wrapped in the gap above the line (a long label drawn centred ran under both boxes; elided to one
            # line, "Primary lost · manual failover needed (auto..." lost what matters). Elided only if even the
            # wrapped text cannot fit; the whole text is also in the banner and the accessible description.
            text_rect = QRectF(left.right() + 4, 0, right.left() - left.right() - 8, y - line * 0.25)
            flags = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom | Qt.TextFlag.TextWordWrap
            label = picture.link_label
            needed = painter.fontMetrics().boundingRect(text_rect.toRect(), int(flags), label)
            if needed.height() > text_rect.height() or needed.width() > text_rect.width():
                label = painter.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight,
                                                         int(text_rect.width()) - 4)
            self.drawn_label = label
            painter.drawText(text_rect, int(flags), label)
        else:
            painter.setPen(colour)
            text_rect = QRectF(left.right() + margin, margin, self.width() - left.right() - 2 * margin, box_h)
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.TextFlag.TextWordWrap, picture.link_label)
        painter.end()

    def _node(self, painter: QPainter, rect: QRectF, node: NodePicture) -> None:
        palette = self.palette()
        base = QColor(palette.color(QPalette.ColorRole.Base))
        text = QColor(palette.color(QPalette.ColorRole.Text))
        muted = QColor(palette.color(QPalette.ColorRole.PlaceholderText))
        role_colour = QColor(ROLE_COLOURS.get(node.role, ROLE_COLOURS["unknown"]))
        outline = QPainterPath()
        outline.addRoundedRect(rect, 6.0, 6.0)
        painter.fillPath(outline, base)
        painter.strokePath(outline, QPen(role_colour, 2))
        line = self.fontMetrics().height()
        painter.setPen(text)
        title = QRectF(rect.left(), rect.top() + line * 0.3, rect.width(), line * 1.2)
        font = painter.font()
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(title, Qt.AlignmentFlag.AlignHCenter, node.name)
        font.setBold(False)
        painter.setFont(font)
        painter.setPen(role_colour)
        painter.drawText(
            QRectF(rect.left(), title.bottom(), rect.width(), line * 1.2),
            Qt.AlignmentFlag.AlignHCenter,
            node.role.upper(),
        )
        painter.setPen(muted)
        painter.drawText(
            QRectF(rect.left() + 4, title.bottom() + line * 1.2, rect.width() - 8, rect.bottom() - title.bottom()),
            Qt.AlignmentFlag.AlignHCenter | Qt.TextFlag.TextWordWrap,
            node.detail,
        )
