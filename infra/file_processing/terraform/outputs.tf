output "cluster_name" {
  description = "EKS cluster name (aws eks update-kubeconfig --name ...)."
  value       = aws_eks_cluster.this.name
}

output "cluster_endpoint" {
  description = "EKS API endpoint."
  value       = aws_eks_cluster.this.endpoint
}

output "vpc_id" {
  description = "VPC the cluster runs in."
  value       = data.aws_vpc.selected.id
}

output "sns_topic_arn" {
  description = "Topic the bucket notifications publish to."
  value       = aws_sns_topic.events.arn
}

output "sqs_queue_url" {
  description = "Queue fed by the topic (file-processing worker --sqs-queue-url)."
  value       = aws_sqs_queue.events.id
}

output "sqs_dlq_url" {
  description = "Dead-letter queue of the events queue."
  value       = aws_sqs_queue.dlq.id
}

output "service_role_arn" {
  description = "IRSA role of the file-processing ServiceAccount."
  value       = aws_iam_role.service.arn
}

output "oidc_provider_arn" {
  description = "IAM OIDC provider of the cluster."
  value       = aws_iam_openid_connect_provider.eks.arn
}

output "namespace" {
  description = "Kubernetes namespace of the workloads."
  value       = kubernetes_namespace_v1.this.metadata[0].name
}

output "image" {
  description = "Container image the Deployments run."
  value       = local.image
}

output "listener_hostname" {
  description = "Load balancer host name of the listener Service (empty until provisioned)."
  value       = try(kubernetes_service_v1.listener.status[0].load_balancer[0].ingress[0].hostname, "")
}
