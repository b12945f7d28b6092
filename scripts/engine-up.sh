#!/usr/bin/env bash
# Make a Docker engine answer, and say what was done.
#
# - An engine that already answers (DOCKER_HOST or the local socket) is used as it is,
#   never reconfigured.
# - Otherwise, as root: install Debian's docker.io when dockerd is absent, start dockerd in
#   the background (log: $BENCH_DOCKERD_LOG, default /var/log/bench/dockerd.log), and wait
#   until the API answers.
# - Without root and without an engine: stop with a message saying how to get one.
set -euo pipefail

LOG=${BENCH_DOCKERD_LOG:-/var/log/bench/dockerd.log}
WAIT=${BENCH_ENGINE_WAIT:-90}
say() { printf 'engine-up: %s\n' "$*"; }

answers() {
  if command -v docker >/dev/null 2>&1; then
    docker version --format '{{.Server.Version}}' 2>/dev/null
  elif [ -z "${DOCKER_HOST:-}" ] && command -v curl >/dev/null 2>&1; then
    curl -fsS --unix-socket /var/run/docker.sock http://localhost/version 2>/dev/null |
      sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -n 1
  else
    return 1
  fi
}

if version=$(answers) && [ -n "$version" ]; then
  say "Docker engine $version answers; using it as it is"
  exit 0
fi

if [ -n "${DOCKER_HOST:-}" ]; then
  say "DOCKER_HOST=$DOCKER_HOST does not answer; start that engine or unset DOCKER_HOST" >&2
  exit 1
fi

if [ "$(id -u)" -ne 0 ]; then
  say "no Docker engine answers and this is not root." >&2
  say "ask an administrator to install and start Docker (Debian: 'apt-get install docker.io')," >&2
  say "then add yourself to the 'docker' group, or run this script as root." >&2
  exit 1
fi

if ! command -v dockerd >/dev/null 2>&1; then
  say "dockerd absent: installing Debian's docker.io"
  export DEBIAN_FRONTEND=noninteractive
  apt=(apt-get -o DPkg::Lock::Timeout=300)
  if ! "${apt[@]}" install -y -q --no-install-recommends docker.io iptables >/dev/null 2>&1; then
    "${apt[@]}" update -q >/dev/null
    "${apt[@]}" install -y -q --no-install-recommends docker.io iptables >/dev/null
  fi
  say "installed docker.io $(dpkg-query -W -f='${Version}' docker.io)"
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  say "dockerd is running but does not answer yet; waiting"
else
  mkdir -p "$(dirname "$LOG")"
  say "starting dockerd in the background (log: $LOG)"
  # From /: a daemon keeps its working directory, and this checkout may be deleted.
  (cd / || exit; setsid nohup dockerd >>"$LOG" 2>&1 < /dev/null &)
fi

for _ in $(seq "$WAIT"); do
  if version=$(answers) && [ -n "$version" ]; then
    say "Docker engine $version answers"
    exit 0
  fi
  sleep 1
done
say "dockerd did not answer within ${WAIT}s; last lines of $LOG:" >&2
tail -n 15 "$LOG" >&2 || true
exit 1
