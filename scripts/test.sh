#!/usr/bin/env bash
# Installs what is missing, configures, builds and runs the whole test suite with ctest.
# Exits non-zero on any failure.
#
#   scripts/test.sh               # default build: CPU backend, CUDA backend when a toolkit exists
#   scripts/test.sh --cpu-only    # the CPU-only configuration (-DKESTREL_CUDA=OFF)
#   scripts/test.sh --sanitize    # the CPU-only configuration under AddressSanitizer,
#                                 # LeakSanitizer and UndefinedBehaviorSanitizer (build-asan)
#
# Environment: BUILD_DIR (default build, build-cpu or build-asan), JOBS (default: all cores).
set -euo pipefail
cd "$(dirname "$0")/.."

cpu_only=0
sanitize=0
for arg in "$@"; do
  case "$arg" in
    --cpu-only) cpu_only=1 ;;
    --sanitize) sanitize=1 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "test.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh

jobs="${JOBS:-$(nproc)}"
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DKESTREL_WERROR=ON)
if [ "$sanitize" -eq 1 ]; then
  # -DKESTREL_SANITIZE=ON (CMakeLists.txt): -fsanitize=address,undefined
  # -fno-sanitize-recover=undefined -fno-omit-frame-pointer on every target; host code only.
  # Without MPI: OpenMPI 4.1 leaks in MPI_Init/MPI_Finalize themselves (a 10-line program that
  # only inits, all-reduces one float and finalizes gets ~15 LeakSanitizer reports per rank),
  # mostly from its plugins, which it unloads before the leak check runs, so their frames show
  # as "<unknown module>" and no suppression by library name can match them. The data-parallel
  # logic (buckets, sharding, the trainer on thread ranks) is still tested here through the
  # local communicator; the MPI ranks are tested by the unsanitized builds. Without oneDNN:
  # its convolutions are kernels it generates at run time, which no sanitizer instruments, so
  # this build keeps the im2col + GEMM path (the oracle), which it can check.
  build_dir="${BUILD_DIR:-build-asan}"
  cmake_args+=(-DKESTREL_CUDA=OFF -DKESTREL_MPI=OFF -DKESTREL_SANITIZE=ON -DKESTREL_ONEDNN=OFF)
elif [ "$cpu_only" -eq 1 ]; then
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
if [ "$sanitize" -eq 0 ]; then
  ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 600
  exit 0
fi

# Sanitized run: ASan and LSan reports of every process -- the test binary, the kestrel CLI run
# by the shell tests, each MPI rank -- go to files in $logs, so that none is lost in a test that
# expects a non-zero exit (a failing rank, a corrupt file). UBSan (any undefined behaviour stops
# the process, exit code 86) writes to stderr whatever log_path says in gcc's combined runtime:
# its reports are looked for in every test's output (ctest's LastTest.log). The run fails if
# ctest fails, if any report file appears, or if any test's output holds a report.
logs="$PWD/$build_dir/sanitizer-logs"
rm -rf "$logs"
mkdir -p "$logs"
supp="$PWD/scripts/sanitizers"
export ASAN_OPTIONS="detect_leaks=1:check_initialization_order=1:strict_init_order=1:log_path=$logs/asan"
export LSAN_OPTIONS="suppressions=$supp/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=86"
# Left out: cli.lab_fresh_run, the end-to-end run of scripts/lab.sh (five trainings, AlexNet's
# among them, each evaluated on its whole test set on one thread, then the report). Sanitized it
# took 269 s here on its own (272 s at -O3), against 493 s for the other 1007 tests together on
# two cores, and it ran last and alone; the code it drives (trainer, models, checkpoints,
# report, lab.sh's splicing) is in the unit and CLI tests that do run here. Also left out: the
# parity runs of the larger models against PyTorch (every ImageNet form, ResNet-18's,
# GoogLeNet's and DenseNet's CIFAR forms), 11 to 33 s each at -O3 and several times that
# sanitized; the sanitized run keeps resnet20's, the CIFAR ViT's, MobileNetV2's and
# EfficientNet's CIFAR forms, which go through every layer type the others use but the 7x7
# stems and ceil-mode pools.
status=0
ctest --test-dir "$build_dir" --output-on-failure -j 2 --timeout 600 \
  -E '^(cli\.lab_fresh_run|parity\..*_imagenet|parity\.(resnet18|googlenet|densenet121)_cifar)$' ||
  status=1
if [ -n "$(ls -A "$logs")" ]; then
  echo "test.sh: sanitizer reports ($logs):" >&2
  for f in "$logs"/*; do echo "---- $f" >&2; cat "$f" >&2; done
  status=1
fi
pattern='runtime error: |ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY: UndefinedBehaviorSanitizer'
if grep -Eq "$pattern" "$build_dir/Testing/Temporary/LastTest.log"; then
  echo "test.sh: sanitizer reports in the tests' output ($build_dir/Testing/Temporary/LastTest.log):" >&2
  grep -En -B2 -A12 "$pattern" "$build_dir/Testing/Temporary/LastTest.log" | head -n 200 >&2
  status=1
fi
exit "$status"
