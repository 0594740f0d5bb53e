"""Settings: defaults here, then environment variables ``REGELING_*``, then what the caller passes."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from engine.clock import system_clock
from engine.db import database_url

MB = 1024 * 1024
INSTANCE = Path("var")


def defaults() -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url(),
        "SECRET_KEY": None,
        "CLOCK": system_clock,
        # A request is refused before it is read when larger than this (uploads included).
        "MAX_CONTENT_LENGTH": 12 * MB,
        "UPLOAD_MAX_BYTES": 10 * MB,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "regeling_sessie",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    }


def local_secret_key(instance: Path = INSTANCE) -> str:
    """A random key kept under ``var/`` for the embedded set-up (``make run``); production sets its own."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()
