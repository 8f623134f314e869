#!/usr/bin/env bash
# Build the sandbox FreeSWITCH root once, into a cache dir: a Debian-unstable root with
# sofia-sip, spandsp and FreeSWITCH (minimal modules plus mod_callcenter) built from the
# release tarballs in $CALLCENTER_FREESWITCH_SRC, installed under /opt/freeswitch.
#
# Usage: build_freeswitch.sh ROOT
# Idempotent: a finished root carries ROOT/.callcenter-freeswitch-ok and is reused as it is.
# Atomic: everything is built in ROOT.partial and renamed at the end.
# When it cannot build it prints one line saying what is missing and exits non-zero.
#
# The base is a copy of the Asterisk sandbox root when that one is built (a 1.2 s copy,
# measured) rather than its own debootstrap (53 s, measured); the build itself dominates.
# Measured (2 cores): cold build 1389 s wall, 369 CPU-s (318 user + 51 sys) under a load
# average of 9 to 21 from other jobs; a cached root answers in 0.01 s. /opt/freeswitch is 13 MB
# once fonts, htdocs and headers are dropped; the whole root 994 MB (the Asterisk root's 511 MB
# plus the compilers).
# Facts and pitfalls: FREESWITCH-NOTES.md (GCC 16 needs -std=gnu17; libcrypt-dev; the
# distribution's sofia-sip and spandsp are too old for FreeSWITCH 1.11).
set -euo pipefail
root=${1:?usage: build_freeswitch.sh ROOT}
marker="$root/.callcenter-freeswitch-ok"
mirror=${CALLCENTER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${CALLCENTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callcenter}
pbx_root=${CALLCENTER_PBX_ROOT:-$cache/pbx-root}
jobs=${CALLCENTER_BUILD_JOBS:-$(nproc)}

say() { printf '[freeswitch-root] %s\n' "$*" >&2; }
fail() { printf 'callcenter: cannot build the sandbox FreeSWITCH root: %s\n' "$*" >&2; exit 1; }

if [ -f "$marker" ]; then say "reusing $root"; exit 0; fi

src=${CALLCENTER_FREESWITCH_SRC:-}
[ -n "$src" ] || fail "CALLCENTER_FREESWITCH_SRC not set: point it at a folder with the freeswitch-*, sofia-sip-* and spandsp-* release tarballs"
[ -d "$src" ] || fail "CALLCENTER_FREESWITCH_SRC=$src is not a folder"
pick() {  # the one tarball of a component, or fail naming it
  local found
  found=$(find "$src" -maxdepth 1 -name "$1-*.tar.*" | sort | tail -n 1)
  [ -n "$found" ] || fail "no $1-*.tar.* tarball in CALLCENTER_FREESWITCH_SRC=$src"
  printf '%s' "$found"
}
fs_tar=$(pick freeswitch)
sofia_tar=$(pick sofia-sip)
spandsp_tar=$(pick spandsp)
[ "$(id -u)" -eq 0 ] || fail "chroot and mounts need root (run as root)"
command -v unshare >/dev/null || fail "unshare (util-linux) is not installed"

partial="$root.partial"
log="$root.log"
rm -rf "$partial"
mkdir -p "$partial"
: >"$log"
started=$SECONDS
trap 'fail "step failed at line $LINENO of $0; see $log"' ERR
step() { say "$* (+$((SECONDS - started)) s)"; }

if [ -f "$pbx_root/.callcenter-root-ok" ]; then
  step "step 1/5: copying the Asterisk sandbox root $pbx_root (its instances left out)"
  for entry in "$pbx_root"/* "$pbx_root"/.[!.]*; do
    [ -e "$entry" ] || continue
    case "$(basename "$entry")" in srv | .callcenter-root-ok) continue ;; esac
    cp -a "$entry" "$partial/"
  done
  mkdir -p "$partial/srv"
else
  command -v debootstrap >/dev/null || fail "neither an Asterisk sandbox root at $pbx_root nor debootstrap to make a base"
  step "step 1/5: debootstrap sid into $partial (about a minute)"
  debootstrap --variant=minbase sid "$partial" "$mirror" >>"$log" 2>&1 \
    || fail "debootstrap failed (no network to $mirror?); see $log"
fi

# Every build step runs chrooted in a private mount namespace with /proc mounted.
in_root() {
  unshare -m --propagation private sh -c \
    "mount -t proc proc '$partial/proc' && exec chroot '$partial' /usr/bin/env -i \
     PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
     sh -ec \"\$0\"" "$1" >>"$log" 2>&1
}

packages="build-essential autoconf automake libtool libtool-bin pkg-config libssl-dev
  libcurl4-openssl-dev libpcre2-dev libspeex-dev libspeexdsp-dev libedit-dev libsqlite3-dev
  libtiff-dev libldns-dev libopus-dev libsndfile1-dev uuid-dev zlib1g-dev yasm libjpeg-dev
  libcrypt-dev xz-utils"
step "step 2/5: installing the build dependencies (apt-get)"
in_root "apt-get -o Acquire::Check-Valid-Until=false update" \
  || fail "apt-get update in the root failed (no network to the Debian mirror?); see $log"
in_root "apt-get install -y -q --no-install-recommends $(echo $packages)" \
  || fail "installing the build dependencies failed; see $log"
in_root "apt-get clean"

build=/usr/src/cc-build
mkdir -p "$partial$build"
# each tarball unpacks into one top-level folder: take it as sofia-sip/, spandsp/, freeswitch/
for pair in "sofia-sip:$sofia_tar" "spandsp:$spandsp_tar" "freeswitch:$fs_tar"; do
  mkdir -p "$partial$build/${pair%%:*}"
  tar -C "$partial$build/${pair%%:*}" --strip-components=1 -xf "${pair#*:}" \
    || fail "cannot unpack ${pair#*:}"
done
sofia_dir=sofia-sip
spandsp_dir=spandsp
fs_dir=freeswitch

step "step 3/5: building $(basename "$sofia_tar") and $(basename "$spandsp_tar")"
for lib in "$sofia_dir" "$spandsp_dir"; do
  in_root "cd $build/$lib && ./bootstrap.sh && ./configure --prefix=/usr \
    && make -j$jobs && make install && ldconfig" \
    || fail "building $lib failed; see $log"
done

step "step 4/5: building $(basename "$fs_tar") (make -j$jobs)"
cat >"$partial$build/$fs_dir/modules.conf" <<'EOF'
applications/mod_callcenter
applications/mod_commands
applications/mod_conference
applications/mod_db
applications/mod_dptools
applications/mod_expr
applications/mod_hash
applications/mod_spandsp
dialplans/mod_dialplan_xml
endpoints/mod_loopback
endpoints/mod_sofia
event_handlers/mod_event_socket
formats/mod_local_stream
formats/mod_native_file
formats/mod_sndfile
formats/mod_tone_stream
loggers/mod_console
loggers/mod_logfile
EOF
in_root "cd $build/$fs_dir && ./bootstrap.sh -j \
  && ./configure --prefix=/opt/freeswitch --disable-libvpx --disable-libyuv --disable-debug \
     CFLAGS='-O2 -std=gnu17 -Wno-error=discarded-qualifiers' \
  && make -j$jobs && make install" \
  || fail "building $fs_dir failed; see $log"

step "step 5/5: trimming and checking"
rm -rf "$partial$build" "$partial/opt/freeswitch/share/freeswitch/fonts" \
  "$partial/opt/freeswitch/share/freeswitch/htdocs" "$partial/opt/freeswitch/include"
find "$partial/opt/freeswitch" -name '*.la' -delete
in_root "/opt/freeswitch/bin/freeswitch -version" \
  || fail "the built freeswitch does not run in the root; see $log"
printf '%s\n' "$(basename "$fs_tar") $(basename "$sofia_tar") $(basename "$spandsp_tar")" >"$partial/.callcenter-freeswitch-ok"
rm -rf "$root"
mv "$partial" "$root"
say "ready: $root in $((SECONDS - started)) s ($(du -sh "$root/opt/freeswitch" | cut -f1) under /opt/freeswitch)"
