#!/usr/bin/env bash
# sns_set_topic_policy.sh — let one S3 bucket (of one account) publish to an SNS topic.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/sns_set_topic_policy.sh TOPIC_ARN BUCKET [ACCOUNT_ID]

Sets the topic's Policy attribute: the topic owner keeps full control, and s3.amazonaws.com
may sns:Publish only when aws:SourceArn is the bucket (and aws:SourceAccount is ACCOUNT_ID,
default the account in TOPIC_ARN). The partition (aws, aws-us-gov) comes from TOPIC_ARN.

Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL (LocalStack), FP_AWS_NO_VERIFY_SSL=1.

Example:
  infra/file_processing/scripts/sns_set_topic_policy.sh \
    arn:aws-us-gov:sns:us-gov-west-1:123456789012:etl-platform-file-processing-events \
    etl-playground-client-etl
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
esac
if [ "$#" -lt 2 ] || [ "$#" -gt 3 ]; then usage_error "expected TOPIC_ARN BUCKET [ACCOUNT_ID]"; fi
topic_arn="$1"
bucket="$2"
case "$topic_arn" in
  arn:*:sns:*:*:*) ;;
  *) usage_error "not an SNS topic ARN: '$topic_arn'" ;;
esac
partition="$(arn_partition "$topic_arn")"
topic_account="$(echo "$topic_arn" | cut -d: -f5)"
account="${3:-$topic_account}"

need_aws_credentials

policy=$(cat <<JSON
{"Version":"2012-10-17","Statement":[
{"Sid":"OwnerManagesTopic","Effect":"Allow","Principal":{"AWS":"arn:$partition:iam::$topic_account:root"},
 "Action":["sns:GetTopicAttributes","sns:SetTopicAttributes","sns:Subscribe","sns:ListSubscriptionsByTopic","sns:Publish"],
 "Resource":"$topic_arn"},
{"Sid":"AllowS3BucketToPublish","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},
 "Action":"sns:Publish","Resource":"$topic_arn",
 "Condition":{"ArnLike":{"aws:SourceArn":"arn:$partition:s3:::$bucket"},"StringEquals":{"aws:SourceAccount":"$account"}}}]}
JSON
)

aws_cli sns set-topic-attributes --topic-arn "$topic_arn" --attribute-name Policy \
  --attribute-value "$policy"
log "s3://$bucket may publish to $topic_arn"
