#!/usr/bin/env bash
# kestrel against PyTorch on the building blocks of modern CNNs (bench/blocks_bench.cpp and
# bench/pytorch/blocks.py: the same blocks, one training pass each, batch 128), with 1 and with
# 2 threads on each side, the two sides alternating block by block. Prints one row per block:
# each side's best of its thread counts, and kestrel's speed over PyTorch's.
#
#   bench/compare_blocks.sh [--block NAME]
#
# Environment: KESTREL_BUILD_DIR (build-cpu, configured and built when missing), PYTHON
# (/usr/bin/python3: Debian's python3-torch installs for that interpreter only), STEPS / WARMUP
# / REPEATS (5 / 2 / 5), BATCH (128).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KESTREL_BUILD_DIR:-$root/build-cpu}"
python="${PYTHON:-/usr/bin/python3}"
block=all
while [[ $# -gt 0 ]]; do
  case "$1" in
    --block) [[ $# -ge 2 ]] || { echo "compare_blocks.sh: --block needs a name" >&2; exit 2; }
             block="$2"; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare_blocks.sh: unknown argument '$1' (known: --block NAME)" >&2; exit 2 ;;
  esac
  shift
done
fail() { echo "compare_blocks.sh: $*" >&2; exit 1; }
"$python" -c "import torch" 2>/dev/null ||
  fail "PyTorch is missing for $python: apt-get install python3-torch (it installs for /usr/bin/python3)"
if [[ ! -x $build/bench/kestrel_bench_blocks ]]; then
  [[ -f $build/CMakeCache.txt ]] ||
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKESTREL_CUDA=OFF >/dev/null
  cmake --build "$build" --target kestrel_bench_blocks >/dev/null
fi
args=(--batch "${BATCH:-128}" --steps "${STEPS:-5}" --warmup "${WARMUP:-2}" --repeats "${REPEATS:-5}")
blocks=(resnet_basic mobilenet_v2_inverted_residual efficientnet_mbconv_se densenet_layer)
[[ $block == all ]] || blocks=("$block")

runs="$(mktemp)"
trap 'rm -f "$runs"' EXIT
for b in "${blocks[@]}"; do
  for t in 1 2; do
    echo "kestrel $("$build/bench/kestrel_bench_blocks" --block "$b" --threads "$t" --json "${args[@]}")" >> "$runs"
    echo "pytorch $("$python" "$root/bench/pytorch/blocks.py" --block "$b" --threads "$t" "${args[@]}")" >> "$runs"
  done
done
"$python" - "$runs" <<'PY'
import json, sys
best = {}
for line in open(sys.argv[1]):
    side, text = line.split(" ", 1)
    for row in json.loads(text):
        key = (row["block"], side)
        if key not in best or row["ms"] < best[key]["ms"]:
            best[key] = row
print(f"{'block (batch %d)' % next(iter(best.values()))['batch']:34} {'kestrel img/s':>16} "
      f"{'PyTorch img/s':>16} {'kestrel / PyTorch':>18}")
for block in dict.fromkeys(k[0] for k in best):
    k, p = best[(block, "kestrel")], best[(block, "pytorch")]
    print(f"{block:34} {k['images_per_second']:>10.1f} ({k['threads']}t) "
          f"{p['images_per_second']:>10.1f} ({p['threads']}t) "
          f"{k['images_per_second'] / p['images_per_second']:>17.2f}x")
PY
