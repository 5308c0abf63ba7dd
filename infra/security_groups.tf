# Container instances: bridge-mode tasks listen on dynamic host ports, so A (on
# another instance) reaches B, and the ALB reaches A, on the ephemeral range.
# ECS takes host ports from the kernel's ip_local_port_range (32768-60999 on
# Amazon Linux 2023) or, failing that, 49153-65535: 32768-65535 covers both.
locals {
  ephemeral_port_from = 32768
  ephemeral_port_to   = 65535
}

resource "aws_security_group" "instances" {
  name_prefix = "${local.name}-instances-"
  description = "ECS container instances (bridge mode): dynamic host ports from peers and the ALB only"
  vpc_id      = var.vpc_id

  tags = {
    Name = "${local.name}-instances"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "instances_from_instances" {
  security_group_id            = aws_security_group.instances.id
  description                  = "Task to task (A to B) on dynamic host ports"
  referenced_security_group_id = aws_security_group.instances.id
  ip_protocol                  = "tcp"
  from_port                    = local.ephemeral_port_from
  to_port                      = local.ephemeral_port_to
}

resource "aws_vpc_security_group_ingress_rule" "instances_from_alb" {
  count = var.enable_alb ? 1 : 0

  security_group_id            = aws_security_group.instances.id
  description                  = "ALB to service A on dynamic host ports"
  referenced_security_group_id = aws_security_group.alb[0].id
  ip_protocol                  = "tcp"
  from_port                    = local.ephemeral_port_from
  to_port                      = local.ephemeral_port_to
}

# Outbound: ECS, ECR, CloudWatch Logs and SSM endpoints (HTTPS, through NAT or
# VPC endpoints) and peer instances. DNS to the VPC resolver is not filtered by
# security groups.
resource "aws_vpc_security_group_egress_rule" "instances_all" {
  security_group_id = aws_security_group.instances.id
  description       = "All outbound"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

resource "aws_security_group" "alb" {
  count = var.enable_alb ? 1 : 0

  name_prefix = "${local.name}-alb-"
  description = "ALB in front of service A: HTTP from var.alb_ingress_cidrs, out to the instances only"
  vpc_id      = var.vpc_id

  tags = {
    Name = "${local.name}-alb"
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  for_each = var.enable_alb ? toset(var.alb_ingress_cidrs) : toset([])

  security_group_id = aws_security_group.alb[0].id
  description       = "HTTP listener"
  cidr_ipv4         = each.value
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
}

resource "aws_vpc_security_group_egress_rule" "alb_to_instances" {
  count = var.enable_alb ? 1 : 0

  security_group_id            = aws_security_group.alb[0].id
  description                  = "To service A's dynamic host ports (traffic and health checks)"
  referenced_security_group_id = aws_security_group.instances.id
  ip_protocol                  = "tcp"
  from_port                    = local.ephemeral_port_from
  to_port                      = local.ephemeral_port_to
}
