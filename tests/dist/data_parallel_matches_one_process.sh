#!/bin/sh
# R ranks under mpirun, each with batch B, against one process with batch B x R on the same
# data: LeNet-5 on N synthetic images for two epochs (N chosen so that the last global batch is
# short, and in the 3-rank test so short that two ranks have no rows in it), no augmentation.
# Checks that only rank 0 wrote and printed, that both runs saw the same samples, and that the
# final parameters agree within RTOL (compare_checkpoints.py) after every optimizer step.
#
# Not bit for bit: the ranks sum their gradients in a different order (each rank's rows, then
# across ranks in MPI's order) than one process summing all rows; float32 sums of different
# order differ in the last bits, and the steps carry those differences forward.
#
#   data_parallel_matches_one_process.sh KESTREL MPIRUN RANKS BATCH N DIR RTOL [train flags...]
set -eu
kestrel=$1 mpirun=$2 ranks=$3 batch=$4 n=$5 dir=$6 rtol=$7
shift 7
here=$(dirname "$0")
rm -rf "$dir" && mkdir -p "$dir"
common="lenet5 --dataset synthetic --epochs 2 --train-limit $n --no-augment --device cpu \
--threads 1 --out $dir --dist-bucket-mb 0.02 $*"

start=$(date +%s)
"$kestrel" train $common --batch $((batch * ranks)) --name one >"$dir/one.out" 2>"$dir/one.err"
middle=$(date +%s)
"$mpirun" --oversubscribe -np "$ranks" "$kestrel" train $common --batch "$batch" --name dp \
  >"$dir/dp.out" 2>"$dir/dp.err"
end=$(date +%s)
echo "one process: $((middle - start)) s; $ranks ranks: $((end - middle)) s"

# Rank 0 alone writes the run and prints: one run directory, one line per epoch, one summary.
test "$(ls "$dir" | grep -v '\.' | sort | tr '\n' ' ')" = "dp one "
test "$(grep -c '^epoch ' "$dir/dp.out")" -eq 2
test "$(grep -c '^final: ' "$dir/dp.out")" -eq 1
grep -q "data parallel over $ranks ranks (mpi): global batch $((batch * ranks)) = $batch per rank x $ranks" "$dir/dp.err"
grep -q "\"world_size\": $ranks" "$dir/dp/config.json"
# The same samples: every training image once per epoch, every test image evaluated once.
for run in one dp; do
  test "$(grep -c "\"samples\":$n," "$dir/$run/metrics.jsonl")" -eq 2
  grep -q '"samples":1000' "$dir/$run/metrics.jsonl"
done
python3 "$here/compare_checkpoints.py" "$dir/one/last.safetensors" "$dir/dp/last.safetensors" \
  --rtol "$rtol" --optimizer
