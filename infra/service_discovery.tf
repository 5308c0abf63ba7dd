# Mirrors the seed (ecs_cluster.tf in the article), with the VPC as a variable
# instead of remote state, and one change: the namespace's SOA TTL.

locals {
  namespace_name = "ecs.internal"
  # The seed's record TTL: how long resolvers (and A's cache) may keep a task's
  # SRV record after ECS has deregistered it.
  service_b_record_ttl_seconds = 10
}

# Private DNS namespace (seed: プライベートDNSネームスペースの作成), through
# CloudFormation. The namespace's SOA TTL is the negative-caching TTL: when the
# last B record goes (the seed's 0 %/100 % deployment stops every old task before
# the new ones register), `service_b.ecs.internal` is NXDOMAIN and the VPC
# resolver caches that answer for this long, upstream of any client cache.
# Cloud Map's API and CloudFormation (Properties.DnsProperties.SOA.TTL) can set
# it; aws_service_discovery_private_dns_namespace cannot (no such argument in the
# AWS provider 5.x or 6.x), and the awscc provider would be a second provider to
# install. CloudFormation is reached through the AWS provider, so
# `terraform validate` checks this offline, and an update of the TTL is applied
# in place ("Update requires: No interruption").
resource "aws_cloudformation_stack" "namespace" {
  name = "${local.name}-namespace"

  template_body = jsonencode({
    AWSTemplateFormatVersion = "2010-09-09"
    Description              = "Cloud Map private DNS namespace ${local.namespace_name} of ${local.name} (managed by Terraform)"
    Resources = {
      Namespace = {
        Type = "AWS::ServiceDiscovery::PrivateDnsNamespace"
        Properties = {
          Name        = local.namespace_name
          Description = "Private DNS namespace for ECS services"
          Vpc         = var.vpc_id
          Properties = {
            DnsProperties = {
              SOA = { TTL = var.namespace_soa_ttl_seconds }
            }
          }
        }
      }
    }
    Outputs = {
      Id           = { Value = { Ref = "Namespace" } }
      Arn          = { Value = { "Fn::GetAtt" = ["Namespace", "Arn"] } }
      HostedZoneId = { Value = { "Fn::GetAtt" = ["Namespace", "HostedZoneId"] } }
    }
  })

  tags = local.tags
}

locals {
  namespace_id             = aws_cloudformation_stack.namespace.outputs["Id"]
  namespace_arn            = aws_cloudformation_stack.namespace.outputs["Arn"]
  namespace_hosted_zone_id = aws_cloudformation_stack.namespace.outputs["HostedZoneId"]
}

# Cloud Map service for B (seed: サービスディスカバリ設定)
resource "aws_service_discovery_service" "service_b" {
  name = "service_b"

  dns_config {
    namespace_id = local.namespace_id

    dns_records {
      ttl  = local.service_b_record_ttl_seconds
      type = "SRV" # bridge mode: a task has no IP of its own, so A records are not allowed
    }

    routing_policy = "MULTIVALUE"
  }

  # ECS reports task health here. The provider deprecates failure_threshold
  # (Cloud Map always uses 1), yet setting it is the only way to create the block.
  health_check_custom_config {
    failure_threshold = 1
  }

  # ECS deregisters a stopped task's instance asynchronously: on `destroy`, the
  # ECS service is gone before every instance is, and Cloud Map refuses to delete
  # a service that still has instances (ResourceInUse). Deleting them here is
  # what ECS was about to do anyway.
  force_destroy = true

  tags = local.tags
}
