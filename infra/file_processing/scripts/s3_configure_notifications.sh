#!/usr/bin/env bash
# s3_configure_notifications.sh — make a bucket publish ObjectCreated events to an SNS topic.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/s3_configure_notifications.sh BUCKET TOPIC_ARN [--prefix P] [--suffix S]

Sets the bucket's notification configuration to one TopicConfiguration:
s3:ObjectCreated:* -> TOPIC_ARN, filtered by key prefix (default from_client/) and suffix
(default none). REPLACES the bucket's existing notification configuration. The topic's
policy must let S3 publish first: sns_set_topic_policy.sh TOPIC_ARN BUCKET.

Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL (LocalStack), FP_AWS_NO_VERIFY_SSL=1.

Example:
  infra/file_processing/scripts/s3_configure_notifications.sh etl-playground-client-etl \
    arn:aws-us-gov:sns:us-gov-west-1:123456789012:etl-platform-file-processing-events
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

prefix="from_client/"
suffix=""
args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --prefix) [ "$#" -ge 2 ] || usage_error "--prefix needs a value"; prefix="$2"; shift ;;
    --suffix) [ "$#" -ge 2 ] || usage_error "--suffix needs a value"; suffix="$2"; shift ;;
    -*) usage_error "unknown option '$1'" ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ "${#args[@]}" -eq 2 ] || usage_error "expected BUCKET and TOPIC_ARN"
bucket="${args[0]}"
topic_arn="${args[1]}"
case "$topic_arn" in
  arn:*:sns:*) ;;
  *) usage_error "not an SNS topic ARN: '$topic_arn'" ;;
esac

need_aws_credentials

rules="{\"Name\":\"prefix\",\"Value\":\"$(json_escape "$prefix")\"}"
if [ -n "$suffix" ]; then
  rules="$rules,{\"Name\":\"suffix\",\"Value\":\"$(json_escape "$suffix")\"}"
fi
config="{\"TopicConfigurations\":[{\"Id\":\"file-processing-object-created\",\"TopicArn\":\"$topic_arn\",\"Events\":[\"s3:ObjectCreated:*\"],\"Filter\":{\"Key\":{\"FilterRules\":[$rules]}}}]}"

aws_cli s3api put-bucket-notification-configuration --bucket "$bucket" \
  --notification-configuration "$config"
log "s3://$bucket/$prefix* ObjectCreated -> $topic_arn"
