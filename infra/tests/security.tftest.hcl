# Security properties and instance draining: IMDSv2, no open ingress, least
# privilege IAM, immutable scanned images, encrypted volumes, managed draining.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id              = "vpc-0123456789abcdef0"
  subnet_ids          = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  alb_subnet_ids      = ["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"]
  alb_ingress_cidrs   = ["203.0.113.7/32"]
  service_a_image_tag = "3f9c2ab"
  service_b_image_tag = "3f9c2ab"
}

run "instances_require_imdsv2_hop_limit_1_and_encrypted_volumes" {
  assert {
    condition = alltrue([
      for lt in aws_launch_template.ecs :
      lt.metadata_options[0].http_tokens == "required" && lt.metadata_options[0].http_put_response_hop_limit == 1
    ])
    error_message = "IMDSv2 only, hop limit 1: bridge-mode containers must not reach the instance role."
  }

  assert {
    condition     = alltrue([for lt in aws_launch_template.ecs : lt.block_device_mappings[0].ebs[0].encrypted == "true"])
    error_message = "Root volumes must be encrypted."
  }

  assert {
    condition     = alltrue([for lt in aws_launch_template.ecs : lt.image_id == "ami-0123456789abcdef0"])
    error_message = "Instances must boot the ECS-optimized AMI from the SSM parameter."
  }

  assert {
    condition = alltrue([
      for t, lt in aws_launch_template.ecs :
      strcontains(base64decode(lt.user_data), "ECS_CLUSTER=ecs-srv\n") &&
      strcontains(base64decode(lt.user_data), "ECS_INSTANCE_ATTRIBUTES={\"TaskType\":\"${t}\"}\n")
    ])
    error_message = "Each instance must join the cluster with its TaskType attribute."
  }
}

run "instances_accept_only_peers_and_the_alb_on_the_ephemeral_range" {
  assert {
    condition = alltrue([
      for r in concat([aws_vpc_security_group_ingress_rule.instances_from_instances], aws_vpc_security_group_ingress_rule.instances_from_alb) :
      r.cidr_ipv4 == null && r.cidr_ipv6 == null && r.referenced_security_group_id != null &&
      r.from_port == 32768 && r.to_port == 65535 && r.ip_protocol == "tcp"
    ])
    error_message = "Instance ingress: TCP 32768-65535 from security groups only, never from a CIDR."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.instances_from_alb[0].referenced_security_group_id == aws_security_group.alb[0].id
    error_message = "The ALB's group must be the one let in."
  }

  assert {
    condition = (
      aws_vpc_security_group_egress_rule.alb_to_instances[0].referenced_security_group_id == aws_security_group.instances.id &&
      aws_vpc_security_group_egress_rule.alb_to_instances[0].from_port == 32768
    )
    error_message = "The ALB may only reach the instances, on the ephemeral range."
  }
}

run "iam_is_least_privilege" {
  assert {
    condition = (
      toset(data.aws_iam_policy_document.task_execution.statement[1].resources) == toset([aws_ecr_repository.service_a.arn, aws_ecr_repository.service_b.arn]) &&
      toset(data.aws_iam_policy_document.task_execution.statement[2].resources) == toset(["${aws_cloudwatch_log_group.service_a.arn}:*", "${aws_cloudwatch_log_group.service_b.arn}:*"])
    )
    error_message = "The execution role may pull only the two repositories and write only the two log groups."
  }

  assert {
    condition = (
      one(data.aws_iam_policy_document.ecs_task_role_assume_role.statement).condition != null &&
      contains([for c in data.aws_iam_policy_document.ecs_task_role_assume_role.statement[0].condition : c.variable], "aws:SourceAccount") &&
      contains(flatten([for c in data.aws_iam_policy_document.ecs_task_role_assume_role.statement[0].condition : c.values]), "arn:aws:ecs:ap-northeast-1:123456789012:*")
    )
    error_message = "Only ECS, for this account and Region, may assume the task roles."
  }

  assert {
    condition     = length(aws_iam_role_policy_attachment.ecs_instance_ssm) == 1
    error_message = "SSM Session Manager is on by default."
  }
}

run "images_are_immutable_and_scanned" {
  assert {
    condition = alltrue([
      for r in [aws_ecr_repository.service_a, aws_ecr_repository.service_b] :
      r.image_tag_mutability == "IMMUTABLE" && r.image_scanning_configuration[0].scan_on_push && !r.force_delete
    ])
    error_message = "Repositories: immutable tags, scan on push, kept on destroy by default."
  }

  assert {
    condition     = aws_ecr_repository.service_a.name == "ecs-srv/service-a" && aws_ecr_repository.service_b.name == "ecs-srv/service-b"
    error_message = "Repository names follow the prefix."
  }
}

run "asg_instances_drain_before_they_terminate" {
  assert {
    condition = alltrue([
      for t, cp in aws_ecs_capacity_provider.ecs :
      cp.auto_scaling_group_provider[0].auto_scaling_group_arn == aws_autoscaling_group.ecs[t].arn &&
      cp.auto_scaling_group_provider[0].managed_draining == "ENABLED"
    ])
    error_message = "Every auto scaling group must be a capacity provider with managed draining."
  }

  assert {
    condition = alltrue([
      for cp in aws_ecs_capacity_provider.ecs :
      cp.auto_scaling_group_provider[0].managed_termination_protection == "DISABLED" &&
      cp.auto_scaling_group_provider[0].managed_scaling[0].status == "DISABLED"
    ])
    error_message = "Managed scaling and termination protection stay off (the services place by launch type)."
  }

  assert {
    condition     = toset(aws_ecs_cluster_capacity_providers.ecs_cluster.capacity_providers) == toset([for cp in aws_ecs_capacity_provider.ecs : cp.name]) && length(aws_ecs_cluster_capacity_providers.ecs_cluster.default_capacity_provider_strategy) == 0
    error_message = "The providers must be associated with the cluster, with no default strategy."
  }

  assert {
    condition     = alltrue([for cp in aws_ecs_capacity_provider.ecs : !startswith(cp.name, "ecs") && !startswith(cp.name, "aws") && !startswith(cp.name, "fargate")])
    error_message = "Capacity provider names must not start with aws, ecs or fargate."
  }

  assert {
    condition     = alltrue([for asg in aws_autoscaling_group.ecs : contains([for t in asg.tag : "${t.key}=${t.value}"], "AmazonECSManaged=true")])
    error_message = "The groups must carry the AmazonECSManaged tag ECS adds (no drift)."
  }
}
