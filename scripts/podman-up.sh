#!/usr/bin/env bash
# Make podman's Docker-compatible API answer, and say what was done.
#
# - A podman service that already answers on $BENCH_PODMAN_SOCKET (default
#   /run/podman/podman.sock) is used as it is, never reconfigured.
# - Otherwise, as root: install Debian's podman when absent (with netavark and aardvark-dns
#   for rootful bridge networking, and iptables), write $BENCH_PODMAN_CONF (default
#   /etc/containers/containers.conf.d/bench.conf) when no configuration sets
#   default_ulimits yet, start 'podman system service' in the background (log:
#   $BENCH_PODMAN_LOG, default /var/log/bench/podman.log), and wait until the API answers.
# - Without root and without a service: stop with a message saying how to get one.
#
# Why the configuration file: podman's default ulimits (nproc and nofile raised for every
# container) need CAP_SYS_RESOURCE; on hosts that forbid raising resource limits every
# container then fails at start with "error setting rlimit". An empty default_ulimits
# makes containers inherit the service's limits, as Docker's do.
set -euo pipefail

SOCKET=${BENCH_PODMAN_SOCKET:-/run/podman/podman.sock}
LOG=${BENCH_PODMAN_LOG:-/var/log/bench/podman.log}
CONF=${BENCH_PODMAN_CONF:-/etc/containers/containers.conf.d/bench.conf}
WAIT=${BENCH_ENGINE_WAIT:-90}
say() { printf 'podman-up: %s\n' "$*"; }

answers() {
  command -v curl >/dev/null 2>&1 || return 1
  curl -fsS --max-time 5 --unix-socket "$SOCKET" http://d/version 2>/dev/null |
    sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -n 1
}

# A service started by this script from a checkout that was deleted since answers, but
# every container start fails (conmon inherits its working directory): restart it.
for pid in $(pgrep -f "^podman system service --time=0 unix://$SOCKET\$" || true); do
  if [ "$(id -u)" -eq 0 ] && readlink "/proc/$pid/cwd" 2>/dev/null | grep -q ' (deleted)$'; then
    say "the podman service (PID $pid) runs in a deleted directory; restarting it"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  fi
done

if version=$(answers) && [ -n "$version" ]; then
  say "podman $version answers on $SOCKET; using it as it is"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  say "no podman service answers on $SOCKET and this is not root." >&2
  say "ask an administrator to install podman (Debian: 'apt-get install podman') and to" >&2
  say "start 'podman system service --time=0 unix://$SOCKET', or run this script as root;" >&2
  say "or set BENCH_PODMAN_SOCKET to the socket of a podman service you can use." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt=(apt-get -o DPkg::Lock::Timeout=300)
apt_install() {
  if ! "${apt[@]}" install -y -q --no-install-recommends "$@" >/dev/null 2>&1; then
    "${apt[@]}" update -q >/dev/null
    "${apt[@]}" install -y -q --no-install-recommends "$@" >/dev/null
  fi
}

if ! command -v podman >/dev/null 2>&1; then
  # Without recommends apt would pick the older CNI plugins as the network stack;
  # netavark (+ aardvark-dns) is podman 4's own. curl: to ask the socket.
  say "podman absent: installing Debian's podman, netavark, aardvark-dns, iptables"
  apt_install podman netavark aardvark-dns iptables curl
  say "installed podman $(dpkg-query -W -f='${Version}' podman)"
elif ! command -v curl >/dev/null 2>&1; then
  apt_install curl
fi

# Only when nothing sets default_ulimits already: never reconfigure a working set-up.
if grep -qsE '^[[:space:]]*default_ulimits[[:space:]]*=' /etc/containers/containers.conf \
    /etc/containers/containers.conf.d/*.conf "$CONF"; then
  say "default_ulimits already set in /etc/containers; leaving it"
else
  mkdir -p "$(dirname "$CONF")"
  cat >"$CONF" <<'EOF'
# Written by container-overhead-bench scripts/podman-up.sh.
# Podman's default ulimits (raised nproc/nofile) need CAP_SYS_RESOURCE; where the host
# forbids raising resource limits every container fails with "error setting rlimit".
# Empty: containers inherit the service's limits, as Docker's do.
[containers]
default_ulimits = []
EOF
  say "wrote $CONF (default_ulimits = [])"
fi

if pgrep -f "podman system service.*$SOCKET" >/dev/null 2>&1; then
  say "podman system service is running but does not answer yet; waiting"
else
  mkdir -p "$(dirname "$LOG")" "$(dirname "$SOCKET")"
  say "starting 'podman system service' on $SOCKET in the background (log: $LOG)"
  # From /: conmon inherits the service's working directory, and every container start
  # fails ("Failed to get working directory") once this checkout is deleted.
  (cd / || exit; setsid nohup podman system service --time=0 "unix://$SOCKET" >>"$LOG" 2>&1 \
    </dev/null &)
fi

for _ in $(seq "$WAIT"); do
  if version=$(answers) && [ -n "$version" ]; then
    say "podman $version answers on $SOCKET"
    exit 0
  fi
  sleep 1
done
say "podman did not answer within ${WAIT}s; last lines of $LOG:" >&2
tail -n 15 "$LOG" >&2 || true
exit 1
