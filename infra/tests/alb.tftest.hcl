# The public entry point: only /api/* by default, the operator routes as an
# explicit opt-in, HTTPS with a redirect when a certificate is given, no ALB at
# all when disabled.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id              = "vpc-0123456789abcdef0"
  subnet_ids          = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  alb_subnet_ids      = ["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"]
  alb_ingress_cidrs   = ["203.0.113.7/32", "198.51.100.0/24"]
  service_a_image_tag = "3f9c2ab"
  service_b_image_tag = "3f9c2ab"
}

run "http_only_forwards_the_api_and_answers_404_for_the_rest" {
  assert {
    condition     = aws_lb.service_a[0].internal == false && aws_lb.service_a[0].drop_invalid_header_fields
    error_message = "An internet-facing ALB that drops invalid header fields."
  }

  assert {
    condition     = length(aws_lb_listener.https) == 0 && aws_lb_listener.http[0].port == 80 && aws_lb_listener.http[0].protocol == "HTTP"
    error_message = "Without a certificate there is one HTTP listener on 80."
  }

  assert {
    condition = (
      aws_lb_listener.http[0].default_action[0].type == "fixed-response" &&
      aws_lb_listener.http[0].default_action[0].fixed_response[0].status_code == "404" &&
      jsondecode(aws_lb_listener.http[0].default_action[0].fixed_response[0].message_body).status == 404
    )
    error_message = "Paths other than /api/* must get the ALB's own 404."
  }

  assert {
    condition = (
      length(aws_lb_listener_rule.api) == 1 &&
      aws_lb_listener_rule.api[0].listener_arn == aws_lb_listener.http[0].arn &&
      one(aws_lb_listener_rule.api[0].condition).path_pattern[0].values == toset(["/api/*"]) &&
      aws_lb_listener_rule.api[0].action[0].type == "forward" &&
      aws_lb_listener_rule.api[0].action[0].target_group_arn == aws_lb_target_group.service_a[0].arn
    )
    error_message = "Exactly /api/* must be forwarded to A's target group."
  }

  assert {
    condition     = aws_lb_target_group.service_a[0].health_check[0].path == "/readyz" && aws_lb_target_group.service_a[0].target_type == "instance"
    error_message = "The target group must check /readyz on instance targets (dynamic host ports)."
  }

  assert {
    condition     = one(aws_ecs_service.service_a.load_balancer).target_group_arn == aws_lb_target_group.service_a[0].arn && one(aws_ecs_service.service_a.load_balancer).container_port == 8080
    error_message = "A's service must register its container port 8080 with the target group."
  }

  assert {
    condition = (
      toset([for r in aws_vpc_security_group_ingress_rule.alb_listeners : "${r.from_port}-${r.to_port} ${r.cidr_ipv4}"]) ==
      toset(["80-80 203.0.113.7/32", "80-80 198.51.100.0/24"])
    )
    error_message = "The ALB must admit only the given CIDRs, on port 80 only."
  }

  assert {
    condition     = output.service_a_url == "http://ecs-srv-a-1234567890.ap-northeast-1.elb.amazonaws.com"
    error_message = "The URL must be http:// without a certificate."
  }
}

run "operator_paths_are_an_explicit_opt_in" {
  variables {
    alb_expose_operator_paths = true
  }

  assert {
    condition = (
      aws_lb_listener.http[0].default_action[0].type == "forward" &&
      aws_lb_listener.http[0].default_action[0].target_group_arn == aws_lb_target_group.service_a[0].arn &&
      length(aws_lb_listener.http[0].default_action[0].fixed_response) == 0
    )
    error_message = "With the opt-in every path must be forwarded."
  }

  assert {
    condition     = length(aws_lb_listener_rule.api) == 0
    error_message = "With the opt-in the /api/* rule is redundant."
  }
}

