# EC2 container instances: one launch template and one auto scaling group per
# task type. Each instance joins the cluster with the ECS attribute TaskType,
# which the services' memberOf placement constraints select on.
#
# Each group is also an ECS capacity provider with managed instance draining:
# when the group removes an instance (scale-in, instance refresh, AZ rebalance,
# maximum instance lifetime), ECS holds it in a termination lifecycle hook, sets
# the container instance to DRAINING, lets the services replace its tasks as
# their minimum/maximum percentages allow (B's drain and stopTimeout included;
# with 0 %/100 % a task may stop before its replacement runs) and only then
# lets it terminate.
#
# The services keep the seed's launch_type = "EC2": a service takes either a
# launch type or a capacity provider strategy, and draining is a property of the
# container instance, whichever way its tasks were placed. Managed scaling and
# managed termination protection stay off: ECS sizes a group only for tasks
# placed through a capacity provider strategy, so the groups keep the fixed
# sizes of var.capacity.

data "aws_ssm_parameter" "ecs_ami" {
  name = var.ecs_ami_ssm_parameter
}

locals {
  # /etc/ecs/ecs.config, read by the ECS agent at start.
  ecs_user_data = {
    for task_type in local.task_types : task_type => <<-EOT
      #!/bin/bash
      set -euo pipefail
      cat >>/etc/ecs/ecs.config <<'CONFIG'
      ECS_CLUSTER=${aws_ecs_cluster.ecs_cluster.name}
      ECS_INSTANCE_ATTRIBUTES=${jsonencode({ TaskType = task_type })}
      ECS_ENABLE_TASK_IAM_ROLE=true
      CONFIG
    EOT
  }
}

resource "aws_launch_template" "ecs" {
  for_each = local.task_types

  name_prefix            = "${local.name}-${replace(each.key, "_", "-")}-"
  description            = "ECS container instances for ${each.key} tasks"
  image_id               = data.aws_ssm_parameter.ecs_ami.insecure_value
  instance_type          = var.capacity[each.key].instance_type
  vpc_security_group_ids = [aws_security_group.instances.id]
  user_data              = base64encode(local.ecs_user_data[each.key])
  update_default_version = true
  tags                   = local.tags

  iam_instance_profile {
    arn = aws_iam_instance_profile.ecs_instance.arn
  }

  # IMDSv2 only, and a hop limit of 1: containers in bridge mode sit one hop
  # behind the host, so they cannot read the instance role's credentials.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_size           = 30
      volume_type           = "gp3"
      encrypted             = true
      delete_on_termination = true
    }
  }

  tag_specifications {
    resource_type = "instance"
    tags = merge(local.tags, {
      Name     = "${local.name}-${each.key}"
      TaskType = each.key
    })
  }

  tag_specifications {
    resource_type = "volume"
    tags = merge(local.tags, {
      Name     = "${local.name}-${each.key}"
      TaskType = each.key
    })
  }
}

resource "aws_autoscaling_group" "ecs" {
  for_each = local.task_types

  name                = "${local.name}-${replace(each.key, "_", "-")}"
  vpc_zone_identifier = var.subnet_ids
  min_size            = var.capacity[each.key].min_size
  max_size            = var.capacity[each.key].max_size
  desired_capacity    = var.capacity[each.key].desired_capacity
  health_check_type   = "EC2"

  launch_template {
    id      = aws_launch_template.ecs[each.key].id
    version = aws_launch_template.ecs[each.key].latest_version
  }

  # ECS tags a group it manages as a capacity provider; declared here so that
  # plans show no drift.
  tag {
    key                 = "AmazonECSManaged"
    value               = "true"
    propagate_at_launch = true
  }

  dynamic "tag" {
    for_each = { for key, value in local.tags : key => value if !contains(["Name", "TaskType", "AmazonECSManaged"], key) }
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  tag {
    key                 = "Name"
    value               = "${local.name}-${each.key}"
    propagate_at_launch = true
  }

  tag {
    key                 = "TaskType"
    value               = each.key
    propagate_at_launch = true
  }

  # ECS adds its managed-draining termination lifecycle hook to the group
  # itself; this resource leaves alone hooks it did not declare.
}

resource "aws_ecs_capacity_provider" "ecs" {
  for_each = local.task_types

  # CreateCapacityProvider refuses names that start with "aws", "ecs" or
  # "fargate" (the default prefix is "ecs-srv"): hence the leading "cp-".
  name = "cp-${local.name}-${replace(each.key, "_", "-")}"

  auto_scaling_group_provider {
    auto_scaling_group_arn         = aws_autoscaling_group.ecs[each.key].arn
    managed_draining               = "ENABLED"
    managed_termination_protection = "DISABLED"

    managed_scaling {
      status = "DISABLED"
    }
  }

  tags = local.tags
}

# Associates the providers with the cluster (ECS drains only instances of a
# cluster's providers). No default strategy: the services place by launch type.
resource "aws_ecs_cluster_capacity_providers" "ecs_cluster" {
  cluster_name       = aws_ecs_cluster.ecs_cluster.name
  capacity_providers = [for cp in aws_ecs_capacity_provider.ecs : cp.name]
}
