"""Render the Asterisk dialplan and its companions (pjsip, queues, manager) from config/.

The same templates serve a deployment (`callcenter dialplan render --out DIR`) and the
sandbox PBX, which adds its instance files (asterisk.conf, modules.conf, ...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from callcenter.config import Config
from callcenter.paths import REPO
from callcenter.pbx.asterisk.ivr_dialplan import compile_flows, entry_context
from callcenter.pbx.asterisk.settings import AsteriskSettings, overflow_location
from callcenter.pbx.base import PbxError

DIALPLAN_TEMPLATES = REPO / "dialplans" / "asterisk"

DEPLOYMENT_FILES = (
    "extensions.conf",
    "queues.conf",
    "pjsip.conf",
    "manager.conf",
    "confbridge.conf",
)


@dataclass(frozen=True)
class QueueSpec:
    """An extra app_queue queue (the benchmark's baseline)."""

    name: str
    members: tuple[str, ...]
    strategy: str = "rrmemory"
    timeout: int = 15
    retry: int = 0
    wrapup: int = 0


@dataclass(frozen=True)
class RenderParams:
    host: str = "127.0.0.1"
    sip_port: int = 5060
    ami_port: int = 5038
    ami_user: str = "callcenter"
    ami_secret: str = ""
    emergency_port: int = 5099
    carrier_port: int = 5098  # where the carrier trunk takes outbound calls to citizens
    agent_passwords: Mapping[str, str] = field(default_factory=dict)
    # trunk name -> password, for the trunks with auth_user (trunks.toml)
    trunk_secrets: Mapping[str, str] = field(default_factory=dict)
    extra_queues: tuple[QueueSpec, ...] = ()
    recordings_dir: str = "/var/spool/asterisk/callcenter"
    prompts_dir: str = "/var/lib/asterisk/sounds/callcenter"
    # The browser phones' secure WebSocket (http.conf's TLS listener): "" takes center.toml
    # [webrtc] bind / cert_file / key_file; the sandbox passes its own. `http_port` is the
    # plain HTTP listener Asterisk opens beside it (loopback only).
    tls_bind: str = ""
    tls_cert: str = ""
    tls_key: str = ""
    http_port: int = 8088


class RenderError(PbxError):
    """A dialplan template could not be rendered."""

    status = 500
    error_id = "dialplan.render"


def environment(directory: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def node_settings(config: Config) -> AsteriskSettings:
    """The settings of the config's first Asterisk node (defaults when it has none)."""
    for node in config.nodes:
        if isinstance(node.settings, AsteriskSettings):
            return node.settings
    return AsteriskSettings()


def agent_dial(config: Config, extension: str) -> str:
    return node_settings(config).dial(extension)


def context(config: Config, params: RenderParams) -> dict[str, Any]:
    default = config.number_for(config.center.default_did)
    for i, trunk in enumerate(config.trunks):
        if trunk.auth_user and not params.trunk_secrets.get(trunk.name):
            raise RenderError(
                f"trunks.toml: trunk[{i}].secret_env: no password for trunk {trunk.name} "
                f"(environment variable {trunk.secret_env})"
            )
    # never a phone or the manager user without a secret (Asterisk would take an empty one)
    if not params.ami_secret:
        raise RenderError(
            f"manager.conf: no AMI secret for user {params.ami_user} "
            "(center.toml pbx.nodes.secret_env names the environment variable holding it)"
        )
    nobody = [
        f"{kind} {p.id} (extension {p.extension})"
        for kind, group in (("agent", config.agents), ("supervisor", config.supervisors))
        for p in group
        if not params.agent_passwords.get(p.extension)
    ]
    if nobody:
        raise RenderError(
            f"pjsip.conf: no SIP password for {', '.join(nobody)} "
            "(center.toml [phones]: `callcenter agents secrets generate`)"
        )
    ivr_entries: dict[str, str] = {}
    flows: set[str] = set()
    if config.ivr is not None:
        for n in config.numbers:
            if n.entry == "menu":
                ivr_entries[n.did] = entry_context(config.ivr, n.did)
                flows.add(config.ivr.flow_for(n.did).id)
    agents = [
        {
            "id": a.id,
            "name": a.name,
            "extension": a.extension,
            "dial": agent_dial(config, a.extension),
            "password": params.agent_passwords[a.extension],
        }
        for a in config.agents
    ]
    # browser phones (WebRTC) get their own endpoint block in pjsip.conf; desk phones the rest
    browser = {a.extension for a in config.agents if a.browser_phone}
    browser_phones = [a for a in agents if a["extension"] in browser]
    agents_on_desk = [a for a in agents if a["extension"] not in browser]
    phones = agents_on_desk + [
        {
            "id": x.id,
            "name": x.name,
            "extension": x.extension,
            "dial": agent_dial(config, x.extension),
            "password": params.agent_passwords[x.extension],
        }
        for x in config.supervisors
    ]
    return {
        "numbers": config.numbers,
        "default": default,
        "agents": agents,
        "phones": phones,
        "browser_phones": browser_phones,
        # a SIP proxy in front of the nodes (center.toml [pbx.proxy]): agents' phones register
        # there, and this node dials them through it (agent_dial "PJSIP/{extension}@kamailio")
        "proxy": config.proxy,
        "tls_bind": params.tls_bind or config.webrtc.bind,
        "tls_cert": params.tls_cert or config.webrtc.cert_file,
        "tls_key": params.tls_key or config.webrtc.key_file,
        "http_port": params.http_port,
        "webrtc_codecs": config.webrtc.codecs,
        "trunks": [t for t in config.trunks if t.direction == "inbound"],
        "emergency": config.emergency,
        "fallback_after": config.engine.fallback_after,
        "fallback_queue_timeout": 3600,
        "overflow_target": overflow_location(config.queue.overflow_target),
        "host": params.host,
        "sip_port": params.sip_port,
        "ami_port": params.ami_port,
        "ami_user": params.ami_user,
        "ami_secret": params.ami_secret,
        "emergency_port": params.emergency_port,
        "carrier_port": params.carrier_port,
        "trunk_secrets": params.trunk_secrets,
        "extra_queues": params.extra_queues,
        "recordings_dir": params.recordings_dir,
        "prompts_dir": params.prompts_dir,
        "ivr_entries": ivr_entries,
        "ivr_contexts": compile_flows(config.ivr, flows) if config.ivr is not None else "",
        "recording": config.recordings.enabled,
        "timezone": config.center.timezone,
    }


def render(config: Config, params: RenderParams) -> dict[str, str]:
    """File name -> text of every deployment file."""
    env = environment(DIALPLAN_TEMPLATES)
    ctx = context(config, params)
    # http.conf carries the browser phones' secure WebSocket: only where there are some
    names = DEPLOYMENT_FILES + (("http.conf",) if ctx["browser_phones"] else ())
    try:
        return {name: env.get_template(name + ".j2").render(ctx) for name in names}
    except jinja2.TemplateError as exc:
        raise RenderError(f"dialplans/asterisk: {exc}") from exc


_EXTEN = re.compile(r"^\s*(exten|same)\s*=>\s*(.*)$")
_CONTEXT = re.compile(r"^\[([A-Za-z0-9_\-]+)\](\(!\))?")


def check_extensions(text: str) -> list[str]:
    """Static checks of a rendered extensions.conf: every Goto target context exists,
    every context has at least one extension, `same` follows an `exten`. Returns problems."""
    problems: list[str] = []
    contexts: dict[str, int] = {}
    current = ""
    last_exten = False
    gotos: list[tuple[int, str]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split(";", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith(("#include", "#tryinclude")):
            continue
        m = _CONTEXT.match(line)
        if m:
            current = m.group(1)
            contexts.setdefault(current, 0)
            last_exten = False
            continue
        m2 = _EXTEN.match(line)
        if m2:
            if m2.group(1) == "same" and not last_exten:
                problems.append(f"line {lineno}: 'same' without a preceding 'exten'")
            last_exten = True
            contexts[current] = contexts.get(current, 0) + 1
            for target in _goto_arguments(m2.group(2)):
                gotos.append((lineno, target))
            continue
        if current != "globals" and "=" not in line:
            problems.append(f"line {lineno}: not understood: {line.strip()}")
    for name, count in contexts.items():
        if count == 0 and name not in ("globals", "general"):
            problems.append(f"context [{name}] has no extensions")
    for lineno, target in gotos:
        for dest in re.split(r"[?:]", target)[-2:] if "?" in target else [target]:
            parts = [p.strip() for p in dest.split(",")]
            if len(parts) == 3 and "${" not in parts[0] and parts[0] not in contexts:
                problems.append(f"line {lineno}: Goto to unknown context '{parts[0]}'")
    return problems


def _goto_arguments(application: str) -> list[str]:
    """The argument text of every Goto(...) / GotoIf(...), parentheses balanced."""
    found = []
    for m in re.finditer(r"Goto(?:If)?\(", application):
        depth, start = 1, m.end()
        for i in range(start, len(application)):
            if application[i] == "(":
                depth += 1
            elif application[i] == ")":
                depth -= 1
                if depth == 0:
                    found.append(application[start:i])
                    break
    return found
