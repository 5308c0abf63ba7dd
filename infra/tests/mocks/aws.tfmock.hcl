# Values the mocked AWS provider returns for computed attributes: shaped like
# the real ones (ARNs, IDs, URLs), so expressions that parse or embed them (the
# Region from an ARN, image URLs, policy resources) see what AWS would return.
# Account 123456789012, Region ap-northeast-1.

mock_data "aws_caller_identity" {
  defaults = {
    account_id = "123456789012"
    arn        = "arn:aws:iam::123456789012:user/ci"
    user_id    = "AIDAEXAMPLEEXAMPLE01"
  }
}

mock_data "aws_partition" {
  defaults = {
    partition          = "aws"
    dns_suffix         = "amazonaws.com"
    reverse_dns_prefix = "com.amazonaws"
  }
}

mock_data "aws_ssm_parameter" {
  defaults = {
    arn            = "arn:aws:ssm:ap-northeast-1::parameter/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
    type           = "String"
    value          = "ami-0123456789abcdef0"
    insecure_value = "ami-0123456789abcdef0"
    version        = 42
  }
}

mock_data "aws_iam_policy_document" {
  defaults = {
    json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}"
  }
}

mock_resource "aws_cloudformation_stack" {
  defaults = {
    id = "arn:aws:cloudformation:ap-northeast-1:123456789012:stack/ecs-srv-namespace/0f3c6a10-5b1e-11ef-8f0e-0a1b2c3d4e5f"
    outputs = {
      Id           = "ns-abcdefghijklmnop"
      Arn          = "arn:aws:servicediscovery:ap-northeast-1:123456789012:namespace/ns-abcdefghijklmnop"
      HostedZoneId = "Z0123456789ABCDEFGHIJ"
    }
  }
}

mock_resource "aws_service_discovery_service" {
  defaults = {
    id  = "srv-abcdefghijklmnop"
    arn = "arn:aws:servicediscovery:ap-northeast-1:123456789012:service/srv-abcdefghijklmnop"
  }
}

mock_resource "aws_ecs_cluster" {
  defaults = {
    id  = "arn:aws:ecs:ap-northeast-1:123456789012:cluster/ecs-srv"
    arn = "arn:aws:ecs:ap-northeast-1:123456789012:cluster/ecs-srv"
  }
}

mock_resource "aws_ecs_task_definition" {
  defaults = {
    arn                  = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/ecs-srv-service-b:1"
    arn_without_revision = "arn:aws:ecs:ap-northeast-1:123456789012:task-definition/ecs-srv-service-b"
    revision             = 1
  }
}

mock_resource "aws_ecs_service" {
  defaults = {
    id = "arn:aws:ecs:ap-northeast-1:123456789012:service/ecs-srv/ecs-srv-service-b"
  }
}

mock_resource "aws_ecs_capacity_provider" {
  defaults = {
    id  = "arn:aws:ecs:ap-northeast-1:123456789012:capacity-provider/cp-ecs-srv-service-b"
    arn = "arn:aws:ecs:ap-northeast-1:123456789012:capacity-provider/cp-ecs-srv-service-b"
  }
}

mock_resource "aws_ecr_repository" {
  defaults = {
    arn            = "arn:aws:ecr:ap-northeast-1:123456789012:repository/ecs-srv/service-b"
    registry_id    = "123456789012"
    repository_url = "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/ecs-srv/service-b"
  }
}

mock_resource "aws_cloudwatch_log_group" {
  defaults = {
    arn = "arn:aws:logs:ap-northeast-1:123456789012:log-group:/ecs/ecs-srv/service-b"
  }
}

mock_resource "aws_iam_role" {
  defaults = {
    arn       = "arn:aws:iam::123456789012:role/ecs-srv-role"
    unique_id = "AROAEXAMPLEEXAMPLE01"
  }
}

mock_resource "aws_iam_instance_profile" {
  defaults = {
    arn       = "arn:aws:iam::123456789012:instance-profile/ecs-srv-ecs-instance"
    unique_id = "AIPAEXAMPLEEXAMPLE01"
  }
}

mock_resource "aws_security_group" {
  defaults = {
    id  = "sg-0123456789abcdef0"
    arn = "arn:aws:ec2:ap-northeast-1:123456789012:security-group/sg-0123456789abcdef0"
  }
}

mock_resource "aws_vpc_security_group_ingress_rule" {
  defaults = {
    id                     = "sgr-0123456789abcdef0"
    security_group_rule_id = "sgr-0123456789abcdef0"
  }
}

mock_resource "aws_vpc_security_group_egress_rule" {
  defaults = {
    id                     = "sgr-0fedcba9876543210"
    security_group_rule_id = "sgr-0fedcba9876543210"
  }
}

mock_resource "aws_launch_template" {
  defaults = {
    id             = "lt-0123456789abcdef0"
    arn            = "arn:aws:ec2:ap-northeast-1:123456789012:launch-template/lt-0123456789abcdef0"
    latest_version = 1
  }
}

mock_resource "aws_autoscaling_group" {
  defaults = {
    arn = "arn:aws:autoscaling:ap-northeast-1:123456789012:autoScalingGroup:0f3c6a10-5b1e-11ef-8f0e-0a1b2c3d4e5f:autoScalingGroupName/ecs-srv-service-b"
  }
}

mock_resource "aws_lb" {
  defaults = {
    id       = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/ecs-srv-a/0123456789abcdef"
    arn      = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:loadbalancer/app/ecs-srv-a/0123456789abcdef"
    dns_name = "ecs-srv-a-1234567890.ap-northeast-1.elb.amazonaws.com"
    zone_id  = "Z14GRHDCWA56QT"
  }
}

mock_resource "aws_lb_target_group" {
  defaults = {
    id  = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/ecs-srv-a/0123456789abcdef"
    arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:targetgroup/ecs-srv-a/0123456789abcdef"
  }
}

mock_resource "aws_lb_listener" {
  defaults = {
    id  = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/ecs-srv-a/0123456789abcdef/0123456789abcdef"
    arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/ecs-srv-a/0123456789abcdef/0123456789abcdef"
  }
}

mock_resource "aws_lb_listener_rule" {
  defaults = {
    id  = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener-rule/app/ecs-srv-a/0123456789abcdef/0123456789abcdef/0123456789abcdef"
    arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener-rule/app/ecs-srv-a/0123456789abcdef/0123456789abcdef/0123456789abcdef"
  }
}
