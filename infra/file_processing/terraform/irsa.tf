# --- IRSA: the ServiceAccount's pods assume a role through the cluster's OIDC issuer -------
locals {
  oidc_issuer      = aws_eks_cluster.this.identity[0].oidc[0].issuer
  oidc_issuer_host = replace(local.oidc_issuer, "https://", "")
  # Object keys the service may read, and (optionally) write reports under.
  read_objects  = "${local.bucket_arn}/${var.s3_prefix}*"
  write_objects = "${local.bucket_arn}/${var.reports_prefix}*"
}

resource "aws_iam_openid_connect_provider" "eks" {
  url             = local.oidc_issuer
  client_id_list  = ["sts.amazonaws.com"]
  thumbprint_list = [lower(var.oidc_thumbprint)]
}

data "aws_iam_policy_document" "irsa_assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [aws_iam_openid_connect_provider.eks.arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer_host}:sub"
      values   = ["system:serviceaccount:${var.namespace}:${var.service_account_name}"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_issuer_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "service" {
  name               = "${local.cluster_name}-sa"
  assume_role_policy = data.aws_iam_policy_document.irsa_assume.json
}

# Least privilege: list only under the prefix, read only objects under it, write only
# reports under reports_prefix, consume only this service's queue. No "*" resources.
data "aws_iam_policy_document" "service" {
  statement {
    sid       = "ListClientPrefix"
    actions   = ["s3:ListBucket"]
    resources = [local.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = [var.s3_prefix, "${var.s3_prefix}*"]
    }
  }

  statement {
    sid       = "ReadClientObjects"
    actions   = ["s3:GetObject", "s3:GetObjectVersion"]
    resources = [local.read_objects]
  }

  statement {
    sid       = "WriteReports"
    actions   = ["s3:PutObject"]
    resources = [var.reports_prefix != "" ? local.write_objects : "${local.bucket_arn}/.no-reports/*"]
  }

  statement {
    sid = "ConsumeEventsQueue"
    actions = [
      "sqs:ReceiveMessage",
      "sqs:DeleteMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueAttributes",
      "sqs:GetQueueUrl",
    ]
    resources = [aws_sqs_queue.events.arn]
  }
}

resource "aws_iam_policy" "service" {
  name        = "${local.cluster_name}-s3-sqs"
  description = "file-processing: read s3://${var.bucket_name}/${var.s3_prefix}, write reports, consume its SQS queue"
  policy      = data.aws_iam_policy_document.service.json
}

resource "aws_iam_role_policy_attachment" "service" {
  role       = aws_iam_role.service.name
  policy_arn = aws_iam_policy.service.arn
}
