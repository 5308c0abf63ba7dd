# The image of either service, chosen by build arguments. Build from the repository root (an image needs
# the workspace packages in shared/ too):
#   docker build --build-arg SERVICE=service-b --build-arg PORT=80   -t ecs-srv/service-b .
#   docker build --build-arg SERVICE=service-a --build-arg PORT=8080 -t ecs-srv/service-a .
# SERVICE is the workspace folder (service-a or service-b), PORT the port the image EXPOSEs (the service's
# default PORT). docker-compose.yml passes both.
#
# Three stages: `build` compiles TypeScript with the full dev install, `deps` installs only the service's
# production dependencies, and the runtime stage copies the compiled code and those dependencies onto a
# fresh slim Node 24 (LTS) image, without npm caches or compilers. The build and deps stages' first
# layers are the same for both services, so the two images share them.

# --- build: npm ci (dev dependencies included), then tsc -b for the service and the packages it uses ---
FROM node:24-bookworm-slim AS build
ARG SERVICE
WORKDIR /app
RUN case "$SERVICE" in service-a|service-b) ;; \
      *) echo "build with --build-arg SERVICE=service-a or SERVICE=service-b, got '$SERVICE'" >&2; exit 1 ;; esac
# Manifests first, so the `npm ci` layer is reused until a package.json or the lockfile changes. npm ci
# needs every workspace's package.json to match the lockfile.
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY shared/package.json shared/
COPY shared/kit/package.json shared/kit/
COPY shared/dev-server/package.json shared/dev-server/
COPY service-b/package.json service-b/
COPY service-a/package.json service-a/
RUN npm ci --no-audit --no-fund
COPY shared/ shared/
COPY ${SERVICE}/ ${SERVICE}/
# -b follows the service's project references (the client in shared/, the kit in shared/kit/); the dev
# server (shared/dev-server/, dns-packet only) is built too: compose's `cloudmap` profile runs it from A's
# image. Then only what runs stays in the package folders: package.json, dist/ and any assets beside them
# (service-a's public/); sources, tsconfig files and build info go.
RUN npx tsc -b ${SERVICE} shared/dev-server \
    && rm -rf shared/src shared/tsconfig*.json shared/dist/.tsbuildinfo \
        shared/kit/src shared/kit/tsconfig*.json shared/kit/dist/.tsbuildinfo \
        shared/dev-server/src shared/dev-server/tsconfig*.json shared/dev-server/dist/.tsbuildinfo \
        ${SERVICE}/src ${SERVICE}/tsconfig*.json ${SERVICE}/dist/.tsbuildinfo

# --- deps: production dependencies of the service (with those of the workspace packages it depends on)
# and of the dev server ---
FROM node:24-bookworm-slim AS deps
ARG SERVICE
WORKDIR /app
COPY package.json package-lock.json ./
COPY shared/package.json shared/
COPY shared/kit/package.json shared/kit/
COPY shared/dev-server/package.json shared/dev-server/
COPY service-b/package.json service-b/
COPY service-a/package.json service-a/
# node_modules/@ecs-srv/* become symlinks to the workspace folders under /app, which the runtime stage
# fills with the built packages.
RUN npm ci --omit=dev --workspace ${SERVICE} --workspace shared/dev-server --no-audit --no-fund

# --- runtime ---
FROM node:24-bookworm-slim
ARG SERVICE
ARG PORT
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules/ node_modules/
COPY --from=build /app/shared/ shared/
COPY --from=build /app/${SERVICE}/ ${SERVICE}/
WORKDIR /app/${SERVICE}
# The node image's unprivileged user (uid 1000); the code stays root-owned, read-only to it. B's port 80
# needs no capability: Docker (20.10+) sets net.ipv4.ip_unprivileged_port_start=0 in a container's own
# network namespace.
USER node
EXPOSE ${PORT}
# Exec form: node is PID 1 and receives SIGTERM itself (the service drains, then exits 0).
CMD ["node", "dist/main.js"]
