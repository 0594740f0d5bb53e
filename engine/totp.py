"""Time-based one-time passwords (RFC 6238 on RFC 4226 HOTP): 30-second steps, 6 digits, one step either side.

Small on purpose and checked against the test vectors of RFC 6238 (tests/web/test_login_security.py); the caller
passes the moment (an injected clock) and the last step already used, so a code cannot be used twice.
"""

from __future__ import annotations

import base64
import hmac
import secrets
import struct
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1  # steps accepted either side of now: a phone clock that is a little off still works
SECRET_BYTES = 20  # 160 bits, as RFC 4226 recommends for HMAC-SHA1


def new_secret() -> str:
    """A random shared secret, base32 without padding (what authenticator apps expect)."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii").rstrip("=")


def _key(secret: str) -> bytes:
    cleaned = secret.replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def step_at(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime refused")
    return int(moment.timestamp()) // STEP_SECONDS


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest: str = "sha1") -> str:
    """RFC 4226: HMAC of the counter, dynamic truncation, the last ``digits`` decimal digits."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def code_at(secret: str, moment: datetime) -> str:
    """The code an authenticator app shows at ``moment``."""
    return hotp(_key(secret), step_at(moment))


def verify(secret: str, code: str, moment: datetime, last_step: int | None) -> int | None:
    """The step ``code`` belongs to (within one step of ``moment``), or None: wrong, malformed, or a step at or
    before ``last_step`` (a code already used, or an older one, is never accepted again)."""
    code = code.replace(" ", "").strip()
    if len(code) != DIGITS or not code.isdigit():
        return None
    key = _key(secret)
    now = step_at(moment)
    found: int | None = None
    for step in range(now - WINDOW, now + WINDOW + 1):
        # every candidate is compared, so the time taken says nothing about which one matched
        if hmac.compare_digest(hotp(key, step), code) and found is None:
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI a QR code carries (Google Authenticator key-uri format, read by every app)."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": 30})
    return f"otpauth://totp/{label}?{query}"


def grouped(secret: str) -> str:
    """The secret in groups of four, for typing it over by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
