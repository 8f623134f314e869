"""Field-level encryption at rest (GB/T 44192 8) for ID-card numbers, citizens' phone numbers
and other core personal data, with `cryptography`'s Fernet (AES-128-CBC + HMAC-SHA256) and a
keyed blind index.

Keys come from the environment or a key file, never from the code or the database:

- `CALLCENTER_DATA_KEYS`: comma-separated Fernet keys, the first is the current one (new
  values are encrypted with it; the others only decrypt, until rotation has moved every value).
- `CALLCENTER_DATA_INDEX_KEY`: the HMAC key of the blind index (lookups and fusion by ID
  number without decrypting). It does not rotate with the encryption keys.
- or `CALLCENTER_DATA_KEY_FILE`: a TOML file with `keys = [...]` and `index_key = "..."`.

Ciphertext is stored as `<key id>:<fernet token>`; the key id (8 hex of the key's SHA-256)
says which key a value is under, so rotation touches only what is not yet under the current
key, and a value under an unknown key is reported, never guessed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from callcenter.data.checks import normalize_phone
from callcenter.errors import CallcenterError

KEYS_ENV = "CALLCENTER_DATA_KEYS"
INDEX_ENV = "CALLCENTER_DATA_INDEX_KEY"
FILE_ENV = "CALLCENTER_DATA_KEY_FILE"


class KeyConfigError(CallcenterError):
    """The keys are missing or corrupt: the service stops with this one line."""

    error_id = "data.keys"


class Undecryptable(CallcenterError):
    status = 422
    error_id = "data.undecryptable"


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def generate_key() -> str:
    return Fernet.generate_key().decode()


class FieldCipher:
    def __init__(self, keys: list[bytes], index_key: bytes, origin: str = "") -> None:
        if not keys:
            raise KeyConfigError(f"{origin or KEYS_ENV}: no encryption key")
        self._fernets: dict[str, Fernet] = {}
        for i, key in enumerate(keys):
            try:
                self._fernets[key_id(key)] = Fernet(key)
            except (ValueError, TypeError):
                raise KeyConfigError(
                    f"{origin or KEYS_ENV}: key {i + 1} is not a valid Fernet key "
                    "(32 url-safe base64-encoded bytes)"
                ) from None
        if len(index_key) < 16:
            raise KeyConfigError(
                f"{origin or INDEX_ENV}: the blind-index key must be at least 16 bytes"
            )
        self.current = key_id(keys[0])
        self.key_ids = tuple(self._fernets)
        self._index_key = index_key

    def encrypt(self, plain: str) -> str:
        """'' stays '' (nothing to protect); anything else becomes `<key id>:<token>`."""
        if plain == "":
            return ""
        token = self._fernets[self.current].encrypt(plain.encode("utf-8")).decode("ascii")
        return f"{self.current}:{token}"

    def decrypt(self, stored: str) -> str:
        if stored == "":
            return ""
        kid, _, token = stored.partition(":")
        fernet = self._fernets.get(kid)
        if fernet is None or not token:
            raise Undecryptable(f"value is under key {kid!r}, which is not configured")
        try:
            return fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise Undecryptable(f"value under key {kid!r} does not authenticate") from None

    def can_decrypt(self, stored: str) -> bool:
        try:
            self.decrypt(stored)
        except Undecryptable:
            return False
        return True

    def needs_rotation(self, stored: str) -> bool:
        return stored != "" and stored.partition(":")[0] != self.current

    def rotate(self, stored: str) -> str:
        """The same value under the current key (unchanged when it already is)."""
        if not self.needs_rotation(stored):
            return stored
        return self.encrypt(self.decrypt(stored))

    def blind_index(self, value: str) -> str:
        """HMAC-SHA256 of the normalised value: equal values match without decrypting."""
        normalised = value.strip().upper()
        if not normalised:
            return ""
        return hmac.new(self._index_key, normalised.encode("utf-8"), hashlib.sha256).hexdigest()

    def phone_index(self, number: str) -> str:
        """The blind index of a phone number as dialled in China (spaces, brackets, +86 and
        0086 do not count): the same number matches however it was written."""
        return self.blind_index(normalize_phone(number))

    def seal_phone(self, number: str) -> tuple[str, str]:
        """(ciphertext, blind index) of a phone number as received; ('', '') for none. The
        ciphertext keeps the number exactly as it came (it is dialled back as it came)."""
        plain = number.strip()
        if not plain:
            return "", ""
        return self.encrypt(plain), self.phone_index(plain)


def clear_or_empty(cipher: FieldCipher | None, stored: str) -> str:
    """A stored value decrypted for display, '' when there is none, no cipher or no
    configured key can decrypt it (never the ciphertext, never a guess). The caller masks
    it, or records the read when it shows it in clear."""
    if cipher is None or not stored:
        return ""
    try:
        return cipher.decrypt(stored)
    except Undecryptable:
        return ""


def load_cipher(environ: Mapping[str, str] | None = None) -> FieldCipher:
    """The cipher from the environment or the key file; KeyConfigError (one line) when the
    keys are missing or corrupt."""
    env = os.environ if environ is None else environ
    file = env.get(FILE_ENV, "")
    if file:
        try:
            data = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise KeyConfigError(f"{FILE_ENV}={file}: cannot read the key file: {exc}") from None
        keys = data.get("keys")
        index = data.get("index_key")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise KeyConfigError(f"{file}: keys: must be a list of Fernet keys")
        if not isinstance(index, str):
            raise KeyConfigError(f"{file}: index_key: missing")
        return FieldCipher([k.encode() for k in keys], index.encode(), origin=file)
    raw = env.get(KEYS_ENV, "")
    if not raw.strip():
        raise KeyConfigError(
            f"no data encryption key: set {KEYS_ENV} and {INDEX_ENV}, or {FILE_ENV}"
        )
    index_key = env.get(INDEX_ENV, "")
    if not index_key:
        raise KeyConfigError(f"{INDEX_ENV} is not set (the blind-index key)")
    keys = [k.strip().encode() for k in raw.split(",") if k.strip()]
    return FieldCipher(keys, index_key.encode())


def write_key_file(path: Path) -> None:
    """A new key file (0600) with one encryption key and an index key: for a sandbox or demo."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f'keys = ["{generate_key()}"]\nindex_key = "{generate_key()}"\n')


def sandbox_cipher(workdir: Path, environ: Mapping[str, str] | None = None) -> FieldCipher:
    """The keys of the environment when set; else the sandbox's own key file under
    `var/` (made on first use, 0600). Only the sandbox and the demo use this: a production
    `callcenter serve` without keys stops."""
    env = os.environ if environ is None else environ
    if env.get(FILE_ENV) or env.get(KEYS_ENV):
        return load_cipher(env)
    path = workdir / "var" / "sandbox-data-keys.toml"
    if not path.exists():
        write_key_file(path)
    os.environ[FILE_ENV] = str(path)  # the service's data jobs (child processes) use it too
    return load_cipher({FILE_ENV: str(path)})


def ephemeral_cipher() -> FieldCipher:
    """A throwaway cipher with fresh keys (tests, the synthetic-data generator's defaults)."""
    return FieldCipher([generate_key().encode()], generate_key().encode())
