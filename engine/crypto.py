"""Encryption at rest: AES-256-GCM under a key ring, for the columns that hold case data.

The key ring comes from ``REGELING_ENCRYPTION_KEYS``: comma-separated ``id:base64key`` entries (32-byte
keys). The first key encrypts everything written from now on; the others only decrypt, so a key is
rotated by putting a new one in front, running ``regeling rotate-key`` and then dropping the old one.
Without the variable (``make run``, the tests) a key generated once is kept in ``var/encryption_key``
(mode 0600); with ``REGELING_PRODUCTION=1`` the engine refuses to start without the variable.

An envelope describes itself: format version, key id, a random 12-byte nonce, then ciphertext and tag.
Binary columns hold ``MAGIC | version | len(kid) | kid | nonce | ciphertext+tag``; text and JSON columns
hold ``enc:v1:<kid>:<base64(nonce | ciphertext+tag)>``. Both forms authenticate the same associated
data: the version, the key id and the caller's ``aad``, which names where the value lives (table, column,
the row's key and its case), so a ciphertext copied into another row or case does not decrypt.

A value without an envelope is plaintext written before encryption existed; ``open_*`` hands it back as
it is (``regeling rotate-key`` encrypts it).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_KEYS = "REGELING_ENCRYPTION_KEYS"
ENV_PRODUCTION = "REGELING_PRODUCTION"
LOCAL_KEY_FILE = Path("var") / "encryption_key"

VERSION = 1
MAGIC = b"RGE"  # never the start of an accepted upload (PDF, PNG, JPEG), so old plaintext stays recognisable
TEXT_PREFIX = "enc:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class CryptoError(Exception):
    """A value cannot be encrypted or decrypted: not an engine refusal but a fault of data or set-up.

    Messages name the key id or the problem, never the data."""


class KeyConfigError(CryptoError):
    """The key ring in the environment (or its absence) is not usable."""


class UnknownKeyError(CryptoError):
    """The value was encrypted under a key id the ring does not hold (removed too early?)."""


class DecryptionError(CryptoError):
    """The envelope is malformed, was tampered with, or belongs somewhere else (its AAD differs)."""


@dataclass(frozen=True)
class KeyRing:
    """The keys by id; ``active`` encrypts, every key decrypts."""

    active: str
    keys: Mapping[str, bytes]
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.active not in self.keys:
            raise KeyConfigError(f"active key {self.active!r} is not in the ring")
        for kid, key in self.keys.items():
            if not _KEY_ID.match(kid):
                raise KeyConfigError(f"key id {kid!r}: only letters, digits, '_', '.', '-' (at most 40)")
            if len(key) != KEY_BYTES:
                raise KeyConfigError(f"key {kid!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}")
            self._ciphers[kid] = AESGCM(key)

    def __repr__(self) -> str:  # never the keys themselves
        return f"KeyRing(active={self.active!r}, ids={list(self.keys)!r})"

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """``id:base64key,id:base64key``; the first is active."""
        keys: dict[str, bytes] = {}
        for entry in (part.strip() for part in spec.split(",")):
            if not entry:
                continue
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            if not sep or not kid:
                raise KeyConfigError(f"{ENV_KEYS}: an entry is not of the form id:base64key")
            if kid in keys:
                raise KeyConfigError(f"{ENV_KEYS}: key id {kid!r} occurs twice")
            keys[kid] = _decode_key(kid, encoded.strip())
        if not keys:
            raise KeyConfigError(f"{ENV_KEYS} holds no key")
        return cls(active=next(iter(keys)), keys=keys)

    def cipher(self, kid: str) -> AESGCM:
        try:
            return self._ciphers[kid]
        except KeyError:
            raise UnknownKeyError(
                f"the value was encrypted with key {kid!r}, which is not in the key ring ({', '.join(self.keys)})"
            ) from None


def _decode_key(kid: str, encoded: str) -> bytes:
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            key = decode(encoded.encode("ascii") + b"=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            continue
        if len(key) == KEY_BYTES:
            return key
    raise KeyConfigError(f"{ENV_KEYS}: key {kid!r} is not {KEY_BYTES} bytes of base64")


def generate_key() -> str:
    """A fresh key, base64, for ``REGELING_ENCRYPTION_KEYS``."""
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def is_production(environ: Mapping[str, str] = os.environ) -> bool:
    return environ.get(ENV_PRODUCTION, "").strip().lower() in {"1", "true", "yes", "on"}


def check_environment(environ: Mapping[str, str] = os.environ) -> None:
    """Fail at start-up, not at the first case: production needs its keys, and given keys must parse."""
    spec = environ.get(ENV_KEYS, "").strip()
    if spec:
        KeyRing.parse(spec)
    elif is_production(environ):
        raise KeyConfigError(f"{ENV_PRODUCTION}=1 but {ENV_KEYS} is not set: refusing to run without keys")


def local_keyring(path: Path = LOCAL_KEY_FILE) -> KeyRing:
    """The development key under ``var/``, made on first use (readable by its owner only)."""
    if not path.exists():
        _create_once(path, f"local-{secrets.token_hex(4)}:{generate_key()}\n")
    return KeyRing.parse(path.read_text(encoding="ascii"))


def _create_once(path: Path, content: str) -> None:
    """Put ``content`` at ``path`` unless a file is there. It is written to a file of its own and then linked in
    whole, so processes starting at once keep the first one's key and none reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".new-key-")  # owner only (0600)
    try:
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(content)
        with contextlib.suppress(FileExistsError):  # another process was first: its key is the key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)


