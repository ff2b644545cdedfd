#!/usr/bin/env bash
# manage.sh — Terraform for infra/foundation_network (VPC, subnets, IGW, NAT, routes).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/foundation_network/scripts/manage.sh init|plan|apply|destroy|outputs [--auto-approve] [-- TERRAFORM_ARGS...]

Commands:
  init      terraform init
  plan      terraform plan
  apply     terraform apply (creates the VPC tagged <prefix>-vpc that
            infra/file_processing looks up)
  destroy   terraform destroy (destroy infra/file_processing first)
  outputs   terraform output

Options:
  --auto-approve   pass -auto-approve to apply/destroy
  -h, --help       this help

Settings: terraform/terraform.tfvars when present (copy terraform.tfvars.example).
AWS_PROFILE (default etl-playground), AWS_REGION (default us-gov-west-1), TF_DIR.

Example:
  infra/foundation_network/scripts/manage.sh init
  infra/foundation_network/scripts/manage.sh apply
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../file_processing/scripts/lib.sh
source "$here/../../file_processing/scripts/lib.sh"

tf_dir="${TF_DIR:-$here/../terraform}"
[ -d "$tf_dir" ] || die "Terraform directory not found: $tf_dir"
tf_dir="$(cd "$tf_dir" && pwd)"
export AWS_PROFILE="${AWS_PROFILE:-etl-playground}"
export AWS_REGION="${AWS_REGION:-us-gov-west-1}"

cmd="${1:-}"
case "$cmd" in
  -h | --help | help) usage; exit 0 ;;
  '') usage >&2; exit 2 ;;
esac
shift

auto=()
extra=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --auto-approve) auto=(-auto-approve) ;;
    -h | --help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) usage_error "unexpected argument '$1'" ;;
  esac
  shift
done

var_file=()
if [ -f "$tf_dir/terraform.tfvars" ]; then var_file=(-var-file=terraform.tfvars); fi

tf() {
  terraform -chdir="$tf_dir" "$@"
}

need_cmd terraform
case "$cmd" in
  init) tf init -input=false "${extra[@]}" ;;
  plan) need_aws_credentials; tf plan -input=false "${var_file[@]}" "${extra[@]}" ;;
  apply) need_aws_credentials; tf apply -input=false "${auto[@]}" "${var_file[@]}" "${extra[@]}" ;;
  destroy) need_aws_credentials; tf destroy -input=false "${auto[@]}" "${var_file[@]}" "${extra[@]}" ;;
  outputs) tf output "${extra[@]}" ;;
  *) usage_error "unknown command '$cmd'" ;;
esac
