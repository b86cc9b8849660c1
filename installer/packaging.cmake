# CPack: Debian packages `lockstep` (component console) and `lockstep-gateway` (component
# gateway). A server build (-DLOCKSTEP_BUILD_CONSOLE=OFF) makes lockstep-gateway alone.
# Details and the reasons behind each setting: installer/README.md.

set(LOCKSTEP_PACKAGE_MAINTAINER "Lockstep maintainers <maintainers@lockstep.invalid>"
    CACHE STRING "Maintainer field of the Debian packages")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME lockstep)
set(CPACK_PACKAGE_VENDOR "The Lockstep authors")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
# Empty on purpose: CPackDeb would put the project's one summary line above each
# package's own (the first line of CPACK_DEBIAN_<COMPONENT>_DESCRIPTION below).
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "")
set(CPACK_PACKAGE_DIRECTORY ${PROJECT_BINARY_DIR}/packages)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
# Directories the packages create are 0755 whatever the builder's umask.
set(CPACK_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
    OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)

set(CPACK_DEB_COMPONENT_INSTALL ON)
if(LOCKSTEP_BUILD_CONSOLE)
    set(CPACK_COMPONENTS_ALL console gateway)
else()
    set(CPACK_COMPONENTS_ALL gateway)
endif()

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SOURCE lockstep)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER ${LOCKSTEP_PACKAGE_MAINTAINER})
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
# Library dependencies computed by dpkg-shlibdeps from the binaries; the rest (Qt plugins
# loaded at run time, adduser) is listed below because no tool can see it.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Maintainer scripts keep 0755 and control files 0644 (lintian checks both).
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(lockstep_debian ${CMAKE_CURRENT_LIST_DIR}/debian)

# lockstep: the console and the workspace agent.
set(CPACK_DEBIAN_CONSOLE_PACKAGE_NAME lockstep)
set(CPACK_DEBIAN_CONSOLE_PACKAGE_SECTION devel)
# qt6-qpa-plugins: the xcb platform plugin (the window); libqt6sql6-sqlite: the QSQLITE
# driver of history and recordings. lockstep-gateway is what --embedded starts; it is a
# recommendation, not a dependency, so that `apt install ./lockstep_*.deb` alone works
# (it is in no archive) and a console that talks to remote gateways needs no local one.
set(CPACK_DEBIAN_CONSOLE_PACKAGE_DEPENDS "qt6-qpa-plugins, libqt6sql6-sqlite")
set(CPACK_DEBIAN_CONSOLE_PACKAGE_RECOMMENDS "lockstep-gateway (= ${PROJECT_VERSION}-1)")
set(CPACK_DEBIAN_CONSOLE_DESCRIPTION "console for observing and controlling agent workflows
Lockstep is a desktop console for agent workflows and the gateway they run on.
Watch a workflow's chat log live, see who holds a run's lock, resume and
cancel runs and see exactly what the store decided.

It is also a QA tool: reproduce the two-tab race (one chat open in two tabs)
on purpose, inspect every frame of a session, follow the lock timeline and keep
recordings and HTML/JSON race reports as evidence.

This package contains the console (lockstep) and the workspace agent
(lockstep-agent). The console's embedded mode starts the gateway from the
lockstep-gateway package.")

# lockstep-gateway: the server, as a systemd service.
set(CPACK_DEBIAN_GATEWAY_PACKAGE_NAME lockstep-gateway)
set(CPACK_DEBIAN_GATEWAY_PACKAGE_SECTION net)
# adduser: postinst creates the system user; libqt6sql6-sqlite: the default store;
# libqt6sql6-psql only for a postgresql:// store, redis-server only for several replicas.
set(CPACK_DEBIAN_GATEWAY_PACKAGE_DEPENDS "adduser, libqt6sql6-sqlite")
set(CPACK_DEBIAN_GATEWAY_PACKAGE_SUGGESTS "libqt6sql6-psql, redis-server, postgresql")
set(CPACK_DEBIAN_GATEWAY_PACKAGE_CONTROL_EXTRA
    ${lockstep_debian}/gateway/conffiles ${lockstep_debian}/gateway/postinst ${lockstep_debian}/gateway/postrm)
set(CPACK_DEBIAN_GATEWAY_DESCRIPTION "gateway service for Lockstep agent workflows
The Lockstep gateway is the server the Lockstep console and workspace agents
talk to: a websocket and HTTP API, a run lock that lets one session at a time
run a workflow (in-process, or in Redis for several replicas), a run store
(SQLite or PostgreSQL) with compare-and-swap guards and fencing tokens, and
the flow executor.

This package installs the gateway as a systemd service running as the system
user lockstep-gateway, configured in /etc/lockstep/gateway.conf. The service
is not enabled or started on installation.")

include(CPack)
