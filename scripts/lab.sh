#!/usr/bin/env bash
# Reruns every measurement behind docs/lab.md (the university lab, answered by kestrel's own
# runs) and rewrites its tables.
#
#   scripts/lab.sh                          # the lab's budget: 10 epochs for every run
#   scripts/lab.sh --alexnet-epochs 3       # fewer AlexNet epochs (a CPU does ~10-20 min each)
#   scripts/lab.sh --tables-only            # only regenerate the tables from runs/lab/
#   scripts/lab.sh -- --threads 1           # flags after -- go to every `kestrel train`
#
# The five runs (each `kestrel train` with its default recipe for that model and data set,
# seed 0, into runs/lab/<name>/):
#   lenet5-mnist          LeNet-5 on MNIST      (the lab's first task)
#   alexnet-cifar10       AlexNet on CIFAR-10   (the lab's second task)
#   lenet5-cifar10        LeNet-5 on CIFAR-10   ("could LeNet-5 solve AlexNet's problem?")
#   alexnet-mnist         AlexNet on MNIST      ("... and the reverse?")
#   lenet5-classic-mnist  LeCun's tanh and average-pooling LeNet-5 on MNIST (what ReLU and
#                         max pooling changed)
# A run whose metrics.jsonl already holds its epochs is kept; one that stopped part-way is
# resumed from its last checkpoint; one that was planned for fewer epochs than asked (its
# schedule spans those) is trained again from the start; --fresh deletes them first.
#
# Then `kestrel report runs/lab/* --markdown` writes runs/lab/tables.md (and the HTML comparison
# runs/lab/report.html), and the block between the "lab.sh: begin/end results" markers of
# docs/lab.md is replaced by it. The prose around the tables is written by people and quotes
# the tables' numbers: reread it after a rerun.
#
# Environment: BUILD_DIR (build), JOBS (all cores), KESTREL_DATA_DIR (data/), KESTREL (a
# kestrel binary to use instead of building one), LAB_DIR (runs/lab), LAB_DOC (docs/lab.md).
set -euo pipefail

