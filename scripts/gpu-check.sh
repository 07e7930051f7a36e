#!/usr/bin/env bash
# The prepared GPU check, for a GPU machine with a fresh copy of the repository and no network.
#   scripts/gpu-check.sh OUT_DIR
# Builds Release with CUDA for sm_90, runs the whole suite with KESTREL_REQUIRE_GPU=1 (GPU tests
# fail instead of skipping), runs compute-sanitizer memcheck over the CUDA suites, and prints a
# summary table last. Full logs go to OUT_DIR. Build dependencies the machine lacks come from
# third_party/debs (made by scripts/gpu-prepare.sh on a networked machine; carry it along).
# cuDNN and NCCL are looked for in the CUDA toolkit and in Python wheels (nvidia/cudnn, nccl).
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:?usage: scripts/gpu-check.sh OUT_DIR}"
mkdir -p "$out"
build=build-gpu
jobs=$(nproc)
start=$(date +%s)
declare -a rows=()
row() { rows+=("$(printf '%-28s %-6s %s' "$1" "$2" "$3")"); }
elapsed() { echo "$(( $(date +%s) - start ))s"; }

{
  echo "date: $(date -u +%FT%TZ)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1
  nvcc --version | tail -n 2
  cmake --version | head -n 1
} | tee "$out/environment.txt"

# 1. Build dependencies: unpack the carried Debian packages into a private prefix.
deps=/tmp/kestrel-deps
prefix_args=()
if compgen -G "third_party/debs/*.deb" >/dev/null; then
  rm -rf "$deps" && mkdir -p "$deps"
  for f in third_party/debs/*.deb; do dpkg-deb -x "$f" "$deps" || dpkg -x "$f" "$deps"; done
  multi="$deps/usr/lib/x86_64-linux-gnu"
  prefix_args+=(-DCMAKE_PREFIX_PATH="$deps/usr;$multi/cmake"
                -DCMAKE_LIBRARY_PATH="$multi/openblas-pthread;$multi"
                -DRANDOM123_ROOT="$deps/usr")
  export LD_LIBRARY_PATH="$multi:$multi/openblas-pthread${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi

# 2. cuDNN and NCCL: the toolkit's own, or the Python wheels PyTorch brought.
for lib in cudnn nccl; do
  dir=$(python3 - "$lib" <<'PY' 2>/dev/null
import glob, os, site, sys
name = sys.argv[1]
roots = site.getsitepackages() + [site.getusersitepackages()]
for r in roots:
    for cand in glob.glob(os.path.join(r, "nvidia", "**", f"lib{name}.so*"), recursive=True):
        print(os.path.dirname(os.path.dirname(cand)))
        raise SystemExit
PY
)
  if [ -n "$dir" ]; then
    upper=$(echo "$lib" | tr a-z A-Z)
    prefix_args+=(-D"${upper}_ROOT=$dir")
    export LD_LIBRARY_PATH="$dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "found $lib in $dir" | tee -a "$out/environment.txt"
  fi
done

# 3. Configure and build.
if cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_ARCHITECTURES=90 \
     "${prefix_args[@]}" >"$out/configure.log" 2>&1 &&
   cmake --build "$build" -j "$jobs" >"$out/build.log" 2>&1; then
  row "build (sm_90, Release)" PASS "$(elapsed)"
else
  row "build (sm_90, Release)" FAIL "see configure.log / build.log"
  tail -n 40 "$out/configure.log" "$out/build.log"
  printf '\n%s\n' "${rows[@]}"
  exit 1
fi
grep -A16 'kestrel .* configuration' "$out/configure.log"

status=0
"$build/apps/kestrel" devices >"$out/devices.txt" 2>&1 && row "kestrel devices" PASS "$(head -n 3 "$out/devices.txt" | tail -n 1 | cut -c1-60)" || { row "kestrel devices" FAIL ""; status=1; }

# 4. The whole suite, GPU tests required.
if KESTREL_REQUIRE_GPU=1 ctest --test-dir "$build" --output-on-failure -j 4 --timeout 600 \
     >"$out/ctest.log" 2>&1; then
  row "ctest (KESTREL_REQUIRE_GPU=1)" PASS "$(grep -E 'tests passed' "$out/ctest.log" | tail -n 1)"
else
  row "ctest (KESTREL_REQUIRE_GPU=1)" FAIL "$(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -n 1)"
  grep -E '^\s+[0-9]+ - ' "$out/ctest.log" | head -n 30
  status=1
fi

# 5. compute-sanitizer memcheck over the CUDA suites.
if command -v compute-sanitizer >/dev/null; then
  if KESTREL_REQUIRE_GPU=1 compute-sanitizer --tool memcheck --error-exitcode 3 \
       "$build/tests/kestrel_tests" --gtest_filter='*Cuda*' >"$out/memcheck.log" 2>&1; then
    row "compute-sanitizer memcheck" PASS "$(grep -E 'ERROR SUMMARY' "$out/memcheck.log" | tail -n 1)"
  else
    row "compute-sanitizer memcheck" FAIL "$(grep -E 'ERROR SUMMARY|FAILED' "$out/memcheck.log" | head -n 2 | tr '\n' ' ')"
    status=1
  fi
else
  row "compute-sanitizer memcheck" SKIP "not installed"
fi

# 6. Per-suite results of the CUDA tests, for the record.
"$build/tests/kestrel_tests" --gtest_filter='*Cuda*' --gtest_brief=1 >"$out/cuda-tests.log" 2>&1 || true

echo
echo "kestrel GPU check ($(elapsed) total), logs in $out"
printf '%s\n' "${rows[@]}"
exit $status
