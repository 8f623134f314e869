"""Render FreeSWITCH's configuration from config/: the XML dialplan, the directory (the phones
with their passwords), the SIP profile and the trunks' ACL, the event socket, music on hold
and mod_callcenter's fallback queue (templates in dialplans/freeswitch/), and check it.

The same templates serve a deployment (`callcenter dialplan render --out DIR`: the cc-*.xml
parts and a freeswitch.xml that includes them) and the sandbox FreeSWITCH.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import quoteattr

import jinja2

from callcenter.config import Config
from callcenter.paths import REPO
from callcenter.pbx.base import PbxError
from callcenter.pbx.freeswitch import ivr_dialplan
from callcenter.pbx.freeswitch.emergency import EmergencyTargetError, target

TEMPLATES = REPO / "dialplans" / "freeswitch"

PARTS = (
    "cc-dialplan.xml",
    "cc-emergency.xml",
    "cc-conference.conf.xml",
    "cc-ivr.xml",
    "cc-directory.xml",
    "cc-sofia.conf.xml",
    "cc-acl.conf.xml",
    "cc-event_socket.conf.xml",
    "cc-local_stream.conf.xml",
    "cc-callcenter.conf.xml",
)
MAIN = "freeswitch.xml"
# the parts that hold <context>s
DIALPLAN_PARTS = ("cc-dialplan.xml", "cc-emergency.xml", "cc-ivr.xml")

MODULES = (
    "mod_logfile",
    "mod_event_socket",
    "mod_sofia",
    "mod_loopback",
    "mod_commands",
    "mod_dptools",
    "mod_hash",
    "mod_db",
    "mod_expr",
    "mod_dialplan_xml",
    "mod_sndfile",
    "mod_native_file",
    "mod_local_stream",
    "mod_tone_stream",
    "mod_callcenter",
    "mod_conference",
)


# Seconds between the OPTIONS pings of each registered phone (as Asterisk's qualify_frequency)
PING_INTERVAL = 5


class RenderError(PbxError):
    """A dialplan template could not be rendered."""

    status = 500
    error_id = "dialplan.render"


@dataclass(frozen=True)
class RenderParams:
    host: str = "127.0.0.1"
    sip_port: int = 5060
    esl_host: str = "127.0.0.1"
    esl_port: int = 8021
    esl_secret: str = ""
    carrier_port: int = 5098  # where the carrier gateway takes outbound calls to citizens
    emergency_port: int = 5099  # where the emergency gateway takes calls to 110/119/120/122
    phone_passwords: Mapping[str, str] = field(default_factory=dict)
    # trunk name -> password, for the trunks with auth_user (trunks.toml)
    trunk_secrets: Mapping[str, str] = field(default_factory=dict)
    rtp_start: int = 16384
    rtp_end: int = 32768
    switchname: str = "callcenter"
    moh_dir: str = "/usr/share/freeswitch/sounds/callcenter-moh"
    log_dir: str = "/var/log/freeswitch"
    recordings_dir: str = "/var/lib/freeswitch/recordings/callcenter"
    timezone: str = "Asia/Shanghai"
    record: bool = True
    prompts_dir: str = "/usr/share/freeswitch/sounds/callcenter"
    modules: tuple[str, ...] = MODULES
    # how the node dials a phone (the node's agent_dial): mod_callcenter's fallback agents
    agent_dial: str = "user/{extension}"
    # The browser phones' secure WebSocket (sofia's wss-binding) and the folder holding its
    # wss.crt and wss.key (tls-cert-dir): "" takes center.toml [webrtc] bind and the folder
    # of cert_file / key_file; the sandbox passes its own.
    wss_bind: str = ""
    tls_cert_dir: str = ""


# center.toml [webrtc] codecs (Asterisk's format names) as FreeSWITCH names them
WEBRTC_CODECS = {"opus": "OPUS", "alaw": "PCMA", "ulaw": "PCMU"}


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = lambda v: quoteattr(str(v))
    env.filters["regex_escape"] = lambda v: re.escape(str(v))
    return env


def trunk_cidrs(match: str) -> tuple[list[dict[str, str]], list[str]]:
    """A trunk's `match` (addresses, networks or address:port, comma-separated) as ACL nodes
    ({"cidr": ..., "port": ... or ""}), and the entries that are none of these. The profile
    checks the source port too (use-port-for-acl-check): "127.0.0.1:5098" is that port only,
    an address or network without a port is any port of it."""
    nodes: list[dict[str, str]] = []
    bad: list[str] = []
    for raw in (m.strip() for m in match.split(",")):
        if not raw:
            continue
        host, port = raw, ""
        if raw.startswith("["):  # [IPv6]:port
            host, _, rest = raw[1:].partition("]")
            port = rest.removeprefix(":")
        elif raw.count(":") == 1:
            host, port = raw.split(":")
        try:
            net = ipaddress.ip_network(host, strict=False)
        except ValueError:
            bad.append(raw)
            continue
        if port and not (port.isdigit() and 0 < int(port) < 65536):
            bad.append(raw)
            continue
        nodes.append({"cidr": str(net), "port": port})
    return nodes, bad


# A trunk's name becomes part of an ACL list's and a dialplan context's name.
_TRUNK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")


def webrtc(config: Config, params: RenderParams) -> dict[str, Any] | None:
    """The browser phones' part of the SIP profile, or None when no agent has one: the WSS
    listener and its certificate folder, the networks whose ICE candidates FreeSWITCH takes
    (the same [webrtc] candidate_networks the page offers from), the codecs in order.

    FreeSWITCH (sofia-sip) reads the WSS certificate from a folder, by fixed names: `wss.crt`
    and `wss.key` with the chain in `ca-bundle.crt` beside them (a self-signed certificate:
    itself), or key, certificate and chain in one `wss.pem`; so [webrtc] cert_file and
    key_file must be named so, side by side; anything else is a render error naming the
    keys."""
    if not any(a.browser_phone for a in config.agents):
        return None
    w = config.webrtc
    cert_dir = params.tls_cert_dir
    if not cert_dir:
        folder = posixpath.dirname(w.cert_file)
        names = (posixpath.basename(w.cert_file), posixpath.basename(w.key_file))
        if posixpath.dirname(w.key_file) != folder or names not in (
            ("wss.crt", "wss.key"),
            ("wss.pem", "wss.pem"),
        ):
            raise RenderError(
                "center.toml: webrtc.cert_file, webrtc.key_file: FreeSWITCH reads the secure "
                "WebSocket's certificate from one folder as wss.crt and wss.key, the chain "
                f"beside them as ca-bundle.crt (or all in one wss.pem), not {w.cert_file} and "
                f"{w.key_file}"
            )
        cert_dir = folder
    return {
        "bind": params.wss_bind or w.bind,
        "cert_dir": cert_dir,
        "candidate_networks": list(w.candidate_networks),
        "codecs": ",".join(WEBRTC_CODECS[c] for c in w.codecs),
    }


def modules(config: Config, params: RenderParams) -> tuple[str, ...]:
    """The modules to load: the parameters' list, and mod_opus when the browser phones speak
    Opus ([webrtc] codecs)."""
    opus = any(a.browser_phone for a in config.agents) and "opus" in config.webrtc.codecs
    return params.modules + (("mod_opus",) if opus and "mod_opus" not in params.modules else ())


def context(config: Config, params: RenderParams) -> dict[str, Any]:
    if not params.esl_secret:
        raise RenderError(
            "cc-event_socket.conf.xml: no ESL password "
            "(center.toml pbx.nodes.secret_env names the environment variable holding it)"
        )
    everyone = [("agent", a.id, a.extension) for a in config.agents] + [
        ("supervisor", s.id, s.extension) for s in config.supervisors
    ]
    nobody = [
        f"{kind} {who} (extension {ext})"
        for kind, who, ext in everyone
        if not params.phone_passwords.get(ext)
    ]
    if nobody:
        raise RenderError(
            f"cc-directory.xml: no SIP password for {', '.join(nobody)} "
            "(center.toml [phones]: `callcenter agents secrets generate`)"
        )
    trunks = []
    phone_users = {ext for _, _, ext in everyone}
    for i, t in enumerate(config.trunks):
        if t.direction != "inbound":
            continue
        if not _TRUNK_NAME.match(t.name):
            raise RenderError(
                f"trunks.toml: trunk[{i}].name: {t.name!r} names an ACL list and a dialplan "
                "context on FreeSWITCH: letters, digits, _ . - (up to 63)"
            )
        nodes, bad = trunk_cidrs(t.match)
        if bad:
            raise RenderError(
                f"trunks.toml: trunk[{i}].match: FreeSWITCH's ACL takes addresses, networks "
                f"and address:port, not {', '.join(bad)}"
            )
        password = ""
        if t.auth_user:
            password = params.trunk_secrets.get(t.name, "")
            if not password:
                raise RenderError(
                    f"trunks.toml: trunk[{i}].secret_env: no password for trunk {t.name} "
                    f"(environment variable {t.secret_env})"
                )
            if t.auth_user in phone_users:
                raise RenderError(
                    f"trunks.toml: trunk[{i}].auth_user: {t.auth_user} is also a phone's "
                    "extension (FreeSWITCH keeps both in one directory)"
                )
        trunks.append(
            {
                "name": t.name,
                "nodes": nodes,
                "acl": f"cc_trunk_{t.name}",
                "context": f"cc-trunk-{t.name}",
                "auth_user": t.auth_user,
                "password": password,
                "trust_headers": t.trust_headers,
            }
        )
    emergency = []
    gateways: set[str] = set()
    for i, line in enumerate(config.emergency):
        targets = []
        for j, text in enumerate(line.targets):
            try:
                dial = target(text)
            except EmergencyTargetError as exc:
                raise RenderError(f"trunks.toml: emergency[{i}].targets[{j}]: {exc}") from exc
            targets.append(dial)
            if dial.gateway and dial.gateway != "carrier-out":
                gateways.add(dial.gateway)
        emergency.append({"line": line.line, "label": line.label, "targets": targets})
    ivr_entries: dict[str, dict[str, object]] = {}
    flows: set[str] = set()
    if config.ivr is not None:
        for n in config.numbers:
            if n.entry == "menu":
                ivr_entries[n.did] = ivr_dialplan.entry(config.ivr, n.did)
                flows.add(config.ivr.flow_for(n.did).id)
    browser = {a.extension for a in config.agents if a.browser_phone}
    return {
        "numbers": config.numbers,
        "extensions": sorted(ext for _, _, ext in everyone),
        "ivr_entries": ivr_entries,
        "ivr_contexts": ivr_dialplan.compile_flows(config.ivr, flows) if config.ivr else "",
        "emergency": emergency,
        "emergency_gateways": sorted(gateways),
        "emergency_port": params.emergency_port,
        "default": config.number_for(config.center.default_did),
        "phones": [
            {
                "extension": ext,
                "who": f"{kind} {who}",
                "password": params.phone_passwords[ext],
                "browser": kind == "agent" and ext in browser,
            }
            for kind, who, ext in everyone
        ],
        "agents": [
            {"extension": a.extension, "contact": params.agent_dial.format(extension=a.extension)}
            for a in config.agents
        ],
        # a SIP proxy in front of the nodes (center.toml [pbx.proxy]): the agents' phones
        # register there, and this node dials them through its `kamailio` gateway
        "proxy": config.proxy,
        "trunks": trunks,
        "fallback_after": config.engine.fallback_after,
        "fallback_queue_timeout": 3600,
        "host": params.host,
        "domain": params.host,
        "sip_port": params.sip_port,
        "ping_interval": PING_INTERVAL,
        "esl_host": params.esl_host,
        "esl_port": params.esl_port,
        "esl_secret": params.esl_secret,
        "carrier_port": params.carrier_port,
        "moh_dir": params.moh_dir,
        "log_dir": params.log_dir,
        "rtp_start": params.rtp_start,
        "rtp_end": params.rtp_end,
        "switchname": params.switchname,
        "modules": modules(config, params),
        "webrtc": webrtc(config, params),
        "recordings_dir": params.recordings_dir,
        "timezone": params.timezone,
        "record": params.record,
        "prompts_dir": params.prompts_dir,
    }


def render(config: Config, params: RenderParams) -> dict[str, str]:
    """File name -> text: freeswitch.xml and the cc-*.xml parts it includes."""
    env = _environment()
    ctx = context(config, params)
    try:
        return {name: env.get_template(name + ".j2").render(ctx) for name in (MAIN, *PARTS)}
    except jinja2.TemplateError as exc:
        raise RenderError(f"dialplans/freeswitch: {exc}") from exc


_INCLUDE = re.compile(r'<X-PRE-PROCESS cmd="include" data="([^"]+)"/>')


def assemble(files: Mapping[str, str]) -> str:
    """freeswitch.xml with its includes put in, as FreeSWITCH's preprocessor reads it."""

    def part(m: re.Match[str]) -> str:
        text = files[m.group(1)]
        inner = re.search(r"<include>(.*)</include>", text, re.S)
        return inner.group(1) if inner else text

    return _INCLUDE.sub(part, files[MAIN])


