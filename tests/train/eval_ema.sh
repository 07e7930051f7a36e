#!/bin/sh
# ctest cli.eval_ema: a LeNet-5 run with --ema and --no-decay-norm-bias on synthetic images;
# `kestrel eval` of its last checkpoint scores the averaged weights by default (the top-1 its
# metrics recorded as "eval") and the trained ones with --raw (the recorded "eval_raw"), and
# config.json holds both settings. Usage: $0 path/to/kestrel
set -eu
kestrel="$1"
dir=tr20-runs
rm -rf "$dir"
"$kestrel" train lenet5 --dataset synthetic --epochs 2 --train-limit 256 --batch 64 \
  --ema 0.9 --no-decay-norm-bias --device cpu --out "$dir" --name r >/dev/null 2>&1
grep -q '"ema_decay": 0.9' "$dir/r/config.json"
grep -q '"no_decay_norm_bias": true' "$dir/r/config.json"

# A top-1 of the last metrics line ("eval" or "eval_raw"), as kestrel prints it ("97.30").
top1_of() { python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1])][-1]
print("%.2f" % (100 * r[sys.argv[2]]["top1"]))' "$dir/r/metrics.jsonl" "$1"; }
averaged=$("$kestrel" eval "$dir/r/last.safetensors" --device cpu)
raw=$("$kestrel" eval "$dir/r/last.safetensors" --device cpu --raw)
echo "$averaged" | head -n 1
echo "$raw" | head -n 1
echo "$averaged" | head -n 1 | grep -q 'with the averaged weights: top-1'
echo "$raw" | head -n 1 | grep -q -v 'averaged'
got_avg=$(echo "$averaged" | sed -n 's/.* top-1 \([0-9.]*\)%.*/\1/p')
got_raw=$(echo "$raw" | sed -n 's/.* top-1 \([0-9.]*\)%.*/\1/p')
echo "metrics: eval $(top1_of eval), eval_raw $(top1_of eval_raw); kestrel eval: $got_avg, --raw $got_raw"
test -n "$got_avg" && test "$got_avg" = "$(top1_of eval)"
test -n "$got_raw" && test "$got_raw" = "$(top1_of eval_raw)"
