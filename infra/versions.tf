terraform {
  # 1.9+ lets a variable's validation refer to other variables (see variables.tf);
  # the upper bound keeps a future major release from applying this unreviewed.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Every provider this module is checked against: 5.100 (the last 5.x, what
      # `terraform validate` and `terraform test` run on in CI) up to the current
      # major. Nothing here needs 6.x (no per-resource `region`, no
      # data.aws_region.*.region); managed_draining needs >= 5.33. The root
      # module that calls this one pins the exact build in its .terraform.lock.hcl.
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}
