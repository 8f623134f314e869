"""The Asterisk files rendered from the shipped config, and the static extensions check."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from callcenter.config import Config, load_config
from callcenter.paths import REPO
from callcenter.pbx.asterisk.dialplan import (
    DEPLOYMENT_FILES,
    QueueSpec,
    RenderError,
    RenderParams,
    check_extensions,
    render,
)
from tests.unit.fakes import SHIPPED_CONFIG


@pytest.fixture(scope="module")
def config() -> Config:
    return load_config(SHIPPED_CONFIG)


def with_secrets(config: Config, params: RenderParams) -> RenderParams:
    """`params` with an AMI secret and every phone's password where it has none (a render
    without them is refused)."""
    phones = [a.extension for a in config.agents] + [x.extension for x in config.supervisors]
    return replace(
        params,
        ami_secret=params.ami_secret or "test-ami-secret",
        agent_passwords={ext: f"pw-{ext}-0123" for ext in phones} | dict(params.agent_passwords),
    )


def render_to(directory: Path, config: Config, params: RenderParams) -> dict[str, str]:
    """Render into `directory` and read the files back, as a deployment would."""
    for name, text in render(config, with_secrets(config, params)).items():
        (directory / name).write_text(text, encoding="utf-8")
    return {name: (directory / name).read_text(encoding="utf-8") for name in DEPLOYMENT_FILES}


def section(text: str, name: str, occurrence: int = 0) -> str:
    """The body of one [name] section (the nth one when the name repeats)."""
    parts = re.split(r"^(\[[^\]]+\].*)$", text, flags=re.M)
    bodies = [parts[i + 1] for i in range(1, len(parts), 2) if parts[i].startswith(f"[{name}]")]
    return bodies[occurrence]


def test_all_deployment_files_rendered(tmp_path: Path, config: Config) -> None:
    files = render_to(tmp_path, config, RenderParams())
    assert sorted(files) == sorted(DEPLOYMENT_FILES)
    assert all(text.strip() for text in files.values())


def test_shipped_extensions_pass_the_check(tmp_path: Path, config: Config) -> None:
    files = render_to(tmp_path, config, RenderParams())
    assert check_extensions(files["extensions.conf"]) == []


def test_every_did_has_an_entry(tmp_path: Path, config: Config) -> None:
    entry = section(render_to(tmp_path, config, RenderParams())["extensions.conf"], "cc-entry")
    for n in config.numbers:
        block = re.search(rf"^exten => {n.did},1,Set\(__CC_DID={n.did}\)\n((?: same.*\n)+)",
                          entry, flags=re.M)  # fmt: skip
        assert block, f"no entry for DID {n.did}"
        assert f"Set(__CC_SKILL={n.skill})" in block.group(1)
        assert f"Set(__CC_PRIORITY={n.priority})" in block.group(1)
    # and the catch-all for unknown DIDs uses the default entry's skill
    assert "exten => _X.,1,Set(__CC_DID=${EXTEN})\n same => n,Set(__CC_SKILL=general)" in entry


def test_numbers_toml_dids_match_rendered_entries(tmp_path: Path, config: Config) -> None:
    """Independently of Config: every did = "..." line of numbers.toml is in extensions.conf."""
    dids = re.findall(r'^did = "(\d+)"', (SHIPPED_CONFIG / "numbers.toml").read_text(), re.M)
    assert len(dids) == 10
    entry = section(render_to(tmp_path, config, RenderParams())["extensions.conf"], "cc-entry")
    rendered = re.findall(r"^exten => (\d+),1,", entry, flags=re.M)
    assert sorted(rendered) == sorted(dids)


def test_emergency_lines_bypass_the_queue(tmp_path: Path, config: Config) -> None:
    ext = render_to(tmp_path, config, RenderParams())["extensions.conf"]
    emergency = section(ext, "cc-emergency")
    for line in ("110", "119", "120", "122"):
        assert f"exten => {line},1," in emergency
        assert f"Dial(PJSIP/{line}@emergency,30,U(cc-emergency-answered^{line}^" in emergency
        assert f"Goto(cc-emergency,{line},1)" in section(ext, "cc-inbound")


def test_every_agent_has_an_endpoint_with_auth(tmp_path: Path, config: Config) -> None:
    passwords = {a.extension: f"pw-{a.extension}" for a in config.agents}
    pjsip = render_to(tmp_path, config, RenderParams(agent_passwords=passwords))["pjsip.conf"]
    for a in config.agents:
        ext = a.extension
        endpoint = section(pjsip, ext, 0)
        assert f"[{ext}](agent-endpoint)" in pjsip
        assert f"auth = {ext}-auth" in endpoint
        assert f"aors = {ext}" in endpoint
        auth = section(pjsip, f"{ext}-auth")
        assert "type = auth" in auth
        assert "auth_type = digest" in auth
        assert f"username = {ext}" in auth
        assert f"password = pw-{ext}" in auth
        assert "type = aor" in section(pjsip, ext, 1)


def test_requests_are_identified_by_address_first(tmp_path: Path, config: Config) -> None:
    """Trunks are known by their carrier's address only; a From user naming a trunk from
    anywhere else is not that trunk; the rest is the anonymous endpoint."""
    pjsip = render_to(tmp_path, config, RenderParams())["pjsip.conf"]
    assert "endpoint_identifier_order = ip,username,anonymous" in section(pjsip, "global")
    carrier = section(pjsip, "carrier")
    assert "identify_by = ip\n" in carrier and "context = cc-inbound" in carrier
    assert "allow_transfer = no" in carrier
    identify = section(pjsip, "carrier-identify")
    assert "endpoint = carrier" in identify and "match = 127.0.0.1:15098" in identify
    for outbound in ("emergency", "carrier-out"):
        endpoint = section(pjsip, outbound)
        assert "identify_by = ip\n" in endpoint and "context = cc-refused" in endpoint
        assert f"endpoint = {outbound}\n" not in pjsip  # no identify section: never inbound
    assert "identify_by = username" in section(pjsip, "agent-endpoint")
    anonymous = section(pjsip, "anonymous")
    assert "context = cc-public" in anonymous and "allow_transfer = no" in anonymous
    assert "aors" not in anonymous and "auth" not in anonymous


def test_a_trunk_may_also_require_digest_auth(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, directory)
    trunks = directory / "trunks.toml"
    trunks.write_text(
        trunks.read_text(encoding="utf-8").replace(
            'match = "127.0.0.1:15098"',
            'match = "127.0.0.1:15098"\nauth_user = "hotline"\nsecret_env = "CC_TRUNK_PW"',
        ),
        encoding="utf-8",
    )
    config = load_config(directory)
    with pytest.raises(RenderError, match=r"trunks.toml: trunk\[0\].secret_env: .*CC_TRUNK_PW"):
        render(config, RenderParams())
    (tmp_path / "out").mkdir()
    params = RenderParams(trunk_secrets={"carrier": "s3cret-from-env"})
    pjsip = render_to(tmp_path / "out", config, params)["pjsip.conf"]
    assert "auth = carrier-auth" in section(pjsip, "carrier")
    auth = section(pjsip, "carrier-auth")
    assert "username = hotline" in auth and "password = s3cret-from-env" in auth


def test_unidentified_callers_reach_the_hotline_numbers_only(
    tmp_path: Path, config: Config
) -> None:
    extensions = render_to(tmp_path, config, RenderParams())["extensions.conf"]
    public = section(extensions, "cc-public")
    lines = [x for x in public.splitlines() if x.startswith("exten")]
    assert lines == [f"exten => {n.did},1,Goto(cc-entry,{n.did},1)" for n in config.numbers]
    refused = section(extensions, "cc-refused")
    assert [x for x in refused.splitlines() if x.startswith("exten")] == [
        "exten => _X.,1,Hangup(21)"
    ]


def test_fallback_queue_has_every_agent(tmp_path: Path, config: Config) -> None:
    queues = render_to(tmp_path, config, RenderParams())["queues.conf"]
    members = re.findall(r"^member => (\S+),0,", section(queues, "cc-fallback"), flags=re.M)
    assert members == [f"PJSIP/{a.extension}" for a in config.agents]


def test_extra_queue_is_rendered(tmp_path: Path, config: Config) -> None:
    extra = QueueSpec("baseline", ("PJSIP/1001", "PJSIP/1002"), timeout=20)
    queues = render_to(tmp_path, config, RenderParams(extra_queues=(extra,)))["queues.conf"]
    body = section(queues, "baseline")
    assert "strategy = rrmemory" in body
    assert "timeout = 20" in body
    assert re.findall(r"^member => (\S+)$", body, flags=re.M) == ["PJSIP/1001", "PJSIP/1002"]


def test_an_empty_manager_secret_is_not_renderable(
    config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manager user never gets `secret =` empty; render does not read the environment
    itself (the CLI passes the secret from the node's secret_env)."""
    monkeypatch.setenv("CALLCENTER_AMI_SECRET", "env-secret-xyz")
    params = RenderParams(ami_port=15038, agent_passwords={"x": "y"})
    with pytest.raises(RenderError, match=r"manager.conf: no AMI secret for user callcenter"):
        render(config, params)


