locals {
  # The seed's names: service_registries below must name this container and port.
  service_b_container_name = "task_b_container"
  service_b_container_port = 80
}

resource "aws_ecs_task_definition" "service_b_containers" {
  family                   = "${local.name}-service-b"
  network_mode             = "bridge"
  requires_compatibilities = ["EC2"]
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.service_b_task.arn

  container_definitions = jsonencode([
    {
      name      = local.service_b_container_name
      image     = "${aws_ecr_repository.service_b.repository_url}:${var.service_b_image_tag}"
      essential = true
      memory    = var.service_b_memory_mib

      # hostPort 0: ECS picks a free host port per task and publishes it in the
      # task's SRV record, so several B tasks fit on one instance.
      portMappings = [
        { containerPort = local.service_b_container_port, hostPort = 0, protocol = "tcp" },
      ]

      environment = [
        { name = "PORT", value = tostring(local.service_b_container_port) },
        # Set here, not left to B's code default: the right value depends on
        # Cloud Map and Route 53 (see var.service_b_drain_delay_ms).
        { name = "DRAIN_DELAY_MS", value = tostring(var.service_b_drain_delay_ms) },
        { name = "LOG_LEVEL", value = var.log_level },
      ]

      healthCheck = {
        command     = ["CMD", "node", "-e", format(local.healthcheck_node_script, local.service_b_container_port)]
        interval    = 10
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }

      # Longer than DRAIN_DELAY_MS, so B drains and closes before SIGKILL.
      stopTimeout = local.service_b_stop_timeout_seconds

      linuxParameters = { initProcessEnabled = true }

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.service_b.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "service-b"
          "mode"                  = "non-blocking"
          "max-buffer-size"       = "25m"
        }
      }
    },
  ])

  tags = local.tags
}

resource "aws_ecs_service" "service_b_containers" {
  name            = "${local.name}-service-b"
  cluster         = aws_ecs_cluster.ecs_cluster.id
  task_definition = aws_ecs_task_definition.service_b_containers.arn
  desired_count   = var.service_b_desired_count
  launch_type     = "EC2"

  # Default: the seed's 0 %/100 % (a deployment stops the old tasks before it
  # starts new ones: no spare capacity needed, but a gap in which
  # service_b.ecs.internal is NXDOMAIN). var.service_b_zero_gap_deployment:
  # 100 %/200 % (new tasks register before old ones stop; dynamic host ports let
  # both run on one instance).
  deployment_minimum_healthy_percent = var.service_b_zero_gap_deployment ? 100 : 0
  deployment_maximum_percent         = var.service_b_zero_gap_deployment ? 200 : 100

  placement_constraints {
    type       = "memberOf"
    expression = "attribute:TaskType == service_b"
  }

  # Spread B over AZs, then instances, so one lost host does not take every SRV target.
  ordered_placement_strategy {
    type  = "spread"
    field = "attribute:ecs.availability-zone"
  }

  ordered_placement_strategy {
    type  = "spread"
    field = "instanceId"
  }

  # サービスの登録追加: one SRV record per task, port = the task's dynamic host port.
  service_registries {
    registry_arn   = aws_service_discovery_service.service_b.arn
    container_name = "task_b_container" # タスク内のコンテナ名
    container_port = 80                 # 設定しているコンテナポート
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  tags                    = local.tags

  # On destroy, the service (and its tasks) goes before the instances, their
  # capacity providers (managed draining) and the execution role's permissions,
  # so tasks drain instead of being cut off.
  depends_on = [
    aws_iam_role_policy.task_execution,
    aws_autoscaling_group.ecs,
    aws_ecs_cluster_capacity_providers.ecs_cluster,
  ]
}
