#!/usr/bin/env bash
# The checks of the Debian packages (tests/package/CMakeLists.txt registers one test per
# check). Every tool it calls is required: a missing tool fails the check, nothing skips.
#   package-test.sh build OUT CPACK_CONFIG            cpack into OUT (the fixture)
#   package-test.sh contents DEB EXPECTED             dpkg-deb -c: mode, owner, path
#   package-test.sh control DEB PACKAGE VERSION       dpkg-deb -I: fields, conffiles, scripts
#   package-test.sh desktop DEB                       desktop-file-validate
#   package-test.sh appstream DEB                     appstreamcli validate --no-net
#   package-test.sh lintian ALLOWED README HARDENED DEB...   lintian -I --pedantic
#   package-test.sh run VERSION DEB...                dpkg -x, --version of the binaries
#   package-test.sh healthz DEB                       gateway from the packaged gateway.conf
#   package-test.sh units DEB                         systemd-analyze verify
set -euo pipefail

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

need() {
    for tool in "$@"; do
        command -v "$tool" >/dev/null || fail "$tool is missing (installer/bootstrap.sh deps installs it)"
    done
}

scratch="$(mktemp -d)"
cleanup() {
    if [ -n "${gateway_pid:-}" ]; then
        kill "$gateway_pid" 2>/dev/null || true
        wait "$gateway_pid" 2>/dev/null || true
    fi
    rm -rf "$scratch"
}
trap cleanup EXIT

extract() {
    need dpkg
    local root="$scratch/root"
    mkdir -p "$root"
    for deb in "$@"; do
        [ -f "$deb" ] || fail "no package $deb (the package_build fixture makes it)"
        dpkg -x "$deb" "$root"
    done
    echo "$root"
}

field() {
    dpkg-deb -f "$1" "$2"
}

check="${1:-}"
[ $# -gt 0 ] && shift
case "$check" in
build)
    need cpack dpkg-shlibdeps file
    out="$1" config="$2"
    rm -rf "$out"
    cpack --config "$config" -B "$out"
    ls "$out"/*.deb
    ;;

contents)
    need dpkg-deb
    deb="$1" expected="$2"
    # Sizes and dates change with every build; paths, modes and owners must not.
    dpkg-deb -c "$deb" | awk '{ print $1, $2, $6 }' | sort -k3 >"$scratch/actual"
    if ! diff -u "$expected" "$scratch/actual"; then
        fail "$(basename "$deb"): contents differ from $expected (- expected, + actual)"
    fi
    echo "$(wc -l <"$expected") entries as expected"
    ;;

control)
    need dpkg-deb
    deb="$1" package="$2" version="$3"
    [ "$(field "$deb" Package)" = "$package" ] || fail "Package is $(field "$deb" Package), not $package"
    [ "$(field "$deb" Version)" = "$version-1" ] || fail "Version is $(field "$deb" Version), not $version-1"
    [ "$(field "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture $(field "$deb" Architecture)"
    [ -n "$(field "$deb" Maintainer)" ] || fail "no Maintainer"
    # A synopsis and an extended description of several lines.
    [ "$(field "$deb" Description | wc -l)" -ge 4 ] || fail "no extended Description"
    depends="$(field "$deb" Depends)"
    echo "Depends: $depends"
    has() { tr ',' '\n' <<<"$depends" | sed 's/^ *//; s/ .*//' | grep -qx "$1"; }
    # Computed by dpkg-shlibdeps: libc6 and Qt Core are in every one.
    has libc6 || fail "Depends lacks libc6: dpkg-shlibdeps did not run"
    has libqt6core6 || fail "Depends lacks libqt6core6"
    dpkg-deb --ctrl-tarfile "$deb" | tar -t | sed 's|^\./||' | grep -v '^$' | sort >"$scratch/control-files"
    case "$package" in
    lockstep)
        has libqt6widgets6 || fail "the console's Depends lacks libqt6widgets6"
        has qt6-qpa-plugins || fail "the console's Depends lacks qt6-qpa-plugins (the window's platform plugin)"
        printf '%s\n' control md5sums >"$scratch/expected-control"
        ;;
    lockstep-gateway)
        has adduser || fail "the gateway's Depends lacks adduser (postinst)"
        has libqt6sql6-sqlite || fail "the gateway's Depends lacks libqt6sql6-sqlite (default store)"
        for gui in libqt6widgets6 libqt6gui6 libqt6charts6 libqt6keychain1; do
            if has "$gui"; then fail "the gateway depends on $gui"; fi
        done
        printf '%s\n' conffiles control md5sums postinst postrm >"$scratch/expected-control"
        dpkg-deb --info "$deb" conffiles >"$scratch/conffiles"
        printf '%s\n' /etc/lockstep/gateway.conf | diff -u - "$scratch/conffiles" || fail "conffiles"
        for script in postinst postrm; do
            dpkg-deb --info "$deb" "$script" | sh -n || fail "$script: syntax"
        done
        dpkg-deb --info "$deb" postinst | grep -q 'adduser --system --group' || fail "postinst does not create the system user"
        if dpkg-deb --info "$deb" postinst | grep -Eq 'systemctl +(--system +)?(enable|start)|deb-systemd-invoke'; then
            fail "postinst enables or starts the service"
        fi
        ;;
    *) fail "unknown package $package" ;;
    esac
    diff -u "$scratch/expected-control" "$scratch/control-files" || fail "control archive members"
    ;;

