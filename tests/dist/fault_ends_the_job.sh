#!/bin/sh
# A rank that fails mid-run ends the whole job with a non-zero status within a bounded time,
# never a silent hang. Two ranks train a run long enough to take minutes; at step 3 rank 1
#   kill   raises SIGKILL on itself (mpirun sees a rank die and ends the job),
#   hang   stops for ever (rank 0's next collective reaches --dist-timeout and aborts the job),
#   error  throws (its communicator aborts the job at once).
# Checks the exit status, the message that says why, and the time: the whole job (start-up, three
# steps, the fault and the shutdown) within BOUND seconds.
#
#   fault_ends_the_job.sh KESTREL MPIRUN KIND DIST_TIMEOUT BOUND DIR
set -u
kestrel=$1 mpirun=$2 kind=$3 dist_timeout=$4 bound=$5 dir=$6
rm -rf "$dir" && mkdir -p "$dir"
start=$(date +%s.%N)
KESTREL_FAULT=$kind KESTREL_FAULT_RANK=1 KESTREL_FAULT_STEP=3 \
  timeout $((bound * 4)) "$mpirun" --oversubscribe -np 2 "$kestrel" train lenet5 --dataset synthetic \
  --epochs 200 --train-limit 512 --batch 16 --no-augment --device cpu --threads 1 \
  --dist-timeout "$dist_timeout" --out "$dir" --name r >"$dir/out.txt" 2>"$dir/err.txt"
rc=$?
end=$(date +%s.%N)
cat "$dir/err.txt"
echo "exit status $rc"
test "$rc" -ne 0 || { echo "FAIL: the job exited 0"; exit 1; }
test "$rc" -ne 124 || { echo "FAIL: the job hung until timeout(1) ended it"; exit 1; }
grep -q "rank 1: injecting a fault at step 3" "$dir/err.txt" ||
  { echo "FAIL: the fault was never reached"; exit 1; }
# The whole job, set-up and three steps included, against the bound.
elapsed=$(awk "BEGIN { printf \"%.1f\", $end - $start }")
echo "job ended $elapsed s after it started (bound: $bound s)"
awk "BEGIN { exit !($elapsed < $bound) }" || { echo "FAIL: took longer than $bound s"; exit 1; }
case "$kind" in
  hang) grep -q "did not complete within $dist_timeout s (--dist-timeout)" "$dir/err.txt" ;;
  error) grep -q "rank 1 of 2: injected error at step 3" "$dir/err.txt" ;;
  kill) true ;;
esac || { echo "FAIL: stderr does not say why the job ended"; exit 1; }
