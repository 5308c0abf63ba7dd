# A complete root module: the provider, your network, and the ecs-srv module
# (the directory two levels up). Copy terraform.tfvars.example to
# terraform.tfvars, fill it in, then follow infra/README.md ("Deploy").

provider "aws" {
  region = var.aws_region

  default_tags {
    tags = var.tags
  }
}

module "ecs_srv" {
  source = "../.."

  prefix = var.prefix
  tags   = var.tags

  vpc_id         = var.vpc_id
  subnet_ids     = var.subnet_ids
  alb_subnet_ids = var.alb_subnet_ids

  alb_ingress_cidrs         = var.alb_ingress_cidrs
  alb_certificate_arn       = var.alb_certificate_arn
  alb_expose_operator_paths = var.alb_expose_operator_paths

  service_a_image_tag = var.service_a_image_tag
  service_b_image_tag = var.service_b_image_tag

  service_b_zero_gap_deployment = var.service_b_zero_gap_deployment
  service_a_discovery_source    = var.service_a_discovery_source
}
