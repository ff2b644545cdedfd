#!/usr/bin/env bash
# setup_localstack.sh — create one perspective's S3 bucket, SNS topic, bucket -> topic
# notification and topic -> listener HTTP subscription in LocalStack.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/local/scripts/setup_localstack.sh PERSPECTIVE HOST PORT

Creates in LocalStack (docker compose -f infra/local/docker-compose.yml up -d):
  bucket   etl-<PERSPECTIVE>-client-etl
  topic    <PERSPECTIVE>-topic, with a policy letting the bucket publish
  bucket notification  s3:ObjectCreated:* under from_client/ -> topic
  subscription         http://HOST:PORT/ -> topic (the listener, as LocalStack sees it:
                       host.docker.internal for a listener on this machine)
Idempotent: existing resources are reused.

Endpoint: $LOCALSTACK_URL when set; otherwise https://localhost:4566 when LocalStack
answers there (then --no-verify-ssl is passed to aws), else http://localhost:4566.
Credentials: the LocalStack test keys unless AWS_ACCESS_KEY_ID is set; region us-east-1
unless AWS_REGION is set.

Run the listener so LocalStack's unsigned deliveries are accepted:
  FP_SNS_VERIFY=0 FP_BIND=0.0.0.0 packages/file_processing/scripts/run_local_listener.sh PORT

Example:
  infra/local/scripts/setup_localstack.sh file-processing host.docker.internal 8080
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../file_processing/scripts/lib.sh
source "$here/../../file_processing/scripts/lib.sh"

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
[ "$#" -eq 3 ] || usage_error "expected PERSPECTIVE HOST PORT"
perspective="$1"
host="$2"
port="$3"
case "$perspective" in
  '' | *[!a-z0-9-]*) usage_error "PERSPECTIVE must be lower-case letters, digits and '-', got '$perspective'" ;;
esac
case "$port" in
  '' | *[!0-9]*) usage_error "PORT must be a number, got '$port'" ;;
esac

need_cmd aws

# LocalStack accepts any credentials; never touch a real profile here.
unset AWS_PROFILE
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"

if [ -z "${LOCALSTACK_URL:-}" ]; then
  if command -v curl >/dev/null 2>&1 &&
    curl -fsSk --max-time 3 -o /dev/null https://localhost:4566/_localstack/health 2>/dev/null; then
    LOCALSTACK_URL=https://localhost:4566
  else
    LOCALSTACK_URL=http://localhost:4566
  fi
fi
export AWS_ENDPOINT_URL="$LOCALSTACK_URL"
case "$LOCALSTACK_URL" in
  https://*) export FP_AWS_NO_VERIFY_SSL=1 ;;
  *) export FP_AWS_NO_VERIFY_SSL=0 ;;
esac

if ! aws_cli sts get-caller-identity --output text >/dev/null 2>&1; then
  die "LocalStack does not answer at $LOCALSTACK_URL (start it: docker compose -f infra/local/docker-compose.yml up -d)"
fi

bucket="etl-${perspective}-client-etl"
topic="${perspective}-topic"
endpoint="http://${host}:${port}/"

log "endpoint $LOCALSTACK_URL, bucket $bucket, topic $topic, subscriber $endpoint"

if ! aws_cli s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  aws_cli s3api create-bucket --bucket "$bucket" >/dev/null
fi

topic_arn="$(aws_cli sns create-topic --name "$topic" --query TopicArn --output text)"
[ -n "$topic_arn" ] || die "create-topic returned no TopicArn"

"$here/../../file_processing/scripts/sns_set_topic_policy.sh" "$topic_arn" "$bucket"
"$here/../../file_processing/scripts/s3_configure_notifications.sh" "$bucket" "$topic_arn" \
  --prefix from_client/
"$here/../../file_processing/scripts/sns_subscribe.sh" "$topic_arn" "$endpoint"

cat <<DONE
LocalStack ready ($LOCALSTACK_URL):
  bucket  s3://$bucket
  topic   $topic_arn -> $endpoint
Next:
  FP_SNS_VERIFY=0 FP_BIND=0.0.0.0 AWS_ENDPOINT_URL=$LOCALSTACK_URL AWS_REGION=$AWS_REGION \\
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \\
    packages/file_processing/scripts/run_local_listener.sh $port
  aws --endpoint-url $LOCALSTACK_URL s3 cp Officer_Detail.csv \\
    s3://$bucket/from_client/nm_albuquerque/Officer_Detail.csv
DONE
