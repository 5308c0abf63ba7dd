# The seed's values (Cloud Map namespace and SRV service, B's ECS service and
# registry, bridge mode and dynamic host ports), B's drain, A's discovery and
# both deployment settings, against the real provider schema with a mocked API.

mock_provider "aws" {
  source = "./tests/mocks"
}

variables {
  vpc_id              = "vpc-0123456789abcdef0"
  subnet_ids          = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]
  alb_subnet_ids      = ["subnet-0cccccccccccccccc", "subnet-0dddddddddddddddd"]
  alb_ingress_cidrs   = ["203.0.113.7/32"]
  service_a_image_tag = "3f9c2ab"
  service_b_image_tag = "3f9c2ab"
}

run "namespace_and_discovery_service_mirror_the_seed" {
  assert {
    condition     = jsondecode(aws_cloudformation_stack.namespace.template_body).Resources.Namespace.Type == "AWS::ServiceDiscovery::PrivateDnsNamespace"
    error_message = "The namespace must be a Cloud Map private DNS namespace."
  }

  assert {
    condition     = jsondecode(aws_cloudformation_stack.namespace.template_body).Resources.Namespace.Properties.Name == "ecs.internal"
    error_message = "The namespace must be ecs.internal."
  }

  assert {
    condition     = jsondecode(aws_cloudformation_stack.namespace.template_body).Resources.Namespace.Properties.Vpc == "vpc-0123456789abcdef0"
    error_message = "The namespace must be associated with var.vpc_id."
  }

  assert {
    condition     = aws_service_discovery_service.service_b.name == "service_b"
    error_message = "The Cloud Map service must be service_b."
  }

  assert {
    condition     = aws_service_discovery_service.service_b.dns_config[0].namespace_id == "ns-abcdefghijklmnop"
    error_message = "service_b must live in the namespace the stack outputs (its Id)."
  }

  assert {
    condition = (
      length(aws_service_discovery_service.service_b.dns_config[0].dns_records) == 1 &&
      aws_service_discovery_service.service_b.dns_config[0].dns_records[0].type == "SRV" &&
      aws_service_discovery_service.service_b.dns_config[0].dns_records[0].ttl == 10
    )
    error_message = "service_b must publish SRV records only, TTL 10 (the seed)."
  }

  assert {
    condition     = aws_service_discovery_service.service_b.dns_config[0].routing_policy == "MULTIVALUE"
    error_message = "service_b must route MULTIVALUE (the seed)."
  }

  assert {
    condition     = aws_service_discovery_service.service_b.health_check_custom_config[0].failure_threshold == 1
    error_message = "ECS must report task health to Cloud Map (custom health check, threshold 1)."
  }

  assert {
    condition     = aws_service_discovery_service.service_b.force_destroy
    error_message = "destroy must not fail on instances ECS has not deregistered yet (force_destroy)."
  }

  assert {
    condition     = output.service_b_srv_name == "service_b.ecs.internal"
    error_message = "A must look up service_b.ecs.internal."
  }

  assert {
    condition     = output.namespace_id == "ns-abcdefghijklmnop" && output.namespace_hosted_zone_id == "Z0123456789ABCDEFGHIJ"
    error_message = "The namespace outputs must come from the stack's outputs."
  }
}

run "soa_ttl_bounds_negative_caching" {
  assert {
    condition     = jsondecode(aws_cloudformation_stack.namespace.template_body).Resources.Namespace.Properties.Properties.DnsProperties.SOA.TTL == 10
    error_message = "By default the namespace's SOA TTL (negative caching) must equal the record TTL, 10 s."
  }

  assert {
    condition = (
      jsondecode(aws_cloudformation_stack.namespace.template_body).Resources.Namespace.Properties.Properties.DnsProperties.SOA.TTL
      <= aws_service_discovery_service.service_b.dns_config[0].dns_records[0].ttl
    )
    error_message = "The SOA TTL must not exceed the record TTL."
  }

  assert {
    condition     = toset(keys(jsondecode(aws_cloudformation_stack.namespace.template_body).Outputs)) == toset(["Id", "Arn", "HostedZoneId"])
    error_message = "The stack must output the namespace's Id, Arn and HostedZoneId."
  }
}

run "soa_ttl_is_a_variable" {
  variables {
    namespace_soa_ttl_seconds = 5
  }

  assert {
    condition     = jsondecode(aws_cloudformation_stack.namespace.template_body).Resources.Namespace.Properties.Properties.DnsProperties.SOA.TTL == 5
    error_message = "namespace_soa_ttl_seconds must reach the template."
  }
}

