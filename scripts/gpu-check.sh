#!/usr/bin/env bash
# The WebGPU checks on a machine with a real GPU (the device tool's NVIDIA machines: x86-64, no
# network, no Node), in one call of at most 10 minutes (docs/gpu.md, "On a machine with a real GPU").
#
#   bash scripts/gpu-check.sh prepare
#       here, once per change (needs node_modules and Debian's mirrors): the Vulkan loader and GL
#       dispatch packages into .gl/; into .gpu/ Node (stripped, ICU data of root and English only)
#       with the linux-x64 native packages (onnxruntime-node, webgpu) as native.tar.xz, and esbuild
#       bundles of the probe, the benches and the webgpu test project (scripts/gpu-check/build.ts)
#       as app.tar.xz. Prints the sizes and stops if the device call would exceed its limit. Both
#       folders are git-ignored.
#   device run: command "bash scripts/gpu-check.sh", carry [".gl", ".gpu"], timeout_s 600
#       installs the loaders (dpkg -x to /, ldconfig), points Vulkan at NVIDIA's ICD where none is
#       registered, unpacks .gpu into .gpu/rt, then the probe, the webgpu tests (one process per
#       file) and the calibration and evaluation benches on webgpu next to the CPU, each with its
#       own timeout inside a 540 s budget. Writes 7 flat files to $OUT: summary.txt (what to read
#       first), setup.txt, probe.txt, webgpu-tests.txt, webgpu-tests.json, bench-calibration.txt,
#       bench-evaluate.txt. Exit 0 when every step passed.
#
# Local simulation (no GPU, lavapipe; docs/gpu.md): GPU_CHECK_DPKG_ROOT=DIR unpacks the loaders
# under DIR and puts them on LD_LIBRARY_PATH instead of writing to /; GPU_CHECK_TIME_SCALE=N
# multiplies the budget and every step's timeout; BENCH_EVAL_EXAMPLES (default 30 here) sizes the
# evaluation bench.
set -uo pipefail
cd "$(dirname "$0")/.."

DEBS=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# The device tool's limit on what one call carries (tracked tree + carried folders) is 64 MiB;
# prepare stops above LIMIT (the margin covers what the tool counts that git's listing does not)
# and warns above TARGET (the tracked tree grows).
LIMIT_MIB=62
TARGET_MIB=55
MIB=1048576

