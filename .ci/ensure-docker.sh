#!/usr/bin/env bash
# ensure-docker.sh - make sure a Docker daemon and docker compose are usable for the compose test
# (tests/compose/), and that the images docker-compose.yml starts from can be had. Prints on stdout the path of an
# env file for `docker compose --env-file`: empty when Docker Hub answers, otherwise the *_IMAGE variables of the
# stand-ins that deploy/standin/build.sh builds from Debian's packages.
# Idempotent: a running daemon and built images are reused. Installing and starting need root.
set -euo pipefail
cd "$(dirname "$0")/.."
ENV_FILE="${COMPOSE_IMAGES_ENV:-var/compose-images.env}"
DOCKERD_LOG="${DOCKERD_LOG:-/var/log/regeling-dockerd.log}"
log() { echo "ensure-docker: $*" >&2; }
fail() { log "$*"; exit 1; }

missing=()
{ command -v docker >/dev/null && command -v dockerd >/dev/null; } || docker info >/dev/null 2>&1 || missing+=(docker.io)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v curl >/dev/null || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing ${missing[*]} and we are not root; install them with: sudo apt-get install ${missing[*]}"
  command -v apt-get >/dev/null || fail "missing ${missing[*]} and apt-get is not available (not Debian?)"
  log "apt-get install ${missing[*]}"
  apt-get update -qq >&2 || fail "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 \
    || fail "apt-get install ${missing[*]} failed"
fi

if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || fail "no Docker daemon answers and we are not root to start one"
  log "starting dockerd (log: $DOCKERD_LOG)"
  nohup dockerd >"$DOCKERD_LOG" 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { tail -n 20 "$DOCKERD_LOG" >&2; fail "dockerd did not come up"; }
fi

# Each test run rebuilds the app image when the code changed; the images it replaced are garbage.
docker image prune --force --filter label=org.opencontainers.image.title=regeling >/dev/null || true

mkdir -p "$(dirname "$ENV_FILE")"
# Docker Hub's registry answers 401 to an anonymous GET when it is reachable at all.
if [ "$(curl -s -m 10 -o /dev/null -w '%{http_code}' https://registry-1.docker.io/v2/ || true)" = 401 ]; then
  log "Docker Hub answers: compose pulls the images named in docker-compose.yml"
  : >"$ENV_FILE"
else
  log "Docker Hub does not answer: building the stand-in images (deploy/standin/build.sh)"
  bash deploy/standin/build.sh >"$ENV_FILE.new" || fail "building the stand-in images failed"
  mv "$ENV_FILE.new" "$ENV_FILE"
fi
echo "$ENV_FILE"
