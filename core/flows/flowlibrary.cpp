#include "flowlibrary.h"

#include <QDir>
#include <QFileInfo>

#include "common/logging.h"

// Q_INIT_RESOURCE declares the initialiser at block scope, so it must be
// expanded outside any namespace. A resource in a static library is dropped
// by the linker unless something references it, hence this call.
static void initBuiltInFlows()
{
    Q_INIT_RESOURCE(flows);
}

namespace Lockstep::Flows
{
    QString FlowLibrary::builtInFolder()
    {
        return QStringLiteral(":/flows");
    }

    FlowLibrary FlowLibrary::load(const QString &folder)
    {
        initBuiltInFlows();
        FlowLibrary library;
        if (library.addFolder(builtInFolder()) == 0)
            qCWarning(lcFlows) << "no built-in flows found in" << builtInFolder();
        if (!folder.isEmpty())
            library.addFolder(folder);
        return library;
    }

    int FlowLibrary::addFolder(const QString &folder)
    {
        const QFileInfo info(folder);
        if (!info.exists() || !info.isDir())
        {
            m_errors.append(FlowError{.file = folder,
                                      .step = std::nullopt,
                                      .field = {},
                                      .message = QStringLiteral("flows folder does not exist or is not a folder")});
            qCWarning(lcFlows).noquote() << m_errors.constLast().toString();
            return 0;
        }
        if (!info.isReadable())
        {
            m_errors.append(FlowError{.file = folder,
                                      .step = std::nullopt,
                                      .field = {},
                                      .message = QStringLiteral("flows folder is not readable")});
            qCWarning(lcFlows).noquote() << m_errors.constLast().toString();
            return 0;
        }

        const QDir dir(folder);
        const QFileInfoList files =
            dir.entryInfoList({QStringLiteral("*.json")}, QDir::Files | QDir::Readable, QDir::Name);
        int added = 0;
        for (const QFileInfo &file : files)
        {
            auto flow = Flow::loadFile(file.filePath());
            if (!flow)
            {
                m_errors.append(flow.error());
                qCWarning(lcFlows).noquote() << "skipping flow:" << flow.error().toString();
                continue;
            }
            if (m_flows.contains(flow->name))
                qCInfo(lcFlows).noquote() << "flow" << flow->name << "from" << flow->source << "overrides"
                                          << m_flows.value(flow->name).source;
            add(std::move(flow).value());
            ++added;
        }
        return added;
    }

    void FlowLibrary::add(Flow flow)
    {
        const QString name = flow.name;
        m_flows.insert(name, std::move(flow));
    }

    std::optional<Flow> FlowLibrary::find(const QString &name) const
    {
        const auto it = m_flows.constFind(name);
        if (it == m_flows.constEnd())
            return std::nullopt;
        return *it;
    }

    bool FlowLibrary::contains(const QString &name) const
    {
        return m_flows.contains(name);
    }

    QStringList FlowLibrary::names() const
    {
        QStringList names = m_flows.keys();
        names.sort();
        return names;
    }

    int FlowLibrary::size() const
    {
        return static_cast<int>(m_flows.size());
    }

    const QList<FlowError> &FlowLibrary::errors() const
    {
        return m_errors;
    }

    QStringList FlowLibrary::errorMessages() const
    {
        QStringList messages;
        messages.reserve(m_errors.size());
        for (const FlowError &error : m_errors)
            messages.append(error.toString());
        return messages;
    }
}  // namespace Lockstep::Flows
