# syntax=docker/dockerfile:1
#
# gatehouse in a container: a Rust build stage, then the binary alone on distroless (glibc,
# CA certificates, no shell), running as an unprivileged user.
#
#   docker build -t gatehouse .
#   docker run --rm -p 8080:8080 -v gatehouse-data:/var/lib/gatehouse --stop-timeout 35 gatehouse
#
# The image uses SQLite in the /var/lib/gatehouse volume unless GATEHOUSE_DATABASE_URL says
# otherwise; docker-compose.yml runs it on PostgreSQL and Redis with Mailpit catching the mail.
# deploy/check.sh runs this file's `cargo build` command outside Docker, on exactly the files
# copied below, and checks that the binary needs only libraries the runtime image has.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /build

# Only what the build reads. A new top-level directory that the code includes (include_bytes!,
# sqlx::migrate!) must be added here; deploy/check.sh fails if it is missing.
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY src ./src
COPY migrations ./migrations
COPY assets ./assets
# The workspace's other member (the benchmark's helpers): cargo reads its manifest, and builds
# it only when asked.
COPY bench/tools ./bench/tools

# The registry and the target directory are cache mounts: a rebuild after a source change
# recompiles gatehouse only, not its dependencies. The target directory does not outlive this
# step, so the binary is copied out of it here. The empty data directory is made here too:
# the runtime image has no shell to make it with.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/build/target,sharing=locked \
    cargo build --release --locked \
 && install -D -m 0755 target/release/gatehouse /out/gatehouse \
 && install -d -m 0700 /out/data

FROM gcr.io/distroless/cc-debian12:nonroot

LABEL org.opencontainers.image.title="gatehouse" \
      org.opencontainers.image.description="Self-hosted user accounts and authentication" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0"

COPY --from=builder /out/gatehouse /usr/local/bin/gatehouse
COPY --from=builder --chown=65532:65532 /out/data /var/lib/gatehouse

# Listen on every interface of the container; keep the database in the volume. Everything
# else is configured at `docker run -e …` time (see the configuration table in README.md).
ENV GATEHOUSE_BIND=0.0.0.0:8080 \
    GATEHOUSE_DATABASE_URL=sqlite:///var/lib/gatehouse/gatehouse.db

# Numeric, so that orchestrators can verify "runs as non-root" without reading /etc/passwd.
USER 65532:65532
# A .env or gatehouse.toml placed in the volume is read too (gatehouse reads them from the
# working directory).
WORKDIR /var/lib/gatehouse
VOLUME ["/var/lib/gatehouse"]
EXPOSE 8080

# `gatehouse healthcheck` asks GET /healthz on the port of GATEHOUSE_BIND and exits 0 or 1:
# no shell or curl needed. Liveness only: a down database shows on /readyz, not here, so a
# database outage does not get the container restarted.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/local/bin/gatehouse", "healthcheck"]

# gatehouse stops on SIGTERM: in-flight requests finish and the mail worker gets up to 30 s.
# Give it that long (docker run --stop-timeout 35, compose stop_grace_period: 35s).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/gatehouse"]
CMD ["serve"]
