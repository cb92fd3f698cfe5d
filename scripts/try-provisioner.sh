#!/usr/bin/env bash
# Tries the whole provisioner without an AWS account: starts the pinned moto
# server on a free port and walks the emulator profile through up, plan
# (which must find nothing to change), status, outputs and down. Nothing
# leaves this machine. `make try-provisioner` builds the binary and runs it.
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO="${MOTO_SERVER:-.venv-moto/bin/moto_server}"
PROVISIONER="${PROVISIONER:-target/debug/provisioner}"
[ -x "$MOTO" ] || { echo "try-provisioner: no moto server at $MOTO: run make deps" >&2; exit 1; }
[ -x "$PROVISIONER" ] || { echo "try-provisioner: no $PROVISIONER: run cargo build -p provisioner" >&2; exit 1; }

port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$MOTO" -H 127.0.0.1 -p "$port" >/dev/null 2>&1 &
moto=$!
trap 'kill "$moto" 2>/dev/null || true' EXIT
for _ in $(seq 1 200); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

# Dummy credentials for the emulator; no instance metadata, no profiles.
export AWS_ENDPOINT_URL="http://127.0.0.1:$port" AWS_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_EC2_METADATA_DISABLED=true AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

step() {
  printf '\n$ provisioner %s\n' "$*" >&2
  "$PROVISIONER" "$@" --env emulator
}

echo "try-provisioner: moto on port $port" >&2
step up --yes --no-wait     # moto starts no containers: do not wait for the game
step plan                   # exit 0: nothing left to change
step status
step outputs
step down --yes
echo "try-provisioner: done; the emulator kept nothing" >&2
