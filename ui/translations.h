#pragma once

#include <QLocale>
#include <QString>

class QCoreApplication;

namespace Lockstep::Ui
{
    // Installs the console's translation (resources/translations/lockstep_*.ts,
    // compiled into :/i18n) for the first of `locale`'s UI languages that has
    // one, English otherwise: the English file carries the plural forms. The
    // translator is a child of `app`. Returns the language loaded ("en"),
    // empty when no translation could be loaded.
    QString installTranslations(QCoreApplication *app, const QLocale &locale = QLocale());
}  // namespace Lockstep::Ui
