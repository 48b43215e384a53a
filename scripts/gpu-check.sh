#!/usr/bin/env bash
# The WebGPU checks on a machine with a real GPU (the device tool's NVIDIA machines: no network, no
# Node), in one call of at most 10 minutes. Two steps:
#
#   bash scripts/gpu-check.sh prepare
#       here, once (needs npm's node_modules and Debian's mirrors): downloads the Vulkan loader and
#       GL dispatch packages into .gl/ and packs Node plus the node_modules the runner and vitest
#       need (linux-x64 only) into .gpu/node_modules.tar.xz; both folders are git-ignored locally.
#   device run: command "bash scripts/gpu-check.sh", carry [".gl", ".gpu"], timeout_s 600
#       unpacks the loaders (dpkg -x) and the bundle, prints the adapter (runner --probe: adapter,
#       limits, one-layer check), runs the webgpu test project, and the calibration and evaluation
#       benches on webgpu next to the machine's CPUs. Everything goes to $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = prepare ]; then
  set -e
  exclude=$(git rev-parse --git-path info/exclude)
  for d in /.gl/ /.gpu/; do grep -qxF "$d" "$exclude" 2>/dev/null || echo "$d" >>"$exclude"; done
  mkdir -p .gl .gpu /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update -qq
  # shellcheck disable=SC2086
  (cd .gl && rm -f ./*.deb && apt-get $o download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  # What the device needs of node_modules: Node itself (stripped of its debug symbols), onnxruntime-node
  # and webgpu for linux-x64, tsx and vitest. Left out: the worker's toolchain (wrangler, workerd,
  # miniflare, drizzle), the linters, the browser driver and other platforms' binaries.
  stage=$(mktemp -d)
  cp -al node_modules "$stage/node_modules"
  rm "$stage/node_modules/node/bin/node"
  strip -o "$stage/node_modules/node/bin/node" node_modules/node/bin/node
  tar -C "$stage" -cf - \
    --exclude='node_modules/wrangler' --exclude='node_modules/@cloudflare' --exclude='node_modules/miniflare' \
    --exclude='node_modules/workerd' --exclude='node_modules/@biomejs' --exclude='node_modules/typescript' \
    --exclude='node_modules/drizzle-kit' --exclude='node_modules/drizzle-orm' --exclude='node_modules/@esbuild-kit' \
    --exclude='node_modules/playwright-core' --exclude='node_modules/@img' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v6/darwin' --exclude='node_modules/onnxruntime-node/bin/napi-v6/win32' \
    --exclude='node_modules/onnxruntime-node/bin/napi-v6/linux/arm64' \
    --exclude='node_modules/webgpu/dist/darwin-universal' --exclude='node_modules/webgpu/dist/win32-*' \
    --exclude='node_modules/webgpu/dist/linux-arm64' \
    node_modules | xz -T0 -6 >.gpu/node_modules.tar.xz
  rm -rf "$stage"
  # The device call carries the tracked tree, shared/ and these folders: 64 MiB in all.
  total=$(($(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1) + $(du -sb .gl .gpu | awk '{s+=$1} END {print s}')))
  echo "tracked tree + .gl + .gpu: $((total / 1048576)) MiB (limit 64)"
  [ "$total" -lt $((64 * 1048576)) ] || { echo "too large for the device call: leave more out of the bundle"; exit 1; }
  du -sh .gl .gpu
  echo "carry [\".gl\", \".gpu\"] (with the tracked tree, at most 64 MiB in all)"
  exit 0
fi

OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }

for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
if ! grep -lqs nvidia /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
[ -x node_modules/.bin/node ] || xz -dc .gpu/node_modules.tar.xz | tar -xf -
export PATH="$PWD/node_modules/.bin:$PATH" ONNXRUNTIME_NODE_INSTALL=skip WRANGLER_SEND_METRICS=false
node --version | tee -a "$OUT/summary.txt"
(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true) 2>&1 | tee -a "$OUT/summary.txt"

# 1. The adapter and a one-layer check (the runner's own probe).
log "probe (POLYPRUNE_DEVICE=webgpu)"
POLYPRUNE_DEVICE=webgpu timeout 60 node --import tsx gpu-runner/src/service/main.ts --probe 2>&1 | tee "$OUT/probe.txt" | tee -a "$OUT/summary.txt"
probe=${PIPESTATUS[0]}
log "probe exit $probe"

# 2. The webgpu test project (the session-level suites on WebGPU, parity with CPU).
log "webgpu tests"
timeout 270 vitest run --config vitest.webgpu.config.ts --reporter=default --reporter=json --outputFile.json="$OUT/webgpu-tests.json" >"$OUT/webgpu-tests.txt" 2>&1
log "webgpu tests exit $? ($(grep -aE 'Tests +[0-9]' "$OUT/webgpu-tests.txt" | tail -1))"

# 3. Benches, webgpu next to CPU in one process each (what `npm run bench -- … --device webgpu` runs).
log "bench calibration --device webgpu"
timeout 150 tsx bench/index.ts calibration --device webgpu >"$OUT/bench-calibration.txt" 2>&1
log "exit $?"; grep -aE 'time / cpu time|statistics|plain forward' "$OUT/bench-calibration.txt" | tee -a "$OUT/summary.txt"
log "bench evaluate --device webgpu"
BENCH_EVAL_EXAMPLES=60 timeout 90 tsx bench/index.ts evaluate --device webgpu >"$OUT/bench-evaluate.txt" 2>&1
log "exit $?"; sed -n '/rate \/ cpu rate/,$p' "$OUT/bench-evaluate.txt" | tee -a "$OUT/summary.txt"
exit "$probe"
