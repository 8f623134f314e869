"""The FreeSWITCH wing's runtime parts, as the registry (callcenter/pbx/registry.py) reaches
them: the ESL driver of a node, `callcenter dialplan` and `callcenter pbx` on the sandbox
FreeSWITCH."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from callcenter.config import Config, PbxNode, recordings_root
from callcenter.paths import REPO
from callcenter.pbx.base import LiveAudioDecoder, PbxDriver
from callcenter.pbx.freeswitch.dialplan import (
    DIALPLAN_PARTS,
    RenderError,
    RenderParams,
    check,
    render,
)
from callcenter.pbx.freeswitch.driver import FreeswitchDriver
from callcenter.pbx.freeswitch.esl import EslError
from callcenter.pbx.freeswitch.sandbox import Instance, ensure_root, root_dir, root_ready
from callcenter.pbx.freeswitch.settings import RECORDINGS_DIR, FreeswitchSettings
from callcenter.pbx.registry import Wing
from callcenter.pbx.sandboxes import instance_password, write_rendered
from callcenter.phone_secrets import phone_passwords, phones
from callcenter.tomlreader import ConfigError


def settings_of(node: PbxNode) -> FreeswitchSettings:
    if not isinstance(node.settings, FreeswitchSettings):
        raise TypeError(f"pbx node {node.name} is not a FreeSWITCH node ({node.kind})")
    return node.settings


class FreeswitchWing:
    def driver(self, node: PbxNode, extensions: Mapping[str, str], secret: str) -> PbxDriver:
        s = settings_of(node)
        dials = {agent: s.dial(ext) for agent, ext in extensions.items()}
        return FreeswitchDriver(
            node.name,
            node.host,
            s.esl_port,
            secret,
            dials,
            phone_dial=s.agent_dial,
            outbound_dial=s.outbound_dial,
            extensions=extensions,
        )

    def live_audio(self) -> LiveAudioDecoder:
        raise ConfigError(
            "center.toml",
            "asr.live_address",
            "live transcription is not available with a FreeSWITCH node yet "
            "(the leg audio stream is built for Asterisk only): leave asr.live_address empty",
        )

    def dialplan(self, config: Config, node: PbxNode | None, action: str, out: str) -> int:
        return dialplan_command(config, node, action, out)

    def sandbox_ready(self) -> bool:
        return root_ready()

    def sandbox_node(self, name: str) -> PbxNode:
        # beside the shipped Asterisk node's ports: SIP 15500, ESL 15521, RTP 21000-21999
        return PbxNode(
            name=name,
            kind="freeswitch",
            sip_port=15500,
            rtp_start=21000,
            rtp_end=21999,
            recordings_dir=RECORDINGS_DIR,
            settings=FreeswitchSettings(esl_port=15521),
        )

    def sandbox_instance(self, config: Config, node: PbxNode) -> Instance:
        return instance_for(config, node)

    def sandbox_up(self, config: Config, node: PbxNode) -> Instance:
        instance = instance_for(config, node, ensure_root())
        instance.render_config(config)
        was_running = instance.running()
        instance.start()
        if was_running:
            asyncio.run(_api(instance, "reloadxml"))
        return instance

    def sandbox(self, config: Config, node: PbxNode, action: str, rest: list[str]) -> int:
        return pbx_command(self, config, node, action, rest)

    def sandbox_password(self, instance: str, extension: str) -> str:
        return instance_password(Instance(name=instance).dir, extension)


WING: Wing = FreeswitchWing()  # typed: mypy checks the wing against the registry's protocol


def dialplan_command(config: Config, node: PbxNode | None, action: str, out: str) -> int:
    """`node`: the FreeSWITCH node rendered for (None: a check of a config without one)."""
    s = settings_of(node) if node is not None else FreeswitchSettings()
    if action == "check":  # the dialplan only: no secret is needed, and none is written
        stand_in = "not-written-check-only"
        params = RenderParams(
            esl_secret=stand_in,
            phone_passwords={ext: stand_in for ext, _ in phones(config)},
            trunk_secrets={t.name: stand_in for t in config.trunks if t.auth_user},
        )
    else:  # every secret from the store the operator controls; a missing one is an error
        assert node is not None  # the CLI refuses a render without a node
        params = RenderParams(
            esl_secret=node.secret(),
            phone_passwords=phone_passwords(config),
            trunk_secrets={t.name: t.secret() for t in config.trunks if t.auth_user},
        )
    params = replace(
        params,
        esl_port=s.esl_port,
        timezone=config.center.timezone,
        record=config.recordings.enabled,
        agent_dial=s.agent_dial,
    )
    if node is not None:
        params = replace(
            params,
            host=node.host,
            sip_port=node.sip_port,
            rtp_start=node.rtp_start,
            rtp_end=node.rtp_end,
            recordings_dir=node.recordings_dir,
        )
    try:
        files = render(config, params)
    except RenderError as exc:
        print(f"callcenter: {exc}", file=sys.stderr)
        return 1
    problems = check(files)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return 1
    menus = [n.did for n in config.numbers if n.entry == "menu"]
    if action == "check":
        extensions = sum(
            files[name].count("<extension ") for name in DIALPLAN_PARTS if name in files
        )
        print(f"dialplan ok: {extensions} extensions in {len(files)} files")
        if menus:
            print(f"IVR menus compiled for {', '.join(menus)} (cc-ivr.xml)")
        return 0
    return write_rendered(files, out, "cc-dialplan.xml")


def instance_for(config: Config, node: PbxNode, root: Path | None = None) -> Instance:
    extensions = tuple(ext for ext, _ in phones(config))
    return Instance(
        name=node.name,
        host=node.host,
        sip_port=node.sip_port,
        esl_port=settings_of(node).esl_port,
        rtp_start=node.rtp_start,
        rtp_end=node.rtp_end,
        agents=extensions,
        root=root or root_dir(),
        own_config=True,
        recordings_dir=node.recordings_dir,
        recordings_host=recordings_root(config, REPO),
        agent_dial=settings_of(node).agent_dial,
    )


async def _api(instance: Instance, command: str) -> str:
    client = instance.esl(events=("BACKGROUND_JOB",), timeout=5.0)
    async with client:
        return await client.api(command, check=False)


def pbx_command(
    wing: FreeswitchWing, config: Config, node: PbxNode, action: str, rest: list[str]
) -> int:
    if action == "up":
        instance = wing.sandbox_up(config, node)
        print(
            f"sandbox PBX {instance.name} up: SIP {instance.host}:{instance.sip_port}, "
            f"ESL {instance.host}:{instance.esl_port}, root {instance.root}"
        )
        return 0
    if not root_ready():
        print(f"sandbox PBX root not built yet ({root_dir()}); run: callcenter pbx up")
        return 1 if action != "status" else 3
    instance = instance_for(config, node)
    if action == "down":
        instance.stop()
        print(f"sandbox PBX {instance.name} stopped")
        return 0
    if not instance.running():
        print(f"sandbox PBX {instance.name}: stopped", file=sys.stderr)
        return 3 if action == "status" else 1
    try:
        if action == "status":
            print(f"sandbox PBX {instance.name}: running (pid {instance.pid()})")
            print(asyncio.run(_api(instance, "status")).strip())
        elif action == "cli":
            sys.stdout.write(asyncio.run(_api(instance, " ".join(rest) or "version")))
    except EslError as exc:
        print(f"sandbox PBX {instance.name}: {exc}", file=sys.stderr)
        return 1
    return 0
