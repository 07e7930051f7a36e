#!/usr/bin/env bash
# Two builds of kestrel against each other: do they train to the same bits, and at what speed?
# For changes that must not change the numbers (a refactor, a new graph). Runs, from the
# repository root:
#   1. each binary on LeNet-5's default recipe (10 epochs on MNIST) and one AlexNet epoch on the
#      first 2,560 CIFAR-10 images, 2 threads, then compares the final checkpoints tensor by
#      tensor with --rtol 0 (weights and optimizer state): any difference fails the script;
#   2. `kestrel bench` of each model's training step, old and new alternating (4 rounds for
#      LeNet-5, 3 for AlexNet at batch 128), and prints each run's ms per step, the medians and
#      old/new. Run it on a quiet machine, or raise its priority (nice, and on kernels with
#      autogroup scheduling `echo -15 > /proc/$$/autogroup` too) when the machine is shared.
#
#   bench/compare_builds.sh OLD_KESTREL NEW_KESTREL [--speed-only | --bits-only]
#
# Environment: KESTREL_DATA_DIR (data), OUT (a temporary folder for the runs).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[[ $# -ge 2 ]] || { echo "compare_builds.sh: usage: OLD_KESTREL NEW_KESTREL [--speed-only | --bits-only]" >&2; exit 2; }
old="$1" new="$2" mode="${3:-all}"
for bin in "$old" "$new"; do
  [[ -x $bin ]] || { echo "compare_builds.sh: $bin is not an executable kestrel" >&2; exit 2; }
done
case "$mode" in all|--speed-only|--bits-only) ;; *)
  echo "compare_builds.sh: unknown option '$mode'" >&2; exit 2 ;; esac
export KESTREL_DATA_DIR="${KESTREL_DATA_DIR:-$root/data}"
out="${OUT:-$(mktemp -d)}"
mkdir -p "$out"

if [[ $mode != --speed-only ]]; then
  for who in old new; do
    bin="$old"; [[ $who == new ]] && bin="$new"
    "$bin" train lenet5 --device cpu --threads 2 --out "$out" --name "lenet-$who" \
      > "$out/lenet-$who.log" 2>&1
    "$bin" train alexnet --dataset cifar10 --device cpu --threads 2 --epochs 1 \
      --train-limit 2560 --out "$out" --name "alexnet-$who" > "$out/alexnet-$who.log" 2>&1
  done
  for m in lenet alexnet; do
    echo "$m: $(python3 "$root/tests/dist/compare_checkpoints.py" "$out/$m-old/last.safetensors" \
      "$out/$m-new/last.safetensors" --rtol 0 --optimizer)"
  done
fi

if [[ $mode != --bits-only ]]; then
  runs="$out/speed.jsonl"
  : > "$runs"
  bench() {  # model who round args...
    local model="$1" who="$2" round="$3"; shift 3
    local bin="$old"; [[ $who == new ]] && bin="$new"
    printf '%s %s %s %s\n' "$model" "$who" "$round" \
      "$("$bin" bench "$model" --mode train --device cpu --threads 2 --json "$@")" >> "$runs"
  }
  for round in 1 2 3 4; do for who in old new; do bench lenet5 "$who" "$round"; done; done
  for round in 1 2 3; do for who in old new; do
    bench alexnet "$who" "$round" --batch 128 --steps 3 --warmup 1 --repeats 3
  done; done
  python3 - "$runs" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    model, who, _, text = line.split(" ", 3)
    r = json.loads(text)["results"][0]
    rows.setdefault(model, {}).setdefault(who, []).append(r["ms_per_step"])
for model, sides in rows.items():
    med = {w: statistics.median(v) for w, v in sides.items()}
    print(f"{model}: old ms/step {[round(x, 2) for x in sides['old']]} median {med['old']:.3f}; "
          f"new {[round(x, 2) for x in sides['new']]} median {med['new']:.3f}; "
          f"old/new {med['old'] / med['new']:.3f}")
PY
fi
