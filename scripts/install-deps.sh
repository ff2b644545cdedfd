#!/usr/bin/env bash
# Installs the Debian packages file-processing needs to build and test.
# A no-op when everything is already present; safe to run unattended (CI, no stdin).
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang
  libclang-rt-14-dev # clang 14's libFuzzer and sanitizer runtimes (make fuzz, FP_FUZZ=ON)
  libcurl4-openssl-dev libssl-dev libmicrohttpd-dev libjansson-dev libyaml-dev
  libpcre2-dev libxxhash-dev libsqlite3-dev libpq-dev zlib1g-dev libzstd-dev
  libcmocka-dev
  postgresql-15
  python3 python3-botocore python3-cryptography sqlite3 gzip zstd time
  shellcheck valgrind yamllint
  podman runc mmdebstrap uidmap slirp4netns fuse-overlayfs
  # headless browser for the HTML report test (driven by playwright-core from the tests'
  # package.json; no browser download)
  chromium
)
# --bench: also what `make bench` compares against (Miller; DuckDB through npm).
BENCH=0
case "${1:-}" in
  --bench) BENCH=1 ;;
  '') ;;
  *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
esac
if [ "$BENCH" = 1 ]; then PKGS+=(miller); fi
# Node.js runs the S3/SQS test peers (npm packages pinned in the tests' package.json).
# Keep an existing node (it may not come from Debian); otherwise take Debian's.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PKGS+=(nodejs npm)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# The Node test peers (s3rver, local-aws-sqs, the infra validators) are pinned in the
# tests' package-lock.json and installed once here, before any test runs: tests running in
# parallel must never race each other into the same node_modules.
npm_ci() {
  local dir="$1"
  command -v npm >/dev/null 2>&1 || return 0
  [ -f "$dir/package-lock.json" ] || return 0
  if [ ! -f "$dir/node_modules/.package-lock.json" ] ||
    [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    echo "install-deps: npm ci in $dir" >&2
    npm ci --prefix "$dir" --no-audit --no-fund </dev/null >&2
  fi
}
install_node_peers() {
  local pkg
  pkg="$(cd "$(dirname "$0")/.." && pwd)/packages/file_processing"
  npm_ci "$pkg/tests/node"
  if [ "$BENCH" = 1 ]; then npm_ci "$pkg/bench/peers"; fi
}

if [ ${#missing[@]} -eq 0 ]; then
  install_node_peers
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: missing packages (${missing[*]}) and not root; install them and retry" >&2
    exit 2
  fi
fi
export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-y -q -o DPkg::Lock::Timeout=300 --no-install-recommends)
$SUDO apt-get -q -o DPkg::Lock::Timeout=300 update </dev/null
$SUDO apt-get install "${APT_OPTS[@]}" "${missing[@]}" </dev/null
install_node_peers
