#!/bin/sh
# scripts/lab.sh from nothing, as on a fresh GPU machine: the five runs at 1 epoch on 128
# training images each, scored on the first 500 test images (on all 10,000 the two AlexNet
# evaluations alone took most of the test's 276 s on one thread), the report and the tables
# spliced into a copy of docs/lab.md. Needs the real MNIST and CIFAR-10 (skipped, exit 77,
# without them).
#   lab_fresh_run.sh KESTREL SCRATCH_DIR
set -u
kestrel=$1 scratch=$2
root=$(cd "$(dirname "$0")/../.." && pwd)
data=${KESTREL_DATA_DIR:-$root/data}
for f in mnist/.verified cifar-10-batches-bin/.verified; do
  [ -f "$data/$f" ] || { echo "lab_fresh_run: no $data/$f: skipped"; exit 77; }
done
rm -rf "$scratch" && mkdir -p "$scratch" && cp "$root/docs/lab.md" "$scratch/lab.md"
KESTREL=$kestrel KESTREL_DATA_DIR=$data LAB_DIR=$scratch/lab LAB_DOC=$scratch/lab.md \
  "$root/scripts/lab.sh" --lenet-epochs 1 --alexnet-epochs 1 -- --train-limit 128 \
  --test-limit 500 --threads 1 >"$scratch/lab.log" 2>&1 ||
  { tail -n 20 "$scratch/lab.log"; echo "lab.sh failed"; exit 1; }
for run in lenet5-mnist lenet5-cifar10 alexnet-cifar10 alexnet-mnist lenet5-classic-mnist; do
  n=$(grep -c '"eval":' "$scratch/lab/$run/metrics.jsonl" 2>/dev/null || echo 0)
  [ "$n" = 1 ] || { echo "$run: $n epoch records, expected 1"; exit 1; }
done
grep -q '^| lenet5-classic-mnist |' "$scratch/lab.md" || { echo "tables not spliced"; exit 1; }
test -s "$scratch/lab/report.html" || { echo "no report.html"; exit 1; }
echo "lab_fresh_run: OK"