run "service_b_is_the_seeds_service" {
  assert {
    condition     = aws_ecs_service.service_b_containers.launch_type == "EC2"
    error_message = "B must keep the seed's launch_type EC2."
  }

  assert {
    condition = (
      aws_ecs_service.service_b_containers.deployment_minimum_healthy_percent == 0 &&
      aws_ecs_service.service_b_containers.deployment_maximum_percent == 100
    )
    error_message = "By default B must deploy with the seed's 0 %/100 %."
  }

  assert {
    condition = (
      length(aws_ecs_service.service_b_containers.placement_constraints) == 1 &&
      one(aws_ecs_service.service_b_containers.placement_constraints).type == "memberOf" &&
      one(aws_ecs_service.service_b_containers.placement_constraints).expression == "attribute:TaskType == service_b"
    )
    error_message = "B must run only on TaskType == service_b instances (the seed's constraint)."
  }

  assert {
    condition = (
      aws_ecs_service.service_b_containers.service_registries[0].registry_arn == aws_service_discovery_service.service_b.arn &&
      aws_ecs_service.service_b_containers.service_registries[0].container_name == "task_b_container" &&
      aws_ecs_service.service_b_containers.service_registries[0].container_port == 80
    )
    error_message = "B must register task_b_container:80 in service_b (the seed's service_registries)."
  }

  assert {
    condition = anytrue([
      for c in jsondecode(aws_ecs_task_definition.service_b_containers.container_definitions) :
      c.name == aws_ecs_service.service_b_containers.service_registries[0].container_name &&
      contains([for m in c.portMappings : m.containerPort], aws_ecs_service.service_b_containers.service_registries[0].container_port)
    ])
    error_message = "The registry's container name and port must exist in B's task definition."
  }

  assert {
    condition     = aws_ecs_service.service_b_containers.desired_count == 2
    error_message = "B runs two tasks by default (something to fail over to)."
  }
}

run "task_definitions_use_bridge_mode_and_dynamic_host_ports" {
  assert {
    condition = (
      aws_ecs_task_definition.service_b_containers.network_mode == "bridge" &&
      aws_ecs_task_definition.service_a.network_mode == "bridge"
    )
    error_message = "Both task definitions must use bridge mode."
  }

  assert {
    condition = alltrue(flatten([
      for td in [aws_ecs_task_definition.service_b_containers, aws_ecs_task_definition.service_a] : [
        for c in jsondecode(td.container_definitions) : [for m in c.portMappings : m.hostPort == 0 && m.protocol == "tcp"]
      ]
    ]))
    error_message = "Every port mapping must use a dynamic host port (hostPort 0)."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.service_b_containers.container_definitions)[0].image == "123456789012.dkr.ecr.ap-northeast-1.amazonaws.com/ecs-srv/service-b:3f9c2ab"
    error_message = "B's image must be its repository URL with var.service_b_image_tag."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].portMappings[0].containerPort == 8080 &&
      one([for e in jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].environment : e.value if e.name == "PORT"]) == "8080"
    )
    error_message = "A must listen on 8080 in its container."
  }

  assert {
    condition = alltrue([
      for td in [aws_ecs_task_definition.service_b_containers, aws_ecs_task_definition.service_a] :
      jsondecode(td.container_definitions)[0].logConfiguration.options["awslogs-region"] == "ap-northeast-1"
    ])
    error_message = "awslogs-region must be the provider's Region (parsed from the AMI parameter's ARN)."
  }

  assert {
    condition = (
      jsondecode(aws_ecs_task_definition.service_b_containers.container_definitions)[0].logConfiguration.options["awslogs-group"] == "/ecs/ecs-srv/service-b" &&
      jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].logConfiguration.options["awslogs-group"] == "/ecs/ecs-srv/service-a"
    )
    error_message = "Each service must log to its own log group."
  }

  assert {
    condition = alltrue([
      for td in [aws_ecs_task_definition.service_b_containers, aws_ecs_task_definition.service_a] :
      jsondecode(td.container_definitions)[0].healthCheck.command[0] == "CMD" &&
      jsondecode(td.container_definitions)[0].healthCheck.command[1] == "node"
    ])
    error_message = "The container health check must run node (no curl in the slim images)."
  }

  assert {
    condition = (
      strcontains(jsondecode(aws_ecs_task_definition.service_b_containers.container_definitions)[0].healthCheck.command[3], "'http://127.0.0.1:80/healthz'") &&
      strcontains(jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].healthCheck.command[3], "'http://127.0.0.1:8080/healthz'")
    )
    error_message = "Each health check must ask its own container port's /healthz."
  }
}

run "drain_covers_propagation_and_ttl" {
  assert {
    condition = (
      one([for e in jsondecode(aws_ecs_task_definition.service_b_containers.container_definitions)[0].environment : e.value if e.name == "DRAIN_DELAY_MS"]) == "75000"
    )
    error_message = "B's DRAIN_DELAY_MS must default to 75000 (60 s propagation + 10 s TTL + 5 s)."
  }

  assert {
    condition     = jsondecode(aws_ecs_task_definition.service_b_containers.container_definitions)[0].stopTimeout == 90
    error_message = "B's stopTimeout must be the drain + 15 s (90 s), within ECS's 120 s."
  }
}

run "drain_follows_the_variable" {
  variables {
    service_b_drain_delay_ms = 105000
  }

  assert {
    condition = (
      one([for e in jsondecode(aws_ecs_task_definition.service_b_containers.container_definitions)[0].environment : e.value if e.name == "DRAIN_DELAY_MS"]) == "105000" &&
      jsondecode(aws_ecs_task_definition.service_b_containers.container_definitions)[0].stopTimeout == 120
    )
    error_message = "DRAIN_DELAY_MS and stopTimeout must follow service_b_drain_delay_ms."
  }
}