def test_a_phone_without_a_password_is_not_renderable(config: Config) -> None:
    """Never `password =` empty: the error names every phone that has none."""
    passwords = {a.extension: "pw-long-enough" for a in config.agents[1:]}
    with pytest.raises(RenderError) as caught:
        render(config, RenderParams(ami_secret="s3cret-manager", agent_passwords=passwords))
    first = config.agents[0]
    assert f"agent {first.id} (extension {first.extension})" in str(caught.value)
    for x in config.supervisors:
        assert f"supervisor {x.id} (extension {x.extension})" in str(caught.value)
    assert f"agent {config.agents[1].id} " not in str(caught.value)


def test_rendered_phones_and_manager_never_have_an_empty_secret(
    tmp_path: Path, config: Config
) -> None:
    files = render_to(tmp_path, config, RenderParams(ami_port=15038))
    assert not re.search(r"^(password|secret) =\s*$", files["pjsip.conf"], flags=re.M)
    assert not re.search(r"^secret =\s*$", files["manager.conf"], flags=re.M)
    assert "port = 15038" in files["manager.conf"] and "[callcenter]" in files["manager.conf"]


def test_manager_secret_when_passed(tmp_path: Path, config: Config) -> None:
    params = RenderParams(ami_user="engine", ami_secret="passed-secret")
    manager = render_to(tmp_path, config, params)["manager.conf"]
    assert "secret = passed-secret" in section(manager, "engine")


