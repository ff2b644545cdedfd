#!/usr/bin/env bash
# setup_localstack.sh — LocalStack resources for the data-pipeline perspective (a second
# client of the same listener): bucket etl-data-pipeline-client-etl, topic data-pipeline-topic.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/data_pipeline/setup_localstack.sh [HOST [PORT]]

Runs infra/local/scripts/setup_localstack.sh data-pipeline HOST PORT
(defaults: HOST host.docker.internal, PORT 8080).

Example:
  infra/data_pipeline/setup_localstack.sh host.docker.internal 8080
USAGE
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
if [ "$#" -gt 2 ]; then usage >&2; exit 2; fi
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec "$here/../local/scripts/setup_localstack.sh" data-pipeline "${1:-host.docker.internal}" \
  "${2:-8080}"
