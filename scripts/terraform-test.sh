#!/usr/bin/env bash
# Terraform checks Terraform, offline, against the real AWS provider schema:
#
#   1. terraform fmt -check -recursive infra
#   2. for the module (infra/) and the example root (infra/examples/complete):
#      terraform init -backend=false from a local filesystem mirror of
#      hashicorp/aws (-plugin-dir: no registry is reached), then terraform validate
#   3. terraform test in infra/ (infra/tests/*.tftest.hcl: mock_provider "aws",
#      so no credentials and no AWS API call)
#
# The mirror: $TF_PLUGIN_DIR when set, else the first of a few well-known
# locations holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/,
# else whatever `find` turns up. Fails with a clear message when there is no
# terraform or no mirror. Usage: npm run test:terraform
set -euo pipefail

cd "$(dirname "$0")/.."
readonly ROOT=$PWD
readonly PROVIDER_PATH=registry.terraform.io/hashicorp/aws

log() { printf '[terraform-test] %s\n' "$*"; }
die() {
  printf '[terraform-test] error: %s\n' "$*" >&2
  exit 1
}

command -v terraform >/dev/null ||
  die 'terraform is not installed (1.9 or later; these checks run on 1.11)'
log "$(terraform version | head -n 1)"

os_arch="$(uname -s | tr '[:upper:]' '[:lower:]')_$(uname -m | sed -e 's/^x86_64$/amd64/' -e 's/^aarch64$/arm64/')"

# A plugin directory holds <dir>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_*.
has_provider() { compgen -G "$1/$PROVIDER_PATH/*/$os_arch/terraform-provider-aws_*" >/dev/null; }

find_mirror() {
  local dir
  for dir in "${TF_PLUGIN_DIR:-}" /opt/tf-plugins /opt/terraform/plugins /usr/local/share/terraform/plugins \
    /usr/share/terraform/plugins "$HOME/.terraform.d/plugins" "$HOME/.local/share/terraform/plugins"; do
    if [[ -n $dir ]] && has_provider "$dir"; then
      echo "$dir"
      return
    fi
  done
  # Last resort: search the disk (bounded depth, other filesystems and /proc left out).
  local binary
  binary=$(find / -xdev -maxdepth 9 -path /proc -prune -o -type f -name 'terraform-provider-aws_*' \
    -path "*/$PROVIDER_PATH/*/$os_arch/*" -print 2>/dev/null | sort -V | tail -n 1)
  if [[ -n $binary ]]; then
    # Strip <registry>/<namespace>/<type>/<version>/<os_arch>/<file>.
    dir=$binary
    for _ in 1 2 3 4 5 6; do dir=$(dirname "$dir"); done
    echo "$dir"
  fi
}

PLUGIN_DIR=$(find_mirror)
[[ -n $PLUGIN_DIR ]] || die "no local mirror of hashicorp/aws for $os_arch: set TF_PLUGIN_DIR to a directory holding $PROVIDER_PATH/<version>/$os_arch/terraform-provider-aws_*"
log "provider mirror: $PLUGIN_DIR ($(cd "$PLUGIN_DIR/$PROVIDER_PATH" && ls -d -- */ | tr -d / | tr '\n' ' '))"

WORK_DIR=$(mktemp -d /tmp/ecs-srv-terraform-test.XXXXXX)
trap 'rm -rf "$WORK_DIR"' EXIT
# No checkpoint calls; a named but missing CLI config file only makes noise.
export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
if [[ -n ${TF_CLI_CONFIG_FILE:-} && ! -e $TF_CLI_CONFIG_FILE ]]; then
  : >"$WORK_DIR/terraformrc"
  export TF_CLI_CONFIG_FILE=$WORK_DIR/terraformrc
fi

log 'terraform fmt -check -recursive infra'
terraform fmt -check -recursive -diff infra || die 'infra is not terraform fmt-clean (run: terraform fmt -recursive infra)'

for dir in infra infra/examples/complete; do
  # Working data (.terraform/) outside the checkout; the lock file that init
  # writes next to the configuration is git-ignored (infra/.gitignore).
  export TF_DATA_DIR=$WORK_DIR/data-${dir//\//-}
  log "$dir: terraform init -backend=false -plugin-dir"
  terraform -chdir="$dir" init -backend=false -plugin-dir="$PLUGIN_DIR" -no-color >"$WORK_DIR/init.log" 2>&1 || {
    cat "$WORK_DIR/init.log" >&2
    die "terraform init failed in $dir"
  }
  grep -E '^- (Installing|Using)' "$WORK_DIR/init.log" | sed 's/^/  /' || true
  log "$dir: terraform validate"
  terraform -chdir="$dir" validate -no-color
done

export TF_DATA_DIR=$WORK_DIR/data-infra
log 'infra: terraform test'
terraform -chdir=infra test -no-color
