"""The SIP proxy in front of the media nodes (center.toml [pbx.proxy]), as the command line
reaches it: `callcenter pbx up|down|status --nodes N` start, stop and show it with the nodes,
`callcenter pbx drain|undrain NODE` take a node out of the round and back. The proxy itself is
Kamailio (callcenter/pbx/kamailio/)."""

from __future__ import annotations

import time

from callcenter.config import Config, PbxNode, ProxyConfig
from callcenter.pbx.kamailio.proxy import (
    ProxyError,
    ProxySandbox,
    calls_on,
    drain,
    node_states,
    undrain,
)
from callcenter.tomlreader import ConfigError

__all__ = ["ProxyError", "drain_node", "proxy_of", "sandbox_of", "undrain_node"]


def proxy_of(config: Config, why: str) -> ProxyConfig:
    """The config's proxy; a ConfigError saying `why` it is needed when there is none."""
    if config.proxy is None:
        raise ConfigError("center.toml", "pbx.proxy", f"{why} needs a [pbx.proxy] table")
    return config.proxy


def sandbox_of(config: Config, name: str = "proxy") -> ProxySandbox:
    return ProxySandbox(proxy_of(config, "the sandbox proxy"), config.nodes, name=name)


def status_lines(config: Config) -> list[str]:
    proxy = proxy_of(config, "the proxy's status")
    states = node_states(proxy, config.nodes)
    return [
        f"node {n.name} ({n.host}:{n.sip_port}): {states.get(n.name, 'not listed')}, "
        f"{calls_on(proxy, n)} calls through the proxy"
        for n in config.nodes
    ]


def drain_node(
    config: Config, node: PbxNode, wait: float = 0.0, say: bool = True, poll: float = 1.0
) -> int:
    """Send no new call to `node`; then, up to `wait` seconds, wait until no call through the
    proxy is left on it. Returns the calls left (0: empty)."""
    proxy = proxy_of(config, "draining a node")
    drain(proxy, node)
    left = calls_on(proxy, node)
    if say:
        print(f"node {node.name}: no new calls; {left} calls up on it")
    deadline = time.monotonic() + wait
    while left and time.monotonic() < deadline:
        time.sleep(poll)
        now = calls_on(proxy, node)
        if say and now != left:
            print(f"node {node.name}: {now} calls up on it")
        left = now
    if say and not left:
        print(f"node {node.name} is empty: it can be stopped")
    return left


def undrain_node(config: Config, node: PbxNode) -> None:
    undrain(proxy_of(config, "undraining a node"), node)
