#!/usr/bin/env bash
# `make run`: the game server, with a private Redis when none is running and
# redis-server is installed, so a crashed and restarted server resumes its
# rooms. Without redis-server it plays without saved rooms and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
server=./target/release/gameserver

redis_answers() { (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; }

if [ -n "${REDIS_URL:-}" ] || [ "${REDIS_ENABLED:-true}" = "false" ] || redis_answers; then
  exec "$server" "$@"
fi
if ! command -v redis-server >/dev/null 2>&1; then
  echo "run: no redis-server installed (make deps installs it): playing without saved rooms" >&2
  REDIS_ENABLED=false exec "$server" "$@"
fi

mkdir -p target/redis
# Its own session, so Ctrl-C reaches only the game server, which then writes
# its final snapshots before this script stops Redis. The append-only file
# keeps the rooms across `make run`s.
setsid redis-server --bind 127.0.0.1 --port 6379 --dir "$PWD/target/redis" \
  --appendonly yes --save "" >target/redis/redis.log 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do redis_answers && break; sleep 0.05; done
echo "run: started redis-server on 127.0.0.1:6379 for saved rooms (data in target/redis)" >&2
"$server" "$@"
