#include "runstore.h"

#include "migrations.h"
#include "sqlrunstore.h"
#include "storespec.h"

namespace Lockstep::Store
{
    StoreResult<std::unique_ptr<RunStore>> RunStore::open(const QString &spec, const StoreOptions &options)
    {
        Result<StoreSpec, QString> parsed = parseStoreSpec(spec);
        if (!parsed)
            return unexpected(StoreError{parsed.error()});
        return SqlRunStore::open(*parsed, options);
    }

    bool RunStore::watchChanges(std::function<void(const QString &)>)
    {
        return false;
    }

    StoreResult<WorkspaceAgent> RunStore::registerWorkspaceAgent(const QString &, const QString &, const QString &, int,
                                                                 const QByteArray &)
    {
        return unexpected(StoreError{QStringLiteral("this store does not keep workspace agents")});
    }

    StoreResult<std::optional<RunWorkspace>> RunStore::runWorkspace(const QString &)
    {
        return unexpected(StoreError{QStringLiteral("this store does not keep workspace bindings")});
    }

    StoreResult<bool> RunStore::setRunWorkspace(const QString &, const RunWorkspace &)
    {
        return unexpected(StoreError{QStringLiteral("this store does not keep workspace bindings")});
    }

    StoreResult<StopWorkspaceResult> RunStore::stopWorkspace(const QString &, const std::optional<QString> &)
    {
        return unexpected(StoreError{QStringLiteral("this store does not keep workspace agents")});
    }

    StoreResult<std::optional<WorkspaceAgent>> RunStore::workspaceState(const QString &)
    {
        return unexpected(StoreError{QStringLiteral("this store does not keep workspace agents")});
    }

    int RunStore::latestSchemaVersion()
    {
        return migrations().isEmpty() ? 0 : migrations().constLast().version;
    }
}  // namespace Lockstep::Store
