#!/bin/sh
# Installs the Debian packages osvm needs, when missing: to build and run it
# (make, make run), or with --test also what the tests use (make check).
set -eu

# build and run: the compiler, the libraries, musl for the tool images
PKGS="gcc make libc6-dev libjansson-dev libcurl4-openssl-dev libedit-dev libseccomp-dev util-linux musl-tools"
# OpenSSL: the server sandbox's proxy ends TLS for the hosts a secret is
# bound to; OAuth's private_key_jwt signs the client's assertion
PKGS="$PKGS libssl-dev"
# the gateway's Streamable HTTP server (osvm mcp serve --http)
PKGS="$PKGS libmicrohttpd-dev"
# the desktop keyring as the secret store where one runs: libsecret's headers
# (the library is opened at run time, only then)
PKGS="$PKGS pkg-config libsecret-1-dev"
# μVM-1's agent runtime links static: libedit's own static dependencies
PKGS="$PKGS libncurses-dev libbsd-dev libmd-dev"
# the demo's MCP servers (and the tests' peers) run on Node.js, from Debian
# unless one is there
command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"
if [ "${1:-}" = "--test" ]; then
        # unit tests, formatting, a program nobody here wrote, leak checks
        PKGS="$PKGS libcmocka-dev clang-format busybox-static valgrind"
        # the completion tests load the scripts in each shell (about 5 MB to
        # download); the manual page's test renders it
        PKGS="$PKGS zsh fish groff-base"
        # the engine's suite in a nested AMD-V guest (make check-nested): QEMU
        # with TCG, which emulates SVM (the kernel is fetched by apt-get download)
        PKGS="$PKGS qemu-system-x86"
        # the fuzzers (tests/fuzz, make fuzz): clang and its libFuzzer
        PKGS="$PKGS clang libclang-rt-14-dev"
        # a session bus and a keyring of the secrets test's own
        PKGS="$PKGS dbus-daemon gnome-keyring"
fi

missing=""
for p in $PKGS; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        case "$st" in
        *" installed") ;;
        *) missing="$missing $p" ;;
        esac
done
[ -z "$missing" ] && exit 0

echo "osvm: installing Debian packages:$missing"
if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
elif command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
else
        echo "osvm: need root to install:$missing" >&2
        exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
