"""The agent workspace's own phone (WebRTC): its SIP stack and the credentials it signs in with.

The SIP stack is SIP.js, installed from the npm registry at `SIPJS_VERSION` by tools/setup.sh
into `VENDOR_DIR` (git-ignored, no build step) and served as plain ES modules under
/console/vendor/sip.js/. The page reads its SIP account from GET /api/agents/{id}/phone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import urlsplit

from callcenter.config import AgentEntry, Config, ConfigError
from callcenter.errors import CallcenterError
from callcenter.paths import REPO
from callcenter.pbx.registry import DEFAULT_KIND, wing
from callcenter.phone_secrets import read_file, secrets_path

SIPJS_VERSION = "0.21.2"  # keep in step with tools/setup.sh
VENDOR_DIR = REPO / "console-vendor" / "node_modules"
# The sandbox instance whose secrets file holds the phones' passwords, when it is not named
# like the first PBX node (the integration harness runs one per slot).
SANDBOX_INSTANCE_ENV = "CALLCENTER_SANDBOX_INSTANCE"


class PhoneUnavailable(CallcenterError):
    status = 503
    error_id = "phone.unavailable"


def sipjs_dir() -> Path:
    """SIP.js's ES modules (lib/), as tools/setup.sh installs them."""
    return VENDOR_DIR / "sip.js" / "lib"


def sipjs_problem() -> str:
    """Why the browser phone cannot load its SIP stack ("" when it can)."""
    package = VENDOR_DIR / "sip.js" / "package.json"
    try:
        version = json.loads(package.read_text(encoding="utf-8")).get("version", "")
    except (OSError, ValueError):
        return f"SIP.js is not installed in {VENDOR_DIR.parent} (run tools/setup.sh)"
    if version != SIPJS_VERSION:
        return f"SIP.js {version} is installed, {SIPJS_VERSION} is wanted (run tools/setup.sh)"
    return ""


def sip_password(config: Config, extension: str) -> str:
    """The SIP password of a phone, from where the rendered pjsip.conf took it: a sandbox
    instance's secrets file when the engine runs against one (CALLCENTER_SANDBOX_INSTANCE),
    else the operator's store (center.toml [phones]: the secrets file, then the
    environment), else the sandbox instance named like the first PBX node."""
    sandbox = os.environ.get(SANDBOX_INSTANCE_ENV, "")
    store = config.phone_secrets
    if not sandbox and (store.secrets_file or store.env_prefix):
        path = secrets_path(config)
        try:
            password = (read_file(path) if path is not None else {}).get(extension, "")
        except ConfigError as exc:  # e.g. a secrets file others may read: refused, said why
            raise PhoneUnavailable(str(exc)) from exc
        if not password and store.env_prefix:
            password = os.environ.get(f"{store.env_prefix}{extension}", "")
        if password:
            return password
    name = sandbox or (config.nodes[0].name if config.nodes else "")
    kind = config.nodes[0].kind if config.nodes else DEFAULT_KIND
    password = wing(kind).sandbox_password(name, extension) if name else ""
    if not password:
        raise PhoneUnavailable(
            f"no SIP password for phone {extension} (center.toml [phones] store, "
            f"sandbox instance {name!r})"
        )
    return password


def phone_account(config: Config, agent: AgentEntry) -> dict[str, str | list[str]]:
    """What the agent's browser phone signs in with, and the networks whose ICE candidates it
    offers (center.toml [webrtc] candidate_networks; empty: all)."""
    host = urlsplit(config.webrtc.ws_url).hostname or ""
    return {
        "agent_id": agent.id,
        "extension": agent.extension,
        "display_name": agent.name,
        "ws_url": config.webrtc.ws_url,
        "sip_uri": f"sip:{agent.extension}@{host}",
        "password": sip_password(config, agent.extension),
        "candidate_networks": list(config.webrtc.candidate_networks),
    }
