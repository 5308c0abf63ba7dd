# Optional entry point for service A (var.enable_alb). Target type `instance`:
# ECS registers each A task as <instance id>:<dynamic host port>.

resource "aws_lb" "service_a" {
  count = var.enable_alb ? 1 : 0

  name                       = "${local.name}-a"
  internal                   = var.alb_internal
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb[0].id]
  subnets                    = var.alb_subnet_ids
  drop_invalid_header_fields = true
}

resource "aws_lb_target_group" "service_a" {
  count = var.enable_alb ? 1 : 0

  name        = "${local.name}-a"
  target_type = "instance"
  protocol    = "HTTP"
  port        = local.service_a_container_port # a default only: ECS registers each task's host port
  vpc_id      = var.vpc_id

  # A drains like B: /readyz turns 503 on SIGTERM; ECS waits for deregistration
  # before it stops the task.
  deregistration_delay = 15

  health_check {
    path                = "/readyz"
    port                = "traffic-port"
    protocol            = "HTTP"
    matcher             = "200"
    interval            = 10
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http" {
  count = var.enable_alb ? 1 : 0

  load_balancer_arn = aws_lb.service_a[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service_a[0].arn
  }
}
