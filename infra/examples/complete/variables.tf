variable "aws_region" {
  type        = string
  description = "AWS Region to deploy into."
  default     = "ap-northeast-1"
}

variable "prefix" {
  type        = string
  description = "Name prefix of every resource (see the module's variable)."
  default     = "ecs-srv"
}

variable "tags" {
  type        = map(string)
  description = "Tags on every resource (provider default_tags and the module's own)."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "Existing VPC with enableDnsSupport and enableDnsHostnames on."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the container instances (two or more AZs)."
}

variable "alb_subnet_ids" {
  type        = list(string)
  description = "Subnets for the ALB in two or more AZs (public for an internet-facing ALB)."
}

variable "alb_ingress_cidrs" {
  type        = list(string)
  description = "IPv4 CIDRs allowed to the ALB."
  default     = []
}

variable "alb_certificate_arn" {
  type        = string
  description = "ACM certificate ARN for HTTPS (HTTP then redirects); null for HTTP only."
  default     = null
}

variable "alb_expose_operator_paths" {
  type        = bool
  description = "Forward A's operator routes (/, /discovery, /metrics) through the ALB too."
  default     = false
}

variable "service_a_image_tag" {
  type        = string
  description = "Tag of service A's image in its ECR repository."
}

variable "service_b_image_tag" {
  type        = string
  description = "Tag of service B's image in its ECR repository."
}

variable "service_b_zero_gap_deployment" {
  type        = bool
  description = "Deploy B with 100 %/200 % instead of the seed's 0 %/100 %."
  default     = false
}

variable "service_a_discovery_source" {
  type        = string
  description = "dns or cloudmap."
  default     = "dns"
}
