#!/usr/bin/env bash
# kestrel's main job, from a fresh Debian 12 machine to a trained LeNet-5: installs what is
# missing (scripts/install-deps.sh), builds the Release `kestrel` in build/ (reusing what is
# there), fetches MNIST (scripts/fetch-data.sh), then runs `kestrel train lenet5` with any flags
# given here, which prints the run directory last.
#
#   scripts/run.sh                                # the recipe: 10 epochs, ~99.3% on MNIST
#   scripts/run.sh --epochs 2 --device cpu        # any `kestrel train` flags
#   scripts/run.sh --dataset fashion-mnist        # fetches that data set instead
#
# Idempotent: a rerun installs nothing, rebuilds only what changed and finds the data verified;
# each run trains into a new run directory under runs/. Any failure stops it with one line on
# stderr (naming the log of a quiet step) and a non-zero exit: kestrel's own code for training
# (1 error, 2 usage, 3 diverged).
#
# Environment: BUILD_DIR (build), JOBS (all cores), KESTREL_DATA_DIR (data/).
set -euo pipefail
cd "$(dirname "$0")/.."

die() {
  echo "run.sh: error: $*" >&2
  exit 1
}

build_dir="${BUILD_DIR:-build}"
jobs="${JOBS:-$(nproc)}"
log_dir="$build_dir/run-logs"
mkdir -p "$log_dir" 2>/dev/null || die "cannot create $log_dir"

# Runs a step with its output in a log; on failure, one line: the step, its first error line
# (else its last line) and where the whole output is.
quiet_step() {
  local what=$1 log=$2 rc=0 line
  shift 2
  "$@" >"$log" 2>&1 || rc=$?
  if [ "$rc" -ne 0 ]; then
    line=$(grep -m 1 -E '(^| )error: |^CMake Error|^E: |fatal error' "$log" ||
      grep -v '^[[:space:]]*$' "$log" | tail -n 1 || true)
    die "$what failed (exit $rc): ${line:0:240} -- full output in $log"
  fi
}

# The data set and folder the training will use, from the flags (as kestrel reads them).
dataset=mnist data_dir="${KESTREL_DATA_DIR:-data}" data_dir_given=0 prev=""
for arg in "$@"; do
  case "$prev" in
    --dataset) dataset=$arg ;;
    --data-dir) data_dir=$arg data_dir_given=1 ;;
  esac
  case "$arg" in
    --dataset=*) dataset=${arg#--dataset=} ;;
    --data-dir=*) data_dir=${arg#--data-dir=} data_dir_given=1 ;;
  esac
  prev=$arg
done

echo "run.sh: installing what is missing (scripts/install-deps.sh)"
quiet_step "installing the dependencies" "$log_dir/install-deps.log" scripts/install-deps.sh

echo "run.sh: building kestrel (Release) in $build_dir/"
quiet_step "configuring the build" "$log_dir/configure.log" \
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release
quiet_step "building kestrel" "$log_dir/build.log" \
  cmake --build "$build_dir" --target kestrel -j "$jobs"

case "$dataset" in
  mnist | fashion-mnist | cifar10)
    echo "run.sh: fetching $dataset into $data_dir/ (scripts/fetch-data.sh)"
    # fetch-data.sh prints one line itself when it fails.
    scripts/fetch-data.sh "$dataset" --data-dir "$data_dir" || exit 1 ;;
esac

extra=()
[ "$data_dir_given" -eq 1 ] || extra=(--data-dir "$data_dir")
echo "run.sh: $build_dir/apps/kestrel train lenet5 ${extra[*]} $*"
exec "$build_dir/apps/kestrel" train lenet5 "${extra[@]}" "$@"
