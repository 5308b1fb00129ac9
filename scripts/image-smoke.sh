#!/usr/bin/env bash
# Performs the Docker image's steps on a clean copy of the repository, as far as a machine without Docker can:
# the build context (git HEAD minus .dockerignore), npm ci, npm run build, npm prune --omit=dev, then the
# image's CMD on a free port; waits for /readyz, segments one image, sends SIGTERM and requires exit 0.
#
# Usage: scripts/image-smoke.sh [git-ref]      (default HEAD; uncommitted changes are not part of the image)
# Env:   READY_TIMEOUT_S (default 300)  STOP_TIMEOUT_S (default 60)  KEEP_WORKDIR=1 keeps the temp copy.
set -euo pipefail

REF="${1:-HEAD}"
READY_TIMEOUT_S="${READY_TIMEOUT_S:-300}"
STOP_TIMEOUT_S="${STOP_TIMEOUT_S:-60}"
REPO="$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/cityseg-image-smoke.XXXXXX")"
APP="$WORK/app"
SERVER_PID=""

step() { printf '\n== %s\n' "$*"; }
fail() {
  printf 'image-smoke: FAIL: %s\n' "$*" >&2
  if [[ -f "$WORK/server.log" ]]; then
    printf -- '--- last lines of the server log:\n' >&2
    tail -n 40 "$WORK/server.log" >&2
  fi
  exit 1
}
cleanup() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then kill -KILL "$SERVER_PID" 2>/dev/null || true; fi
  if [[ "${KEEP_WORKDIR:-0}" == 1 ]]; then echo "image-smoke: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

step "build context: git archive $REF minus .dockerignore → $APP"
mkdir -p "$APP" "$WORK/cache"
git -C "$REPO" archive --format=tar "$REF" | tar -x -C "$APP"
(
  cd "$APP"
  shopt -s globstar nullglob dotglob
  while IFS= read -r pattern || [[ -n "$pattern" ]]; do
    pattern="${pattern#"${pattern%%[![:space:]]*}"}"
    [[ -z "$pattern" || "$pattern" == \#* || "$pattern" == !* || "$pattern" == *..* ]] && continue
    # Unquoted on purpose: the pattern is a glob, expanded relative to the context root.
    # shellcheck disable=SC2086
    rm -rf -- ${pattern#/}
  done < .dockerignore
)
[[ -f "$APP/package.json" && -f "$APP/package-lock.json" ]] || fail ".dockerignore removed package.json or package-lock.json from the context"

step "npm ci (install scripts in the foreground, as in the image)"
cd "$APP"
ONNXRUNTIME_NODE_INSTALL=skip npm ci --foreground-scripts --no-audit --no-fund

step "npm run build"
npm run build
[[ -f dist/server/main.js ]] || fail "npm run build did not produce dist/server/main.js (the image's CMD)"

step "npm prune --omit=dev"
npm prune --omit=dev --no-audit --no-fund
# Every package the lockfile marks dev-only must be gone: the runtime image ships this node_modules.
node -e '
  const fs = require("node:fs");
  const lock = JSON.parse(fs.readFileSync("package-lock.json", "utf8"));
  const left = Object.entries(lock.packages)
    .filter(([path, meta]) => path && meta.dev && fs.existsSync(path))
    .map(([path]) => path);
  if (left.length) { console.error("devDependencies left after prune:", left.slice(0, 10).join(", ")); process.exit(1); }
  console.log("production dependencies only: ok");
' || fail "npm prune left devDependencies"

PORT="$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')"
step "start the image's CMD: node dist/server/main.js on 127.0.0.1:$PORT"
NODE_ENV=production PORT="$PORT" HOST=127.0.0.1 CITYSEG_CACHE_DIR="$WORK/cache" LOG_LEVEL="${LOG_LEVEL:-info}" \
  node dist/server/main.js >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

step "wait for /readyz (at most ${READY_TIMEOUT_S}s)"
BASE="http://127.0.0.1:$PORT"
started=$SECONDS
deadline=$((started + READY_TIMEOUT_S))
until node -e 'fetch(process.argv[1]).then((r) => process.exit(r.status === 200 ? 0 : 1), () => process.exit(1))' "$BASE/readyz"; do
  kill -0 "$SERVER_PID" 2>/dev/null || { wait "$SERVER_PID" || rc=$?; fail "the server exited (code ${rc:-0}) before it was ready"; }
  (( SECONDS < deadline )) || fail "/readyz did not answer 200 within ${READY_TIMEOUT_S}s"
  sleep 1
done
echo "ready $((SECONDS - started))s after start"

step "POST a 96x64 PNG to /v1/segment?format=labelIds"
node --input-type=module -e '
  import sharp from "sharp";
  const [base] = process.argv.slice(1);
  const width = 96, height = 64;
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < width * height; i++) pixels.set([(i % width) * 2, Math.floor(i / width) * 3, 128], i * 3);
  const image = await sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
  const response = await fetch(`${base}/v1/segment?format=labelIds`, {
    method: "POST", headers: { "content-type": "image/png" }, body: image,
  });
  const body = Buffer.from(await response.arrayBuffer());
  const problem = (message) => { console.error(message, body.subarray(0, 300).toString()); process.exit(1); };
  if (response.status !== 200) problem(`status ${response.status}, expected 200:`);
  if (response.headers.get("content-type") !== "image/png") problem(`content-type ${response.headers.get("content-type")}:`);
  const mask = await sharp(body).metadata();
  if (mask.format !== "png" || mask.width !== width || mask.height !== height) {
    problem(`mask is ${mask.format} ${mask.width}x${mask.height}, expected png ${width}x${height}:`);
  }
  console.log(`200 image/png ${mask.width}x${mask.height}, model ${response.headers.get("x-model")}, inference ${response.headers.get("x-inference-ms")} ms`);
' "$BASE" || fail "POST /v1/segment?format=labelIds did not answer a 96x64 PNG"

step "SIGTERM: the server must drain and exit 0 within ${STOP_TIMEOUT_S}s"
kill -TERM "$SERVER_PID"
for ((waited = 0; waited < STOP_TIMEOUT_S * 10; waited++)); do
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$SERVER_PID" 2>/dev/null && fail "the server still runs ${STOP_TIMEOUT_S}s after SIGTERM"
status=0
wait "$SERVER_PID" || status=$?
SERVER_PID=""
[[ "$status" == 0 ]] || fail "the server exited with code $status after SIGTERM, expected 0"

echo
echo "image-smoke: PASS"
