#!/usr/bin/env bash
# ensure-chromium.sh - make sure Debian's Chromium is installed for the browser tests; print its path on stdout.
# Idempotent: does nothing when /usr/bin/chromium already exists. Otherwise installs the Debian package
# `chromium` with apt-get (needs root). Playwright browser downloads are not used: the tests launch this
# binary through `executable_path` (tests/browser/conftest.py).
set -euo pipefail
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
log() { echo "ensure-chromium: $*" >&2; }
fail() { log "$*"; exit 1; }

if [ ! -x "$CHROMIUM" ]; then
  [ "$(id -u)" = 0 ] || fail "$CHROMIUM is missing and we are not root; install it with: sudo apt-get install chromium"
  command -v apt-get >/dev/null || fail "$CHROMIUM is missing and apt-get is not available (not Debian?); install Chromium by hand"
  log "$CHROMIUM is missing: apt-get install chromium"
  apt-get update -qq >&2 || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2 \
    || fail "apt-get install chromium failed"
  [ -x "$CHROMIUM" ] || fail "the chromium package is installed but $CHROMIUM is still missing"
fi
# The Debian wrapper prints a harmless '[: ...: unexpected operator' when /dev/shm is mounted twice; hide it.
version="$("$CHROMIUM" --version 2>/dev/null)" || fail "$CHROMIUM is installed but does not start ($CHROMIUM --version failed)"
log "$version"
echo "$CHROMIUM"
