variable "prefix" {
  type        = string
  description = "Name prefix for every resource (cluster, roles, repositories, log groups, ALB). 2-20 characters: lowercase words of letters and digits joined by single hyphens, starting with a letter (ECR repository names allow no trailing or doubled hyphen; ALB and target group names stop at 32 characters)."
  default     = "ecs-srv"

  validation {
    # ECR: [a-z0-9]+ components joined by single separators; ALB/target group:
    # letters, digits, hyphens, no hyphen at either end, 32 at most ("-a" added).
    condition     = length(var.prefix) >= 2 && length(var.prefix) <= 20 && can(regex("^[a-z][a-z0-9]*(-[a-z0-9]+)*$", var.prefix))
    error_message = "The prefix must be 2-20 characters: lowercase letters and digits, starting with a letter, with single hyphens between words (no hyphen at the end, no \"--\")."
  }

  validation {
    # The ALB is named "<prefix>-a": ELB refuses names that begin with
    # "internal-". Security groups are named "<prefix>-instances-..." and
    # "<prefix>-alb-...": EC2 refuses group names that begin with "sg-".
    condition     = !startswith("${var.prefix}-", "internal-") && !startswith("${var.prefix}-", "sg-")
    error_message = "The prefix must not be \"internal\" or \"sg\" or begin with \"internal-\" or \"sg-\" (names AWS reserves for load balancers and security groups)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags added to every resource through the provider's default_tags."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "ID of the existing VPC. It must have enableDnsSupport and enableDnsHostnames on: the Cloud Map private namespace ecs.internal is a Route 53 private hosted zone in it."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets (two or more Availability Zones) for the ECS container instances. They need a route to ECR, ECS, CloudWatch Logs and SSM: a NAT gateway or VPC endpoints."

  validation {
    condition     = length(var.subnet_ids) >= 1
    error_message = "Give at least one subnet for the container instances (two or more AZs recommended)."
  }
}

variable "enable_alb" {
  type        = bool
  description = "Create an Application Load Balancer in front of service A. Off: A runs without a public entry point (reach it from inside the VPC)."
  default     = true
}

variable "alb_internal" {
  type        = bool
  description = "Make the ALB internal (reachable only inside the VPC) instead of internet-facing."
  default     = false
}

variable "alb_subnet_ids" {
  type        = list(string)
  description = "Subnets for the ALB, in at least two Availability Zones (public subnets for an internet-facing ALB). Required when enable_alb is true."
  default     = []

  validation {
    condition     = !var.enable_alb || length(var.alb_subnet_ids) >= 2
    error_message = "The ALB needs alb_subnet_ids in at least two Availability Zones (or set enable_alb = false)."
  }
}

variable "alb_ingress_cidrs" {
  type        = list(string)
  description = "IPv4 CIDR blocks allowed to reach the ALB listeners (80, and 443 with a certificate). Empty: nobody (add your own address, e.g. [\"203.0.113.7/32\"])."
  default     = []

  validation {
    # A network address: no host bits set (203.0.113.7/24 is refused by the provider at plan).
    condition     = alltrue([for cidr in var.alb_ingress_cidrs : can(cidrnetmask(cidr)) && can(cidrsubnet(cidr, 0, 0)) && try(cidrsubnet(cidr, 0, 0) == cidr, false)])
    error_message = "Every entry of alb_ingress_cidrs must be an IPv4 network in CIDR form such as 203.0.113.0/24 (no host bits set)."
  }
}

variable "alb_certificate_arn" {
  type        = string
  description = "ACM certificate ARN for an HTTPS listener on 443; HTTP on 80 then redirects to it (301). Null: HTTP only."
  default     = null

  validation {
    condition     = var.alb_certificate_arn == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$", var.alb_certificate_arn))
    error_message = "alb_certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>) or null."
  }
}

variable "alb_ssl_policy" {
  type        = string
  description = "Security policy of the HTTPS listener (TLS 1.3 and 1.2 only by default)."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = startswith(var.alb_ssl_policy, "ELBSecurityPolicy-")
    error_message = "alb_ssl_policy must name an ELB security policy (ELBSecurityPolicy-...)."
  }
}

