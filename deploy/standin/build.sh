#!/usr/bin/env bash
# build.sh - stand-ins for the three Docker Hub images docker-compose.yml uses, for machines that reach Debian's
# package mirror but not Docker Hub (such as the CI machines). Prints the variables that make compose use them:
#   PYTHON_IMAGE=regeling-standin/python:3.11  POSTGRES_IMAGE=regeling-standin/postgres:15
#   MAILPIT_IMAGE=regeling-standin/mailpit
# Each is built from a Debian bookworm root made with debootstrap (cached as the image
# regeling-standin/debian:bookworm). Docker's layer cache makes a second run take seconds.
# They stand in for python:3.11-slim, postgres:16 (here PostgreSQL 15, Debian's) and axllent/mailpit (SMTP and
# the part of its API the workers use; no web UI): see the Dockerfiles beside this script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
log() { echo "standin: $*" >&2; }
fail() { log "$*"; exit 1; }

base=regeling-standin/debian:bookworm
if ! docker image inspect "$base" >/dev/null 2>&1; then
  command -v debootstrap >/dev/null || fail "debootstrap is missing (apt-get install debootstrap)"
  root="$(mktemp -d)"
  trap 'rm -rf "$root"' EXIT
  log "debootstrap bookworm from $MIRROR (about half a minute)"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/dev/null || fail "debootstrap failed"
  tar -C "$root" -c . | docker import - "$base" >/dev/null || fail "docker import of the bookworm root failed"
  rm -rf "$root"
  trap - EXIT
fi

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
cp "$here"/*.Dockerfile "$here"/postgres-entrypoint.sh "$here"/mailpit_standin.py "$context"/
mkdir "$context/local-ca"
# The machine's own authorities (an egress proxy's): without them pip in the python stand-in cannot reach PyPI.
find /usr/local/share/ca-certificates -name '*.crt' -exec cp {} "$context/local-ca/" \; 2>/dev/null || true

build() {
  log "docker build $1"
  docker build --tag "$1" --file "$context/$2" "$context" >"$context/build.log" 2>&1 \
    || { tail -n 30 "$context/build.log" >&2; fail "docker build $1 failed"; }
}
build regeling-standin/python:3.11 python.Dockerfile
build regeling-standin/postgres:15 postgres.Dockerfile
build regeling-standin/mailpit mailpit.Dockerfile
echo "PYTHON_IMAGE=regeling-standin/python:3.11"
echo "POSTGRES_IMAGE=regeling-standin/postgres:15"
echo "MAILPIT_IMAGE=regeling-standin/mailpit"
