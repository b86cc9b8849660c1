#include "theme.h"

#include <memory>

#include <QApplication>
#include <QHash>
#include <QImageReader>
#include <QPainter>
#include <QPainterPath>
#include <QPixmap>
#include <QStyle>
#include <QStyleFactory>

// The resources live in the static lockstep_ui library: register them
// explicitly (the linker may drop an unreferenced static initialiser).
// Q_INIT_RESOURCE must be used outside any namespace.
static void initConsoleResources()
{
    Q_INIT_RESOURCE(lockstep);
}

namespace Lockstep::Ui::Theme
{
    namespace
    {
        QString g_systemStyle;

        QPalette darkPalette()
        {
            QPalette p;
            const QColor window(0x2b, 0x2d, 0x30);
            const QColor base(0x1e, 0x1f, 0x22);
            const QColor text(0xe6, 0xe6, 0xe6);
            const QColor disabledText(0x80, 0x80, 0x80);
            p.setColor(QPalette::Window, window);
            p.setColor(QPalette::WindowText, text);
            p.setColor(QPalette::Base, base);
            p.setColor(QPalette::AlternateBase, QColor(0x26, 0x27, 0x2b));
            p.setColor(QPalette::ToolTipBase, window);
            p.setColor(QPalette::ToolTipText, text);
            p.setColor(QPalette::PlaceholderText, QColor(0x9a, 0x9a, 0x9a));
            p.setColor(QPalette::Text, text);
            p.setColor(QPalette::Button, window);
            p.setColor(QPalette::ButtonText, text);
            p.setColor(QPalette::BrightText, QColor(0xff, 0x6b, 0x6b));
            p.setColor(QPalette::Light, QColor(0x3c, 0x3f, 0x44));
            p.setColor(QPalette::Midlight, QColor(0x35, 0x37, 0x3b));
            p.setColor(QPalette::Mid, QColor(0x25, 0x26, 0x29));
            p.setColor(QPalette::Dark, QColor(0x18, 0x19, 0x1b));
            p.setColor(QPalette::Shadow, Qt::black);
            p.setColor(QPalette::Highlight, QColor(0x3d, 0x6f, 0xb5));
            p.setColor(QPalette::HighlightedText, Qt::white);
            p.setColor(QPalette::Link, QColor(0x6c, 0xb6, 0xff));
            p.setColor(QPalette::LinkVisited, QColor(0xb0, 0x8c, 0xff));
            for (const auto role : {QPalette::WindowText, QPalette::Text, QPalette::ButtonText})
                p.setColor(QPalette::Disabled, role, disabledText);
            return p;
        }

        QPalette lightPalette()
        {
            const std::unique_ptr<QStyle> fusion(QStyleFactory::create(QStringLiteral("Fusion")));
            return fusion ? fusion->standardPalette() : QPalette();
        }

        QColor mix(const QColor &a, const QColor &b, const qreal t)
        {
            return QColor::fromRgbF((a.redF() * (1 - t)) + (b.redF() * t), (a.greenF() * (1 - t)) + (b.greenF() * t),
                                    (a.blueF() * (1 - t)) + (b.blueF() * t));
        }

        // Draws a 16x16 logical icon at 1x and 2x.
        template <typename Paint>
        QIcon paintedIcon(Paint paint)
        {
            QIcon icon;
            for (const int scale : {1, 2})
            {
                QPixmap pixmap(16 * scale, 16 * scale);
                pixmap.fill(Qt::transparent);
                {
                    QPainter painter(&pixmap);
                    painter.setRenderHint(QPainter::Antialiasing);
                    painter.scale(scale, scale);
                    paint(painter);
                }
                icon.addPixmap(pixmap);
            }
            return icon;
        }

        enum class Shape
        {
            Ring,
            Disc,
            Pause,
            Check,
            Cross,
            Square,
            Question,
            Hourglass,
            Clock,
        };

