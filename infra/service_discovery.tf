# Mirrors the seed (ecs_cluster.tf in the article), with the VPC as a variable
# instead of remote state.

# Private DNS namespace (seed: プライベートDNSネームスペースの作成)
resource "aws_service_discovery_private_dns_namespace" "ecs_namespace" {
  name        = "ecs.internal"
  description = "Private DNS namespace for ECS services"
  vpc         = var.vpc_id
}

# Cloud Map service for B (seed: サービスディスカバリ設定)
resource "aws_service_discovery_service" "service_b" {
  name = "service_b"

  dns_config {
    namespace_id = aws_service_discovery_private_dns_namespace.ecs_namespace.id

    dns_records {
      ttl  = 10
      type = "SRV" # bridge mode: a task has no IP of its own, so A records are not allowed
    }

    routing_policy = "MULTIVALUE"
  }

  # ECS reports task health here. The provider deprecates failure_threshold
  # (Cloud Map always uses 1), yet setting it is the only way to create the block.
  health_check_custom_config {
    failure_threshold = 1
  }
}
