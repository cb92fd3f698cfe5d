# syntax=docker/dockerfile:1
# The gameserver image: a Rust builder stage that compiles only the game
# server (the provisioner's AWS SDK crates are never built here), then a slim
# Debian runtime with the binary, a non-root user and a health check.
#
# Multi-arch: prod runs on Graviton (m6g), dev on x86 (t3), so build both:
#   docker buildx build --platform linux/amd64,linux/arm64 -t IMAGE --push .

ARG RUST_VERSION=1.95
ARG DEBIAN=bookworm

FROM rust:${RUST_VERSION}-slim-${DEBIAN} AS builder
WORKDIR /src
# The whole workspace (see .dockerignore): cargo needs every member's
# manifest and targets to resolve it, but builds only the game server. The
# cache mounts keep the registry and compiled dependencies across builds.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p gameserver --bin gameserver \
 && cp target/release/gameserver /usr/local/bin/gameserver

FROM debian:${DEBIAN}-slim AS runtime
# ca-certificates: rediss:// to ElastiCache verifies the server certificate.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin spaaace
COPY --from=builder /usr/local/bin/gameserver /usr/local/bin/gameserver
# No curl in the image: bash's /dev/tcp speaks just enough HTTP to read the
# status line. The same script is the ECS container health check; both ask
# /ready (fixtures/load-balancer.toml), not /health, so a Redis failover does
# not get every container replaced.
RUN printf '%s\n' \
  '#!/bin/bash' \
  '# Exit 0 when GET ${1:-/ready} on this container answers 200.' \
  'exec 3<>"/dev/tcp/127.0.0.1/${PORT:-3000}" || exit 1' \
  'printf "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n" "${1:-/ready}" >&3' \
  'IFS=" " read -r -t 4 _ status _ <&3 || exit 1' \
  '[ "$status" = "200" ]' \
  > /usr/local/bin/healthcheck \
 && chmod 0755 /usr/local/bin/healthcheck
USER 10001:10001
ENV PORT=3000 NODE_ENV=production
EXPOSE 3000
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
  CMD ["/usr/local/bin/healthcheck", "/ready"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gameserver"]
