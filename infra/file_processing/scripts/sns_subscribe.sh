#!/usr/bin/env bash
# sns_subscribe.sh — subscribe the listener's URL (or an SQS queue) to an SNS topic.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/sns_subscribe.sh TOPIC_ARN ENDPOINT [--raw]

ENDPOINT is the listener's URL (http:// or https://; the protocol follows the scheme) or an
SQS queue ARN (protocol sqs). The listener confirms the subscription by itself once the
SubscriptionConfirmation's signature verifies (FP_SNS_TOPIC_ARNS must allow the topic).
--raw asks for raw message delivery (SQS only; the listener refuses raw HTTP delivery
unless FP_SNS_ALLOW_RAW=1).

Environment: AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL (LocalStack), FP_AWS_NO_VERIFY_SSL=1.

Example:
  infra/file_processing/scripts/sns_subscribe.sh \
    arn:aws-us-gov:sns:us-gov-west-1:123456789012:etl-platform-file-processing-events \
    https://file-processing.example.gov/
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

raw=0
args=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    -h | --help) usage; exit 0 ;;
    --raw) raw=1 ;;
    -*) usage_error "unknown option '$1'" ;;
    *) args+=("$1") ;;
  esac
  shift
done
[ "${#args[@]}" -eq 2 ] || usage_error "expected TOPIC_ARN and ENDPOINT"
topic_arn="${args[0]}"
endpoint="${args[1]}"
case "$topic_arn" in
  arn:*:sns:*) ;;
  *) usage_error "not an SNS topic ARN: '$topic_arn'" ;;
esac
case "$endpoint" in
  https://*) protocol=https ;;
  http://*) protocol=http ;;
  arn:*:sqs:*) protocol=sqs ;;
  *) usage_error "ENDPOINT must be an http(s):// URL or an SQS queue ARN, got '$endpoint'" ;;
esac

need_aws_credentials

attrs=()
if [ "$raw" = 1 ]; then attrs=(--attributes RawMessageDelivery=true); fi
aws_cli sns subscribe --topic-arn "$topic_arn" --protocol "$protocol" \
  --notification-endpoint "$endpoint" --return-subscription-arn "${attrs[@]}"
