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

    int RunStore::latestSchemaVersion()
    {
        return migrations().isEmpty() ? 0 : migrations().constLast().version;
    }
}  // namespace Lockstep::Store
