#!/bin/sh
# ctest cli.eval_matches_run_metrics: trains LeNet-5 for 4 epochs on synthetic images (at a
# rate where epoch 3 is the best, not the last, on x86-64 OpenBLAS), then checks that `kestrel eval` of
# last.safetensors prints the top-1 of the last metrics record, and of best.safetensors the
# epoch and top-1 of the last record marked best. Usage: $0 path/to/kestrel
set -eu
kestrel="$1"
dir=tr12-runs
rm -rf "$dir"
"$kestrel" train lenet5 --dataset synthetic --epochs 4 --train-limit 256 --batch 64 \
  --optimizer sgd --lr 0.3 --schedule constant --device cpu --out "$dir" --name r >/dev/null 2>&1

# The evaluation's top-1 of a metrics line, as kestrel prints it ("97.30").
top1_of() { grep -o '"top1":[0-9.e-]*' | tail -n 1 | cut -d: -f2 | awk '{ printf "%.2f", 100 * $1 }'; }
# What kestrel eval prints after "top-1 ".
eval_top1() { "$kestrel" eval "$1" --device cpu | sed -n 's/.* top-1 \([0-9.]*\)%.*/\1/p'; }
# The epoch kestrel eval says the checkpoint is from.
eval_epoch() { "$kestrel" eval "$1" --device cpu | sed -n 's/.*, epoch \([0-9]*\)).*/\1/p'; }

want_last=$(tail -n 1 "$dir/r/metrics.jsonl" | top1_of)
want_best=$(grep '"best":true' "$dir/r/metrics.jsonl" | tail -n 1 | top1_of)
got_last=$(eval_top1 "$dir/r/last.safetensors")
got_best=$(eval_top1 "$dir/r/best.safetensors")
best_epoch=$(grep '"best":true' "$dir/r/metrics.jsonl" | tail -n 1 | grep -o '"epoch":[0-9]*' | cut -d: -f2)
echo "last: metrics $want_last, eval $got_last; best (epoch $best_epoch): metrics $want_best, eval $got_best"
test "$(eval_epoch "$dir/r/best.safetensors")" = "$best_epoch"
test "$(eval_epoch "$dir/r/last.safetensors")" = 4
test -n "$want_last" && test "$want_last" = "$got_last"
test -n "$want_best" && test "$want_best" = "$got_best"