variable "alb_expose_operator_paths" {
  type        = bool
  description = "Forward every path to service A, including its operator routes (/, /discovery, /metrics, /healthz, /readyz), which show internal addresses, ports, task ids and traffic. Off: only /api/* is forwarded and the ALB answers 404 for the rest."
  default     = false
}

variable "capacity" {
  type = map(object({
    instance_type    = optional(string, "t3.small")
    min_size         = optional(number, 1)
    max_size         = optional(number, 2)
    desired_capacity = optional(number, 1)
  }))
  description = "EC2 container instances per task type (keys service_a and service_b): instance type and auto scaling group sizes. Each instance registers with ECS attribute TaskType = <key>."
  default = {
    service_a = {}
    service_b = { min_size = 2, max_size = 3, desired_capacity = 2 }
  }

  validation {
    condition     = toset(keys(var.capacity)) == toset(["service_a", "service_b"])
    error_message = "The capacity map must have exactly the keys service_a and service_b."
  }

  validation {
    condition     = alltrue([for c in values(var.capacity) : c.min_size <= c.desired_capacity && c.desired_capacity <= c.max_size])
    error_message = "For each task type: min_size <= desired_capacity <= max_size."
  }

  validation {
    condition     = alltrue([for c in values(var.capacity) : c.min_size >= 0 && c.max_size >= 1 && floor(c.min_size) == c.min_size && floor(c.max_size) == c.max_size && floor(c.desired_capacity) == c.desired_capacity])
    error_message = "For each task type: whole numbers, min_size >= 0 and max_size >= 1."
  }
}

variable "ecs_ami_ssm_parameter" {
  type        = string
  description = "SSM parameter holding the ECS-optimized Amazon Linux 2023 AMI ID. Use .../amazon-linux-2023/arm64/recommended/image_id together with Graviton instance types."
  default     = "/aws/service/ecs/optimized-ami/amazon-linux-2023/recommended/image_id"
}

variable "enable_ssm_session_manager" {
  type        = bool
  description = "Attach AmazonSSMManagedInstanceCore to the container instance role so you can open a shell with SSM Session Manager (no SSH, no inbound port)."
  default     = true
}

variable "enable_container_insights" {
  type        = bool
  description = "Turn on CloudWatch Container Insights for the cluster (extra CloudWatch cost)."
  default     = false
}

variable "service_a_image_tag" {
  type        = string
  description = "Tag of service A's image in its ECR repository (tags are immutable: push a new tag per build, e.g. the git commit)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.service_a_image_tag))
    error_message = "An image tag is 1-128 characters: letters, digits, _, . and -, not starting with . or -."
  }
}

variable "service_b_image_tag" {
  type        = string
  description = "Tag of service B's image in its ECR repository (tags are immutable: push a new tag per build, e.g. the git commit)."

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.service_b_image_tag))
    error_message = "An image tag is 1-128 characters: letters, digits, _, . and -, not starting with . or -."
  }
}

variable "service_a_desired_count" {
  type        = number
  description = "Number of service A tasks."
  default     = 1

  validation {
    condition     = var.service_a_desired_count >= 0 && floor(var.service_a_desired_count) == var.service_a_desired_count
    error_message = "service_a_desired_count must be a whole number >= 0."
  }
}

variable "service_b_desired_count" {
  type        = number
  description = "Number of service B tasks, i.e. SRV records under service_b.ecs.internal. The seed runs 1; two or more let A fail over when a task stops."
  default     = 2

  validation {
    condition     = var.service_b_desired_count >= 0 && floor(var.service_b_desired_count) == var.service_b_desired_count
    error_message = "service_b_desired_count must be a whole number >= 0."
  }
}

variable "service_a_memory_mib" {
  type        = number
  description = "Hard memory limit of A's container, in MiB (the container is killed above it)."
  default     = 256

  validation {
    condition     = var.service_a_memory_mib >= 6 && floor(var.service_a_memory_mib) == var.service_a_memory_mib
    error_message = "service_a_memory_mib must be a whole number of MiB, at least 6 (ECS's minimum for a container)."
  }
}

