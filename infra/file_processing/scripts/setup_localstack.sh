#!/usr/bin/env bash
# setup_localstack.sh — wrapper: LocalStack resources for the file-processing perspective.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/setup_localstack.sh [PERSPECTIVE [HOST [PORT]]]

Runs infra/local/scripts/setup_localstack.sh with defaults for this service:
PERSPECTIVE file-processing, HOST host.docker.internal (the listener as seen from the
LocalStack container), PORT 8080. See that script's --help.

Example:
  docker compose -f infra/local/docker-compose.yml up -d
  infra/file_processing/scripts/setup_localstack.sh
USAGE
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
if [ "$#" -gt 3 ]; then usage >&2; exit 2; fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../../local/scripts/setup_localstack.sh" "${1:-file-processing}" \
  "${2:-host.docker.internal}" "${3:-8080}"
