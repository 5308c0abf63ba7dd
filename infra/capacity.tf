# EC2 container instances: one launch template and one auto scaling group per
# task type. Each instance joins the cluster with the ECS attribute TaskType,
# which the services' memberOf placement constraints select on.
#
# No ECS capacity providers: the seed runs B with launch_type = "EC2", which an
# aws_ecs_service cannot combine with a capacity_provider_strategy, and managed
# scaling would not count tasks placed by launch type. Size the groups with
# var.capacity instead.

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

  # Instances replaced by an auto scaling activity are not drained by ECS first;
  # see README ("Updating the AMI") for the drain-then-replace procedure.
}
