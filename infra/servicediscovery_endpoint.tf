# Optional: A on the Cloud Map API (service_a_discovery_source = "cloudmap") from private subnets without
# a NAT gateway. DiscoverInstances and DiscoverInstancesRevision are served by the data plane endpoint
# data-servicediscovery.<region>.amazonaws.com; an interface endpoint with private DNS makes that name
# resolve to addresses inside the VPC. Only A's instances may reach it (HTTPS from their security group).

locals {
  servicediscovery_endpoint = var.service_a_discovery_source == "cloudmap" && var.create_servicediscovery_endpoint
}

resource "aws_security_group" "servicediscovery_endpoint" {
  count       = local.servicediscovery_endpoint ? 1 : 0
  name_prefix = "${local.name}-sd-endpoint-"
  description = "Cloud Map data plane endpoint: HTTPS from the container instances"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${local.name}-sd-endpoint" })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "servicediscovery_endpoint_https" {
  count                        = local.servicediscovery_endpoint ? 1 : 0
  security_group_id            = aws_security_group.servicediscovery_endpoint[0].id
  description                  = "HTTPS from the container instances (A calls DiscoverInstances)"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.instances.id
  tags                         = local.tags
}

resource "aws_vpc_endpoint" "servicediscovery_data" {
  count               = local.servicediscovery_endpoint ? 1 : 0
  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${local.region}.data-servicediscovery"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.servicediscovery_endpoint[0].id]
  tags                = merge(local.tags, { Name = "${local.name}-data-servicediscovery" })
}
