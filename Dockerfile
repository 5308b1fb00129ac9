# syntax=docker/dockerfile:1.7
#
# cityseg image: build with `docker build -t cityseg .`, run with `docker compose up` (see docker-compose.yml).
#
# Node 22 LTS, not 24: @tensorflow/tfjs-node 4.22 (the latest release) calls util.isNullOrUndefined, which
# Node 23 removed (tensorflow/tfjs#8609). Debian bookworm (glibc), not alpine: sharp's, onnxruntime's and
# libtensorflow's prebuilt binaries are linked against glibc.
ARG NODE_IMAGE=node:22-bookworm-slim

# ---------------------------------------------------------------------------------------------------------
# build: install every dependency (with install scripts), compile TypeScript, then drop devDependencies.
# ---------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# node-pre-gyp compiles tfjs-node's binding from source when no prebuilt one matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 make g++ \
 && rm -rf /var/lib/apt/lists/*

# onnxruntime-node ships its CPU binaries inside the package; skip its CUDA download (.npmrc says so too; the image
# does not depend on it being in the build context).
ENV ONNXRUNTIME_NODE_INSTALL=skip

# Sources go in before `npm ci`: its `prepare` lifecycle runs tsc on them. .dockerignore keeps the context
# to what tsconfig.json compiles plus the web page (no tests, fixtures, node_modules or .git).
COPY . .

# Install scripts must run: @tensorflow/tfjs-node's downloads libtensorflow. npm <= 11 runs them by default;
# newer npm runs only those approved in package.json `allowScripts`. --foreground-scripts shows their output.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --foreground-scripts --no-audit --no-fund

# onnxruntime-node is optional (npm drops it where its install script fails, and cityseg falls back to TensorFlow.js):
# the image must have it, so a failed install fails the build here.
RUN node -e "require('onnxruntime-node'); console.log('onnxruntime-node', require('onnxruntime-node/package.json').version, ': ok')"

# tfjs-node is optional, so npm ci succeeds even when its download failed: fail the build loudly instead.
# Build with --build-arg REQUIRE_TFJS_NODE=false to ship the WebAssembly/CPU backends only.
ARG REQUIRE_TFJS_NODE=true
RUN if [ "$REQUIRE_TFJS_NODE" = "true" ]; then \
      node -e "require('@tensorflow/tfjs-node'); console.log('tfjs-node native backend: ok')"; \
    fi

# `prepare` already compiled; build again explicitly so the image never depends on that lifecycle hook.
RUN npm run build \
 && npm prune --omit=dev --no-audit --no-fund

# The default presets (what serve/segment/classify run when no weights are configured), downloaded and verified by
# their SHA-256 (fastseg's: its file name's hash prefix, a mismatch only warned about) now, so that a container starts with trained weights and no network. The final stage ships this
# cache. --build-arg FETCH_WEIGHTS=false builds without them (the server then fetches them or falls back).
ARG FETCH_WEIGHTS=true
RUN mkdir -p /cache \
 && if [ "$FETCH_WEIGHTS" = "true" ]; then \
      CITYSEG_CACHE_DIR=/cache node dist/cli/main.js weights fetch fastseg:mobilev3large-lraspp-f128 torchvision:mobilenet_v3_large; \
    fi

# ---------------------------------------------------------------------------------------------------------
# runtime: production node_modules, compiled JS and the web page; nothing else.
# ---------------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
WORKDIR /app

# Settings (server/config.ts): CITYSEG_ARCH, CITYSEG_WEIGHTS, CITYSEG_NUM_CLASSES, CITYSEG_LABELS,
# CITYSEG_CLASSIFIER_ARCH, CITYSEG_CLASSIFIER_WEIGHTS, CITYSEG_INFERENCE_SIZE, CITYSEG_MAX_PIXELS,
# CITYSEG_BODY_LIMIT, CITYSEG_WORKERS, CITYSEG_QUEUE_LIMIT, CITYSEG_REQUEST_TIMEOUT_MS,
# CITYSEG_SHUTDOWN_TIMEOUT_MS, CITYSEG_ENGINE, CITYSEG_EXECUTION_PROVIDER, CITYSEG_CACHE_DIR, PORT, HOST, LOG_LEVEL,
# CITYSEG_API_KEYS, CITYSEG_METRICS_AUTH, CITYSEG_RATE_LIMIT_MAX, CITYSEG_RATE_LIMIT_WINDOW_MS, CITYSEG_CORS_ORIGINS,
# CITYSEG_WEIGHTS_MIRROR, CITYSEG_DOWNLOAD_IDLE_TIMEOUT_MS, CITYSEG_DOWNLOAD_MAX_BYTES, CITYSEG_PRECISION,
# CITYSEG_QUANTIZATION.
# HOST=0.0.0.0: the server binds to 127.0.0.1 by default; in a container it must listen on every interface.
# Weights: without CITYSEG_WEIGHTS, the default presets (fastseg's Cityscapes MobileV3Large, torchvision's
# classifier), fetched into /cache at build time; or mount a
# checkpoint and set CITYSEG_WEIGHTS=/weights/<file>, a URL or a preset name; CITYSEG_WEIGHTS=none for the seeded
# *untrained* initialisation.
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    CITYSEG_CACHE_DIR=/cache

# Video (cityseg segment drive.mp4, POST /v1/jobs) decodes and encodes with Debian's ffmpeg and ffprobe.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

# The app's files stay root-owned (read-only to the server); only the cache is writable by it.
RUN mkdir -p /cache /weights && chown node:node /cache
# Before VOLUME: a new named volume starts with the image's /cache, the presets fetched at build time.
COPY --from=build --chown=node:node /cache /cache
VOLUME ["/cache"]

COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/public ./public

# The official image's unprivileged user (uid 1000).
USER node

EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# The server drains in-flight requests on SIGTERM (CITYSEG_SHUTDOWN_TIMEOUT_MS) and exits 0.
STOPSIGNAL SIGTERM
CMD ["node", "dist/server/main.js"]
