variable "region" {
  description = "AWS region (GovCloud by default)."
  type        = string
  default     = "us-gov-west-1"
}

variable "aws_profile" {
  description = "Named AWS CLI profile used by the provider."
  type        = string
  default     = "etl-playground"
}

variable "prefix" {
  description = "Name prefix shared with infra/foundation_network (VPC tagged <prefix>-vpc)."
  type        = string
  default     = "etl-platform"
}

variable "vpc_id" {
  description = "VPC to use. Empty: look the VPC up by its Name tag <prefix>-vpc."
  type        = string
  default     = ""
}

variable "cluster_name" {
  description = "EKS cluster name. Empty: <prefix>-file-processing."
  type        = string
  default     = ""
}

variable "kubernetes_version" {
  description = "EKS control-plane version."
  type        = string
  default     = "1.30"
}

variable "node_instance_types" {
  description = "Instance types of the managed node group."
  type        = list(string)
  default     = ["t3.large"]
}

variable "node_desired_size" {
  description = "Desired node count."
  type        = number
  default     = 2
}

variable "node_min_size" {
  description = "Minimum node count."
  type        = number
  default     = 1
}

variable "node_max_size" {
  description = "Maximum node count."
  type        = number
  default     = 4
}

variable "image" {
  description = "Container image URI. Empty: the URI in container_image.txt (written by scripts/ecr_put.sh)."
  type        = string
  default     = ""
}

variable "namespace" {
  description = "Kubernetes namespace for the workloads."
  type        = string
  default     = "file-processing"
}

variable "service_account_name" {
  description = "Kubernetes ServiceAccount bound to the IRSA role."
  type        = string
  default     = "file-processing"
}

variable "bucket_name" {
  description = "S3 bucket holding the client files (read) and, under reports_prefix, the reports (write)."
  type        = string
}

variable "s3_prefix" {
  description = "Key prefix of the client files the service reads (and that notifications fire for)."
  type        = string
  default     = "from_client/"
}

variable "reports_prefix" {
  description = "Key prefix the service may write JSON reports under (FP_REPORT_S3_URI). Empty: no write access."
  type        = string
  default     = "dq_reports/"
}

variable "create_s3_notifications" {
  description = "Configure the bucket's ObjectCreated notifications to publish to the SNS topic."
  type        = bool
  default     = false
}

variable "sns_topic_name" {
  description = "SNS topic name. Empty: <prefix>-file-processing-events."
  type        = string
  default     = ""
}

variable "sns_endpoint_url" {
  description = "HTTP(S) endpoint subscribed to the topic (the listener's public URL). Empty: none."
  type        = string
  default     = ""

  validation {
    condition     = var.sns_endpoint_url == "" || can(regex("^https?://", var.sns_endpoint_url))
    error_message = "sns_endpoint_url must start with http:// or https://."
  }
}

variable "sqs_max_receive_count" {
  description = "Deliveries of one SQS message before it moves to the dead-letter queue."
  type        = number
  default     = 5
}

variable "oidc_thumbprint" {
  description = "SHA-1 thumbprint of the cluster OIDC issuer's root CA (40 hex digits)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-fA-F]{40}$", var.oidc_thumbprint))
    error_message = "oidc_thumbprint must be 40 hex digits."
  }
}

variable "listener_replicas" {
  description = "Replicas of the file-processing-sns Deployment."
  type        = number
  default     = 2
}

variable "listener_workers" {
  description = "Worker threads inside each listener pod (FP_WORKERS)."
  type        = number
  default     = 2
}

variable "sqs_worker_replicas" {
  description = "Replicas of the SQS worker Deployment (file-processing worker --sqs-queue-url). 0: not deployed."
  type        = number
  default     = 0
}

variable "database_url" {
  description = "Results DB URL (postgresql://...) stored in a Secret. Empty: each pod uses its own SQLite file (single replica only)."
  type        = string
  default     = ""
  sensitive   = true
}

variable "tags" {
  description = "Extra tags applied to every AWS resource."
  type        = map(string)
  default     = {}
}
