#pragma once

#include <QColor>
#include <QIcon>
#include <QPalette>
#include <QString>

#include "protocol/chatlog.h"
#include "protocol/runstatus.h"

// Colours and icons derived from the active palette, so light and dark
// desktops both read well. Nothing here hard-codes a background.
namespace Lockstep::Ui::Theme
{
    enum class Mode
    {
        System,  // the platform's style and palette (follows the desktop)
        Light,   // Fusion with a light palette
        Dark,    // Fusion with a dark palette
    };

    QString toString(Mode mode);               // "system", "light", "dark"
    Mode modeFromString(const QString &text);  // unknown: System

    // Applies `mode` to the running QApplication. System restores the style
    // and palette the application started with.
    void apply(Mode mode);
    // Remembers the platform's style and palette; call once after QApplication exists.
    void captureSystemDefaults();

    // A dark palette: the window colour is darker than its text.
    bool isDark(const QPalette &palette);

    // Semantic tones; each has a light-palette and a dark-palette shade.
    enum class Tone
    {
        Neutral,
        Info,
        Good,
        Warning,
        Bad,
    };
    QColor toneColor(Tone tone, const QPalette &palette);
    // A faint wash of `tone` over the palette's base, for banners.
    QColor toneBackground(Tone tone, const QPalette &palette);

    Tone statusTone(RunStatus status);
    Tone messageStatusTone(Protocol::MessageStatus status);
    // A small painted icon (shape and colour differ per status, so colour is
    // never the only cue).
    QIcon statusIcon(RunStatus status, const QPalette &palette);
    // A stale `running` (its last activity is older than the stale threshold).
    QIcon staleIcon(const QPalette &palette);
    QIcon messageStatusIcon(Protocol::MessageStatus status, const QPalette &palette);
    // The application icon from the resources.
    QIcon appIcon();
}  // namespace Lockstep::Ui::Theme