run "zero_gap_deployment_is_a_variable" {
  variables {
    service_b_zero_gap_deployment = true
  }

  assert {
    condition = (
      aws_ecs_service.service_b_containers.deployment_minimum_healthy_percent == 100 &&
      aws_ecs_service.service_b_containers.deployment_maximum_percent == 200
    )
    error_message = "The zero-gap setting must deploy B with 100 %/200 %."
  }

  assert {
    condition     = aws_ecs_service.service_b_containers.launch_type == "EC2"
    error_message = "The zero-gap setting must not change B's launch type."
  }
}

run "seed_desired_count" {
  variables {
    service_b_desired_count = 1
  }

  assert {
    condition     = aws_ecs_service.service_b_containers.desired_count == 1
    error_message = "service_b_desired_count = 1 must give the seed's single task."
  }
}

run "discovery_through_dns" {
  assert {
    condition = (
      one([for e in jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].environment : e.value if e.name == "SERVICE_B_SRV"]) == "service_b.ecs.internal" &&
      one([for e in jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].environment : e.value if e.name == "DISCOVERY_SOURCE"]) == "dns"
    )
    error_message = "By default A must discover B through DNS at service_b.ecs.internal."
  }

  assert {
    condition     = !anytrue([for e in jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].environment : e.name == "DNS_SERVERS"])
    error_message = "A must use the instance's resolver (the VPC resolver): no DNS_SERVERS."
  }

  assert {
    condition     = length(aws_iam_role_policy.service_a_cloudmap) == 0
    error_message = "With DNS discovery A's task role must carry no permissions."
  }
}

run "discovery_through_the_cloud_map_api" {
  variables {
    service_a_discovery_source = "cloudmap"
  }

  assert {
    condition = (
      one([for e in jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].environment : e.value if e.name == "DISCOVERY_SOURCE"]) == "cloudmap" &&
      one([for e in jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].environment : e.value if e.name == "CLOUDMAP_NAMESPACE"]) == "ecs.internal" &&
      one([for e in jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].environment : e.value if e.name == "CLOUDMAP_SERVICE"]) == "service_b" &&
      one([for e in jsondecode(aws_ecs_task_definition.service_a.container_definitions)[0].environment : e.value if e.name == "AWS_REGION"]) == "ap-northeast-1"
    )
    error_message = "With cloudmap A must get DISCOVERY_SOURCE, the namespace, the service and its Region."
  }

  assert {
    condition     = length(aws_iam_role_policy.service_a_cloudmap) == 1 && aws_iam_role_policy.service_a_cloudmap[0].role == aws_iam_role.service_a_task.id
    error_message = "With cloudmap A's task role must get the discovery policy."
  }

  assert {
    condition = (
      toset(data.aws_iam_policy_document.service_a_cloudmap.statement[0].actions) == toset(["servicediscovery:DiscoverInstances", "servicediscovery:DiscoverInstancesRevision"]) &&
      toset([for c in data.aws_iam_policy_document.service_a_cloudmap.statement[0].condition : "${c.variable}=${join(",", c.values)}"]) == toset(["servicediscovery:NamespaceName=ecs.internal", "servicediscovery:ServiceName=service_b"])
    )
    error_message = "A may only discover instances of ecs.internal/service_b, nothing else."
  }
}

run "servicediscovery_endpoint_only_when_asked_for_cloudmap" {
  command = plan

  variables {
    service_a_discovery_source       = "cloudmap"
    create_servicediscovery_endpoint = true
  }

  assert {
    condition     = length(aws_vpc_endpoint.servicediscovery_data) == 1 && aws_vpc_endpoint.servicediscovery_data[0].vpc_endpoint_type == "Interface" && aws_vpc_endpoint.servicediscovery_data[0].private_dns_enabled
    error_message = "With cloudmap and create_servicediscovery_endpoint, an interface endpoint with private DNS must exist."
  }

  assert {
    condition     = endswith(aws_vpc_endpoint.servicediscovery_data[0].service_name, ".data-servicediscovery")
    error_message = "The endpoint must be the Cloud Map data plane (data-servicediscovery), where DiscoverInstances is served."
  }

  assert {
    condition     = aws_vpc_security_group_ingress_rule.servicediscovery_endpoint_https[0].from_port == 443 && aws_vpc_security_group_ingress_rule.servicediscovery_endpoint_https[0].to_port == 443
    error_message = "The endpoint must admit HTTPS only."
  }
}

run "no_servicediscovery_endpoint_with_dns" {
  command = plan

  variables {
    service_a_discovery_source       = "dns"
    create_servicediscovery_endpoint = true
  }

  assert {
    condition     = length(aws_vpc_endpoint.servicediscovery_data) == 0 && length(aws_security_group.servicediscovery_endpoint) == 0
    error_message = "With DNS discovery no Cloud Map endpoint is created, whatever create_servicediscovery_endpoint says."
  }
}
