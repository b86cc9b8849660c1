#!/usr/bin/env bash
# One entry point for a fresh Debian bookworm machine:
#   installer/bootstrap.sh run    install what is missing, build, start the console with an embedded gateway
#   installer/bootstrap.sh test   install what is missing, build (warnings are errors), run every test
#   installer/bootstrap.sh deps   only install what is missing
#   installer/bootstrap.sh build  only build
#   installer/bootstrap.sh package  install what is missing, build the Debian packages (lockstep,
#                                   lockstep-gateway) with Debian's hardening flags, print their paths
# Works as root or as a user with sudo. Build tree: ./build (override with LOCKSTEP_BUILD_DIR);
# packages: ./build-package/packages (override with LOCKSTEP_PACKAGE_BUILD_DIR). Extra arguments
# after `package` go to CMake (e.g. -DLOCKSTEP_BUILD_CONSOLE=OFF: lockstep-gateway alone).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build_dir="${LOCKSTEP_BUILD_DIR:-$here/build}"
package_build_dir="${LOCKSTEP_PACKAGE_BUILD_DIR:-$here/build-package}"

packages=(
    # toolchain
    cmake g++ ninja-build pkg-config ca-certificates openssl clang-format
    # libraries
    qt6-base-dev qt6-base-dev-tools libqt6opengl6-dev qt6-websockets-dev qt6-httpserver-dev
    qt6-charts-dev libqt6sql6-sqlite libqt6sql6-psql qtkeychain-qt6-dev libspdlog-dev
    qt6-tools-dev qt6-l10n-tools
    libhiredis-dev libboost-dev libssl-dev
    # servers and desktop pieces the tests start themselves
    redis-server postgresql xvfb xauth dbus-x11 gnome-keyring fonts-dejavu-core
    # a second websocket implementation for the client's conformance test
    python3-websockets
    # the QA reports: JSON Schema validation and a headless browser that renders the HTML
    python3-jsonschema chromium
    # the Debian packages: man pages from --help, dpkg-shlibdeps, the checks of the package tests
    help2man dpkg-dev file lintian desktop-file-utils appstream systemd curl
)

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_deps() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if [ ${#missing[@]} -eq 0 ]; then
        echo "bootstrap: all packages present"
        return
    fi
    echo "bootstrap: installing ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # Debian starts services on install; the tests start their own servers, so the
    # system ones are not needed (and may not start inside containers at all).
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

build() {
    cmake -S "$here" -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLOCKSTEP_WERROR="${LOCKSTEP_WERROR:-ON}"
    cmake --build "$build_dir" --parallel "$(nproc)"
}

# The packages get their own build tree, configured with the flags Debian builds use
# (dpkg-buildflags, all hardening features on: fortify, stack protector, relro, bindnow)
# and without the tests.
build_packages() {
    local CXXFLAGS LDFLAGS
    CXXFLAGS="$(cd "$here" && DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CXXFLAGS) $(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get CPPFLAGS)"
    LDFLAGS="$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --get LDFLAGS)"
    export CXXFLAGS LDFLAGS
    cmake -S "$here" -B "$package_build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DLOCKSTEP_WERROR="${LOCKSTEP_WERROR:-ON}" -DLOCKSTEP_BUILD_TESTS=OFF "$@"
    cmake --build "$package_build_dir" --parallel "$(nproc)"
    rm -f "$package_build_dir"/packages/*.deb
    (cd "$package_build_dir" && cpack --config CPackConfig.cmake)
    echo "bootstrap: packages:"
    ls -1 "$package_build_dir"/packages/*.deb
}

run_console() {
    local console="$build_dir/app/lockstep"
    if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
        exec "$console" --embedded "$@"
    fi
    echo "bootstrap: no display found; running the console under Xvfb (set DISPLAY to see it)"
    exec xvfb-run -a "$console" --embedded "$@"
}

run_tests() {
    cd "$build_dir"
    ctest --output-on-failure --no-tests=error "$@"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    deps) install_deps ;;
    build) install_deps; build ;;
    run) install_deps; build; run_console "$@" ;;
    test) install_deps; build; run_tests "$@" ;;
    package) install_deps; build_packages "$@" ;;
    *) echo "usage: $0 run|test|deps|build|package" >&2; exit 2 ;;
esac
