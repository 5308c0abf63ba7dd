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

  tags = merge(local.tags, {
    Name = "${local.name}-instances"
  })

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

  tags = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "instances_from_alb" {
  count = var.enable_alb ? 1 : 0

  security_group_id            = aws_security_group.instances.id
  description                  = "ALB to service A on dynamic host ports"
  referenced_security_group_id = aws_security_group.alb[0].id
  ip_protocol                  = "tcp"
  from_port                    = local.ephemeral_port_from
  to_port                      = local.ephemeral_port_to

  tags = local.tags
}

# Outbound: ECS, ECR, CloudWatch Logs and SSM endpoints (HTTPS, through NAT or
# VPC endpoints) and peer instances. DNS to the VPC resolver is not filtered by
# security groups.
resource "aws_vpc_security_group_egress_rule" "instances_all" {
  security_group_id = aws_security_group.instances.id
  description       = "All outbound"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"

  tags = local.tags
}

resource "aws_security_group" "alb" {
  count = var.enable_alb ? 1 : 0

  name_prefix = "${local.name}-alb-"
  description = "ALB in front of service A: HTTP and HTTPS from var.alb_ingress_cidrs, out to the instances only"
  vpc_id      = var.vpc_id

  tags = merge(local.tags, {
    Name = "${local.name}-alb"
  })

  lifecycle {
    create_before_destroy = true
  }
}

# One rule per listener port and CIDR: 80 (serving, or redirecting to HTTPS)
# and 443 when there is a certificate.
resource "aws_vpc_security_group_ingress_rule" "alb_listeners" {
  for_each = var.enable_alb ? {
    for pair in setproduct(local.alb_listener_ports, var.alb_ingress_cidrs) : "${pair[0]} ${pair[1]}" => {
      port = tonumber(pair[0])
      cidr = pair[1]
    }
  } : {}

  security_group_id = aws_security_group.alb[0].id
  description       = each.value.port == 443 ? "HTTPS listener" : "HTTP listener"
  cidr_ipv4         = each.value.cidr
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port

  tags = local.tags
}

resource "aws_vpc_security_group_egress_rule" "alb_to_instances" {
  count = var.enable_alb ? 1 : 0

  security_group_id            = aws_security_group.alb[0].id
  description                  = "To the dynamic host ports of service A (traffic and health checks)"
  referenced_security_group_id = aws_security_group.instances.id
  ip_protocol                  = "tcp"
  from_port                    = local.ephemeral_port_from
  to_port                      = local.ephemeral_port_to

  tags = local.tags
}
