# --- Kubernetes resources (same shapes as infra/file_processing/k8s/*.yaml) ---------------
locals {
  listener_labels = merge(local.app_labels, { "app.kubernetes.io/name" = "file-processing-sns" })
  worker_labels   = merge(local.app_labels, { "app.kubernetes.io/name" = "file-processing-sqs-worker" })
  use_secret      = var.database_url != ""
}

resource "kubernetes_namespace_v1" "this" {
  metadata {
    name   = var.namespace
    labels = local.app_labels
  }

  depends_on = [aws_eks_node_group.default]
}

resource "kubernetes_service_account_v1" "this" {
  metadata {
    name      = var.service_account_name
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.app_labels
    annotations = {
      "eks.amazonaws.com/role-arn" = aws_iam_role.service.arn
    }
  }
}

resource "kubernetes_config_map_v1" "this" {
  metadata {
    name      = "file-processing"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.app_labels
  }

  data = {
    AWS_REGION          = data.aws_region.current.name
    FP_SNS_TOPIC_ARNS   = aws_sns_topic.events.arn
    FP_SQS_QUEUE_URL    = aws_sqs_queue.events.id
    FP_CONTRACTS_DIR    = "/usr/local/share/file-processing/contracts"
    FP_LOG_FORMAT       = "json"
    FP_LOG_LEVEL        = "info"
    FP_WORKERS          = tostring(var.listener_workers)
    FP_THREADS          = "1" # threads per file: the workers share the pod's CPU limit
    FP_REPORT_S3_URI    = var.reports_prefix != "" ? "s3://${var.bucket_name}/${var.reports_prefix}" : ""
    FP_SHUTDOWN_GRACE_S = "25"
  }
}

resource "kubernetes_secret_v1" "db" {
  count = local.use_secret ? 1 : 0

  metadata {
    name      = "file-processing-db"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.app_labels
  }

  data = {
    DATABASE_URL = var.database_url
  }
}

resource "kubernetes_deployment_v1" "listener" {
  metadata {
    name      = "file-processing-sns"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.listener_labels
  }

  spec {
    replicas = var.listener_replicas

    selector {
      match_labels = local.listener_labels
    }

    template {
      metadata {
        labels = local.listener_labels
      }

      spec {
        service_account_name             = kubernetes_service_account_v1.this.metadata[0].name
        termination_grace_period_seconds = 40

        security_context {
          run_as_non_root = true
          run_as_user     = 10001
          run_as_group    = 10001
          fs_group        = 10001
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name    = "listener"
          image   = local.image
          command = ["file-processing-sns"]
          args    = ["--port", "8080"]

          port {
            name           = "http"
            container_port = 8080
          }

          env_from {
            config_map_ref {
              name = kubernetes_config_map_v1.this.metadata[0].name
            }
          }

          dynamic "env_from" {
            for_each = local.use_secret ? ["file-processing-db"] : []
            content {
              secret_ref {
                name = env_from.value
              }
            }
          }

          resources {
            requests = {
              cpu    = "250m"
              memory = "256Mi"
            }
            limits = {
              cpu    = "2"
              memory = "1Gi"
            }
          }

          liveness_probe {
            http_get {
              path = "/healthz"
              port = "http"
            }
            initial_delay_seconds = 5
            period_seconds        = 10
            failure_threshold     = 3
          }

          readiness_probe {
            http_get {
              path = "/readyz"
              port = "http"
            }
            period_seconds    = 5
            failure_threshold = 2
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }

          volume_mount {
            name       = "data"
            mount_path = "/var/lib/file-processing"
          }
        }

        volume {
          name = "tmp"
          empty_dir {}
        }

        volume {
          name = "data"
          empty_dir {}
        }
      }
    }
  }

  depends_on = [kubernetes_secret_v1.db]
}

resource "kubernetes_service_v1" "listener" {
  metadata {
    name      = "file-processing-sns"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.listener_labels
  }

  spec {
    type     = "LoadBalancer"
    selector = local.listener_labels

    port {
      name        = "http"
      port        = 80
      target_port = "http"
    }
  }
}

# SQS mode: workers poll the queue the topic feeds (no public endpoint needed).
resource "kubernetes_deployment_v1" "sqs_worker" {
  count = var.sqs_worker_replicas > 0 ? 1 : 0

  metadata {
    name      = "file-processing-sqs-worker"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.worker_labels
  }

  spec {
    replicas = var.sqs_worker_replicas

    selector {
      match_labels = local.worker_labels
    }

    template {
      metadata {
        labels = local.worker_labels
      }

      spec {
        service_account_name             = kubernetes_service_account_v1.this.metadata[0].name
        termination_grace_period_seconds = 40

        security_context {
          run_as_non_root = true
          run_as_user     = 10001
          run_as_group    = 10001
          fs_group        = 10001
          seccomp_profile {
            type = "RuntimeDefault"
          }
        }

        container {
          name    = "worker"
          image   = local.image
          command = ["file-processing"]
          args    = ["worker", "--sqs-queue-url", aws_sqs_queue.events.id]

          env_from {
            config_map_ref {
              name = kubernetes_config_map_v1.this.metadata[0].name
            }
          }

          dynamic "env_from" {
            for_each = local.use_secret ? ["file-processing-db"] : []
            content {
              secret_ref {
                name = env_from.value
              }
            }
          }

          resources {
            requests = {
              cpu    = "250m"
              memory = "256Mi"
            }
            limits = {
              cpu    = "2"
              memory = "1Gi"
            }
          }

          security_context {
            allow_privilege_escalation = false
            read_only_root_filesystem  = true
            capabilities {
              drop = ["ALL"]
            }
          }

          volume_mount {
            name       = "tmp"
            mount_path = "/tmp"
          }

          volume_mount {
            name       = "data"
            mount_path = "/var/lib/file-processing"
          }
        }

        volume {
          name = "tmp"
          empty_dir {}
        }

        volume {
          name = "data"
          empty_dir {}
        }
      }
    }
  }

  depends_on = [kubernetes_secret_v1.db]
}
