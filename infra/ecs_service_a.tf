locals {
  service_a_container_name = "task_a_container"
  service_a_container_port = 8080

  # Cloud Map publishes <service>.<namespace>; A looks it up through the
  # instance's resolver (bridge-mode containers inherit the host's resolv.conf,
  # i.e. the VPC resolver), so DNS_SERVERS stays unset.
  service_b_srv_name = "${aws_service_discovery_service.service_b.name}.${local.namespace_name}"

  # DISCOVERY_SOURCE=cloudmap: A asks the Cloud Map API (DiscoverInstances) with
  # its task role instead of DNS; the SDK reads AWS_REGION.
  service_a_discovery_environment = var.service_a_discovery_source == "cloudmap" ? [
    { name = "DISCOVERY_SOURCE", value = "cloudmap" },
    { name = "CLOUDMAP_NAMESPACE", value = local.namespace_name },
    { name = "CLOUDMAP_SERVICE", value = aws_service_discovery_service.service_b.name },
    { name = "AWS_REGION", value = local.region },
    ] : [
    { name = "DISCOVERY_SOURCE", value = "dns" },
  ]
}

resource "aws_ecs_task_definition" "service_a" {
  family                   = "${local.name}-service-a"
  network_mode             = "bridge"
  requires_compatibilities = ["EC2"]
  execution_role_arn       = aws_iam_role.task_execution.arn
  task_role_arn            = aws_iam_role.service_a_task.arn

  container_definitions = jsonencode([
    {
      name      = local.service_a_container_name
      image     = "${aws_ecr_repository.service_a.repository_url}:${var.service_a_image_tag}"
      essential = true
      memory    = var.service_a_memory_mib

      # Dynamic host port: the ALB target group learns it from ECS.
      portMappings = [
        { containerPort = local.service_a_container_port, hostPort = 0, protocol = "tcp" },
      ]

      environment = concat([
        { name = "PORT", value = tostring(local.service_a_container_port) },
        { name = "SERVICE_B_SRV", value = local.service_b_srv_name },
        { name = "LOG_LEVEL", value = var.log_level },
      ], local.service_a_discovery_environment)

      healthCheck = {
        command     = ["CMD", "node", "-e", format(local.healthcheck_node_script, local.service_a_container_port)]
        interval    = 10
        timeout     = 5
        retries     = 3
        startPeriod = 15
      }

      stopTimeout = 30

      linuxParameters = { initProcessEnabled = true }

      logConfiguration = {
        logDriver = "awslogs"
        options = {
          "awslogs-group"         = aws_cloudwatch_log_group.service_a.name
          "awslogs-region"        = local.region
          "awslogs-stream-prefix" = "service-a"
          "mode"                  = "non-blocking"
          "max-buffer-size"       = "25m"
        }
      }
    },
  ])

  tags = local.tags
}

resource "aws_ecs_service" "service_a" {
  name            = "${local.name}-service-a"
  cluster         = aws_ecs_cluster.ecs_cluster.id
  task_definition = aws_ecs_task_definition.service_a.arn
  desired_count   = var.service_a_desired_count
  launch_type     = "EC2"

  # Dynamic host ports let old and new tasks share an instance: no downtime.
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  placement_constraints {
    type       = "memberOf"
    expression = "attribute:TaskType == service_a"
  }

  ordered_placement_strategy {
    type  = "spread"
    field = "attribute:ecs.availability-zone"
  }

  dynamic "load_balancer" {
    for_each = aws_lb_target_group.service_a
    content {
      target_group_arn = load_balancer.value.arn
      container_name   = local.service_a_container_name
      container_port   = local.service_a_container_port
    }
  }

  health_check_grace_period_seconds = var.enable_alb ? 30 : null

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  enable_ecs_managed_tags = true
  propagate_tags          = "SERVICE"
  tags                    = local.tags

  # ECS refuses a target group that no listener (rule) forwards to yet; on
  # destroy the service goes before the instances, their capacity providers and
  # the execution role's permissions.
  depends_on = [
    aws_iam_role_policy.task_execution,
    aws_autoscaling_group.ecs,
    aws_ecs_cluster_capacity_providers.ecs_cluster,
    aws_lb_listener.http,
    aws_lb_listener.https,
    aws_lb_listener_rule.api,
    aws_iam_role_policy.service_a_cloudmap,
  ]
}
