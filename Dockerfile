# recording-manager's container image.
#   docker build -t recording-manager .        (docker compose up builds it too: docker-compose.yml)
# test/dockerfile.test.ts checks this file and replays its COPY and RUN steps outside Docker, then
# starts the CMD and runs the HEALTHCHECK: keep to the instructions its small parser knows (FROM ... AS,
# WORKDIR, COPY [--from], RUN, ENV, USER, EXPOSE, HEALTHCHECK and CMD in exec form).
#
# Base: Debian slim rather than Alpine. Node's own builds are glibc ones (Alpine's musl builds are
# an "experimental" tier), and the tests and CI run on Debian bookworm, so the image runs what was
# tested; the price is a larger base image (Alpine's is about 40 MB smaller). Node 24 LTS (supported
# until April 2028), pinned: .ci/run reads the release from the first FROM and runs the tests on it,
# so bump the three FROM lines together.

# Compiles TypeScript (tsconfig.build.json: src/ to dist/) with every dependency, dev ones included.
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /app
# The lock file alone first, so the dependency layer is reused until it changes.
COPY package.json package-lock.json ./
# --ignore-scripts: no dependency needs its install script here (the build needs only tsc), and it
# keeps packages from running code or phoning home during the build.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only, installed apart so no dev dependency ever reaches the runtime image
# (nor npm's cache: only node_modules leaves this stage, so there is nothing to clean up).
FROM node:24.22.3-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# What runs: node, production node_modules, the compiled service and the browser client (public/,
# which the service serves from ../public relative to dist/; livekit-client comes from node_modules).
FROM node:24.22.3-bookworm-slim AS runtime
WORKDIR /app
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY public ./public
# No NODE_ENV, and no keys: unset NODE_ENV means production, so the image alone refuses to start and
# names what a deployment must set (LIVEKIT_API_KEY, LIVEKIT_API_SECRET, ADMIN_API_KEY,
# MEDIA_URL_SIGNING_KEY: productionProblems in src/config.ts). A deployment passes its keys; the S3
# keys may stay unset there (the AWS SDK's default credential chain, an IAM role). The local stack
# (docker-compose.yml) sets NODE_ENV=development with its development keys.
ENV SERVER_PORT=6080
# The files stay root's and read-only to the service, which writes nothing locally. The `node` user
# (uid 1000) comes with the base image; a numeric USER lets Kubernetes' runAsNonRoot verify it.
USER 1000:1000
EXPOSE 6080
# The slim image has no curl or wget, so node's own fetch asks /healthz (the process answers; /readyz
# would also fail when LiveKit or S3 is down, which a restart does not fix).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SERVER_PORT || 6080) + '/healthz').then((res) => process.exit(res.ok ? 0 : 1), () => process.exit(1))"]
# node itself (no npm in between: the base image's entrypoint execs it), so SIGTERM from `docker stop`
# reaches the service, which finishes in-flight requests and exits within SHUTDOWN_TIMEOUT (10 s by
# default, as long as docker stop's own grace period: give it more, e.g. compose's stop_grace_period).
CMD ["node", "dist/index.js"]