# Paths given in the environment are relative to where lab.sh was called from; defaults are
# relative to the checkout.
from_caller() { case "$1" in /*) echo "$1" ;; *) echo "$PWD/$1" ;; esac; }
for var in BUILD_DIR KESTREL_DATA_DIR KESTREL LAB_DIR LAB_DOC; do
  if [ -n "${!var:-}" ]; then printf -v "$var" '%s' "$(from_caller "${!var}")"; fi
done
cd "$(dirname "$0")/.."

die() {
  echo "lab.sh: error: $*" >&2
  exit 1
}

lenet_epochs=10 alexnet_epochs=10 tables_only=0 fresh=0 train_flags=()
while [ $# -gt 0 ]; do
  case "$1" in
    --lenet-epochs) [ $# -ge 2 ] || die "--lenet-epochs needs a value"; lenet_epochs=$2; shift 2 ;;
    --alexnet-epochs) [ $# -ge 2 ] || die "--alexnet-epochs needs a value"; alexnet_epochs=$2; shift 2 ;;
    --tables-only) tables_only=1; shift ;;
    --fresh) fresh=1; shift ;;
    --) shift; train_flags=("$@"); break ;;
    -h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see scripts/lab.sh --help)" ;;
  esac
done
for n in "$lenet_epochs" "$alexnet_epochs"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || die "epochs must be a positive integer, not '$n'"
done

build_dir="${BUILD_DIR:-build}"
data_dir="${KESTREL_DATA_DIR:-data}"
lab_dir="${LAB_DIR:-runs/lab}"
doc="${LAB_DOC:-docs/lab.md}"
grep -q 'lab.sh: begin results' "$doc" && grep -q 'lab.sh: end results' "$doc" ||
  die "$doc lacks the 'lab.sh: begin results' / 'lab.sh: end results' markers"

if [ -n "${KESTREL:-}" ]; then
  kestrel=$KESTREL
  [ -x "$kestrel" ] || die "KESTREL=$kestrel is not an executable"
else
  log_dir="$build_dir/run-logs"
  mkdir -p "$log_dir" || die "cannot create $log_dir"
  echo "lab.sh: installing what is missing and building kestrel (Release) in $build_dir/"
  scripts/install-deps.sh >"$log_dir/install-deps.log" 2>&1 ||
    die "installing the dependencies failed -- see $log_dir/install-deps.log"
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$log_dir/configure.log" 2>&1 ||
    die "configuring failed -- see $log_dir/configure.log"
  cmake --build "$build_dir" --target kestrel -j "${JOBS:-$(nproc)}" >"$log_dir/build.log" 2>&1 ||
    die "building kestrel failed -- see $log_dir/build.log"
  kestrel=$build_dir/apps/kestrel
fi

# Epoch records in a run's metrics.jsonl (0 when there is none).
epochs_done() {
  local f=$1/metrics.jsonl
  if [ -f "$f" ]; then grep -c '"eval":' "$f" || true; else echo 0; fi
}

train() {
  local name=$1 model=$2 dataset=$3 epochs=$4 dir="$lab_dir/$1"
  [ "$fresh" -eq 0 ] || rm -rf "$dir"
  local done_
  done_=$(epochs_done "$dir")
  if [ "$done_" -ge "$epochs" ]; then
    echo "lab.sh: $name: $done_ epochs already in $dir, kept"
    return
  fi
  local resume=() planned
  # A run planned for another number of epochs is not extended: its learning-rate schedule
  # (one-cycle, cosine, step) was laid over the epochs it was started with.
  # (No config.json yet, a fresh run: nothing planned. Checked first: under pipefail a failing
  # sed would end the script through set -e, silently.)
  planned=
  if [ -f "$dir/config.json" ]; then
    planned=$(sed -n 's/.*"epochs": *\([0-9][0-9]*\).*/\1/p' "$dir/config.json" | head -n 1)
  fi
  if [ -n "$planned" ] && [ "$planned" != "$epochs" ]; then
    echo "lab.sh: $name: planned for $planned epochs, not $epochs: training it again from the start"
    rm -rf "$dir"
  fi
  if [ -f "$dir/last.safetensors" ]; then
    echo "lab.sh: $name: resuming after epoch $done_"
    resume=(--resume)
  elif [ -e "$dir" ]; then
    rm -rf "$dir"  # a run that never finished an epoch: start again
  fi
  echo "lab.sh: $kestrel train $model --dataset $dataset --epochs $epochs --name $name ${train_flags[*]}"
  "$kestrel" train "$model" --dataset "$dataset" --epochs "$epochs" --data-dir "$data_dir" \
    --out "$lab_dir" --name "$name" "${resume[@]}" "${train_flags[@]}" ||
    die "training $name failed (exit $?)"
}

if [ "$tables_only" -eq 0 ]; then
  for set in mnist cifar10; do
    scripts/fetch-data.sh "$set" --data-dir "$data_dir" || exit 1
  done
  train lenet5-mnist lenet5 mnist "$lenet_epochs"
  train lenet5-cifar10 lenet5 cifar10 "$lenet_epochs"
  train alexnet-cifar10 alexnet cifar10 "$alexnet_epochs"
  train alexnet-mnist alexnet mnist "$alexnet_epochs"
  train lenet5-classic-mnist lenet5-classic mnist "$lenet_epochs"
fi

runs=()
for name in lenet5-mnist alexnet-cifar10 lenet5-cifar10 alexnet-mnist lenet5-classic-mnist; do
  [ -f "$lab_dir/$name/metrics.jsonl" ] || die "$lab_dir/$name has no metrics.jsonl: run scripts/lab.sh without --tables-only"
  runs+=("$lab_dir/$name")
done
"$kestrel" report "${runs[@]}" --out "$lab_dir/report.html" --markdown "$lab_dir/tables.md" \
  --data-dir "$data_dir" || die "kestrel report failed"

# Splice the tables between the markers, through a temporary file renamed over the original.
tmp=$(mktemp "$doc.XXXXXX")
awk -v tables="$lab_dir/tables.md" '
  /lab.sh: begin results/ { print; while ((getline line < tables) > 0) print line; skip = 1; next }
  /lab.sh: end results/ { skip = 0 }
  !skip { print }
' "$doc" >"$tmp" || { rm -f "$tmp"; die "could not rewrite $doc"; }
mv "$tmp" "$doc"
echo "lab.sh: tables in $doc rewritten from $lab_dir (report: $lab_dir/report.html)"
