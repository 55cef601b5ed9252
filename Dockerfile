# guardpost: the Layer-7 mTLS sidecar as a container image.
#
#   docker build -t guardpost .
#   docker run --read-only \
#     -v "$PWD/secrets:/run/secrets:ro" \
#     -v "$PWD/guardpost:/etc/guardpost:ro" \
#     -p 8443:8443 guardpost
#
# Expects, read-only:
#   /run/secrets/               service.crt, service.key, ca.crt (swarm secrets,
#                               a Kubernetes secret volume, or a bind mount)
#   /etc/guardpost/guardpost.yaml  the config (and the ACLs it names, e.g.
#                               /etc/guardpost/acl.yaml); or set GUARDPOST_CONFIG
# Nothing is written to the filesystem: run it with a read-only root.

ARG NODE_IMAGE=node:24-bookworm-slim

# Build: dev dependencies and the TypeScript compiler stay in this stage.
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only, without install scripts (none is needed).
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production \
    GUARDPOST_HEALTHCHECK_URL=http://127.0.0.1:9901/readyz
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
# The demo (`docker run guardpost demo`) serves this ACL and shows `acl diff` against its next version.
COPY acl/example.yaml acl/example.v2.yaml ./acl/

# The node user (uid 1000) of the official image; the files above stay root's and read-only to it.
USER node

# 8443: inbound mTLS (inbound.listen); 9901: /healthz /readyz /metrics (admin.listen).
EXPOSE 8443 9901

# No curl in a slim image: node asks /readyz itself. Set GUARDPOST_HEALTHCHECK_URL
# when admin.listen is not port 9901.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.GUARDPOST_HEALTHCHECK_URL, { signal: AbortSignal.timeout(2000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# SIGTERM drains in-flight requests (drainTimeout) and exits 0; SIGHUP reloads.
STOPSIGNAL SIGTERM
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
CMD ["serve"]