# The ring in use, with the environment value it was made from: a changed variable is picked up.
_current: dict[str, tuple[str | None, KeyRing]] = {}
_override: list[KeyRing] = []


def keyring() -> KeyRing:
    if _override:
        return _override[-1]
    spec = os.environ.get(ENV_KEYS, "").strip() or None
    cached = _current.get("ring")
    if cached is not None and cached[0] == spec:
        return cached[1]
    if spec is None:
        if is_production():
            check_environment()
        ring = local_keyring()
    else:
        ring = KeyRing.parse(spec)
    _current["ring"] = (spec, ring)
    return ring


def use_keyring(ring: KeyRing | None) -> None:
    """Put a ring in place of the environment's (None: back to the environment)."""
    _override.clear()
    _current.clear()
    if ring is not None:
        _override.append(ring)


# --------------------------------------------------------------------------------------------------


def _associated(kid: str, aad: bytes) -> bytes:
    # Version and key id are authenticated with the caller's AAD, in one form for both envelopes.
    return b"regeling/%d/%s\x00" % (VERSION, kid.encode("ascii")) + aad


def _seal(plaintext: bytes, aad: bytes) -> tuple[str, bytes]:
    ring = keyring()
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = ring.cipher(ring.active).encrypt(nonce, plaintext, _associated(ring.active, aad))
    return ring.active, nonce + sealed


def _unseal(kid: str, body: bytes, aad: bytes) -> bytes:
    cipher = keyring().cipher(kid)
    if len(body) < NONCE_BYTES + 16:
        raise DecryptionError("encrypted value is truncated")
    try:
        return cipher.decrypt(body[:NONCE_BYTES], body[NONCE_BYTES:], _associated(kid, aad))
    except InvalidTag:
        raise DecryptionError(
            f"encrypted value (key {kid!r}) does not authenticate: tampered with, or moved from another row"
        ) from None


def encrypt(plaintext: bytes, *, aad: bytes) -> bytes:
    """The binary envelope of ``plaintext`` under the active key."""
    kid, body = _seal(plaintext, aad)
    encoded = kid.encode("ascii")
    return MAGIC + bytes((VERSION, len(encoded))) + encoded + body


def _split_binary(envelope: bytes) -> tuple[str, bytes]:
    if not is_encrypted_bytes(envelope):
        raise DecryptionError("value is not an encrypted envelope")
    if envelope[len(MAGIC)] != VERSION:
        raise DecryptionError(f"envelope version {envelope[len(MAGIC)]} is not known")
    start = len(MAGIC) + 2
    end = start + envelope[len(MAGIC) + 1]
    try:
        kid = envelope[start:end].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("envelope has a malformed key id") from None
    return kid, envelope[end:]


