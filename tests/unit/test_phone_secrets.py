"""Agents' SIP passwords are configuration (issue 18): a secret store the operator controls
(a 0600 file or environment variables named in center.toml), filled by `callcenter agents
secrets generate`, and a production `callcenter dialplan render` that never writes an empty
password or AMI secret."""

from __future__ import annotations

import os
import re
import shutil
import stat
import tomllib
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.config import Config, load_config
from callcenter.phone_secrets import generate, phone_passwords, phones, read_file
from callcenter.tomlreader import ConfigError
from tests.unit.fakes import SHIPPED_CONFIG


def config_with(tmp_path: Path, phones_table: str) -> Config:
    directory = tmp_path / "config"
    shutil.copytree(SHIPPED_CONFIG, directory)
    center = directory / "center.toml"
    text = center.read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^\[phones\]\n.*?(?=^\S*#|^\[)", "", text)
    center.write_text(text + "\n" + phones_table, encoding="utf-8")
    return load_config(directory)


def test_generate_writes_a_private_file_with_a_password_for_every_phone(tmp_path: Path) -> None:
    config = config_with(tmp_path, f'[phones]\nsecrets_file = "{tmp_path}/s/phones.toml"\n')
    path, added = generate(config)
    assert path == tmp_path / "s" / "phones.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    extensions = [ext for ext, _ in phones(config)]
    assert added == extensions and len(extensions) == len(config.agents) + len(config.supervisors)
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert sorted(data) == sorted(extensions)
    assert len(set(data.values())) == len(extensions)
    assert all(len(v) >= 20 for v in data.values())
    assert phone_passwords(config, environ={}) == data


def test_generate_never_replaces_an_existing_password(tmp_path: Path) -> None:
    path = tmp_path / "phones.toml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write('# mine\n"1001" = "chosen-by-the-operator"\n')
    config = config_with(tmp_path, f'[phones]\nsecrets_file = "{path}"\n')
    _, added = generate(config)
    assert "1001" not in added and added
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    assert data["1001"] == "chosen-by-the-operator"
    assert path.read_text(encoding="utf-8").startswith("# mine\n")
    assert generate(config)[1] == []  # a second run adds nothing
    assert tomllib.loads(path.read_text(encoding="utf-8")) == data


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_secrets_file_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "phones.toml"
    path.write_text('"1001" = "long-enough-pw"\n', encoding="utf-8")
    path.chmod(mode)
    config = config_with(tmp_path, f'[phones]\nsecrets_file = "{path}"\n')
    with pytest.raises(ConfigError, match=rf"phones.secrets_file: {path} is open to other users"):
        read_file(path)
    with pytest.raises(ConfigError, match=r"chmod 600"):
        phone_passwords(config, environ={})
    with pytest.raises(ConfigError, match=r"open to other users"):
        generate(config)
    assert path.read_text(encoding="utf-8") == '"1001" = "long-enough-pw"\n'  # untouched


def test_passwords_from_the_environment(tmp_path: Path) -> None:
    config = config_with(tmp_path, '[phones]\nenv_prefix = "CC_SIP_"\n')
    env = {f"CC_SIP_{ext}": f"env-password-{ext}" for ext, _ in phones(config)}
    assert phone_passwords(config, environ=env) == {
        ext: f"env-password-{ext}" for ext, _ in phones(config)
    }


def test_a_missing_password_names_the_phone_and_where_it_was_looked_for(tmp_path: Path) -> None:
    path = tmp_path / "phones.toml"
    config = config_with(tmp_path, f'[phones]\nsecrets_file = "{path}"\nenv_prefix = "CC_SIP_"\n')
    generate(config)
    text = path.read_text(encoding="utf-8")
    path.write_text(re.sub(r'(?m)^"1002" = .*\n', "", text), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        phone_passwords(config, environ={})
    message = str(caught.value)
    agent = next(a for a in config.agents if a.extension == "1002")
    assert message.startswith("center.toml: phones: no SIP password for agent")
    assert f"agent {agent.id} ({agent.name}), extension 1002" in message
    assert f'"1002" in {path}' in message and "environment variable CC_SIP_1002" in message
    assert "1001" not in message
    # the environment fills the gap
    assert phone_passwords(config, environ={"CC_SIP_1002": "from-the-env-1002"})["1002"] == (
        "from-the-env-1002"
    )


@pytest.mark.parametrize("bad", ["short", "has space in it", "semi;colon-pw", 'quo"te-password'])
def test_an_unusable_password_is_a_config_error(tmp_path: Path, bad: str) -> None:
    config = config_with(tmp_path, '[phones]\nenv_prefix = "CC_SIP_"\n')
    env = {f"CC_SIP_{ext}": f"env-password-{ext}" for ext, _ in phones(config)}
    env["CC_SIP_1001"] = bad
    with pytest.raises(ConfigError, match=r"the SIP password of agent .* at least 8 characters"):
        phone_passwords(config, environ=env)


def test_no_store_at_all_is_a_config_error(tmp_path: Path) -> None:
    config = config_with(tmp_path, "")
    with pytest.raises(ConfigError, match=r"center.toml: phones: no store for the phones"):
        phone_passwords(config, environ={})


def test_shipped_config_names_a_secrets_file() -> None:
    assert load_config(SHIPPED_CONFIG).phone_secrets.secrets_file == "var/phone-secrets.toml"


def test_cli_render_refuses_missing_secrets_then_renders_none_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`callcenter dialplan render`: without the AMI secret, or with a phone without a
    password, a clear error and nothing written; with the store filled, every phone's
    password and the AMI secret are in the rendered files, none empty."""
    path = tmp_path / "phones.toml"
    config = config_with(tmp_path, f'[phones]\nsecrets_file = "{path}"\n')
    out = tmp_path / "out"
    args = ["--config", str(config.source_dir), "dialplan", "render", "--out", str(out)]
    monkeypatch.delenv("CALLCENTER_AMI_SECRET", raising=False)
    assert main(args) == 1
    assert "CALLCENTER_AMI_SECRET" in capsys.readouterr().err and not out.exists()
    monkeypatch.setenv("CALLCENTER_AMI_SECRET", "ami-secret-from-env")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "no SIP password for agent" in err and str(path) in err and not out.exists()
    assert main(["--config", str(config.source_dir), "agents", "secrets", "generate"]) == 0
    assert main(args) == 0
    pjsip = (out / "pjsip.conf").read_text(encoding="utf-8")
    manager = (out / "manager.conf").read_text(encoding="utf-8")
    stored = tomllib.loads(path.read_text(encoding="utf-8"))
    for ext, _ in phones(config):
        assert f"username = {ext}\npassword = {stored[ext]}\n" in pjsip
    assert not re.search(r"^(password|secret) =\s*$", pjsip + manager, flags=re.M)
    assert "secret = ami-secret-from-env" in manager
    assert main(["--config", str(config.source_dir), "agents", "secrets", "check"]) == 0


def test_cli_dialplan_check_needs_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = config_with(tmp_path, f'[phones]\nsecrets_file = "{tmp_path}/none.toml"\n')
    monkeypatch.delenv("CALLCENTER_AMI_SECRET", raising=False)
    assert main(["--config", str(config.source_dir), "dialplan", "check"]) == 0
