#!/usr/bin/env bash
# sns_test_topic.sh — publish one S3 ObjectCreated event to a topic, as S3 would, to test
# the path topic -> subscriptions (listener, SQS) end to end.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/sns_test_topic.sh TOPIC_ARN BUCKET KEY

Publishes {"Records":[{"eventSource":"aws:s3","eventName":"ObjectCreated:Put",...}]} for
s3://BUCKET/KEY to TOPIC_ARN and prints the MessageId. The object should exist: the
subscribed listener or SQS worker runs the data-quality job on it.

Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL (LocalStack), FP_AWS_NO_VERIFY_SSL=1.

Example:
  AWS_ENDPOINT_URL=http://localhost:4566 AWS_REGION=us-east-1 \
    infra/file_processing/scripts/sns_test_topic.sh \
    arn:aws:sns:us-east-1:000000000000:file-processing-topic \
    etl-file-processing-client-etl from_client/nm_albuquerque/Officer_Detail.csv
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
[ "$#" -eq 3 ] || usage_error "expected TOPIC_ARN BUCKET KEY"
topic_arn="$1"
bucket="$2"
key="$3"
case "$topic_arn" in
  arn:*:sns:*) ;;
  *) usage_error "not an SNS topic ARN: '$topic_arn'" ;;
esac

need_aws_credentials

now="$(date -u +%Y-%m-%dT%H:%M:%S.000Z)"
message="{\"Records\":[{\"eventVersion\":\"2.1\",\"eventSource\":\"aws:s3\",\"eventTime\":\"$now\",\"eventName\":\"ObjectCreated:Put\",\"s3\":{\"s3SchemaVersion\":\"1.0\",\"bucket\":{\"name\":\"$(json_escape "$bucket")\",\"arn\":\"arn:$(arn_partition "$topic_arn"):s3:::$(json_escape "$bucket")\"},\"object\":{\"key\":\"$(json_escape "$key")\",\"sequencer\":\"$(date +%s)\"}}}]}"

aws_cli sns publish --topic-arn "$topic_arn" --subject "Amazon S3 Notification" \
  --message "$message" --query MessageId --output text
