#!/usr/bin/env bash
# Installs what a fresh machine lacks for `make test`: Debian's redis-server,
# redis-sentinel, haproxy (the HA lab) and chromium, and the pinned moto server
# in a virtualenv. Idempotent and quiet
# when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION="5.2.5"
VENV="${MOTO_VENV:-.venv-moto}"

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v redis-sentinel >/dev/null 2>&1 || need_apt+=(redis-sentinel)
command -v haproxy >/dev/null 2>&1 || need_apt+=(haproxy)
if ((${#need_apt[@]})); then
  echo "install-deps: installing Debian packages: ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if ! "$VENV/bin/moto_server" --help >/dev/null 2>&1 \
   || [ "$("$VENV/bin/python" -c 'import moto; print(moto.__version__)' 2>/dev/null)" != "$MOTO_VERSION" ]; then
  echo "install-deps: creating $VENV with moto[server]==$MOTO_VERSION" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi
