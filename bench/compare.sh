#!/usr/bin/env bash
# kestrel against PyTorch on this machine, in one go: `kestrel bench lenet5` (training step,
# batch 64, 2 threads) and the same model and AdamW step in PyTorch, in the lab's DataLoader
# pipeline (bench/pytorch/lab_pipeline.py) and tuned with the data set resident as one tensor
# (bench/pytorch/tuned.py). PyTorch runs with 1 and with 2 threads and the faster set-up of
# each form is the one compared against. Prints a table and the ratios.
#
#   bench/compare.sh             LeNet-5 on MNIST-shaped data
#   bench/compare.sh --alexnet   also the lab's AlexNet at batch 128 (few steps: ~1 s a step)
#   bench/compare.sh --device cuda   the same on GPU 0 (fp32; never run on this CPU machine)
#   bench/compare.sh --device cuda --precision bf16   bf16 on both sides (kestrel: bf16
#                                operands, NHWC convolutions; PyTorch: autocast, channels_last)
#
# Environment: KESTREL_BUILD_DIR (build), PYTHON (/usr/bin/python3: Debian's python3-torch
# installs for that interpreter only), STEPS / WARMUP / REPEATS (50 / 10 / 5),
# KESTREL_CMAKE_ARGS (extra flags when the build folder has to be configured).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KESTREL_BUILD_DIR:-$root/build}"
python="${PYTHON:-/usr/bin/python3}"
steps="${STEPS:-50}"
warmup="${WARMUP:-10}"
repeats="${REPEATS:-5}"
alexnet=0
device=cpu
precision=fp32
while [[ $# -gt 0 ]]; do
  case "$1" in
    --alexnet) alexnet=1 ;;
    --device)
      [[ $# -ge 2 ]] || { echo "compare.sh: --device needs a value (cpu, cuda, cuda:N)" >&2; exit 2; }
      device="$2"; shift ;;
    --precision)
      [[ $# -ge 2 && $2 =~ ^(fp32|tf32|bf16)$ ]] ||
        { echo "compare.sh: --precision needs fp32, tf32 or bf16" >&2; exit 2; }
      precision="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument '$1' (known: --alexnet, --device DEV, --precision P)" >&2; exit 2 ;;
  esac
  shift
done

fail() { echo "compare.sh: $*" >&2; exit 1; }
[[ $precision == fp32 || $device != cpu ]] ||
  { echo "compare.sh: --precision $precision needs --device cuda: the CPU computes in fp32" >&2; exit 2; }

# PyTorch first: without it there is nothing to compare against.
[[ -x "$python" ]] || fail "$python not found: Debian's PyTorch runs under /usr/bin/python3 (set PYTHON to another interpreter that has torch)"
"$python" -c 'import torch, numpy' 2>/dev/null ||
  fail "PyTorch is missing for $python: install it with 'apt-get install python3-torch python3-torchvision' (Debian's python3-torch installs for /usr/bin/python3, not for a pyenv python3)"

# kestrel: configure once if needed, then bring the binary up to date.
if [[ ! -f "$build/build.ninja" && ! -f "$build/Makefile" ]]; then
  echo "compare.sh: configuring $build" >&2
  # shellcheck disable=SC2086
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release ${KESTREL_CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$build" --target kestrel -j "$(nproc)" >/dev/null || fail "building kestrel failed (cmake --build $build --target kestrel)"
kestrel="$build/apps/kestrel"
[[ -x "$kestrel" ]] || fail "$kestrel was not built"

out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"

common=(--steps "$steps" --warmup "$warmup" --repeats "$repeats")
torch_precision=(--precision "$precision")
[[ $precision == bf16 ]] && torch_precision+=(--channels-last)  # PyTorch's fast bf16 set-up
run_kestrel() {  # name model batch threads
  "$kestrel" bench "$2" --device "$device" --precision "$precision" --mode train --batch "$3" \
    --threads "$4" "${common[@]}" --json > "$out/$1.json"
}
run_torch() {  # name script model batch threads
  (cd "$root/bench/pytorch" && "$python" "$2" "$3" --device "$device" --batch "$4" --threads "$5" \
    "${torch_precision[@]}" "${common[@]}") \
    > "$out/$1.json"
}

echo "compare.sh: timing LeNet-5, batch 64 ($warmup warm-up steps, median of $repeats windows of $steps steps)" >&2
run_kestrel kestrel-lenet5-t2 lenet5 64 2
run_kestrel kestrel-lenet5-t1 lenet5 64 1
for t in 1 2; do
  run_torch tuned-lenet5-t$t tuned.py lenet5 64 $t
  run_torch lab-lenet5-t$t lab_pipeline.py lenet5 64 $t
done
if [[ $alexnet == 1 ]]; then
  # A CPU step takes about a second; a GPU step milliseconds, and a CUDA Graph is captured on
  # the second step, which must not fall into a timed window.
  if [[ $device == cpu ]]; then
    common=(--steps 3 --warmup 1 --repeats 3)
  else
    common=(--steps 20 --warmup 5 --repeats 5)
  fi
  echo "compare.sh: timing AlexNet, batch 128 (${common[1]} steps a window, ${common[3]} warm-up)" >&2
  run_kestrel kestrel-alexnet-t2 alexnet 128 2
  run_torch tuned-alexnet-t2 tuned.py alexnet 128 2
  run_torch lab-alexnet-t2 lab_pipeline.py alexnet 128 2
fi
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# The table, from the JSON lines.
"$python" - "$out" "$alexnet" "$load_before" "$load_after" "$device" \
  "$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)" "$precision" <<'PY'
import json, os, platform, sys, datetime
out, alexnet, load_before, load_after, device, commit, precision = sys.argv[1:8]

def load(name):
    with open(os.path.join(out, name + ".json")) as f:
        j = json.load(f)
    if "results" in j:  # kestrel bench
        r = j["results"][0]
        return {"ips": r["images_per_second"], "ms": r["ms_per_step"], "threads": j["threads"],
                "note": "bench --mode train"}
    blas = ",".join(os.path.basename(b) for b in j["blas"] if "libblas" in b or "openblas" in b)
    note = f"torch {j['torch_version']}, {'OpenBLAS' if 'openblas' in blas else blas or 'BLAS ?'}"
    if "transforms" in j:
        note += f", {j['transforms']} transforms"
    return {"ips": j["images_per_second"], "ms": j["ms_per_step"], "threads": j["threads"],
            "note": note}

cpu = "?"
try:
    with open("/proc/cpuinfo") as f:
        cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
except (OSError, StopIteration):
    pass
print(f"kestrel vs PyTorch, training step on {device} in {precision}: {cpu}, "
      f"{os.cpu_count()} cores, commit {commit}, "
      f"{datetime.datetime.now().isoformat(timespec='minutes')}")
print(f"load average (1/5/15 min): {load_before} before, {load_after} after")
busiest = max(float(load_before.split()[0]), float(load_after.split()[0]))
if busiest >= 0.5 * (os.cpu_count() or 1):
    print(f"WARNING: the machine was busy (load {busiest:.2f} on {os.cpu_count()} cores): with a "
          "core taken by other work, OpenMP's 2-thread barriers stall and the 2-thread figures "
          "collapse; rerun on an idle machine")

def section(title, model, rows, threads_kestrel):
    print()
    print(title)
    print(f"{'':2}{'implementation':<26}{'threads':>8}{'images/s':>12}{'ms/step':>10}   notes")
    data = {name: load(name) for name, _ in rows}
    for name, label in rows:
        d = data[name]
        print(f"{'':2}{label:<26}{d['threads']:>8}{d['ips']:>12,.0f}{d['ms']:>10.3f}   {d['note']}")
    k = data[f"kestrel-{model}-t{threads_kestrel}"]["ips"]
    for form, label in (("tuned", "PyTorch tuned"), ("lab", "PyTorch lab")):
        cands = [(data[n]["ips"], data[n]["threads"]) for n, _ in rows if n.startswith(form + "-")]
        best, t = max(cands)
        print(f"  kestrel ({threads_kestrel} threads) / {label} (faster set-up: {t} thread"
              f"{'s' if t != 1 else ''}) = {k / best:.2f}x")

section("LeNet-5 (lab), MNIST-shaped synthetic data, batch 64, training step (forward, loss, "
        "backward, AdamW)", "lenet5",
        [("kestrel-lenet5-t2", "kestrel"), ("kestrel-lenet5-t1", "kestrel"),
         ("tuned-lenet5-t1", "PyTorch tuned"), ("tuned-lenet5-t2", "PyTorch tuned"),
         ("lab-lenet5-t1", "PyTorch lab (DataLoader)"),
         ("lab-lenet5-t2", "PyTorch lab (DataLoader)")], 2)
print("  target (issue 8): kestrel >= 1.5x PyTorch tuned at 2 threads, aim 2x")
if alexnet == "1":
    section("AlexNet (lab), CIFAR-10-shaped synthetic data, batch 128, training step", "alexnet",
            [("kestrel-alexnet-t2", "kestrel"), ("tuned-alexnet-t2", "PyTorch tuned"),
             ("lab-alexnet-t2", "PyTorch lab (DataLoader)")], 2)
PY