run "https_serves_and_http_redirects" {
  variables {
    alb_certificate_arn = "arn:aws:acm:ap-northeast-1:123456789012:certificate/0f3c6a10-5b1e-11ef-8f0e-0a1b2c3d4e5f"
  }

  # Distinct listener ARNs, so the rule's listener is told apart.
  override_resource {
    target = aws_lb_listener.http
    values = { arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/ecs-srv-a/0123456789abcdef/00000000000000f0" }
  }

  override_resource {
    target = aws_lb_listener.https
    values = { arn = "arn:aws:elasticloadbalancing:ap-northeast-1:123456789012:listener/app/ecs-srv-a/0123456789abcdef/0000000000000443" }
  }

  assert {
    condition = (
      aws_lb_listener.https[0].port == 443 && aws_lb_listener.https[0].protocol == "HTTPS" &&
      aws_lb_listener.https[0].certificate_arn == var.alb_certificate_arn &&
      aws_lb_listener.https[0].ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    )
    error_message = "With a certificate there must be an HTTPS listener on 443 with a TLS 1.2+ policy."
  }

  assert {
    condition = (
      aws_lb_listener.http[0].default_action[0].type == "redirect" &&
      aws_lb_listener.http[0].default_action[0].redirect[0].protocol == "HTTPS" &&
      aws_lb_listener.http[0].default_action[0].redirect[0].port == "443" &&
      aws_lb_listener.http[0].default_action[0].redirect[0].status_code == "HTTP_301" &&
      aws_lb_listener.http[0].default_action[0].target_group_arn == null
    )
    error_message = "HTTP must only redirect to HTTPS (301), never forward."
  }

  assert {
    condition = (
      aws_lb_listener.https[0].default_action[0].type == "fixed-response" &&
      aws_lb_listener.https[0].default_action[0].fixed_response[0].status_code == "404" &&
      aws_lb_listener_rule.api[0].listener_arn == aws_lb_listener.https[0].arn &&
      one(aws_lb_listener_rule.api[0].condition).path_pattern[0].values == toset(["/api/*"])
    )
    error_message = "HTTPS must forward /api/* only and answer 404 for the rest."
  }

  assert {
    condition = (
      toset([for r in aws_vpc_security_group_ingress_rule.alb_listeners : "${r.from_port} ${r.cidr_ipv4}"]) ==
      toset(["80 203.0.113.7/32", "80 198.51.100.0/24", "443 203.0.113.7/32", "443 198.51.100.0/24"])
    )
    error_message = "The ALB must admit the given CIDRs on 80 (redirect) and 443."
  }

  assert {
    condition     = startswith(output.service_a_url, "https://")
    error_message = "The URL must be https:// with a certificate."
  }
}

run "https_with_operator_paths" {
  variables {
    alb_certificate_arn       = "arn:aws:acm:ap-northeast-1:123456789012:certificate/0f3c6a10-5b1e-11ef-8f0e-0a1b2c3d4e5f"
    alb_expose_operator_paths = true
  }

  assert {
    condition = (
      aws_lb_listener.https[0].default_action[0].type == "forward" &&
      aws_lb_listener.http[0].default_action[0].type == "redirect" &&
      length(aws_lb_listener_rule.api) == 0
    )
    error_message = "With both, HTTPS forwards everything and HTTP still only redirects."
  }
}

run "internal_alb" {
  variables {
    alb_internal = true
  }

  assert {
    condition     = aws_lb.service_a[0].internal
    error_message = "alb_internal must make the ALB internal."
  }
}

run "no_alb" {
  variables {
    enable_alb     = false
    alb_subnet_ids = []
  }

  assert {
    condition = (
      length(aws_lb.service_a) == 0 && length(aws_lb_target_group.service_a) == 0 &&
      length(aws_lb_listener.http) == 0 && length(aws_lb_listener.https) == 0 &&
      length(aws_lb_listener_rule.api) == 0 && length(aws_security_group.alb) == 0 &&
      length(aws_vpc_security_group_ingress_rule.alb_listeners) == 0 &&
      length(aws_vpc_security_group_ingress_rule.instances_from_alb) == 0
    )
    error_message = "enable_alb = false must create no ALB resource and no ALB ingress."
  }

  assert {
    condition     = length(aws_ecs_service.service_a.load_balancer) == 0 && aws_ecs_service.service_a.health_check_grace_period_seconds == null
    error_message = "Without an ALB, A's service must have no load balancer."
  }

  assert {
    condition     = output.service_a_url == null && output.alb_dns_name == null
    error_message = "Without an ALB the URL outputs are null."
  }
}
