# Container instances ---------------------------------------------------------

data "aws_iam_policy_document" "ec2_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "ecs_instance" {
  name               = "${local.name}-ecs-instance"
  description        = "ECS container instances of ${local.name}: ECS agent, optional SSM Session Manager"
  assume_role_policy = data.aws_iam_policy_document.ec2_assume_role.json
  tags               = local.tags
}

# The AWS-managed policy for the ECS agent (register the instance, poll for
# tasks, report state).
resource "aws_iam_role_policy_attachment" "ecs_instance_agent" {
  role       = aws_iam_role.ecs_instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_role_policy_attachment" "ecs_instance_ssm" {
  count = var.enable_ssm_session_manager ? 1 : 0

  role       = aws_iam_role.ecs_instance.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "ecs_instance" {
  name = "${local.name}-ecs-instance"
  role = aws_iam_role.ecs_instance.name
  tags = local.tags
}

# Tasks -----------------------------------------------------------------------

# Only ECS, acting for this account, may assume the execution role
# (confused-deputy guard).
data "aws_iam_policy_document" "ecs_tasks_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# Task roles: only ECS, for a task of this account and Region.
data "aws_iam_policy_document" "ecs_task_role_assume_role" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:ecs:${local.region}:${local.account_id}:*"]
    }
  }
}

# Used by the ECS agent to start the tasks: pull the two images, write the two
# log groups. Nothing else.
resource "aws_iam_role" "task_execution" {
  name               = "${local.name}-task-execution"
  description        = "ECS task execution role of ${local.name}: pull the service images, write their logs"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume_role.json
  tags               = local.tags
}

data "aws_iam_policy_document" "task_execution" {
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # the action has no resource-level permissions
  }

  statement {
    sid = "PullServiceImages"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = [
      aws_ecr_repository.service_a.arn,
      aws_ecr_repository.service_b.arn,
    ]
  }

  statement {
    sid = "WriteServiceLogs"
    actions = [
      "logs:CreateLogStream",
      "logs:PutLogEvents",
    ]
    resources = [
      "${aws_cloudwatch_log_group.service_a.arn}:*",
      "${aws_cloudwatch_log_group.service_b.arn}:*",
    ]
  }
}

resource "aws_iam_role_policy" "task_execution" {
  name   = "pull-images-write-logs"
  role   = aws_iam_role.task_execution.id
  policy = data.aws_iam_policy_document.task_execution.json
}

# B calls no AWS API, and neither does A with DNS discovery: their task roles
# carry no permissions then. They exist so that a container never falls back to
# other credentials. With var.service_a_discovery_source = "cloudmap", A's role
# may read this one Cloud Map service's instances, nothing else.
resource "aws_iam_role" "service_a_task" {
  name               = "${local.name}-service-a-task"
  description        = "Task role of service A: no AWS permissions, or DiscoverInstances on service_b with cloudmap discovery"
  assume_role_policy = data.aws_iam_policy_document.ecs_task_role_assume_role.json
  tags               = local.tags
}

resource "aws_iam_role" "service_b_task" {
  name               = "${local.name}-service-b-task"
  description        = "Task role of service B: no AWS permissions"
  assume_role_policy = data.aws_iam_policy_document.ecs_task_role_assume_role.json
  tags               = local.tags
}

# DiscoverInstances and DiscoverInstancesRevision take no resource ARN (the
# resource is "*"); the condition keys narrow them to this namespace and service.
data "aws_iam_policy_document" "service_a_cloudmap" {
  statement {
    sid = "DiscoverServiceB"
    actions = [
      "servicediscovery:DiscoverInstances",
      "servicediscovery:DiscoverInstancesRevision",
    ]
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "servicediscovery:NamespaceName"
      values   = [local.namespace_name]
    }

    condition {
      test     = "StringEquals"
      variable = "servicediscovery:ServiceName"
      values   = [aws_service_discovery_service.service_b.name]
    }
  }
}

resource "aws_iam_role_policy" "service_a_cloudmap" {
  count = var.service_a_discovery_source == "cloudmap" ? 1 : 0

  name   = "discover-service-b"
  role   = aws_iam_role.service_a_task.id
  policy = data.aws_iam_policy_document.service_a_cloudmap.json
}