        QIcon shapeIcon(const Shape shape, const QColor &color)
        {
            return paintedIcon([shape, color](QPainter &p) {
                QPen pen(color, 2.0, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin);
                p.setPen(pen);
                p.setBrush(Qt::NoBrush);
                switch (shape)
                {
                case Shape::Ring: p.drawEllipse(QRectF(3, 3, 10, 10)); break;
                case Shape::Disc:
                    p.setBrush(color);
                    p.drawEllipse(QRectF(3, 3, 10, 10));
                    break;
                case Shape::Pause:
                    p.setPen(Qt::NoPen);
                    p.setBrush(color);
                    p.drawRect(QRectF(4, 3, 3, 10));
                    p.drawRect(QRectF(9, 3, 3, 10));
                    break;
                case Shape::Check:
                    p.drawPolyline(QPolygonF({QPointF(3, 8.5), QPointF(6.5, 12), QPointF(13, 4.5)}));
                    break;
                case Shape::Cross:
                    p.drawLine(QPointF(4, 4), QPointF(12, 12));
                    p.drawLine(QPointF(12, 4), QPointF(4, 12));
                    break;
                case Shape::Square:
                    p.setPen(Qt::NoPen);
                    p.setBrush(color);
                    p.drawRect(QRectF(4, 4, 8, 8));
                    break;
                case Shape::Question:
                {
                    p.drawEllipse(QRectF(1.5, 1.5, 13, 13));
                    QPainterPath path;
                    path.moveTo(6, 6.2);
                    path.cubicTo(6, 3.8, 10, 3.8, 10, 6.2);
                    path.cubicTo(10, 7.6, 8, 7.8, 8, 9.6);
                    p.setPen(QPen(color, 1.6, Qt::SolidLine, Qt::RoundCap));
                    p.drawPath(path);
                    p.setPen(Qt::NoPen);
                    p.setBrush(color);
                    p.drawEllipse(QPointF(8, 12), 1.0, 1.0);
                    break;
                }
                case Shape::Hourglass:
                    p.setPen(QPen(color, 1.6, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin));
                    p.drawPolygon(QPolygonF({QPointF(4, 2.5), QPointF(12, 2.5), QPointF(4, 13.5), QPointF(12, 13.5)}));
                    break;
                case Shape::Clock:
                    p.setPen(QPen(color, 1.6));
                    p.drawEllipse(QRectF(2, 2, 12, 12));
                    p.drawLine(QPointF(8, 8), QPointF(8, 4.5));
                    p.drawLine(QPointF(8, 8), QPointF(10.5, 9.5));
                    break;
                }
            });
        }

        Shape statusShape(const RunStatus status)
        {
            switch (status)
            {
            case RunStatus::Created: return Shape::Ring;
            case RunStatus::Running: return Shape::Disc;
            case RunStatus::Paused: return Shape::Pause;
            case RunStatus::Finished: return Shape::Check;
            case RunStatus::Failed: return Shape::Cross;
            case RunStatus::Stopped: return Shape::Square;
            case RunStatus::InputRequired:
            case RunStatus::PlanApprovalRequired:
            case RunStatus::ToolCallApprovalRequired: return Shape::Question;
            }
            return Shape::Ring;
        }
    }  // namespace

    QString toString(const Mode mode)
    {
        switch (mode)
        {
        case Mode::System: return QStringLiteral("system");
        case Mode::Light: return QStringLiteral("light");
        case Mode::Dark: return QStringLiteral("dark");
        }
        return QStringLiteral("system");
    }

    Mode modeFromString(const QString &text)
    {
        if (text == u"light")
            return Mode::Light;
        if (text == u"dark")
            return Mode::Dark;
        return Mode::System;
    }

    void captureSystemDefaults()
    {
        if (g_systemStyle.isEmpty() && QApplication::style())
            g_systemStyle = QApplication::style()->name();
    }

    void apply(const Mode mode)
    {
        captureSystemDefaults();
        switch (mode)
        {
        case Mode::System:
            if (!g_systemStyle.isEmpty() && (QApplication::style()->name() != g_systemStyle))
                QApplication::setStyle(g_systemStyle);
            // An empty palette hands control back to the platform theme, which
            // keeps following the desktop's light/dark setting.
            QApplication::setPalette(QPalette());
            break;
        case Mode::Light:
            if (QApplication::style()->name() != u"fusion")
                QApplication::setStyle(QStringLiteral("Fusion"));
            QApplication::setPalette(lightPalette());
            break;
        case Mode::Dark:
            if (QApplication::style()->name() != u"fusion")
                QApplication::setStyle(QStringLiteral("Fusion"));
            QApplication::setPalette(darkPalette());
            break;
        }
    }