def check(files: Mapping[str, str]) -> list[str]:
    """Problems of the rendered files, each naming its file: XML that does not parse, an
    include of a missing part, a transfer to a context or extension that does not exist."""
    problems: list[str] = []
    for name, text in files.items():
        try:
            ET.fromstring(text.split("?>", 1)[-1] if text.startswith("<?xml") else text)
        except ET.ParseError as exc:
            problems.append(f"{name}: not well-formed XML: {exc}")
    for m in _INCLUDE.finditer(files.get(MAIN, "")):
        if m.group(1) not in files:
            problems.append(f"{MAIN}: includes {m.group(1)}, which was not rendered")
    if problems:
        return problems
    # the dialplan's parts, each context with the file it is in
    contexts = [
        (name, ctx)
        for name in DIALPLAN_PARTS
        if name in files
        for ctx in ET.fromstring(files[name]).iter("context")
    ]
    targets: dict[str, list[str]] = {}  # context -> destination_number expressions
    for _, ctx in contexts:
        exprs = targets.setdefault(ctx.get("name", ""), [])
        for ext in ctx.iter("extension"):
            for cond in ext.iter("condition"):
                if cond.get("field") == "destination_number":
                    exprs.append(cond.get("expression", ""))
    for name, ctx in contexts:
        for ext in ctx.iter("extension"):
            for action in list(ext.iter("action")) + list(ext.iter("anti-action")):
                if action.get("application") != "transfer":
                    continue
                words = (action.get("data") or "").split()
                if len(words) != 3 or "$" in words[0] + words[2]:
                    continue
                number, _, where = words
                if where not in targets:
                    problems.append(
                        f"{name}: extension {ext.get('name')} in {ctx.get('name')}: "
                        f"transfer to unknown context {where}"
                    )
                elif "$" not in number and not any(
                    re.search(e, number) for e in targets[where] if e
                ):
                    problems.append(
                        f"{name}: extension {ext.get('name')} in {ctx.get('name')}: "
                        f"transfer to {number}, which no extension of {where} takes"
                    )
    return problems