def decrypt(envelope: bytes, *, aad: bytes) -> bytes:
    kid, body = _split_binary(envelope)
    return _unseal(kid, body, aad)


def encrypt_text(plaintext: bytes, *, aad: bytes) -> str:
    """The text envelope ``enc:v1:<kid>:<base64>`` of ``plaintext`` under the active key."""
    kid, body = _seal(plaintext, aad)
    return f"{TEXT_PREFIX}{kid}:{base64.b64encode(body).decode('ascii')}"


def _split_text(value: str) -> tuple[str, bytes]:
    if not value.startswith(TEXT_PREFIX):
        raise DecryptionError("value is not an encrypted envelope")
    kid, sep, encoded = value[len(TEXT_PREFIX) :].partition(":")
    if not sep:
        raise DecryptionError("envelope has no key id")
    try:
        return kid, base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptionError("envelope is not valid base64") from None


def decrypt_text(value: str, *, aad: bytes) -> bytes:
    kid, body = _split_text(value)
    return _unseal(kid, body, aad)


def is_encrypted_bytes(value: bytes) -> bool:
    return value.startswith(MAGIC) and len(value) > len(MAGIC) + 2


def is_encrypted_text(value: object) -> bool:
    return isinstance(value, str) and value.startswith(TEXT_PREFIX)


def key_id(value: object) -> str | None:
    """The key id of an envelope (text or binary); None for plaintext."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        return _split_binary(raw)[0] if is_encrypted_bytes(raw) else None
    if is_encrypted_text(value):
        return str(value)[len(TEXT_PREFIX) :].partition(":")[0]
    return None


# The forms the engine's columns use --------------------------------------------------------------


def seal_bytes(value: bytes, *, aad: bytes) -> bytes:
    return encrypt(value, aad=aad)


def open_bytes(value: bytes, *, aad: bytes) -> bytes:
    """Plaintext of a binary column; a value stored before encryption is returned as it is."""
    value = bytes(value)
    return decrypt(value, aad=aad) if is_encrypted_bytes(value) else value


def seal_text(value: str, *, aad: bytes) -> str:
    return encrypt_text(value.encode("utf-8"), aad=aad)


def open_text(value: str, *, aad: bytes) -> str:
    return decrypt_text(value, aad=aad).decode("utf-8") if is_encrypted_text(value) else value


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def seal_json(value: Any, *, aad: bytes) -> str:
    """A JSON value as a text envelope (to be stored as a string inside a JSON column)."""
    return encrypt_text(_json_bytes(value), aad=aad)


def open_json(value: Any, *, aad: bytes) -> Any:
    """The JSON value inside an envelope; anything else (plaintext stored before encryption) as it is."""
    return json.loads(decrypt_text(value, aad=aad)) if is_encrypted_text(value) else value


def needs_rotation(value: object) -> bool:
    """Whether ``value`` is plaintext or encrypted under another key than the active one."""
    if value is None:
        return False
    if isinstance(value, str) and not value:
        return False
    return key_id(value) != keyring().active


# Where each encrypted value lives: its table and column and the key of its row (with its case) ----


def case_state_aad(case_id: int) -> bytes:
    return b"case.state|case:%d" % case_id


def event_payload_aad(case_id: int, seq: int, part: str) -> bytes:
    return b"event.payload|case:%d|seq:%d|%s" % (case_id, seq, part.encode("utf-8"))


def document_aad(case_id: int, document_id: str) -> bytes:
    return b"document.content|case:%d|document:%s" % (case_id, document_id.encode("utf-8"))


def subject_aad(case_id: int, task_guid: str) -> bytes:
    return b"human_task.subject|case:%d|task:%s" % (case_id, task_guid.encode("utf-8"))


def totp_secret_aad(account_id: str) -> bytes:
    return b"account.totp_secret|account:%s" % account_id.encode("utf-8")


def draft_aad(human_task_id: int, account_id: str) -> bytes:
    return b"task_draft.values|human_task:%d|account:%s" % (human_task_id, account_id.encode("utf-8"))
