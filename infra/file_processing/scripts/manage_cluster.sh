#!/usr/bin/env bash
# manage_cluster.sh — legacy entry point kept for old runbooks; use manage.sh.
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/manage_cluster.sh create|delete|status|kubeconfig [--auto-approve]

Legacy wrapper over manage.sh:
  create       = manage.sh init, then manage.sh apply
  delete       = manage.sh destroy
  status       = manage.sh outputs
  kubeconfig   aws eks update-kubeconfig for the cluster named in the Terraform outputs

Example:
  infra/file_processing/scripts/manage_cluster.sh kubeconfig
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

cmd="${1:-}"
case "$cmd" in
  -h | --help | help) usage; exit 0 ;;
  '') usage >&2; exit 2 ;;
esac
shift

log "deprecated: use infra/file_processing/scripts/manage.sh"
case "$cmd" in
  create)
    "$here/manage.sh" init
    exec "$here/manage.sh" apply "$@"
    ;;
  delete) exec "$here/manage.sh" destroy "$@" ;;
  status) exec "$here/manage.sh" outputs "$@" ;;
  kubeconfig)
    need_cmd terraform
    need_cmd kubectl
    export AWS_PROFILE="${AWS_PROFILE:-etl-playground}"
    export AWS_REGION="${AWS_REGION:-us-gov-west-1}"
    need_aws_credentials
    name="$(terraform -chdir="${TF_DIR:-$here/../terraform}" output -raw cluster_name)"
    [ -n "$name" ] || die "no cluster_name in the Terraform outputs (run manage.sh apply first)"
    aws_cli eks update-kubeconfig --name "$name"
    kubectl get nodes
    ;;
  *) usage_error "unknown command '$cmd'" ;;
esac
