#!/usr/bin/env bash
# Installs the release build of oairun, or removes what an earlier install put. Run through
# `make install` and `make uninstall`, which build the release library first and pass:
#
#   PREFIX      (default /usr/local)
#   LIBDIR      (default $PREFIX/lib)      liboairun.so.X.Y.Z, its links, liboairun.a,
#                                          pkgconfig/oairun.pc, cmake/oairun/*.cmake
#   INCLUDEDIR  (default $PREFIX/include)  oairun.h, and the C++ header(s) of bindings/cpp
#   DATADIR     (default $PREFIX/share)    oairun/install-manifest.txt
#   DESTDIR     (default empty)            staging root, prefixed to every path above
#
#   scripts/install.sh install|uninstall
#
# The manifest lists every file and link installed and every directory the install created;
# uninstall removes exactly those files, then those directories when they are empty, so it must
# be given the same PREFIX, DATADIR and DESTDIR. The version comes from Cargo.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

action=${1:-}
PREFIX=${PREFIX:-/usr/local}
LIBDIR=${LIBDIR:-$PREFIX/lib}
INCLUDEDIR=${INCLUDEDIR:-$PREFIX/include}
DATADIR=${DATADIR:-$PREFIX/share}
DESTDIR=${DESTDIR:-}
for dir in "$PREFIX" "$LIBDIR" "$INCLUDEDIR" "$DATADIR"; do
    case $dir in
    /*) ;;
    *) echo "install: $dir is not an absolute path (PREFIX, LIBDIR, INCLUDEDIR, DATADIR)" >&2; exit 2 ;;
    esac
done
manifest=$DATADIR/oairun/install-manifest.txt

# The [package] section's version and description, e.g. 0.1.0.
package_field() {
    sed -n '/^\[package\]/,/^\[/ s/^'"$1"' *= *"\(.*\)"$/\1/p' Cargo.toml
}
version=$(package_field version)
numbers=${version%%[-+]*}
major=${numbers%%.*}
minor=${numbers#*.}
minor=${minor%%.*}
realname=liboairun.so.$numbers
soname=liboairun.so.$major
# What a static link of liboairun.a needs besides it: rustc's native-static-libs for
# x86_64/aarch64 Linux (`cargo rustc --release --lib -- --print native-static-libs` prints them).
static_libs=(gcc_s util rt pthread m dl c)

uninstall() {
    if [ ! -f "$DESTDIR$manifest" ]; then
        echo "uninstall: no $DESTDIR$manifest: nothing was installed there by make install" \
             "(give the same PREFIX, DATADIR and DESTDIR as to make install)" >&2
        exit 1
    fi
    local kind path dirs=()
    while read -r kind path; do
        case $kind in
        file) rm -f "$DESTDIR$path" && echo "removed $DESTDIR$path" ;;
        dir) dirs+=("$path") ;;
        esac
    done <"$DESTDIR$manifest"
    # Children before their parents (reverse order of names); a directory that now holds
    # something else stays.
    [ ${#dirs[@]} -gt 0 ] || return 0
    while read -r path; do
        if rmdir "$DESTDIR$path" 2>/dev/null; then echo "removed $DESTDIR$path/"; fi
    done < <(printf '%s\n' "${dirs[@]}" | sort -r)
}

# The dynamic linker's cache, after a real install or uninstall by root (not a staged one).
refresh_ldconfig() {
    if [ -z "$DESTDIR" ] && [ "$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then
        ldconfig || true
    fi
}

if [ "$action" = uninstall ]; then
    uninstall
    refresh_ldconfig
    exit 0
elif [ "$action" != install ]; then
    echo "usage: $0 install|uninstall" >&2
    exit 2
fi

lib=target/release/liboairun.so
for built in "$lib" target/release/liboairun.a; do
    if [ ! -f "$built" ]; then
        echo "install: $built is not built (run: cargo build --release --lib, or make install)" >&2
        exit 1
    fi
done
if ! readelf -d "$lib" | grep -q "(SONAME).*\[$soname\]"; then
    echo "install: $lib has no SONAME $soname (build.rs sets it; rebuild with cargo build --release --lib)" >&2
    exit 1
fi

# Directories an earlier install created are still ours to remove.
created=()
if [ -f "$DESTDIR$manifest" ]; then
    mapfile -t created < <(sed -n 's/^dir //p' "$DESTDIR$manifest")
fi
installed=()
# make_dir DIR: creates DIR under DESTDIR, recording each directory it creates, parents first.
make_dir() {
    local path="" part
    local IFS=/
    for part in $1; do
        [ -n "$part" ] || continue
        path=$path/$part
        if [ ! -d "$DESTDIR$path" ]; then
            mkdir -p "$DESTDIR$path"
            created+=("$path")
        fi
    done
}
# put MODE SOURCE DEST: installs a file.
put() {
    make_dir "$(dirname "$3")"
    install -m "$1" "$2" "$DESTDIR$3"
    installed+=("$3")
    echo "installed $DESTDIR$3"
}
# link TARGET NAME: a symbolic link NAME -> TARGET (relative, in the same directory).
link() {
    make_dir "$(dirname "$2")"
    ln -sfn "$1" "$DESTDIR$2"
    installed+=("$2")
    echo "installed $DESTDIR$2 -> $1"
}
# sed_text TEXT: TEXT escaped for the replacement side of sed's s|||.
sed_text() {
    sed 's/[&|\\]/\\&/g' <<<"$1"
}
# relative FROM TO: the path of TO relative to the directory FROM.
relative() {
    realpath -m --relative-to="$1" "$2"
}
# under_prefix DIR: DIR written as ${prefix}/... when it is under PREFIX, for pkg-config's
# --define-prefix and sysroot handling; else DIR itself.
under_prefix() {
    case $1 in
    "$PREFIX") echo '${prefix}' ;;
    "$PREFIX"/*) echo '${prefix}'"${1#"$PREFIX"}" ;;
    *) echo "$1" ;;
    esac
}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

put 755 "$lib" "$LIBDIR/$realname"
link "$realname" "$LIBDIR/$soname"
link "$realname" "$LIBDIR/liboairun.so"
put 644 target/release/liboairun.a "$LIBDIR/liboairun.a"
put 644 include/oairun.h "$INCLUDEDIR/oairun.h"
# The C++ header(s), when the tree has them.
for header in bindings/cpp/*.hpp; do
    if [ -f "$header" ]; then put 644 "$header" "$INCLUDEDIR/$(basename "$header")"; fi
done

libs_private=$(printf -- '-l%s ' "${static_libs[@]}")
sed -e "s|@PREFIX@|$PREFIX|" \
    -e "s|@LIBDIR@|$(under_prefix "$LIBDIR")|" \
    -e "s|@INCLUDEDIR@|$(under_prefix "$INCLUDEDIR")|" \
    -e "s|@VERSION@|$version|" \
    -e "s|@DESCRIPTION@|$(sed_text "$(package_field description)")|" \
    -e "s|@LIBS_PRIVATE@|${libs_private% }|" \
    packaging/oairun.pc.in >"$tmp/oairun.pc"
put 644 "$tmp/oairun.pc" "$LIBDIR/pkgconfig/oairun.pc"

cmakedir=$LIBDIR/cmake/oairun
static_cmake=$(IFS=';'; echo "${static_libs[*]}")
sed -e "s|@CMAKEDIR_TO_LIBDIR@|$(relative "$cmakedir" "$LIBDIR")|" \
    -e "s|@CMAKEDIR_TO_INCLUDEDIR@|$(relative "$cmakedir" "$INCLUDEDIR")|" \
    -e "s|@REALNAME@|$realname|g" \
    -e "s|@SONAME@|$soname|g" \
    -e "s|@STATIC_LINK_LIBRARIES@|$static_cmake|" \
    packaging/oairunConfig.cmake.in >"$tmp/oairunConfig.cmake"
sed -e "s|@VERSION@|$version|" \
    -e "s|@VERSION_MAJOR@|$major|g" \
    -e "s|@VERSION_MINOR@|$minor|g" \
    -e "s|@SIZEOF_VOID_P@|$(($(getconf LONG_BIT) / 8))|g" \
    packaging/oairunConfigVersion.cmake.in >"$tmp/oairunConfigVersion.cmake"
put 644 "$tmp/oairunConfig.cmake" "$cmakedir/oairunConfig.cmake"
put 644 "$tmp/oairunConfigVersion.cmake" "$cmakedir/oairunConfigVersion.cmake"

make_dir "$(dirname "$manifest")"
installed+=("$manifest")
{
    printf 'file %s\n' "${installed[@]}"
    if [ ${#created[@]} -gt 0 ]; then printf 'dir %s\n' "${created[@]}" | awk '!seen[$0]++'; fi
} >"$tmp/manifest"
put 644 "$tmp/manifest" "$manifest" >/dev/null
echo "installed $DESTDIR$manifest (what make uninstall removes)"

refresh_ldconfig
