#include "translations.h"

#include <memory>

#include <QCoreApplication>
#include <QTranslator>

#include "common/logging.h"

namespace Lockstep::Ui
{
    QString installTranslations(QCoreApplication *app, const QLocale &locale)
    {
        const QString folder = QStringLiteral(":/i18n");
        const QString name = QStringLiteral("lockstep");
        auto translator = std::make_unique<QTranslator>();
        if (!translator->load(locale, name, QStringLiteral("_"), folder) &&
            !translator->load(name + QStringLiteral("_en"), folder))
        {
            qCWarning(lcUi) << "no translation found in" << folder;
            return {};
        }
        const QString language = translator->language();
        qCDebug(lcUi).noquote() << "translation" << language << "for" << locale.name();
        translator->setParent(app);
        QCoreApplication::installTranslator(translator.release());
        return language;
    }
}  // namespace Lockstep::Ui
