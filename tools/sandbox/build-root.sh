#!/usr/bin/env bash
# Build the sandbox PBX root (Debian unstable with Asterisk 22 and sipp) once, into a cache dir.
# Usage: build-root.sh ROOT
# Idempotent: a finished root carries ROOT/.callcenter-root-ok and is reused as it is.
set -euo pipefail
root=${1:?usage: build-root.sh ROOT}
mirror=${CALLCENTER_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages="asterisk asterisk-modules sip-tester sox kamailio"
marker="$root/.callcenter-root-ok"

say() { printf '[pbx-root] %s\n' "$*" >&2; }
fail() { printf 'callcenter: cannot build the sandbox PBX root: %s\n' "$*" >&2; exit 1; }

if [ -f "$marker" ]; then say "reusing $root"; exit 0; fi
[ "$(id -u)" -eq 0 ] || fail "debootstrap and chroot need root (run as root)"
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null 2>&1 \
    || { apt-get update >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap >/dev/null 2>&1; } \
    || fail "apt-get could not install debootstrap (no network to the package mirror?)"
fi
partial="$root.partial"
rm -rf "$partial"; mkdir -p "$partial"
say "step 1/3: debootstrap sid into $partial (about 20 s)"
debootstrap --variant=minbase sid "$partial" "$mirror" >"$partial.log" 2>&1 \
  || fail "debootstrap failed (no network to $mirror?); see $partial.log"
say "step 2/3: apt-get update inside the root"
chroot "$partial" apt-get -o Acquire::Check-Valid-Until=false update >>"$partial.log" 2>&1 \
  || fail "apt-get update in the root failed; see $partial.log"
say "step 3/3: installing $packages (about 15 s)"
chroot "$partial" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages >>"$partial.log" 2>&1 \
  || fail "installing Asterisk in the root failed; see $partial.log"
chroot "$partial" apt-get clean >/dev/null 2>&1 || true
chroot "$partial" asterisk -V >>"$partial.log" 2>&1 || fail "asterisk does not run in the root; see $partial.log"
touch "$partial/.callcenter-root-ok"
rm -rf "$root"; mv "$partial" "$root"; rm -f "$partial.log"
say "ready: $root ($(chroot "$root" asterisk -V))"
