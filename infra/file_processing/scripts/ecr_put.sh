#!/usr/bin/env bash
# ecr_put.sh — build the file-processing image, push it to ECR, record its URI in
# infra/file_processing/terraform/container_image.txt (read by manage.sh and Terraform).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/ecr_put.sh [--tag TAG] [--repo NAME] [--no-build]

Builds packages/file_processing/file-processing.Dockerfile from the repository root,
creates the ECR repository when missing (scan on push, immutable tags), logs docker in,
pushes <account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag> and writes that URI to
infra/file_processing/terraform/container_image.txt.

Options:
  --tag TAG     image tag (default: the git commit, short form, or "latest")
  --repo NAME   ECR repository (default $FP_ECR_REPO or file-processing)
  --no-build    push the existing local image file-processing:local
  -h, --help    this help

Environment: AWS_PROFILE (default etl-playground), AWS_REGION (default us-gov-west-1),
DOCKER (default docker; podman works too).

Example:
  AWS_PROFILE=etl-playground infra/file_processing/scripts/ecr_put.sh --tag v0.1.0
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"
repo_root="$(cd "$here/../../.." && pwd)"

export AWS_PROFILE="${AWS_PROFILE:-etl-playground}"
export AWS_REGION="${AWS_REGION:-us-gov-west-1}"
docker_cmd="${DOCKER:-docker}"
ecr_repo="${FP_ECR_REPO:-file-processing}"
tag=""
build=1

while [ "$#" -gt 0 ]; do
  case "$1" in
    --tag) [ "$#" -ge 2 ] || usage_error "--tag needs a value"; tag="$2"; shift ;;
    --repo) [ "$#" -ge 2 ] || usage_error "--repo needs a value"; ecr_repo="$2"; shift ;;
    --no-build) build=0 ;;
    -h | --help) usage; exit 0 ;;
    *) usage_error "unexpected argument '$1'" ;;
  esac
  shift
done

if [ -z "$tag" ]; then
  tag="$(git -C "$repo_root" rev-parse --short=12 HEAD 2>/dev/null || echo latest)"
fi
case "$tag" in
  *[!A-Za-z0-9_.-]* | '') usage_error "invalid image tag '$tag'" ;;
esac

need_cmd "$docker_cmd"
need_aws_credentials

account="$(aws_account_id)"
registry="$account.dkr.ecr.$AWS_REGION.amazonaws.com"
uri="$registry/$ecr_repo:$tag"
local_image="file-processing:local"

if ! aws_cli ecr describe-repositories --repository-names "$ecr_repo" >/dev/null 2>&1; then
  log "creating ECR repository $ecr_repo"
  aws_cli ecr create-repository --repository-name "$ecr_repo" \
    --image-scanning-configuration scanOnPush=true --image-tag-mutability IMMUTABLE >/dev/null
fi

if [ "$build" = 1 ]; then
  log "building $local_image"
  "$docker_cmd" build -f "$repo_root/packages/file_processing/file-processing.Dockerfile" \
    -t "$local_image" "$repo_root"
fi

log "pushing $uri"
aws_cli ecr get-login-password | "$docker_cmd" login --username AWS --password-stdin "$registry"
"$docker_cmd" tag "$local_image" "$uri"
"$docker_cmd" push "$uri"

echo "$uri" >"$here/../terraform/container_image.txt"
log "wrote $uri to infra/file_processing/terraform/container_image.txt"
echo "$uri"
