# One image for the four services; the command picks one:
#   node dist/apps/<gateway|launcher|terminator|error-handler>/src/main.js
# (docker-compose.yml and k8s/ override CMD per service; the default is the gateway.)

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.base.json tsconfig.build.json ./
COPY apps ./apps
COPY libs ./libs
RUN npm run build

FROM node:20-bookworm-slim AS runtime
# tini as PID 1: forwards SIGTERM so Nest's shutdown hooks run (node as PID 1 would ignore
# the signal it re-raises after closing), and reaps the local runtime's detached children.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY tools/simulator ./tools/simulator
# Inside a container the gateway must listen beyond loopback, and /app is root's and read-only
# to the service user, so the local runtime keeps its state under /tmp.
ENV HOST=0.0.0.0 \
    PORT=3000 \
    LOCAL_STATE_DIR=/tmp/simdeploy/local
# The node image's unprivileged user; k8s/ names it by uid (1000) for runAsNonRoot.
USER node
EXPOSE 3000
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/apps/gateway/src/main.js"]
