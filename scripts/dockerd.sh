#!/usr/bin/env bash
# Ensure a working Docker engine on this machine (idempotent, non-interactive).
#  - exit 0 at once if `docker info` already works;
#  - install docker.io from Debian (apt-get) if dockerd is missing;
#  - start dockerd in the background (log: $DOCKERD_LOG, default /tmp/dockerd.log);
#  - wait up to $DOCKERD_WAIT seconds (default 60) for `docker info`.
set -euo pipefail

LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
WAIT="${DOCKERD_WAIT:-60}"

say() { echo "[dockerd] $*" >&2; }
die() { echo "[dockerd] ERROR: $*" >&2; exit 1; }

docker_ok() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if docker_ok; then
  say "docker engine already running"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "not root and docker is not running; run as root (or start dockerd yourself)"

if ! command -v dockerd >/dev/null 2>&1; then
  say "dockerd missing: installing docker.io via apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null || die "apt-get update failed"
  apt-get install -y -qq --no-install-recommends docker.io iptables ca-certificates >/dev/null \
    || die "apt-get install docker.io failed"
fi
command -v dockerd >/dev/null 2>&1 || die "dockerd still not found after installing docker.io"
command -v docker >/dev/null 2>&1 || die "docker client not found"

if pgrep -x dockerd >/dev/null 2>&1; then
  say "dockerd process exists but is not answering yet; waiting"
else
  # A stale pid file from a dead daemon makes dockerd refuse to start.
  if [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null; then
    rm -f /var/run/docker.pid
  fi
  say "starting dockerd (log: $LOG)"
  nohup dockerd >>"$LOG" 2>&1 </dev/null &
  disown || true
fi

for ((i = 0; i < WAIT; i++)); do
  if docker_ok; then
    say "docker engine ready after ${i}s"
    exit 0
  fi
  sleep 1
done
die "docker engine did not answer within ${WAIT}s (see $LOG: $(tail -n 1 "$LOG" 2>/dev/null | cut -c1-200))"
