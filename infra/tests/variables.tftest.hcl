# Every variable validation rejects what AWS (or the design) would not accept,
# and admits the edge values it should.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id              = "vpc-0123456789abcdef0"
  subnet_ids          = ["subnet-0aaaaaaaaaaaaaaaa"]
  alb_subnet_ids      = ["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"]
  service_a_image_tag = "3f9c2ab"
  service_b_image_tag = "3f9c2ab"
}

run "edge_prefixes_are_accepted" {
  command = plan
  variables {
    prefix = "a1-b2-c3-d4-e5-f6-g7" # 20 characters, single hyphens
  }
  assert {
    condition     = aws_lb.service_a[0].name == "a1-b2-c3-d4-e5-f6-g7-a" && length(aws_lb.service_a[0].name) <= 32
    error_message = "A 20-character prefix must give a valid ALB name."
  }
}

run "prefixes_aws_reserves_elsewhere_are_accepted" {
  command = plan
  variables {
    prefix = "ecs"
  }
  assert {
    condition     = aws_ecs_capacity_provider.ecs["service_b"].name == "cp-ecs-service-b"
    error_message = "A prefix starting with ecs must still give a valid capacity provider name."
  }
}

run "prefix_with_trailing_hyphen" {
  command = plan
  variables {
    prefix = "ecs-srv-"
  }
  expect_failures = [var.prefix]
}

run "prefix_with_double_hyphen" {
  command = plan
  variables {
    prefix = "ecs--srv"
  }
  expect_failures = [var.prefix]
}

run "prefix_too_long" {
  command = plan
  variables {
    prefix = "abcdefghijklmnopqrstu"
  }
  expect_failures = [var.prefix]
}

run "prefix_too_short" {
  command = plan
  variables {
    prefix = "a"
  }
  expect_failures = [var.prefix]
}

run "prefix_uppercase" {
  command = plan
  variables {
    prefix = "Ecs-srv"
  }
  expect_failures = [var.prefix]
}

run "prefix_starting_with_a_digit" {
  command = plan
  variables {
    prefix = "1ecs"
  }
  expect_failures = [var.prefix]
}

run "prefix_internal" {
  command = plan
  variables {
    prefix = "internal-api"
  }
  expect_failures = [var.prefix]
}

run "prefix_sg" {
  command = plan
  variables {
    prefix = "sg"
  }
  expect_failures = [var.prefix]
}

run "no_instance_subnets" {
  command = plan
  variables {
    subnet_ids = []
  }
  expect_failures = [var.subnet_ids]
}

run "alb_in_one_subnet" {
  command = plan
  variables {
    alb_subnet_ids = ["subnet-0cccccccccccccccc"]
  }
  expect_failures = [var.alb_subnet_ids]
}

run "bad_ingress_cidr" {
  command = plan
  variables {
    alb_ingress_cidrs = ["203.0.113.7"]
  }
  expect_failures = [var.alb_ingress_cidrs]
}

run "bad_certificate_arn" {
  command = plan
  variables {
    alb_certificate_arn = "arn:aws:iam::123456789012:server-certificate/x"
  }
  expect_failures = [var.alb_certificate_arn]
}

run "bad_ssl_policy" {
  command = plan
  variables {
    alb_ssl_policy = "TLS13"
  }
  expect_failures = [var.alb_ssl_policy]
}

run "capacity_with_a_missing_key" {
  command = plan
  variables {
    capacity = { service_a = {} }
  }
  expect_failures = [var.capacity]
}

run "capacity_out_of_order" {
  command = plan
  variables {
    capacity = { service_a = {}, service_b = { min_size = 3, desired_capacity = 2, max_size = 3 } }
  }
  expect_failures = [var.capacity]
}

run "bad_image_tag_a" {
  command = plan
  variables {
    service_a_image_tag = "-latest"
  }
  expect_failures = [var.service_a_image_tag]
}

run "bad_image_tag_b" {
  command = plan
  variables {
    service_b_image_tag = "a:b"
  }
  expect_failures = [var.service_b_image_tag]
}

run "drain_shorter_than_propagation_and_ttl" {
  command = plan
  variables {
    service_b_drain_delay_ms = 15000
  }
  expect_failures = [var.service_b_drain_delay_ms]
}

run "drain_beyond_the_stop_timeout_maximum" {
  command = plan
  variables {
    service_b_drain_delay_ms = 106000
  }
  expect_failures = [var.service_b_drain_delay_ms]
}

run "soa_ttl_above_the_record_ttl" {
  command = plan
  variables {
    namespace_soa_ttl_seconds = 60
  }
  expect_failures = [var.namespace_soa_ttl_seconds]
}

run "soa_ttl_fractional" {
  command = plan
  variables {
    namespace_soa_ttl_seconds = 2.5
  }
  expect_failures = [var.namespace_soa_ttl_seconds]
}

run "unknown_discovery_source" {
  command = plan
  variables {
    service_a_discovery_source = "consul"
  }
  expect_failures = [var.service_a_discovery_source]
}

run "unknown_log_level" {
  command = plan
  variables {
    log_level = "verbose"
  }
  expect_failures = [var.log_level]
}

run "retention_cloudwatch_rejects" {
  command = plan
  variables {
    log_retention_days = 10
  }
  expect_failures = [var.log_retention_days]
}

run "alb_cidr_with_host_bits" {
  command = plan
  variables {
    alb_ingress_cidrs = ["203.0.113.7/24"]
  }
  expect_failures = [var.alb_ingress_cidrs]
}

run "capacity_negative_or_empty" {
  command = plan
  variables {
    capacity = {
      service_a = { min_size = -1, desired_capacity = -1, max_size = 0 }
      service_b = {}
    }
  }
  expect_failures = [var.capacity]
}

run "desired_count_negative" {
  command = plan
  variables {
    service_b_desired_count = -3
  }
  expect_failures = [var.service_b_desired_count]
}

run "memory_below_the_ecs_minimum" {
  command = plan
  variables {
    service_a_memory_mib = 4
  }
  expect_failures = [var.service_a_memory_mib]
}
