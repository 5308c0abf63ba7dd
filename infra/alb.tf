# Optional entry point for service A (var.enable_alb). Target type `instance`:
# ECS registers each A task as <instance id>:<dynamic host port>.
#
# Only A's API is public by default: the listener forwards /api/* and answers
# 404 itself for every other path. A's operator routes (/, /discovery, /metrics,
# /healthz, /readyz) show internal addresses, host ports, task ids and traffic:
# var.alb_expose_operator_paths forwards everything instead. The target group's
# health check goes to each target directly, not through the listener, so it
# needs no rule. With var.alb_certificate_arn, HTTPS on 443 serves and HTTP on
# 80 only redirects to it.

locals {
  alb_https = var.enable_alb && var.alb_certificate_arn != null

  # Where the API rule (or the forward-everything default) lives.
  alb_serving_listener_arn = var.enable_alb ? (local.alb_https ? aws_lb_listener.https[0].arn : aws_lb_listener.http[0].arn) : null

  # The ALB's own answer for paths it does not forward: a problem+json body
  # (the fixed-response content types allow application/json, not the
  # problem+json media type).
  alb_not_found_body = jsonencode({
    type   = "about:blank"
    title  = "Not Found"
    status = 404
    detail = "No such route."
  })

  alb_listener_ports = local.alb_https ? toset(["80", "443"]) : toset(["80"])
}

resource "aws_lb" "service_a" {
  count = var.enable_alb ? 1 : 0

  name                       = "${local.name}-a"
  internal                   = var.alb_internal
  load_balancer_type         = "application"
  security_groups            = [aws_security_group.alb[0].id]
  subnets                    = var.alb_subnet_ids
  drop_invalid_header_fields = true

  tags = local.tags
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

  tags = local.tags
}

# Port 80: redirects to HTTPS when there is a certificate; else it serves.
resource "aws_lb_listener" "http" {
  count = var.enable_alb ? 1 : 0

  load_balancer_arn = aws_lb.service_a[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = local.alb_https ? "redirect" : (var.alb_expose_operator_paths ? "forward" : "fixed-response")
    target_group_arn = !local.alb_https && var.alb_expose_operator_paths ? aws_lb_target_group.service_a[0].arn : null

    dynamic "redirect" {
      for_each = local.alb_https ? [1] : []
      content {
        protocol    = "HTTPS"
        port        = "443"
        status_code = "HTTP_301"
      }
    }

    dynamic "fixed_response" {
      for_each = !local.alb_https && !var.alb_expose_operator_paths ? [1] : []
      content {
        content_type = "application/json"
        message_body = local.alb_not_found_body
        status_code  = "404"
      }
    }
  }

  tags = local.tags
}

resource "aws_lb_listener" "https" {
  count = local.alb_https ? 1 : 0

  load_balancer_arn = aws_lb.service_a[0].arn
  port              = 443
  protocol          = "HTTPS"
  certificate_arn   = var.alb_certificate_arn
  ssl_policy        = var.alb_ssl_policy

  default_action {
    type             = var.alb_expose_operator_paths ? "forward" : "fixed-response"
    target_group_arn = var.alb_expose_operator_paths ? aws_lb_target_group.service_a[0].arn : null

    dynamic "fixed_response" {
      for_each = var.alb_expose_operator_paths ? [] : [1]
      content {
        content_type = "application/json"
        message_body = local.alb_not_found_body
        status_code  = "404"
      }
    }
  }

  tags = local.tags
}

# The public API: /api/* only. Path patterns are case-sensitive and see the path
# as sent, so /API/whoami or /api/../discovery are not forwarded either way:
# the first gets the ALB's 404, the second reaches A as /api/../discovery, a
# route A does not have.
resource "aws_lb_listener_rule" "api" {
  count = var.enable_alb && !var.alb_expose_operator_paths ? 1 : 0

  listener_arn = local.alb_serving_listener_arn
  priority     = 10

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service_a[0].arn
  }

  condition {
    path_pattern {
      values = ["/api/*"]
    }
  }

  tags = local.tags
}
