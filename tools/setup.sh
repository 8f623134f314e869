#!/usr/bin/env bash
# Install what callcenter needs on a fresh Debian machine (idempotent, quick when done):
# Debian packages, the Python environment (.venv), and the sandbox PBX root (cached).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*" >&2; }

need_apt=()
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v unshare >/dev/null || need_apt+=(util-linux)
command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)  # synthesized speech for ASR tests
[ -x /usr/bin/chromium ] || need_apt+=(chromium)  # the console's browser tests (Playwright)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need_apt+=(fonts-noto-cjk)  # Chinese in screenshots
command -v pdftoppm >/dev/null || need_apt+=(poppler-utils)  # report PDFs rendered to PNG in tests
command -v npm >/dev/null || need_apt+=(npm)  # SIP.js for the agent workspace's browser phone
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)  # the tests' private server
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "callcenter: need root to install ${need_apt[*]} (apt-get)" >&2; exit 1
  fi
  say "apt-get install ${need_apt[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3}
stamp=.venv/.installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "creating .venv and installing the project (pip)"
  [ -x .venv/bin/python ] || "$python" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c "import callcenter, acd, ivr, pjsua2, panoramisk" 
  echo "$want" > "$stamp"
fi

# The browser phone's SIP stack: SIP.js from the npm registry at a pinned version, into the
# git-ignored console-vendor/ (served as plain ES modules, no build step). Keep the version in
# step with SIPJS_VERSION in callcenter/browser_phone.py.
sipjs=0.21.2
if [ "$(node -p "require('./console-vendor/node_modules/sip.js/package.json').version" 2>/dev/null)" != "$sipjs" ]; then
  say "npm install sip.js@$sipjs (the agent workspace's browser phone)"
  mkdir -p console-vendor
  npm install --prefix console-vendor --no-audit --no-fund --save-exact "sip.js@$sipjs" >/dev/null
fi

.venv/bin/python -c "from callcenter.pbx.asterisk.sandbox import ensure_root; ensure_root()"
# the SIP proxy in front of several nodes (Kamailio): a root cached before it was part of the
# root gets the package now (about 3 s)
.venv/bin/python -c "from callcenter.pbx.kamailio.proxy import ensure_installed; ensure_installed()"

# The sandbox FreeSWITCH: built once (about 5 min idle, 20 loaded) from the release tarballs
# in CALLCENTER_FREESWITCH_SRC into a cached root; without them and without a cached root, one
# line and on (the FreeSWITCH sandbox tests then fail saying so).
fs_root=$(.venv/bin/python -c "from callcenter.pbx.freeswitch.sandbox import root_dir; print(root_dir())")
if [ ! -f "$fs_root/.callcenter-freeswitch-ok" ]; then
  if [ -z "${CALLCENTER_FREESWITCH_SRC:-}" ]; then
    say "no sandbox FreeSWITCH: CALLCENTER_FREESWITCH_SRC not set (a folder with the freeswitch, sofia-sip and spandsp release tarballs)"
  else
    bash tools/sandbox/build_freeswitch.sh "$fs_root"
  fi
fi
say "ready"
