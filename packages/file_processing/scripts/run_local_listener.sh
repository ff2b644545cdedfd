#!/usr/bin/env bash
# run_local_listener.sh — run the SNS listener (file-processing serve) for local development:
# builds if needed, reads objects from packages/file_processing/data, and, by default,
# DISABLES SNS signature verification (FP_SNS_VERIFY=0) so LocalStack's SNS can deliver.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: packages/file_processing/scripts/run_local_listener.sh [PORT]

Runs `file-processing serve` on 127.0.0.1:PORT (default $PORT or 8080) with
  LOCAL_S3_ROOT=packages/file_processing/data   (override with LOCAL_S3_ROOT)
  DATABASE_URL=sqlite:///file_processing.db     (override with DATABASE_URL)
  FP_SNS_VERIFY=0                               (signatures NOT checked; set FP_SNS_VERIFY=1
                                                 to verify, e.g. against real SNS)
  FP_BIND=127.0.0.1                             (set FP_BIND=0.0.0.0 for LocalStack in Docker)
Builds build/file-processing first when it is missing (cmake). Stop with Ctrl-C.

Example:
  packages/file_processing/scripts/run_local_listener.sh 8080
USAGE
}

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
if [ "$#" -gt 1 ]; then usage >&2; exit 2; fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
port="${1:-${PORT:-8080}}"
case "$port" in
  '' | *[!0-9]*) echo "run_local_listener.sh: PORT must be a number, got '$port'" >&2; exit 2 ;;
esac
bin="${FP_BIN:-$repo/build/file-processing}"

if [ ! -x "$bin" ]; then
  echo "run_local_listener.sh: building $bin" >&2
  cmake -S "$repo" -B "$repo/build" >/dev/null
  cmake --build "$repo/build" -j"$(nproc)" --target file-processing
fi

export LOCAL_S3_ROOT="${LOCAL_S3_ROOT:-$repo/packages/file_processing/data}"
export DATABASE_URL="${DATABASE_URL:-sqlite:///file_processing.db}"
export FP_SNS_VERIFY="${FP_SNS_VERIFY:-0}"
export FP_BIND="${FP_BIND:-127.0.0.1}"

cat >&2 <<EXAMPLE
Listener on http://${FP_BIND}:${port}/  (FP_SNS_VERIFY=${FP_SNS_VERIFY}, objects from ${LOCAL_S3_ROOT})
Try, in another terminal:
  curl -s http://127.0.0.1:${port}/readyz
  curl -s -X POST http://127.0.0.1:${port}/ -H 'x-amz-sns-message-type: Notification' -d '{
    "Type":"Notification","MessageId":"local-1","TopicArn":"arn:aws:sns:us-east-1:000000000000:local",
    "Timestamp":"2024-01-01T00:00:00.000Z","SignatureVersion":"1","Signature":"unsigned",
    "SigningCertURL":"http://localhost:4566/_aws/sns/SimpleNotificationService-0000.pem",
    "Message":"{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"bucket\":{\"name\":\"local\"},\"object\":{\"key\":\"from_client/nm_albuquerque/Officer_Detail.csv\"}}}]}"}'
  curl -s http://127.0.0.1:${port}/metrics | grep -E '^fp_(jobs|queue_depth)'
EXAMPLE

exec "$bin" serve --port "$port"
