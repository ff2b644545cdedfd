# --- SNS topic: S3 ObjectCreated -> topic -> (HTTP listener | SQS queue) -----------------
resource "aws_sns_topic" "events" {
  name = local.topic_name
}

data "aws_iam_policy_document" "topic" {
  statement {
    sid     = "OwnerManagesTopic"
    actions = ["sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:ListSubscriptionsByTopic", "sns:Publish"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
    resources = [aws_sns_topic.events.arn]
  }

  statement {
    sid     = "AllowS3BucketToPublish"
    actions = ["sns:Publish"]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    resources = [aws_sns_topic.events.arn]
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.bucket_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "events" {
  arn    = aws_sns_topic.events.arn
  policy = data.aws_iam_policy_document.topic.json
}

# --- optional: the bucket's notifications publish to the topic ---------------------------
resource "aws_s3_bucket_notification" "to_sns" {
  count  = var.create_s3_notifications ? 1 : 0
  bucket = var.bucket_name

  topic {
    topic_arn     = aws_sns_topic.events.arn
    events        = ["s3:ObjectCreated:*"]
    filter_prefix = var.s3_prefix
  }

  depends_on = [aws_sns_topic_policy.events]
}

# --- optional: HTTP(S) subscription of the listener (it confirms by itself) ---------------
resource "aws_sns_topic_subscription" "http" {
  count                  = var.sns_endpoint_url != "" ? 1 : 0
  topic_arn              = aws_sns_topic.events.arn
  protocol               = startswith(var.sns_endpoint_url, "https://") ? "https" : "http"
  endpoint               = var.sns_endpoint_url
  endpoint_auto_confirms = true
  raw_message_delivery   = false
}

# --- SNS -> SQS with a dead-letter queue ---------------------------------------------------
resource "aws_sqs_queue" "dlq" {
  name                      = "${local.topic_name}-dlq"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "events" {
  name                       = "${local.topic_name}-queue"
  visibility_timeout_seconds = 900
  message_retention_seconds  = 345600
  receive_wait_time_seconds  = 20
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.sqs_max_receive_count
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.events.arn]
  })
}

data "aws_iam_policy_document" "queue" {
  statement {
    sid     = "AllowTopicToSend"
    actions = ["sqs:SendMessage"]
    principals {
      type        = "Service"
      identifiers = ["sns.amazonaws.com"]
    }
    resources = [aws_sqs_queue.events.arn]
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_sns_topic.events.arn]
    }
  }
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy    = data.aws_iam_policy_document.queue.json
}

resource "aws_sns_topic_subscription" "sqs" {
  topic_arn            = aws_sns_topic.events.arn
  protocol             = "sqs"
  endpoint             = aws_sqs_queue.events.arn
  raw_message_delivery = false

  depends_on = [aws_sqs_queue_policy.events]
}
