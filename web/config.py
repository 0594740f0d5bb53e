"""Settings: defaults here, then environment variables ``REGELING_*``, then what the caller passes."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from engine.clock import ENV_CLOCK_FILE, ClockConfigError, FileClock, checked_file_clock, system_clock
from engine.db import database_url

MB = 1024 * 1024
INSTANCE = Path("var")


def defaults() -> dict[str, Any]:
    return {
        "DATABASE_URL": database_url(),
        "SECRET_KEY": None,
        "CLOCK": system_clock,
        # A file holding the instant every process reads (the topology test); refused in production.
        "CLOCK_FILE": None,
        # A request is refused before it is read when larger than this (uploads included).
        "MAX_CONTENT_LENGTH": 12 * MB,
        "UPLOAD_MAX_BYTES": 10 * MB,
        # Production (REGELING_PRODUCTION=1): __Host- cookies with Secure, HSTS, and no start with a default
        # SECRET_KEY or debug on. Development (http://127.0.0.1) has the same cookies without Secure.
        "PRODUCTION": False,
        # Reverse proxies in front of gunicorn that set X-Forwarded-For and X-Forwarded-Proto (behind one TLS
        # proxy: 1). Their values are believed only then: otherwise every request would seem to come from the
        # proxy, and 20 wrong passwords from anyone would throttle everyone's log-in.
        "PROXY_COUNT": 0,
        # The login lives on the server (engine/sessions.py); the cookie holds only a random token.
        "SESSION_IDLE_TIMEOUT": 30 * 60,  # seconds without a request
        "SESSION_ABSOLUTE_TIMEOUT": 12 * 3600,  # seconds since the second factor
        "SESSION_PENDING_TIMEOUT": 10 * 60,  # seconds between the password and the second factor
        "LOGIN_MAX_FAILURES": 5,  # per account, password and second factor together ...
        "LOGIN_LOCKOUT": 15 * 60,  # ... then locked for this many seconds
        "LOGIN_SOURCE_MAX_FAILURES": 20,  # per source address within ...
        "LOGIN_SOURCE_WINDOW": 15 * 60,  # ... this many seconds, then 429
        "TOTP_ISSUER": "Regeling beveiligingsmaatregelen",
        # Flask's own signed cookie carries only flash messages, the anonymous CSRF token and where to go
        # after logging in; never who is logged in.
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    }


class ConfigurationError(RuntimeError):
    """The app refuses to start: production without a real secret key, or with debug on."""


# Values from examples, tests and tutorials: never a production key.
KNOWN_KEYS = frozenset(
    {
        "dev",
        "secret",
        "changeme",
        "change-me",
        "test-secret-key-not-for-production",
        "vervang-mij-door-een-lange-willekeurige-sleutel",  # docker-compose.yml
    }
)
MIN_KEY_LENGTH = 32


def finish(config: dict[str, Any], instance: Path = INSTANCE) -> None:
    """Checks and derived settings, once everything is read: refuses an unsafe production start."""
    production = bool(config.get("PRODUCTION"))
    config["PRODUCTION"] = production
    proxies = config.setdefault("PROXY_COUNT", 0)
    if not isinstance(proxies, int) or isinstance(proxies, bool) or not 0 <= proxies <= 5:
        raise ConfigurationError(f"PROXY_COUNT must be a whole number from 0 to 5, not {proxies!r}")
    key = config.get("SECRET_KEY")
    if production:
        if not key or not isinstance(key, str) or key in KNOWN_KEYS or len(key) < MIN_KEY_LENGTH:
            raise ConfigurationError(
                "PRODUCTION is on but SECRET_KEY is missing, a known default or shorter than "
                f"{MIN_KEY_LENGTH} characters: set REGELING_SECRET_KEY to a long random value."
            )
        if config.get("DEBUG"):
            raise ConfigurationError("PRODUCTION is on together with DEBUG: turn debug off.")
        if config.get("CLOCK_FILE"):
            raise ConfigurationError(
                f"PRODUCTION is on together with {ENV_CLOCK_FILE}: never a test clock in production."
            )
    elif not key:
        config["SECRET_KEY"] = local_secret_key(instance)
    if config.get("CLOCK_FILE"):
        config["CLOCK"] = _shared_test_clock(str(config["CLOCK_FILE"]))
    prefix = "__Host-" if production else ""
    config["AUTH_COOKIE_NAME"] = f"{prefix}regeling_sessie"
    config["SESSION_COOKIE_NAME"] = f"{prefix}regeling_melding"
    config["SESSION_COOKIE_SECURE"] = production
    config["SESSION_COOKIE_PATH"] = "/"
    config["SESSION_COOKIE_DOMAIN"] = None  # __Host- cookies must not name a domain


def _shared_test_clock(path: str) -> FileClock:
    """REGELING_CLOCK_FILE: every process of a test topology reads the same instant (engine.clock.FileClock)."""
    try:
        return checked_file_clock(Path(path))
    except ClockConfigError as error:
        raise ConfigurationError(str(error)) from None


def local_secret_key(instance: Path = INSTANCE) -> str:
    """A random key kept under ``var/`` for the embedded set-up (``make run``); production sets its own."""
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()
