# The seed calls this resource "ecs-cluster"; snake_case here per the style guide.
resource "aws_ecs_cluster" "ecs_cluster" {
  name = local.name

  setting {
    name  = "containerInsights"
    value = var.enable_container_insights ? "enabled" : "disabled"
  }

  tags = local.tags
}
