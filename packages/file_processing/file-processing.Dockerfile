# file-processing container image.
# Build from the repository root:
#   docker build -f packages/file_processing/file-processing.Dockerfile -t file-processing:local .
# Run the SNS listener (the default command):
#   docker run --rm -p 8080:8080 -e PORT=8080 file-processing:local file-processing-sns
#
# Base: the Debian bookworm-slim tag (the podman smoke test tags a locally built Debian
# bookworm rootfs with this name, so no registry is needed to build it). Pin a digest in
# your registry mirror for production (debian:bookworm-slim@sha256:...).

# ---------------------------------------------------------------------------- build stage
FROM debian:bookworm-slim AS build
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake pkg-config \
      libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libjansson-dev libyaml-dev \
      libpcre2-dev libxxhash-dev libsqlite3-dev libpq-dev zlib1g-dev libzstd-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY packages/file_processing ./packages/file_processing
# Release build of the two programs only (FP_BUILD_TESTS=OFF: no test dependencies).
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DFP_BUILD_TESTS=OFF \
 && cmake --build /build -j"$(nproc)" --target file-processing file-processing-sns \
 && strip /build/file-processing /build/file-processing-sns

# -------------------------------------------------------------------------- runtime stage
FROM debian:bookworm-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libssl3 libmicrohttpd12 libjansson4 libyaml-0-2 \
      libpcre2-8-0 libxxhash0 libsqlite3-0 libpq5 zlib1g libzstd1 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 fp \
 && useradd --uid 10001 --gid fp --no-create-home --home-dir /var/lib/file-processing \
      --shell /usr/sbin/nologin fp \
 && install -d -o fp -g fp -m 0750 /var/lib/file-processing

COPY --from=build /build/file-processing /build/file-processing-sns /usr/local/bin/
COPY packages/file_processing/contracts /usr/local/share/file-processing/contracts

# DATABASE_URL defaults to a SQLite file in the writable home; set a postgresql:// URL
# (from a Secret) in Kubernetes. AWS credentials come from IRSA (AWS_ROLE_ARN and
# AWS_WEB_IDENTITY_TOKEN_FILE are injected by EKS) or the usual credential chain.
ENV PORT=8080 \
    FP_CONTRACTS_DIR=/usr/local/share/file-processing/contracts \
    DATABASE_URL=sqlite:////var/lib/file-processing/file_processing.db \
    AWS_REGION=us-gov-west-1 \
    FP_LOG_FORMAT=json

USER 10001:10001
WORKDIR /var/lib/file-processing
EXPOSE 8080

# No curl in the runtime image: bash's /dev/tcp sends `HEAD /` (the liveness route) and
# the check passes on an HTTP 200 status line. (No --start-period: the listener is up in
# well under a second, and dockerfilelint 1.8 does not know that flag.)
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${PORT:-8080} && printf 'HEAD / HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n1 <&3 | grep -q ' 200'"]

CMD ["file-processing-sns"]
