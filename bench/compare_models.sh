#!/usr/bin/env bash
# kestrel against PyTorch on whole models: `kestrel bench MODEL --mode train` and
# bench/pytorch/models.py (torchvision's model, the same CIFAR form, the same AdamW step) on
# 3x32x32 images, both with 2 threads, the two sides alternating model by model. Prints one row
# per model: each side's training images/s and kestrel's over PyTorch's.
#
#   bench/compare_models.sh [MODEL ...]     default: every CIFAR-10 model below
#
# Environment: KESTREL_BUILD_DIR (build-cpu, configured and built when missing), PYTHON
# (/usr/bin/python3: Debian's python3-torch installs for that interpreter only), BATCH (32),
# STEPS / WARMUP / REPEATS (3 / 1 / 3), THREADS (2).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KESTREL_BUILD_DIR:-$root/build-cpu}"
python="${PYTHON:-/usr/bin/python3}"
fail() { echo "compare_models.sh: $*" >&2; exit 1; }
case "${1:-}" in -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac
# kestrel's name -> bench/pytorch/torchvision_models.py's name for the CIFAR-10 form.
declare -A torch_name=([resnet20]=resnet20 [resnet18]=resnet18-cifar
  [mobilenet_v2]=mobilenet_v2-cifar [efficientnet_b0]=efficientnet_b0-cifar [vit]=vit
  [googlenet]=googlenet-cifar [densenet121]=densenet121-cifar [airbench94]=airbench94)
models=("$@")
[[ ${#models[@]} -gt 0 ]] ||
  models=(resnet20 mobilenet_v2 efficientnet_b0 vit resnet18 densenet121 googlenet)
for m in "${models[@]}"; do
  [[ -n ${torch_name[$m]:-} ]] ||
    fail "unknown model '$m' (known: ${!torch_name[*]})"
done
"$python" -c "import torch, torchvision" 2>/dev/null ||
  fail "PyTorch or torchvision is missing for $python: apt-get install python3-torch python3-torchvision"
if [[ ! -x $build/apps/kestrel ]]; then
  [[ -f $build/CMakeCache.txt ]] ||
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DKESTREL_CUDA=OFF >/dev/null
  cmake --build "$build" --target kestrel >/dev/null
fi
batch="${BATCH:-32}" threads="${THREADS:-2}"
args=(--batch "$batch" --steps "${STEPS:-3}" --warmup "${WARMUP:-1}" --repeats "${REPEATS:-3}"
  --threads "$threads")

printf '%-18s %14s %14s %18s\n' "model (batch $batch)" "kestrel img/s" "PyTorch img/s" \
  "kestrel / PyTorch"
for m in "${models[@]}"; do
  k=$("$build/apps/kestrel" bench "$m" --dataset cifar10 --device cpu --mode train --json "${args[@]}")
  p=$("$python" "$root/bench/pytorch/models.py" "${torch_name[$m]}" "${args[@]}")
  "$python" - "$m" "$k" "$p" <<'PY'
import json, sys
name, k, p = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
ki = k["results"][0]["images_per_second"]
pi = p["images_per_second"]
print(f"{name:18} {ki:14.1f} {pi:14.1f} {ki / pi:17.2f}x")
PY
done
