# shellcheck shell=bash
# lib.sh — helpers sourced by the infra scripts (not run on its own).
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# The script's name for messages.
FP_SCRIPT="${FP_SCRIPT:-$(basename "$0")}"

die() {
  echo "$FP_SCRIPT: $*" >&2
  exit "${FP_DIE_CODE:-1}"
}

usage_error() {
  echo "$FP_SCRIPT: $*" >&2
  echo "Run '$FP_SCRIPT --help' for usage." >&2
  exit 2
}

log() {
  echo "$FP_SCRIPT: $*" >&2
}

# need_cmd TOOL [HINT]: fail fast with a clear message when TOOL is not on PATH.
need_cmd() {
  local tool="$1" hint="${2:-}"
  if ! command -v "$tool" >/dev/null 2>&1; then
    case "$tool" in
      aws) hint="${hint:-install the AWS CLI v2 (https://docs.aws.amazon.com/cli/)}" ;;
      terraform) hint="${hint:-install Terraform >= 1.5 (https://developer.hashicorp.com/terraform/install)}" ;;
      kubectl) hint="${hint:-install kubectl (https://kubernetes.io/docs/tasks/tools/)}" ;;
      docker) hint="${hint:-install Docker, or set DOCKER=podman}" ;;
      curl) hint="${hint:-apt-get install curl}" ;;
    esac
    die "'$tool' is required but was not found on PATH${hint:+ ($hint)}"
  fi
}

# aws_cli ARGS...: the aws command with --profile/--region from AWS_PROFILE/AWS_REGION
# and --endpoint-url/--no-verify-ssl from AWS_ENDPOINT_URL/FP_AWS_NO_VERIFY_SSL (LocalStack).
aws_cli() {
  local extra=()
  if [ -n "${AWS_PROFILE:-}" ]; then extra+=(--profile "$AWS_PROFILE"); fi
  if [ -n "${AWS_REGION:-}" ]; then extra+=(--region "$AWS_REGION"); fi
  if [ -n "${AWS_ENDPOINT_URL:-}" ]; then extra+=(--endpoint-url "$AWS_ENDPOINT_URL"); fi
  if [ "${FP_AWS_NO_VERIFY_SSL:-0}" = 1 ]; then extra+=(--no-verify-ssl); fi
  aws "${extra[@]}" "$@"
}

# need_aws_credentials: the CLI is present and the credentials work (one STS call).
need_aws_credentials() {
  need_cmd aws
  if ! aws_cli sts get-caller-identity --output text >/dev/null 2>&1; then
    die "AWS credentials are missing or expired for profile '${AWS_PROFILE:-default}'" \
      "(run 'aws sso login --profile ${AWS_PROFILE:-default}' or export AWS_PROFILE)"
  fi
}

# aws_account_id: the caller's account id.
aws_account_id() {
  aws_cli sts get-caller-identity --query Account --output text
}

# arn_partition ARN: the partition field of an ARN (aws, aws-us-gov, aws-cn).
arn_partition() {
  local arn="$1"
  case "$arn" in
    arn:*:*) ;;
    *) die "not an ARN: '$arn'" ;;
  esac
  arn="${arn#arn:}"
  echo "${arn%%:*}"
}

# json_escape STRING: STRING as a JSON string literal's contents.
json_escape() {
  local s="$1"
  s="${s//\\/\\\\}"
  s="${s//\"/\\\"}"
  printf '%s' "$s"
}
