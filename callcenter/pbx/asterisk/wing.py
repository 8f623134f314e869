"""The Asterisk wing's runtime parts, as the registry (callcenter/pbx/registry.py) reaches
them: the AMI driver of a node, the AudioSocket framing of live audio, `callcenter dialplan`
and `callcenter pbx` on the sandbox Asterisk."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import replace

from callcenter.config import Config, PbxNode, recordings_root
from callcenter.paths import REPO
from callcenter.pbx.asterisk.audiosocket import decode
from callcenter.pbx.asterisk.dialplan import RenderError, RenderParams, check_extensions, render
from callcenter.pbx.asterisk.driver import AsteriskDriver
from callcenter.pbx.asterisk.sandbox import Instance, ensure_root, root_dir, root_ready
from callcenter.pbx.asterisk.settings import RECORDINGS_DIR, AsteriskSettings
from callcenter.pbx.base import LiveAudioDecoder, PbxDriver
from callcenter.pbx.registry import Wing
from callcenter.pbx.sandboxes import instance_password, write_rendered
from callcenter.phone_secrets import phone_passwords, phones


def settings_of(node: PbxNode) -> AsteriskSettings:
    if not isinstance(node.settings, AsteriskSettings):
        raise TypeError(f"pbx node {node.name} is not an Asterisk node ({node.kind})")
    return node.settings


class AsteriskWing:
    def driver(self, node: PbxNode, extensions: Mapping[str, str], secret: str) -> PbxDriver:
        s = settings_of(node)
        dials = {agent: s.dial(ext) for agent, ext in extensions.items()}
        return AsteriskDriver(
            node.name,
            node.host,
            s.ami_port,
            s.ami_user,
            secret,
            dials,
            phone_dial=s.agent_dial,
            outbound_dial=s.outbound_dial,
        )

    def live_audio(self) -> LiveAudioDecoder:
        return decode

    def dialplan(self, config: Config, node: PbxNode | None, action: str, out: str) -> int:
        return dialplan_command(config, node, action, out)

    def sandbox_node(self, name: str) -> PbxNode:
        # the shipped center.toml's node: SIP 15060, AMI 15038, RTP 20000-20999
        return PbxNode(
            name=name,
            kind="asterisk",
            sip_port=15060,
            rtp_start=20000,
            rtp_end=20999,
            recordings_dir=RECORDINGS_DIR,
            settings=AsteriskSettings(ami_port=15038),
        )

    def sandbox_ready(self) -> bool:
        return root_ready()

    def sandbox_instance(self, config: Config, node: PbxNode) -> Instance:
        return instance_for(config, node)

    def sandbox_up(self, config: Config, node: PbxNode) -> Instance:
        ensure_root()
        instance = instance_for(config, node)
        instance.render(config)
        was_running = instance.running()
        instance.start()
        if was_running:
            instance.reload()
        return instance

    def sandbox(self, config: Config, node: PbxNode, action: str, rest: list[str]) -> int:
        return pbx_command(self, config, node, action, rest)

    def sandbox_password(self, instance: str, extension: str) -> str:
        return instance_password(Instance(name=instance).dir, extension)


WING: Wing = AsteriskWing()  # typed: mypy checks the wing against the registry's protocol


def dialplan_command(config: Config, node: PbxNode | None, action: str, out: str) -> int:
    """`node`: the Asterisk node rendered for (None: a check of a config without one)."""
    if action == "check":  # the dialplan only: no secret is needed, and none is written
        stand_in = "not-written-check-only"
        params = RenderParams(
            ami_secret=stand_in,
            agent_passwords={ext: stand_in for ext, _ in phones(config)},
            trunk_secrets={t.name: stand_in for t in config.trunks if t.auth_user},
        )
    else:  # every secret from the store the operator controls; a missing one is an error
        assert node is not None  # the CLI refuses a render without a node
        params = RenderParams(
            ami_user=settings_of(node).ami_user,
            ami_secret=node.secret(),
            agent_passwords=phone_passwords(config),
            trunk_secrets={t.name: t.secret() for t in config.trunks if t.auth_user},
        )
    if node is not None:
        params = replace(params, recordings_dir=node.recordings_dir)
    try:
        files = render(config, params)
    except RenderError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 1
    problems = check_extensions(files["extensions.conf"])
    if action == "check":
        for problem in problems:
            print(f"extensions.conf: {problem}", file=sys.stderr)
        if not problems:
            print(f"dialplan ok: {files['extensions.conf'].count('exten =>')} extensions")
        return 1 if problems else 0
    if problems:
        for problem in problems:
            print(f"extensions.conf: {problem}", file=sys.stderr)
        return 1
    return write_rendered(files, out, "extensions.conf")


def instance_for(config: Config, node: PbxNode) -> Instance:
    return Instance(
        name=node.name,
        host=node.host,
        sip_port=node.sip_port,
        ami_port=settings_of(node).ami_port,
        rtp_start=node.rtp_start,
        rtp_end=node.rtp_end,
        recordings_dir=node.recordings_dir,
        recordings_host=recordings_root(config, REPO),
    )


def pbx_command(
    wing: AsteriskWing, config: Config, node: PbxNode, action: str, rest: list[str]
) -> int:
    if action == "up":
        instance = wing.sandbox_up(config, node)
        print(
            f"sandbox PBX {instance.name} up: SIP {instance.host}:{instance.sip_port}, "
            f"AMI {instance.host}:{instance.ami_port}, root {instance.root}"
        )
        return 0
    if not root_ready():
        print(f"sandbox PBX root not built yet ({root_dir()}); run: callcenter pbx up")
        return 1 if action != "status" else 3
    instance = instance_for(config, node)
    if action == "down":
        instance.stop()
        print(f"sandbox PBX {instance.name} stopped")
    elif action == "status":
        if not instance.running():
            print(f"sandbox PBX {instance.name}: stopped")
            return 3
        print(f"sandbox PBX {instance.name}: running (pid {instance.pid()})")
        print(instance.cli("core show uptime").strip())
        print(instance.cli("core show channels count").strip())
    elif action == "cli":
        if not instance.running():
            print(f"sandbox PBX {instance.name} is not running", file=sys.stderr)
            return 1
        sys.stdout.write(instance.cli(" ".join(rest) or "core show version"))
    return 0