variable "service_b_memory_mib" {
  type        = number
  description = "Hard memory limit of B's container, in MiB (the container is killed above it)."
  default     = 256

  validation {
    condition     = var.service_b_memory_mib >= 6 && floor(var.service_b_memory_mib) == var.service_b_memory_mib
    error_message = "service_b_memory_mib must be a whole number of MiB, at least 6 (ECS's minimum for a container)."
  }
}

variable "service_b_drain_delay_ms" {
  type        = number
  description = "B's DRAIN_DELAY_MS: after SIGTERM B answers /readyz with 503 but keeps serving this long, then closes. ECS deregisters the task from Cloud Map and sends SIGTERM at once; the record can still be served until the deletion has reached every Route 53 server (up to 60 s) and then for its TTL (10 s). Default 75000 = 60 s + 10 s + 5 s margin. The container's stopTimeout is derived from it (+15 s)."
  default     = 75000

  validation {
    # Floor: 60 s Route 53 propagation + the 10 s record TTL (service_discovery.tf).
    # Ceiling: stopTimeout = drain + 15 s stays within ECS's 120 s maximum.
    condition     = var.service_b_drain_delay_ms >= 70000 && var.service_b_drain_delay_ms <= 105000
    error_message = "service_b_drain_delay_ms must be between 70000 (60 s propagation + the 10 s TTL) and 105000 (stopTimeout = drain + 15 s <= 120 s)."
  }
}

variable "service_b_zero_gap_deployment" {
  type        = bool
  description = "Deploy B with minimum healthy 100 % / maximum 200 % (new tasks register before old ones stop) instead of the seed's 0 %/100 % (old tasks stop first: service_b.ecs.internal is NXDOMAIN until the new ones are healthy, and resolvers cache that for namespace_soa_ttl_seconds)."
  default     = false
}

variable "namespace_soa_ttl_seconds" {
  type        = number
  description = "SOA TTL of the Cloud Map namespace, i.e. how long resolvers cache a negative answer (NXDOMAIN/NODATA) for service_b.ecs.internal. Keep it at most the record TTL (10 s) so that B's first task after a gap is found as soon as a new record would be."
  default     = 10

  validation {
    condition     = var.namespace_soa_ttl_seconds >= 0 && var.namespace_soa_ttl_seconds <= 10 && floor(var.namespace_soa_ttl_seconds) == var.namespace_soa_ttl_seconds
    error_message = "namespace_soa_ttl_seconds must be a whole number from 0 to 10 (the SRV record TTL)."
  }
}

variable "service_a_discovery_source" {
  type        = string
  description = "How A finds B: \"dns\" (SRV records through the VPC resolver) or \"cloudmap\" (the Cloud Map DiscoverInstances API with A's task role, no DNS cache in between)."
  default     = "dns"

  validation {
    condition     = contains(["dns", "cloudmap"], var.service_a_discovery_source)
    error_message = "service_a_discovery_source must be \"dns\" or \"cloudmap\"."
  }
}

variable "log_level" {
  type        = string
  description = "LOG_LEVEL (pino level) of both services."
  default     = "info"

  validation {
    condition     = contains(["fatal", "error", "warn", "info", "debug", "trace", "silent"], var.log_level)
    error_message = "log_level must be one of fatal, error, warn, info, debug, trace, silent."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the services' CloudWatch log groups, in days."
  default     = 14

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "ecr_force_delete" {
  type        = bool
  description = "Let `terraform destroy` delete the ECR repositories even when they still hold images."
  default     = false
}

variable "create_servicediscovery_endpoint" {
  type        = bool
  description = "With service_a_discovery_source = \"cloudmap\": create an interface VPC endpoint for the Cloud Map data plane (data-servicediscovery, with private DNS) in subnet_ids, so A reaches DiscoverInstances from private subnets without a NAT gateway. Costs an endpoint per AZ per hour."
  default     = false
}
