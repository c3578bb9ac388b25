#!/usr/bin/env bash
# Checks that what `make test` uses is installed, before anything is built. When something is
# missing, prints one line naming it and the command that installs it, and exits 1.
#
#   scripts/check-prereqs.sh
set -uo pipefail

missing=()   # what to report
apt=()       # Debian packages that provide it
pip=()       # Python packages that provide it
rust=0

have() { command -v "$1" >/dev/null 2>&1; }
need_apt() { missing+=("$1"); apt+=("$2"); }

have cargo || { missing+=(cargo); rust=1; }
have gcc || need_apt gcc gcc
have g++ || need_apt g++ g++
have make || need_apt make make
have valgrind || need_apt valgrind valgrind
have cmake || need_apt cmake cmake
have pkg-config || need_apt pkg-config pkg-config
{ have readelf && have nm; } || need_apt "readelf/nm" binutils
have perl || need_apt perl perl
if have python3; then
    python3 -c 'import pytest' 2>/dev/null || { missing+=(pytest); pip+=(pytest); }
    # The wheel test builds with this Python's setuptools: before 70.1 it needs `wheel`.
    python3 -c 'import setuptools' 2>/dev/null || { missing+=(setuptools); pip+=(setuptools); }
    python3 -c 'import setuptools.command.bdist_wheel' 2>/dev/null ||
        python3 -c 'import wheel.bdist_wheel' 2>/dev/null || { missing+=(wheel); pip+=(wheel); }
else
    need_apt python3 python3
    missing+=(pytest wheel)
    pip+=(pytest wheel)
fi

[ ${#missing[@]} -eq 0 ] && exit 0

commands=()
[ $rust = 1 ] && commands+=("curl -sSf https://sh.rustup.rs | sh -s -- -y (Rust 1.85 or newer)")
[ ${#apt[@]} -gt 0 ] && commands+=("apt-get install -y ${apt[*]}")
if [ ${#pip[@]} -gt 0 ]; then
    # A Debian-managed Python refuses pip installs (PEP 668): use its packages instead.
    managed=$(python3 -c 'import sysconfig, os; print(os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")))' 2>/dev/null)
    if [ "$managed" = True ] || ! have python3; then
        commands+=("apt-get install -y $(printf 'python3-%s ' "${pip[@]}" | sed 's/ $//')")
    else
        commands+=("python3 -m pip install ${pip[*]}")
    fi
fi
joined=$(printf ' && %s' "${commands[@]}")
echo "make test: missing ${missing[*]}; install with: ${joined# && }" >&2
exit 1