desktop)
    need desktop-file-validate
    root="$(extract "$1")"
    desktop-file-validate "$root/usr/share/applications/lockstep.desktop"
    grep -qx 'Icon=lockstep' "$root/usr/share/applications/lockstep.desktop" || fail "Icon= is not lockstep"
    for size in 16 32 48 64 128 256; do
        [ -f "$root/usr/share/icons/hicolor/${size}x${size}/apps/lockstep.png" ] || fail "no ${size}px icon"
    done
    echo "desktop-file-validate: no complaints"
    ;;

appstream)
    need appstreamcli
    root="$(extract "$1")"
    metainfo=("$root"/usr/share/metainfo/*.metainfo.xml)
    [ -f "${metainfo[0]}" ] || fail "no metainfo"
    appstreamcli validate --no-net --pedantic "${metainfo[@]}"
    grep -q '<launchable type="desktop-id">lockstep.desktop</launchable>' "${metainfo[0]}" || fail "launchable"
    ;;

lintian)
    need lintian
    allowed="$1" readme="$2" hardened="$3"
    shift 3
    # Tags may stay only when installer/README.md explains them; hardening tags only for
    # a build without Debian's hardening flags (installer/bootstrap.sh package has them).
    grep -v '^#' "$allowed" | grep -v '^$' | while read -r tag; do
        grep -q "$tag" "$readme" || fail "$tag is allowed in $allowed but not explained in $readme"
    done
    lintian -I --pedantic --tag-display-limit 0 "$@" 2>&1 | grep -v 'running with root privileges' | tee "$scratch/lintian" || true
    sed -n 's/^[EWIPX]: [^ ]*: \([^ ]*\).*/\1/p' "$scratch/lintian" | sort -u >"$scratch/tags"
    bad=0
    while read -r tag; do
        [ -n "$tag" ] || continue
        if [ "$hardened" = "ON" ] && [[ "$tag" == hardening-* ]]; then
            echo "FAIL: $tag in a hardened build" >&2
            bad=1
        elif ! grep -qx "$tag" "$allowed"; then
            echo "FAIL: lintian tag $tag is neither fixed nor explained in $readme" >&2
            bad=1
        fi
    done <"$scratch/tags"
    grep -q '^E:' "$scratch/lintian" && { echo "FAIL: lintian errors" >&2; bad=1; }
    [ "$bad" -eq 0 ] || exit 1
    echo "lintian: $(wc -l <"$scratch/tags") tag(s), all explained"
    ;;

run)
    version="$1"
    shift
    root="$(extract "$@")"
    for binary in "$root"/usr/bin/*; do
        if ldd "$binary" | grep -q 'not found'; then
            ldd "$binary" | grep 'not found' >&2
            fail "$(basename "$binary"): a library is missing"
        fi
    done
    count=0
    for name in lockstep lockstep-agent lockstep-gateway; do
        [ -x "$root/usr/bin/$name" ] || continue
        out="$(env -u LD_LIBRARY_PATH QT_QPA_PLATFORM=offscreen "$root/usr/bin/$name" --version 2>/dev/null)"
        [ "$out" = "$name $version" ] || fail "$name --version said '$out', not '$name $version'"
        echo "$out"
        count=$((count + 1))
    done
    [ "$count" -gt 0 ] || fail "no binary in $*"
    ;;

healthz)
    need curl
    root="$(extract "$1")"
    data="$scratch/data"
    mkdir -p "$data"
    env -u LD_LIBRARY_PATH "$root/usr/bin/lockstep-gateway" --config "$root/etc/lockstep/gateway.conf" \
        --listen 127.0.0.1:0 --data-dir "$data" >"$scratch/out" 2>"$scratch/err" &
    gateway_pid=$!
    address=""
    for _ in $(seq 1 300); do
        address="$(sed -n 's|.*listening on \(https\{0,1\}://[^ ]*:[0-9][0-9]*\).*|\1|p' "$scratch/out" | head -1)"
        [ -n "$address" ] && break
        kill -0 "$gateway_pid" 2>/dev/null || { cat "$scratch/err" >&2; fail "the gateway exited"; }
        sleep 0.1
    done
    [ -n "$address" ] || { cat "$scratch/out" "$scratch/err" >&2; fail "the gateway did not say where it listens"; }
    body="$(curl -sS --fail --max-time 10 "$address/healthz")" || fail "GET $address/healthz failed"
    echo "$address/healthz: $body"
    grep -q '"status" *: *"ok"' <<<"$body" || fail "/healthz did not say ok"
    ;;

units)
    need systemd-analyze man
    root="$(extract "$1")"
    units="$root/lib/systemd/system"
    [ -f "$units/lockstep-gateway.service" ] || fail "no lockstep-gateway.service"
    [ -f "$units/lockstep-gateway@.service" ] || fail "no lockstep-gateway@.service"
    # The units as packaged, with /usr/bin/lockstep-gateway rewritten to the extraction
    # (verify checks that ExecStart's binary exists; --root would also move the rest of
    # systemd, sysinit.target and /bin/kill, into the extraction). An instance of the
    # template is what gets verified: a template alone cannot be.
    verify="$scratch/verify-units"
    mkdir -p "$verify"
    for unit in lockstep-gateway.service lockstep-gateway@.service; do
        sed "s|/usr/bin/lockstep-gateway|$root/usr/bin/lockstep-gateway|g" "$units/$unit" >"$verify/$unit"
    done
    ln -s "lockstep-gateway@.service" "$verify/lockstep-gateway@replica1.service"
    # Documentation=man:lockstep-gateway(1) is looked up in the package's man pages.
    MANPATH="$root/usr/share/man" systemd-analyze verify \
        "$verify/lockstep-gateway.service" "$verify/lockstep-gateway@replica1.service" >"$scratch/verify" 2>&1 ||
        { cat "$scratch/verify" >&2; fail "systemd-analyze verify failed"; }
    # Warnings do not change the exit status: any output is a finding.
    [ ! -s "$scratch/verify" ] || { cat "$scratch/verify" >&2; fail "systemd-analyze verify printed warnings"; }
    echo "systemd-analyze verify: clean (lockstep-gateway.service, lockstep-gateway@replica1.service)"
    ;;

*)
    echo "usage: $0 build|contents|control|desktop|appstream|lintian|run|healthz|units ..." >&2
    exit 2
    ;;
esac