# Sizes of NUL-separated paths; ./ keeps a file named "-" from meaning stdin to stat.
sum_sizes() { sed -z 's|^|./|' | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

if [ "${1:-}" = prepare ]; then
  set -e
  export PATH="$PWD/node_modules/.bin:$PATH" # the pinned Node, as npm scripts run
  for t in apt-get dpkg strip xz tar git; do command -v "$t" >/dev/null || { echo "prepare needs $t"; exit 1; }; done
  [ -x node_modules/node/bin/node ] && [ -x node_modules/.bin/tsx ] || { echo "prepare needs node_modules (npm ci)"; exit 1; }
  mkdir -p .gl .gpu
  rm -rf .gpu/rt # what a run here unpacked: it would travel too

  # 1. The loaders, as the device README says (amd64 packages whatever this machine is).
  missing=0
  for p in "${DEBS[@]}"; do compgen -G ".gl/${p}_*.deb" >/dev/null || missing=1; done
  if [ $missing = 1 ]; then
    mkdir -p /tmp/amd64/partial
    o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
    # shellcheck disable=SC2086
    apt-get $o update -qq
    # shellcheck disable=SC2086
    (cd .gl && rm -f ./*.deb && apt-get $o download "${DEBS[@]}")
  fi

  # 2. Node and the native packages: rebuilt only when a version changes (xz -9e takes minutes).
  nm=node_modules
  ver() { sed -n 's/^  "version": "\(.*\)",$/\1/p' "$nm/$1/package.json"; }
  stamp="node $("$nm/node/bin/node" --version) onnxruntime-node $(ver onnxruntime-node) onnxruntime-common $(ver onnxruntime-common) webgpu $(ver webgpu) recipe 2"
  if [ -f .gpu/native.tar.xz ] && [ "$(cat .gpu/native.stamp 2>/dev/null)" = "$stamp" ]; then
    echo "native.tar.xz is current ($stamp)"
  else
    stage=$(mktemp -d)
    trap 'rm -rf "$stage"' EXIT
    mkdir -p "$stage/bin" "$stage/lib" "$stage/node_modules"
    # Node without debug symbols, its ICU data cut to the root and English locales (icu-trim.ts).
    tsx scripts/gpu-check/icu-trim.ts "$nm/node/bin/node" "$stage/node.full"
    strip -o "$stage/bin/node" "$stage/node.full"
    rm "$stage/node.full"
    # Node links libatomic.so.1; used on the device only where the system has none.
    cp -L "$(ldconfig -p | awk '/libatomic\.so\.1 .*x86-64/ {print $NF; exit}')" "$stage/lib/libatomic.so.1"
    ort="$stage/node_modules/onnxruntime-node"
    mkdir -p "$ort/bin/napi-v6/linux/x64" "$ort/dist"
    cp "$nm/onnxruntime-node/package.json" "$ort/"
    cp "$nm"/onnxruntime-node/dist/*.js "$ort/dist/"
    cp "$nm"/onnxruntime-node/bin/napi-v6/linux/x64/{onnxruntime_binding.node,libonnxruntime.so.1} "$ort/bin/napi-v6/linux/x64/"
    tar -C "$nm" --exclude='*.map' --exclude='*.d.ts' -cf - onnxruntime-common | tar -C "$stage/node_modules" -xf -
    wg="$stage/node_modules/webgpu"
    mkdir -p "$wg/dist/linux-x64"
    cp "$nm"/webgpu/{package.json,index.js} "$wg/"
    strip -o "$wg/dist/linux-x64/dawn.node" "$nm/webgpu/dist/linux-x64/dawn.node"
    echo "compressing Node, onnxruntime and Dawn (xz -9e with the x86 filter: a few minutes)"
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . | xz -T0 --x86 --lzma2=preset=9e >.gpu/native.tar.xz.tmp
    mv .gpu/native.tar.xz.tmp .gpu/native.tar.xz
    echo "$stamp" >.gpu/native.stamp
    rm -rf "$stage"
    trap - EXIT
  fi

  # 3. The JavaScript: rebuilt every time (seconds).
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' EXIT
  node_modules/.bin/tsx scripts/gpu-check/build.ts "$stage" >/dev/null
  git log -1 --format='built from %H (%cd)' >"$stage/SOURCE"
  git status --porcelain --untracked-files=no | sed 's/^/changed: /' >>"$stage/SOURCE"
  tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner -cf - . | xz -T0 -9 >.gpu/app.tar.xz
  rm -rf "$stage"
  trap - EXIT

  # 4. What the device call carries: tracked and untracked-not-ignored files, shared/ whole, .gl, .gpu.
  tree=$(git ls-files -z --cached --others --exclude-standard | sum_sizes)
  shared_ignored=$(git ls-files -z --others --ignored --exclude-standard -- shared/ | sum_sizes)
  gl=$(find .gl -type f -print0 | sum_sizes)
  native=$(stat -c %s .gpu/native.tar.xz)
  app=$(stat -c %s .gpu/app.tar.xz)
  rest=$(find .gpu -type f ! -name native.tar.xz ! -name app.tar.xz -print0 | sum_sizes)
  total=$((tree + shared_ignored + gl + native + app + rest))
  mib() { awk -v b="$1" 'BEGIN {printf "%6.1f MiB", b / 1048576}'; }
  echo "what the device call carries:"
  echo "  $(mib "$tree")  tracked tree (and untracked files git does not ignore)"
  [ "$shared_ignored" = 0 ] || echo "  $(mib "$shared_ignored")  ignored files under shared/ (they travel too)"
  echo "  $(mib "$gl")  .gl/ (${#DEBS[@]} loader packages)"
  echo "  $(mib "$native")  .gpu/native.tar.xz (Node, onnxruntime-node, webgpu; linux-x64)"
  echo "  $(mib "$app")  .gpu/app.tar.xz (probe.mjs, bench.mjs, tests.mjs)"
  [ "$rest" = 0 ] || echo "  $(mib "$rest")  other files under .gpu/"
  echo "  $(mib "$total")  in all (device limit 64 MiB; this script stops above $LIMIT_MIB, aims at ≤ $TARGET_MIB)"
  if [ "$total" -gt $((LIMIT_MIB * MIB)) ]; then
    echo "too large for the device call: $((total / MIB)) MiB > $LIMIT_MIB MiB. Shrink the tracked tree or the bundle (docs/gpu.md)."
    exit 1
  fi
  [ "$total" -le $((TARGET_MIB * MIB)) ] || echo "warning: above the $TARGET_MIB MiB target; the tracked tree has little room left to grow"
  echo 'device call: command "bash scripts/gpu-check.sh", carry [".gl", ".gpu"], timeout_s 600'
  exit 0
fi

[ -z "${1:-}" ] || { echo "usage: bash scripts/gpu-check.sh [prepare]"; exit 2; }
for f in .gpu/native.tar.xz .gpu/app.tar.xz; do [ -f "$f" ] || { echo "$f missing: run 'bash scripts/gpu-check.sh prepare' here and carry .gl and .gpu"; exit 2; }; done

export PATH="$PATH:/usr/sbin:/sbin" # ldconfig, where PATH is a user's
OUT=${OUT:-/tmp/gpu-check}
mkdir -p "$OUT"
: >"$OUT/summary.txt"
RT=$PWD/.gpu/rt
NODE=$RT/bin/node
SCALE=${GPU_CHECK_TIME_SCALE:-1}
BUDGET=$((540 * SCALE))
T0=$SECONDS
say() { echo "$*" | tee -a "$OUT/summary.txt"; }

# xz -dc, or python3's lzma where the image has no xz (it decodes the x86 filter too).
unxz_c() {
  if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi
}

setup() {
  set -x
  # The loaders, as the device README says; elsewhere (GPU_CHECK_DPKG_ROOT) under a prefix.
  local root=${GPU_CHECK_DPKG_ROOT:-/}
  mkdir -p "$root"
  for f in .gl/*.deb; do dpkg -x "$f" "$root"; done
  if [ "$root" = / ]; then
    ldconfig
  else
    export LD_LIBRARY_PATH="$root/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  # NVIDIA's ICD lives under /usr/local/nvidia on these machines, outside the loader's search path.
  local icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if ! grep -lqs nvidia /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json && [ -f "$icd" ]; then
    export VK_DRIVER_FILES=$icd
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  rm -rf "$RT"
  mkdir -p "$RT"
  unxz_c .gpu/native.tar.xz | tar -C "$RT" -xf -
  unxz_c .gpu/app.tar.xz | tar -C "$RT" -xf -
  ldconfig -p | grep -q 'libatomic\.so\.1 ' || export LD_LIBRARY_PATH="$RT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PATH="$RT/bin:$PATH" POLYPRUNE_ROOT=$PWD
  set +x
  uname -m
  nproc
  cat "$RT/SOURCE"
  command -v node
  "$NODE" --version
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  ldconfig -p | grep -E 'libvulkan|libGLX|libEGL' || true
  ls -l /usr/share/vulkan/icd.d /etc/vulkan/icd.d /usr/local/nvidia/share/vulkan/icd.d 2>&1 || true
  env | grep -E '^(VK_|__EGL|LD_LIBRARY_PATH|PATH=)' || true
}

say "== gpu-check $(date -u +%FT%TZ) on $(uname -n), budget ${BUDGET} s"
setup >"$OUT/setup.txt" 2>&1
say "setup: $((SECONDS - T0)) s; node $(command -v node) $("$NODE" --version 2>&1); $(grep -m1 '^built from' "$RT/SOURCE" 2>/dev/null)"
say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
if [ -n "${GPU_CHECK_DPKG_ROOT:-}" ]; then
  loader="$GPU_CHECK_DPKG_ROOT/usr/lib/x86_64-linux-gnu/libvulkan.so.1 (LD_LIBRARY_PATH)"
else
  loader=$(ldconfig -p | grep -m1 -o 'libvulkan\.so\.1 .*' || echo 'none registered')
fi
say "vulkan: ${VK_DRIVER_FILES:-ICDs from the standard folders}; loader $loader"

status=0
# step NAME CAP_SECONDS LOG COMMAND…: COMMAND with the smaller of its cap and what the budget has left.
step() {
  local name=$1 cap=$(($2 * SCALE)) log=$3
  shift 3
  local left=$((BUDGET - (SECONDS - T0)))
  local t=$((cap < left ? cap : left))
  if [ "$t" -lt 15 ]; then
    say "$name: not run (budget spent)"
    status=1
    return
  fi
  local s=$SECONDS
  timeout -k 10 "$t" "$@" >"$OUT/$log" 2>&1
  local rc=$?
  case $rc in
    0) say "$name: ok in $((SECONDS - s)) s (limit $t s)" ;;
    124 | 137) say "$name: TIMED OUT after $((SECONDS - s)) s (limit $t s)" ;;
    *) say "$name: FAILED, exit $rc, in $((SECONDS - s)) s (limit $t s)" ;;
  esac
  [ $rc = 0 ] || status=1
}

# 1. The adapter and a one-layer check (what `npm run runner -- --probe` runs).
step probe 60 probe.txt env POLYPRUNE_DEVICE=webgpu MALLOC_MMAP_THRESHOLD_=1048576 "$NODE" --expose-gc "$RT/probe.mjs" --probe
grep -E 'resolves to|WebGPU adapter|one-layer check|WebGPU:' "$OUT/probe.txt" | sed 's/^/  /' | tee -a "$OUT/summary.txt"

# 2. The webgpu test project, one process per file; it stops starting files 20 s before its limit.
tests_cap=270
tests_left=$(((BUDGET - (SECONDS - T0)) < tests_cap * SCALE ? BUDGET - (SECONDS - T0) : tests_cap * SCALE))
step "webgpu tests" $tests_cap webgpu-tests.txt "$NODE" "$RT/tests.mjs" --json "$OUT/webgpu-tests.json" --budget-s $((tests_left - 20))
grep -aE '^ (Test Files|     Tests|  Duration)' "$OUT/webgpu-tests.txt" | sed 's/^ */  /' | tee -a "$OUT/summary.txt"
grep -aE '^ (×|FAIL|SKIP) ' "$OUT/webgpu-tests.txt" | head -20 | sed 's/^ */  /' | tee -a "$OUT/summary.txt"

# 3. The benches, webgpu next to CPU in one process each (`npm run bench -- … --device webgpu`).
step "bench calibration" 120 bench-calibration.txt "$NODE" "$RT/bench.mjs" calibration --device webgpu --reps 1
grep -aE 'blocks, .* MiB of weights|time / cpu time' "$OUT/bench-calibration.txt" | sed 's/^ */  /' | tee -a "$OUT/summary.txt"
step "bench evaluate" 90 bench-evaluate.txt env BENCH_EVAL_EXAMPLES="${BENCH_EVAL_EXAMPLES:-30}" BENCH_EVAL_REPEATS=1 "$NODE" "$RT/bench.mjs" evaluate --device webgpu
sed -n '/rate \/ cpu rate/,$p' "$OUT/bench-evaluate.txt" | tee -a "$OUT/summary.txt"

# What comes back from $OUT: at most 8 flat files of at most 16 MiB each.
for f in "$OUT"/*; do
  [ "$(stat -c %s "$f")" -le $((16 * MIB)) ] || { tail -c $((15 * MIB)) "$f" >"$f.tmp" && mv "$f.tmp" "$f" && say "$(basename "$f"): cut to its last 15 MiB"; }
done
say "== done in $((SECONDS - T0)) s, $(find "$OUT" -type f | wc -l) files in \$OUT, exit $status"
exit $status
