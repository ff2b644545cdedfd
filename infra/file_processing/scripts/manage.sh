#!/usr/bin/env bash
# manage.sh — Terraform for infra/file_processing (EKS, SNS/SQS, IRSA, Kubernetes resources).
set -euo pipefail

usage() {
  cat <<'USAGE'
Usage: infra/file_processing/scripts/manage.sh COMMAND [--auto-approve] [-- TERRAFORM_ARGS...]

Commands:
  init           terraform init
  plan           terraform plan
  apply          terraform apply (first time: the EKS cluster and node group first, then
                 the rest, because the Kubernetes provider needs the cluster)
  destroy        terraform destroy
  update-image [TAG]
                 build and push the image (scripts/ecr_put.sh TAG), then
                 terraform apply -var image=<URI from terraform/container_image.txt>
  outputs        terraform output

Options:
  --auto-approve   pass -auto-approve to apply/destroy (no prompt)
  -h, --help       this help

Settings: terraform/terraform.tfvars is used when present (copy terraform.tfvars.example).
AWS_PROFILE (default etl-playground) and AWS_REGION (default us-gov-west-1) select the
account for the credential check. TF_DIR overrides the Terraform directory.

Examples:
  infra/file_processing/scripts/manage.sh init
  infra/file_processing/scripts/manage.sh plan
  infra/file_processing/scripts/manage.sh apply
  infra/file_processing/scripts/manage.sh update-image v0.1.0
  infra/file_processing/scripts/manage.sh outputs
USAGE
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

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
tag=""
extra=()
while [ "$#" -gt 0 ]; do
  case "$1" in
    --auto-approve) auto=(-auto-approve) ;;
    -h | --help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    -*) usage_error "unknown option '$1'" ;;
    *)
      if [ "$cmd" = update-image ] && [ -z "$tag" ]; then tag="$1"; else usage_error "unexpected argument '$1'"; fi
      ;;
  esac
  shift
done

var_file=()
if [ -f "$tf_dir/terraform.tfvars" ]; then var_file=(-var-file=terraform.tfvars); fi

tf() {
  terraform -chdir="$tf_dir" "$@"
}

case "$cmd" in
  init)
    need_cmd terraform
    tf init -input=false "${extra[@]}"
    ;;
  plan)
    need_cmd terraform
    need_aws_credentials
    tf plan -input=false "${var_file[@]}" "${extra[@]}"
    ;;
  apply)
    need_cmd terraform
    need_aws_credentials
    if ! tf state list 2>/dev/null | grep -qx 'aws_eks_cluster.this'; then
      log "no cluster in the state yet: creating the EKS cluster and node group first"
      tf apply -input=false "${auto[@]}" "${var_file[@]}" \
        -target=aws_eks_cluster.this -target=aws_eks_node_group.default "${extra[@]}"
    fi
    tf apply -input=false "${auto[@]}" "${var_file[@]}" "${extra[@]}"
    ;;
  destroy)
    need_cmd terraform
    need_aws_credentials
    tf destroy -input=false "${auto[@]}" "${var_file[@]}" "${extra[@]}"
    ;;
  update-image)
    need_cmd terraform
    need_aws_credentials
    "$here/ecr_put.sh" ${tag:+--tag "$tag"}
    image_file="$tf_dir/container_image.txt"
    [ -s "$image_file" ] || die "$image_file is missing or empty after ecr_put.sh"
    image="$(tr -d '[:space:]' <"$image_file")"
    log "deploying image $image"
    tf apply -input=false "${auto[@]}" "${var_file[@]}" -var "image=$image" "${extra[@]}"
    ;;
  outputs)
    need_cmd terraform
    tf output "${extra[@]}"
    ;;
  *)
    usage_error "unknown command '$cmd'"
    ;;
esac
