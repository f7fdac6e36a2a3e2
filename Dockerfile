# syntax=docker/dockerfile:1
# One image recipe for every shopmesh process. SERVICE picks what the image runs:
#   docker build --build-arg SERVICE=catalog -t shopmesh/catalog:dev .
#   docker build --build-arg SERVICE=edge    -t shopmesh/edge:dev .
# SERVICE is a directory of services/ (runs services/$SERVICE/src/main.ts) or `edge`
# (edge/src/main.ts). The TypeScript runs as is through tsx, as in development: no build step,
# so the image runs exactly the code that the tests ran.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- dependencies: production node_modules of every workspace, plus tsx -----------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# Manifests only, so this layer is rebuilt only when dependencies change. A new workspace needs
# its line here (deploy/test/manifests.test.ts checks that every workspace has one).
COPY package.json package-lock.json ./
COPY gen/package.json gen/
COPY platform/package.json platform/
COPY edge/package.json edge/
COPY services/user/package.json services/user/
COPY services/catalog/package.json services/catalog/
COPY services/inventory/package.json services/inventory/
COPY services/cart/package.json services/cart/
COPY services/order/package.json services/order/
COPY services/payment/package.json services/payment/
COPY services/shipping/package.json services/shipping/
COPY services/notification/package.json services/notification/
# Versions come from the lockfile. `npm install` rather than `npm ci`, as in .ci/run: npm 11's
# `npm ci` rejects this lockfile when an optional platform binary of a dev tool (biome, buf for
# other OSes) is missing from the registry. No install scripts: no dependency needs one.
# tsx (a root devDependency) is the runtime's TypeScript loader: it and esbuild are kept aside
# before the dev tools are pruned, then put back.
RUN --mount=type=cache,target=/root/.npm \
    npm install --no-audit --no-fund --ignore-scripts \
 && mkdir /tmp/loader \
 && cp -a node_modules/tsx node_modules/esbuild node_modules/@esbuild /tmp/loader/ \
 && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
 && cp -a /tmp/loader/. node_modules/ \
 && rm -rf /tmp/loader

# ---- runtime --------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM to node (whose platform shutdown drains gRPC, consumers and the
# outbox relay) and reaps zombies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
# node_modules (root and per workspace, with the @shopmesh/* workspace links) and manifests,
# then the sources over them.
COPY --from=deps /app ./
COPY tsconfig.json ./
COPY gen ./gen
COPY platform ./platform
COPY edge ./edge
COPY services ./services

ARG SERVICE
# Fails the build for an unknown SERVICE; otherwise writes the entry point the CMD runs.
RUN set -eu; \
    case "${SERVICE:-}" in \
      edge) main=/app/edge/src/main.ts ;; \
      ""|*/*|.*) echo "build with --build-arg SERVICE=<edge or a directory of services/>" >&2; exit 1 ;; \
      *) main="/app/services/${SERVICE}/src/main.ts" ;; \
    esac; \
    if [ ! -f "$main" ]; then echo "no $main: SERVICE=${SERVICE} is not a shopmesh process" >&2; exit 1; fi; \
    printf 'import "%s";\n' "$main" > /app/main.mjs
LABEL org.opencontainers.image.title="shopmesh-${SERVICE}" \
      org.opencontainers.image.licenses="Apache-2.0"

# The `node` user of the base image, by number so Kubernetes' runAsNonRoot can verify it. The
# code is root-owned and read-only to it; tsx's cache goes to /tmp (an emptyDir in Kubernetes,
# where the root filesystem is read-only).
USER 1000:1000
EXPOSE 8080 50051-50062 51051-51062
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "/app/main.mjs"]
