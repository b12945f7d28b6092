#!/usr/bin/env bash
# Make a headless Chromium available for the report's browser test, and say what was done.
#
# - A chromium already on PATH (or $BENCH_CHROMIUM) is used as it is.
# - Otherwise, as root: install Debian's `chromium` package (no browser download of its own).
# - Without root and without chromium: stop with a message saying how to get one.
set -euo pipefail

say() { printf 'browser-deps: %s\n' "$*"; }

if [ -n "${BENCH_CHROMIUM:-}" ] && [ -x "$BENCH_CHROMIUM" ]; then
  say "using $BENCH_CHROMIUM ($("$BENCH_CHROMIUM" --version 2>/dev/null || echo 'version unknown'))"
  exit 0
fi

if command -v chromium >/dev/null 2>&1; then
  say "$(chromium --version 2>/dev/null || echo chromium) present; using it as it is"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  say "chromium is missing and this is not root." >&2
  say "install it (Debian: 'sudo apt-get install chromium') or set BENCH_CHROMIUM to a" >&2
  say "Chromium/Chrome executable, then run the tests again." >&2
  exit 1
fi

say "installing Debian's chromium (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null
say "$(chromium --version) installed"
