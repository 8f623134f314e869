"""Field encryption: round trip, key ids, rotation, blind index, key errors (one line)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.data.crypto import (
    FILE_ENV,
    INDEX_ENV,
    KEYS_ENV,
    FieldCipher,
    KeyConfigError,
    Undecryptable,
    generate_key,
    key_id,
    load_cipher,
    write_key_file,
)

ID = "11010519491231002X"


def cipher(*keys: str, index: str = "i" * 32) -> FieldCipher:
    return FieldCipher([k.encode() for k in keys], index.encode())


def test_round_trip_never_stores_plaintext() -> None:
    k = generate_key()
    c = cipher(k)
    stored = c.encrypt(ID)
    assert ID not in stored and ID.lower() not in stored
    assert stored.startswith(key_id(k.encode()) + ":")
    assert c.decrypt(stored) == ID
    assert c.encrypt(ID) != stored  # a fresh IV every time
    assert c.encrypt("") == "" and c.decrypt("") == ""
    assert c.decrypt(c.encrypt("张三 身份证")) == "张三 身份证"


def test_rotation_moves_old_values_to_the_current_key() -> None:
    old, new = generate_key(), generate_key()
    stored = cipher(old).encrypt(ID)
    both = cipher(new, old)
    assert both.decrypt(stored) == ID
    assert both.needs_rotation(stored)
    rotated = both.rotate(stored)
    assert rotated.startswith(both.current + ":") and not both.needs_rotation(rotated)
    assert both.rotate(rotated) == rotated
    assert cipher(new).decrypt(rotated) == ID  # the old key can now be retired
    with pytest.raises(Undecryptable, match="not configured"):
        cipher(new).decrypt(stored)


def test_tampered_or_unknown_values_are_reported() -> None:
    c = cipher(generate_key())
    stored = c.encrypt(ID)
    kid, _, token = stored.partition(":")
    tampered = f"{kid}:{token[:-6]}AAAAAA"
    assert not c.can_decrypt(tampered)
    with pytest.raises(Undecryptable, match="does not authenticate"):
        c.decrypt(tampered)
    with pytest.raises(Undecryptable):
        c.decrypt(ID)  # plaintext is never taken for ciphertext


def test_blind_index_matches_equal_values_only() -> None:
    c = cipher(generate_key())
    assert c.blind_index(ID) == c.blind_index(" 11010519491231002x ")
    assert c.blind_index(ID) != c.blind_index("440524188001010014")
    assert c.blind_index("") == ""
    # the index key, not the encryption key, decides the hash: rotation keeps lookups working
    assert cipher(generate_key()).blind_index(ID) == c.blind_index(ID)
    assert cipher(generate_key(), index="j" * 32).blind_index(ID) != c.blind_index(ID)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, f"no data encryption key: set {KEYS_ENV}"),
        ({KEYS_ENV: "not-a-key", INDEX_ENV: "x" * 20}, "key 1 is not a valid Fernet key"),
        ({KEYS_ENV: generate_key()}, f"{INDEX_ENV} is not set"),
        ({KEYS_ENV: generate_key(), INDEX_ENV: "short"}, "at least 16 bytes"),
        ({KEYS_ENV: f"{generate_key()},garbage", INDEX_ENV: "x" * 20}, "key 2 is not valid"),
        ({FILE_ENV: "/nonexistent/keys.toml"}, "cannot read the key file"),
    ],
)
def test_missing_or_corrupt_keys_stop_with_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(KeyConfigError) as err:
        load_cipher(env)
    text = str(err.value)
    assert "\n" not in text
    assert message.replace("is not valid", "is not a valid Fernet key") in text


def test_key_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    write_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    c = load_cipher({FILE_ENV: str(path)})
    assert c.decrypt(c.encrypt(ID)) == ID
    with pytest.raises(FileExistsError):
        write_key_file(path)  # never overwrites keys that encrypted data
    path.write_text('keys = "x"\nindex_key = "y"\n', encoding="utf-8")
    with pytest.raises(KeyConfigError, match="keys: must be a list"):
        load_cipher({FILE_ENV: str(path)})


def test_environment_keys() -> None:
    old, new = generate_key(), generate_key()
    c = load_cipher({KEYS_ENV: f"{new}, {old}", INDEX_ENV: "k" * 32})
    assert c.current == key_id(new.encode())
    assert c.key_ids == (key_id(new.encode()), key_id(old.encode()))
