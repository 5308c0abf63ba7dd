# A reusable module: no provider block. The caller configures the AWS provider
# (Region, credentials, default_tags); examples/complete is a ready root module.

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  name = var.prefix

  # On every taggable resource (resources take the caller's default_tags too).
  tags = merge(var.tags, {
    Project   = "ecs-srv"
    Stack     = var.prefix
    ManagedBy = "terraform"
  })

  account_id = data.aws_caller_identity.current.account_id
  partition  = data.aws_partition.current.partition

  # The provider's Region, read from a regional ARN the module has at plan time
  # (the AMI parameter: arn:<partition>:ssm:<region>:<account>:parameter/...).
  # data.aws_region would do too, but its attribute is `name` in 5.x and
  # `region` in 6.x (`name` deprecated): one spelling warns or fails on the other.
  region = split(":", data.aws_ssm_parameter.ecs_ami.arn)[3]

  # One EC2 capacity group per task type; the key is the ECS instance attribute
  # `TaskType` that the services' placement constraints select on.
  task_types = toset(["service_a", "service_b"])

  # Container health check that runs in the node:*-bookworm-slim images, which
  # have no curl or wget: plain `node -e` with http.get, exit 0 on 200, else 1.
  # `%d` is the container port (format()); the timeout keeps a hung server from
  # hanging the check past the ECS health check timeout.
  healthcheck_node_script = "const r=require('http').get('http://127.0.0.1:%d/healthz',s=>process.exit(s.statusCode===200?0:1));r.on('error',()=>process.exit(1));r.setTimeout(3000,()=>process.exit(1))"

  # B keeps serving for DRAIN_DELAY_MS after SIGTERM (clients may hold its SRV
  # record until the deregistration has propagated and their TTL has run out),
  # then closes with 10 s for in-flight requests; ECS must not SIGKILL it before.
  service_b_stop_timeout_seconds = ceil(var.service_b_drain_delay_ms / 1000) + 15
}
