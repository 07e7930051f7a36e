#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs the whole test suite with ctest.
# Exits non-zero on any failure.
#
#   scripts/test.sh               # default build: CPU backend, CUDA backend when a toolkit exists
#   scripts/test.sh --cpu-only    # the CPU-only configuration (-DKESTREL_CUDA=OFF)
#
# Environment: BUILD_DIR (default build or build-cpu), JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

cpu_only=0
for arg in "$@"; do
  case "$arg" in
    --cpu-only) cpu_only=1 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh

jobs="${JOBS:-$(nproc)}"
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DKESTREL_WERROR=ON)
if [ "$cpu_only" -eq 1 ]; then
  build_dir="${BUILD_DIR:-build-cpu}"
  cmake_args+=(-DKESTREL_CUDA=OFF)
else
  build_dir="${BUILD_DIR:-build}"
fi

cmake -S . -B "$build_dir" "${cmake_args[@]}"
cmake --build "$build_dir" -j "$jobs"
# Each test binary uses every core itself; two at a time keeps the machine busy. Idle OpenMP
# threads sleep instead of spinning, so two test processes on two cores do not starve each
# other (results do not depend on it; timings of the training tests do).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 600
