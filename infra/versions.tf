terraform {
  # 1.9+ lets a variable's validation refer to other variables (see variables.tf);
  # the upper bound keeps a future major release from applying this unreviewed.
  required_version = ">= 1.9.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 6.x: per-resource `region`, `data.aws_region.*.region`; commit the
      # .terraform.lock.hcl that `terraform init` writes to pin the exact build.
      version = "~> 6.13"
    }
  }
}
