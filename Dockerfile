# syntax=docker/dockerfile:1
# The backup-jobs image: the runbooks under Node.js 24 (type stripping, no loader), production
# dependencies only, and the tools the scheduled jobs run (pg_dump/pg_restore 15, redis-server
# and redis-check-rdb, git). Runs as an unprivileged user on a read-only root filesystem: the
# jobs write only to /tmp (a scratch volume) and read the stack outputs from
# /etc/eventchain-dr/outputs.json (a ConfigMap, or an ECS init container). See docs/deploy.md.
#
# The base image is pinned by digest (node:24.18.0-bookworm-slim); refresh it on purpose:
#   docker buildx imagetools inspect node:24-bookworm-slim   # take the index digest
ARG NODE_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

FROM ${NODE_IMAGE} AS dependencies
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# Exactly the lockfile's production dependencies; no install scripts run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force

FROM ${NODE_IMAGE}
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# Debian bookworm's own packages (security updates arrive by rebuilding the image).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates git postgresql-client-15 redis-server redis-tools \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 backup \
    && useradd --system --uid 10001 --gid backup --home-dir /tmp --no-create-home --shell /usr/sbin/nologin backup
# The RDS CA bundle: the backup runbooks reach the database only over TLS verified against it.
ADD --chmod=644 https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem /etc/ssl/certs/rds-global-bundle.pem
WORKDIR /app
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json Pulumi.yaml ./
COPY contract/ ./contract/
COPY infra/ ./infra/
COPY runbooks/ ./runbooks/
ENV NODE_ENV=production \
    HOME=/tmp \
    TMPDIR=/tmp
USER 10001:10001
# Each job's command line is set by its CronJob or ECS task (infra/components/backup-jobs.ts).
CMD ["node", "runbooks/backup-database.ts", "--help"]
