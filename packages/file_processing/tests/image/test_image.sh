#!/usr/bin/env bash
# test_image.sh — container smoke test with podman (no registry needed): build
# packages/file_processing/file-processing.Dockerfile on a local Debian bookworm base,
# run the listener with --network=host, check HEAD / and /readyz, deliver one S3
# notification through SNS's HTTP shape (FP_SNS_VERIFY=0), see the job succeed, stop it.
# Exits 77 (skipped) when podman, runc or mmdebstrap are missing.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: packages/file_processing/tests/image/test_image.sh [--keep]

Needs podman, runc and mmdebstrap (apt-get install podman runc mmdebstrap uidmap).
Builds the base image debian:bookworm-slim with
  mmdebstrap --variant=minbase bookworm - <the machine's Debian mirror>
and `podman import` unless that image exists already, then
  podman build -f packages/file_processing/file-processing.Dockerfile -t file-processing:local .
podman settings (runc, ulimits nofile=20000:20000 nproc=32768:32768, cgroupfs, file event
log) come from a containers.conf that CONTAINERS_CONF points at; /etc is not touched.
--keep  leave the images in place (default: file-processing:local is kept, the container
        is always removed).
Environment: FP_IMAGE_PORT (default: a free port), FP_DEBIAN_MIRROR.

Example:
  packages/file_processing/tests/image/test_image.sh
USAGE
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  --keep | '') ;;
  *) usage >&2; exit 2 ;;
esac

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../../.." && pwd)"

for tool in podman runc mmdebstrap curl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP test_image: '$tool' not installed (apt-get install podman runc mmdebstrap uidmap curl)"
    exit 77
  fi
done

work="$(mktemp -d /tmp/fp-image-test.XXXXXX)"
name="fp-image-test-$$"
cleanup() {
  podman rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$work/containers.conf"

if ! podman image exists debian:bookworm-slim; then
  mirror="${FP_DEBIAN_MIRROR:-}"
  if [ -z "$mirror" ]; then
    mirror="$(grep -rhoE '^(URIs:|deb) +(\[[^]]*\] +)?https?://[^ ]+/debian/?( |$)' \
      /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null | grep -oE 'https?://[^ ]+' | head -n1 || true)"
  fi
  mirror="${mirror:-http://deb.debian.org/debian}"
  echo "test_image: building the debian:bookworm-slim base from $mirror" >&2
  mmdebstrap --variant=minbase --quiet bookworm "$work/rootfs.tar" "$mirror"
  podman import "$work/rootfs.tar" debian:bookworm-slim >/dev/null
fi

echo "test_image: podman build" >&2
# docker format: the OCI format has no HEALTHCHECK.
podman build --quiet --format docker -f "$repo/packages/file_processing/file-processing.Dockerfile" \
  -t file-processing:local "$repo" >/dev/null

port="${FP_IMAGE_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}"
mkdir -p "$work/data/from_client/nm_albuquerque"
cp "$repo/packages/file_processing/data/from_client/nm_albuquerque/Officer_Detail.csv" \
  "$work/data/from_client/nm_albuquerque/"
chmod -R a+rX "$work/data"
chmod a+rx "$work"

podman run -d --name "$name" --network=host --health-interval=disable -e PORT="$port" -e FP_BIND=127.0.0.1 \
  -e FP_SNS_VERIFY=0 -e LOCAL_S3_ROOT=/data -v "$work/data:/data:ro" \
  file-processing:local 2> >(grep -v 'systemd connection' >&2) >/dev/null

ok=0
for _ in $(seq 1 100); do
  if curl -fsS -o /dev/null -I "http://127.0.0.1:$port/" 2>/dev/null; then ok=1; break; fi
  sleep 0.1
done
if [ "$ok" != 1 ]; then
  podman logs "$name" >&2 || true
  echo "FAIL test_image: the listener did not answer HEAD / on port $port" >&2
  exit 1
fi

"$repo/infra/file_processing/scripts/sns_probe_listener.sh" "http://127.0.0.1:$port" \
  --notify demo-bucket from_client/nm_albuquerque/Officer_Detail.csv

# The job runs in the container's worker: wait until /metrics counts it as succeeded.
succeeded=0
for _ in $(seq 1 150); do
  if curl -fsS "http://127.0.0.1:$port/metrics" | grep -q '^fp_jobs{state="succeeded"} 1$'; then
    succeeded=1
    break
  fi
  sleep 0.2
done
if [ "$succeeded" != 1 ]; then
  podman logs "$name" >&2 || true
  curl -fsS "http://127.0.0.1:$port/metrics" | grep '^fp_jobs' >&2 || true
  echo "FAIL test_image: the notification's job did not succeed in the container" >&2
  exit 1
fi
echo "ok    job for the notification succeeded inside the container"

# The image's own HEALTHCHECK command, run once in the container (--health-interval=disable
# above: no systemd here for podman's periodic health timers).
if podman healthcheck run "$name" >/dev/null 2>&1; then
  echo "ok    HEALTHCHECK passes"
else
  test_cmd="$(podman inspect -f '{{.Config.Healthcheck.Test}}' "$name" 2>/dev/null || true)"
  echo "FAIL test_image: HEALTHCHECK failed (${test_cmd:-none})" >&2
  exit 1
fi

podman stop -t 30 "$name" 2> >(grep -v 'systemd connection' >&2) >/dev/null
code="$(podman inspect -f '{{.State.ExitCode}}' "$name")"
if [ "$code" != 0 ]; then
  podman logs "$name" >&2 || true
  echo "FAIL test_image: the listener exited $code after SIGTERM (want 0)" >&2
  exit 1
fi
echo "ok    listener exited 0 on SIGTERM"
echo "1 passed, 0 failed"
