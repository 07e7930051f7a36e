#!/bin/sh
# Resuming a data-parallel run: with the same number of ranks it continues exactly where it
# stopped (the resumed run's parameters and optimizer state equal, bit for bit, those of a run
# that never stopped: every rank restores the same replica and the data order is a function of
# the epoch); with another number of ranks, or in one process, it is refused with one clear line
# naming both counts, and the run directory is left as it was.
#
#   resume_needs_the_same_ranks.sh KESTREL MPIRUN DIR
set -eu
kestrel=$1 mpirun=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir"
# A constant rate: the one-cycle default depends on --epochs, which the resumption raises.
common="lenet5 --dataset synthetic --train-limit 200 --batch 16 --no-augment --device cpu \
--threads 1 --schedule constant --out $dir"
run2() { "$mpirun" --oversubscribe -np 2 "$kestrel" train "$@"; }

run2 $common --epochs 2 --name straight >/dev/null 2>&1
run2 $common --epochs 1 --name resumed >/dev/null 2>&1
run2 lenet5 --out "$dir" --name resumed --resume --epochs 2 >"$dir/resume.out" 2>"$dir/resume.err"
grep -q 'resuming after epoch 1' "$dir/resume.err"
test "$(wc -l <"$dir/resumed/metrics.jsonl")" -eq 2
python3 "$(dirname "$0")/compare_checkpoints.py" "$dir/straight/last.safetensors" \
  "$dir/resumed/last.safetensors" --rtol 0 --optimizer

cp "$dir/resumed/metrics.jsonl" "$dir/metrics.before"
set +e
"$mpirun" --oversubscribe -np 3 "$kestrel" train lenet5 --out "$dir" --name resumed --resume \
  --epochs 3 >/dev/null 2>"$dir/three.err"
rc3=$?
"$kestrel" train lenet5 --out "$dir" --name resumed --resume --epochs 3 >/dev/null 2>"$dir/one.err"
rc1=$?
set -e
test "$rc3" -ne 0
grep -q 'the run was trained on 2 rank(s) and this job has 3; resume it with 2 rank(s)' "$dir/three.err"
test "$rc1" -eq 1
test "$(wc -l <"$dir/one.err")" -eq 1
grep -q 'the run was trained on 2 rank(s) and this job has 1' "$dir/one.err"
cmp "$dir/metrics.before" "$dir/resumed/metrics.jsonl"
