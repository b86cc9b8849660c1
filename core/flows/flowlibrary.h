#pragma once

#include <optional>

#include <QHash>
#include <QList>
#include <QString>
#include <QStringList>

#include "flows/flow.h"

namespace Lockstep::Flows
{
    // The flows a gateway can run: the built-ins compiled into lockstep_flows
    // (":/flows/*.json") plus, optionally, a folder (--flows DIR) whose flows
    // override built-ins of the same name. A bad file is skipped and reported
    // in errors(); loading never fails as a whole.
    class FlowLibrary
    {
    public:
        // The resource folder of the built-in flows.
        static QString builtInFolder();  // ":/flows"

        // Built-ins, then `folder` (if not empty). A folder that does not exist
        // or cannot be read is one error.
        static FlowLibrary load(const QString &folder = {});

        // Adds every *.json of `folder`, replacing flows of the same name.
        // Other files are ignored. Returns the number of flows added.
        int addFolder(const QString &folder);
        // Adds one flow, replacing a flow of the same name.
        void add(Flow flow);

        std::optional<Flow> find(const QString &name) const;
        bool contains(const QString &name) const;
        QStringList names() const;  // sorted
        int size() const;
        // Files that were skipped, one readable line each (file, step, field).
        const QList<FlowError> &errors() const;
        QStringList errorMessages() const;

    private:
        QHash<QString, Flow> m_flows;
        QList<FlowError> m_errors;
    };
}  // namespace Lockstep::Flows
