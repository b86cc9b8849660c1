#!/usr/bin/env bash
# Runs a test inside a private D-Bus session with an unlocked gnome-keyring
# (Secret Service), so keychain tests exercise a real backend.
set -euo pipefail
exec dbus-run-session -- bash -c '
    echo -n "lockstep-test" | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    exec "$@"' keyring-test "$@"
