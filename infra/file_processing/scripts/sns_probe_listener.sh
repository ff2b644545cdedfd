#!/usr/bin/env bash
# sns_probe_listener.sh — check a running listener from the outside: HEAD /, /healthz,
# /readyz, /metrics, and (with --notify) one S3 notification delivered as SNS would.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/sns_probe_listener.sh URL [--notify BUCKET KEY] [--insecure]

Checks, in order: HEAD URL -> 200, GET URL/healthz -> 200, GET URL/readyz -> 200,
GET URL/metrics -> 200 with fp_ metrics. With --notify it POSTs an SNS Notification whose
Message is an S3 ObjectCreated event for s3://BUCKET/KEY, and expects 200. The message is
NOT signed: only a listener run with FP_SNS_VERIFY=0 (LocalStack / local development)
accepts it; a verifying listener answers 403, which the probe reports.
--insecure skips TLS verification (self-signed https endpoints).

Exit status: 0 all checks passed, 1 a check failed, 2 usage.

Examples:
  infra/file_processing/scripts/sns_probe_listener.sh http://127.0.0.1:8080
  infra/file_processing/scripts/sns_probe_listener.sh http://127.0.0.1:8080 \
    --notify demo-bucket from_client/nm_albuquerque/Officer_Detail.csv
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

url=""
bucket=""
key=""
curl_opts=(-sS --max-time 10)
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --notify)
      [ "$#" -ge 3 ] || usage_error "--notify needs BUCKET and KEY"
      bucket="$2"; key="$3"; shift 2 ;;
    --insecure) curl_opts+=(-k) ;;
    -*) usage_error "unknown option '$1'" ;;
    *) [ -z "$url" ] || usage_error "unexpected argument '$1'"; url="$1" ;;
  esac
  shift
done
[ -n "$url" ] || usage_error "expected the listener URL"
case "$url" in
  http://* | https://*) ;;
  *) usage_error "URL must start with http:// or https://, got '$url'" ;;
esac
url="${url%/}"
need_cmd curl

failed=0
check() { # check NAME EXPECTED_STATUS CURL_ARGS...
  local name="$1" want="$2" got
  shift 2
  got="$(curl "${curl_opts[@]}" -o /dev/null -w '%{http_code}' "$@" || true)"
  if [ "$got" = "$want" ]; then
    echo "ok    $name -> $got"
  else
    echo "FAIL  $name -> ${got:-no answer} (want $want)"
    failed=1
  fi
}

check "HEAD /" 200 -I "$url/"
check "GET /healthz" 200 "$url/healthz"
check "GET /readyz" 200 "$url/readyz"
metrics="$(curl "${curl_opts[@]}" "$url/metrics" || true)"
if printf '%s\n' "$metrics" | grep -q '^fp_'; then
  echo "ok    GET /metrics has fp_ metrics"
else
  echo "FAIL  GET /metrics has no fp_ metrics"
  failed=1
fi

if [ -n "$bucket" ]; then
  id="probe-$(date +%s)-$$"
  s3_event="{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"eventName\":\"ObjectCreated:Put\",\"eventTime\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\",\"s3\":{\"bucket\":{\"name\":\"$(json_escape "$bucket")\"},\"object\":{\"key\":\"$(json_escape "$key")\",\"sequencer\":\"$id\"}}}]}"
  message="$(json_escape "$s3_event")"
  body="{\"Type\":\"Notification\",\"MessageId\":\"$id\",\"TopicArn\":\"arn:aws:sns:us-east-1:000000000000:probe\",\"Timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\",\"SignatureVersion\":\"1\",\"Signature\":\"unsigned\",\"SigningCertURL\":\"https://sns.us-east-1.amazonaws.com/probe.pem\",\"Message\":\"$message\"}"
  check "POST / (notification for s3://$bucket/$key)" 200 -X POST \
    -H 'Content-Type: text/plain; charset=UTF-8' -H 'x-amz-sns-message-type: Notification' \
    -H "x-amz-sns-message-id: $id" --data-binary "$body" "$url/"
fi

exit "$failed"
