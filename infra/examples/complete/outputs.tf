output "service_a_url" {
  description = "Base URL of service A through the ALB (try <url>/api/whoami)."
  value       = module.ecs_srv.service_a_url
}

output "ecr_repository_urls" {
  description = "ECR repository URLs by service, for docker tag/push."
  value       = module.ecs_srv.ecr_repository_urls
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = module.ecs_srv.cluster_name
}

output "service_a_name" {
  description = "Name of service A's ECS service."
  value       = module.ecs_srv.service_a_name
}

output "service_b_name" {
  description = "Name of service B's ECS service."
  value       = module.ecs_srv.service_b_name
}

output "autoscaling_group_names" {
  description = "Auto scaling groups of the container instances, by task type."
  value       = module.ecs_srv.autoscaling_group_names
}

output "service_b_srv_name" {
  description = "DNS name of B's SRV records."
  value       = module.ecs_srv.service_b_srv_name
}