    bool isDark(const QPalette &palette)
    {
        return palette.color(QPalette::Window).lightnessF() < palette.color(QPalette::WindowText).lightnessF();
    }

    QColor toneColor(const Tone tone, const QPalette &palette)
    {
        const bool dark = isDark(palette);
        switch (tone)
        {
        case Tone::Neutral: return palette.color(QPalette::PlaceholderText);
        case Tone::Info: return dark ? QColor(0x58, 0xa6, 0xff) : QColor(0x09, 0x69, 0xda);
        case Tone::Good: return dark ? QColor(0x3f, 0xb9, 0x50) : QColor(0x1a, 0x7f, 0x37);
        case Tone::Warning: return dark ? QColor(0xd2, 0x99, 0x22) : QColor(0x9a, 0x67, 0x00);
        case Tone::Bad: return dark ? QColor(0xf8, 0x51, 0x49) : QColor(0xcf, 0x22, 0x2e);
        }
        return palette.color(QPalette::Text);
    }

    QColor toneBackground(const Tone tone, const QPalette &palette)
    {
        return mix(palette.color(QPalette::Base), toneColor(tone, palette), isDark(palette) ? 0.22 : 0.12);
    }

    Tone statusTone(const RunStatus status)
    {
        switch (status)
        {
        case RunStatus::Created: return Tone::Neutral;
        case RunStatus::Running: return Tone::Info;
        case RunStatus::Paused: return Tone::Warning;
        case RunStatus::Finished: return Tone::Good;
        case RunStatus::Failed: return Tone::Bad;
        case RunStatus::Stopped: return Tone::Neutral;
        case RunStatus::InputRequired:
        case RunStatus::PlanApprovalRequired:
        case RunStatus::ToolCallApprovalRequired: return Tone::Warning;
        }
        return Tone::Neutral;
    }

    Tone messageStatusTone(const Protocol::MessageStatus status)
    {
        switch (status)
        {
        case Protocol::MessageStatus::Pending: return Tone::Info;
        case Protocol::MessageStatus::Success: return Tone::Good;
        case Protocol::MessageStatus::Failure: return Tone::Bad;
        }
        return Tone::Neutral;
    }

    QIcon statusIcon(const RunStatus status, const QPalette &palette)
    {
        static QHash<int, QIcon> cache;
        const int key = (static_cast<int>(status) * 2) + (isDark(palette) ? 1 : 0);
        const auto it = cache.constFind(key);
        if (it != cache.cend())
            return *it;
        const QIcon icon = shapeIcon(statusShape(status), toneColor(statusTone(status), palette));
        cache.insert(key, icon);
        return icon;
    }

    QIcon staleIcon(const QPalette &palette)
    {
        static QIcon light;
        static QIcon dark;
        QIcon &icon = isDark(palette) ? dark : light;
        if (icon.isNull())
            icon = shapeIcon(Shape::Clock, toneColor(Tone::Warning, palette));
        return icon;
    }

    QIcon messageStatusIcon(const Protocol::MessageStatus status, const QPalette &palette)
    {
        static QHash<int, QIcon> cache;
        const int key = (static_cast<int>(status) * 2) + (isDark(palette) ? 1 : 0);
        const auto it = cache.constFind(key);
        if (it != cache.cend())
            return *it;
        Shape shape = Shape::Hourglass;
        if (status == Protocol::MessageStatus::Success)
            shape = Shape::Check;
        else if (status == Protocol::MessageStatus::Failure)
            shape = Shape::Cross;
        const QIcon icon = shapeIcon(shape, toneColor(messageStatusTone(status), palette));
        cache.insert(key, icon);
        return icon;
    }

    QIcon appIcon()
    {
        static const bool registered = [] {
            initConsoleResources();
            return true;
        }();
        Q_UNUSED(registered);
        QIcon icon;
        // The SVG for sizes between the PNGs, where Qt's SVG support is installed (qt6-svg).
        if (QImageReader::supportedImageFormats().contains("svg"))
            icon.addFile(QStringLiteral(":/icons/lockstep.svg"));
        for (const int size : {16, 32, 48, 64, 128, 256})
            icon.addFile(QStringLiteral(":/icons/lockstep-%1.png").arg(size), QSize(size, size));
        return icon;
    }
}  // namespace Lockstep::Ui::Theme