def test_manager_user_gets_only_the_classes_the_driver_uses(tmp_path: Path, config: Config) -> None:
    """No `command` (CLI over AMI) and nothing unused; each class says what needs it, and
    every AMI action the driver sends is named there."""
    user = section(render_to(tmp_path, config, RenderParams())["manager.conf"], "callcenter")
    read = re.findall(r"^read = (.*)$", user, flags=re.M)
    write = re.findall(r"^write = (.*)$", user, flags=re.M)
    assert read == ["call,user,system"] and write == ["call,originate,system"]
    for name in ("call", "user", "system", "originate"):
        assert re.search(rf"^;\s+{name}\s+\S", user, flags=re.M), name
    driver = (REPO / "callcenter" / "pbx" / "asterisk" / "driver.py").read_text(encoding="utf-8")
    actions = set(re.findall(r'"Action": "(\w+)"', driver))
    assert {"Setvar", "Redirect", "Originate", "Hangup", "Status"} <= actions
    documented = set(re.findall(r"\w+", " ".join(re.findall(r"^;.*$", user, flags=re.M))))
    assert actions <= documented, actions - documented


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[a]\nexten => s,1,Goto(nowhere,s,1)\n", "line 2: Goto to unknown context 'nowhere'"),
        ("[a]\nexten => s,1,GotoIf($[1]?nowhere,s,1:a,s,1)\n",
         "line 2: Goto to unknown context 'nowhere'"),
        ("[a]\nexten => s,1,GotoIf($[1]?a,s,1:elsewhere,s,1)\n",
         "line 2: Goto to unknown context 'elsewhere'"),
        ("[a]\n same => n,Hangup()\n", "line 2: 'same' without a preceding 'exten'"),
        ("[a]\nexten => s,1,NoOp()\n[b]\n same => n,Hangup()\n",
         "line 4: 'same' without a preceding 'exten'"),
        ("[a]\nexten => s,1,NoOp()\n[empty]\n; nothing\n", "context [empty] has no extensions"),
        ("[a]\nexten => s,1,NoOp()\nHangup()\n", "line 3: not understood: Hangup()"),
    ],
)  # fmt: skip
def test_check_extensions_finds_problem(text: str, problem: str) -> None:
    assert problem in check_extensions(text)


@pytest.mark.parametrize(
    "text",
    [
        "[globals]\nX=1\n[a]\nexten => s,1,Goto(a,s,1)\n",
        "[a]\nexten => s,1,Goto(${CTX},s,1)\n",  # a variable context cannot be checked
        "[a]\nexten => s,1,Goto(label)\n same => n(label),Hangup() ; comment (Goto(x,s,1))\n",
        "[tpl](!)\nexten => s,1,NoOp()\n",
    ],
)
def test_check_extensions_accepts(text: str) -> None:
    assert check_extensions(text) == []


def test_check_extensions_rejects_broken_rendered_text(tmp_path: Path, config: Config) -> None:
    ext = render_to(tmp_path, config, RenderParams())["extensions.conf"]
    broken = ext.replace("[cc-join]", "[cc-joined]")  # cc-entry still jumps to cc-join
    problems = check_extensions(broken)
    assert problems
    assert all("Goto to unknown context 'cc-join'" in p for p in problems)
    # every direct DID, the catch-all and every IVR route that joins the queue
    assert len(problems) == ext.count("Goto(cc-join,s,1)")
    direct = [n for n in config.numbers if n.entry == "direct"]
    assert len(problems) >= len(direct) + 1


def test_check_extensions_sees_gotoif_with_function_in_condition() -> None:
    text = "[a]\nexten => s,1,GotoIf($[${LEN(${X})} > 0]?nowhere,s,1)\n"
    assert "line 2: Goto to unknown context 'nowhere'" in check_extensions(text)
