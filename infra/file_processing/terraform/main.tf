data "aws_partition" "current" {}

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  partition    = data.aws_partition.current.partition
  account_id   = data.aws_caller_identity.current.account_id
  cluster_name = var.cluster_name != "" ? var.cluster_name : "${var.prefix}-file-processing"
  topic_name   = var.sns_topic_name != "" ? var.sns_topic_name : "${var.prefix}-file-processing-events"
  image        = var.image != "" ? var.image : trimspace(file("${path.module}/container_image.txt"))
  bucket_arn   = "arn:${local.partition}:s3:::${var.bucket_name}"
  app_labels   = { "app.kubernetes.io/part-of" = "file-processing" }
  common_tags  = merge({ Project = var.prefix, Service = "file-processing", ManagedBy = "terraform" }, var.tags)
}

# --- network: the VPC from infra/foundation_network (by Name tag) or var.vpc_id ---------
data "aws_vpc" "selected" {
  id = var.vpc_id != "" ? var.vpc_id : null

  tags = var.vpc_id != "" ? null : {
    Name = "${var.prefix}-vpc"
  }
}

data "aws_subnets" "private" {
  filter {
    name   = "vpc-id"
    values = [data.aws_vpc.selected.id]
  }

  tags = {
    Name = "${var.prefix}-private-*"
  }
}
