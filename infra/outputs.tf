output "namespace_id" {
  description = "ID of the Cloud Map private DNS namespace ecs.internal."
  value       = local.namespace_id
}

output "namespace_arn" {
  description = "ARN of the Cloud Map private DNS namespace ecs.internal."
  value       = local.namespace_arn
}

output "namespace_soa_ttl_seconds" {
  description = "SOA TTL of the namespace: how long resolvers cache a negative answer for service_b.ecs.internal."
  value       = var.namespace_soa_ttl_seconds
}

output "namespace_name" {
  description = "Name of the private DNS namespace (the DNS zone), ecs.internal."
  value       = local.namespace_name
}

output "namespace_hosted_zone_id" {
  description = "ID of the Route 53 private hosted zone Cloud Map created for the namespace."
  value       = local.namespace_hosted_zone_id
}

output "service_b_discovery_service_arn" {
  description = "ARN of the Cloud Map service service_b (registry_arn of B's ECS service)."
  value       = aws_service_discovery_service.service_b.arn
}

output "service_b_srv_name" {
  description = "DNS name to query for B's SRV records (A's SERVICE_B_SRV)."
  value       = local.service_b_srv_name
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.ecs_cluster.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.ecs_cluster.arn
}

output "service_a_name" {
  description = "Name of service A's ECS service."
  value       = aws_ecs_service.service_a.name
}

output "service_b_name" {
  description = "Name of service B's ECS service."
  value       = aws_ecs_service.service_b_containers.name
}

output "alb_dns_name" {
  description = "DNS name of the ALB in front of service A (null when enable_alb is false)."
  value       = one(aws_lb.service_a[*].dns_name)
}

output "service_a_url" {
  description = "Base URL of service A through the ALB, e.g. <url>/api/whoami: https:// with a certificate (use a DNS name the certificate covers instead of the ALB's), null when enable_alb is false."
  value       = var.enable_alb ? "${local.alb_https ? "https" : "http"}://${aws_lb.service_a[0].dns_name}" : null
}

output "ecr_repository_urls" {
  description = "ECR repository URLs by service, for docker tag/push."
  value = {
    service_a = aws_ecr_repository.service_a.repository_url
    service_b = aws_ecr_repository.service_b.repository_url
  }
}

output "log_group_names" {
  description = "CloudWatch log groups of the services' containers."
  value = {
    service_a = aws_cloudwatch_log_group.service_a.name
    service_b = aws_cloudwatch_log_group.service_b.name
  }
}

output "autoscaling_group_names" {
  description = "Auto scaling groups of the container instances, by task type (for finding instances to open an SSM session on)."
  value       = { for task_type, asg in aws_autoscaling_group.ecs : task_type => asg.name }
}

output "instance_security_group_id" {
  description = "Security group of the container instances."
  value       = aws_security_group.instances.id
}

output "capacity_provider_names" {
  description = "ECS capacity providers (managed instance draining) of the auto scaling groups, by task type."
  value       = { for task_type, cp in aws_ecs_capacity_provider.ecs : task_type => cp.name }
}
