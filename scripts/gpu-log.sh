#!/usr/bin/env bash
# Drafts the docs/gpu-runs/ log of a GPU check from what scripts/gpu-check.sh brought back, so
# that the figures in the log are the ones the run printed, copied by a script, not by hand.
#   scripts/gpu-log.sh RESULTS_DIR [CARD]
# RESULTS_DIR holds summary.txt and gpu-check-logs.tar.gz (the device tool's files_at). Writes
# docs/gpu-runs/<date>-<card>.md (the date from the run's environment.txt; CARD, default h200,
# names the file) and prints its path. The draft holds the environment, the summary table, the
# bench table, compare.sh's tables, the training runs' summaries, the failing tests and the
# slowest kernels Nsight Compute saw; what they mean is for the engineer to write under them.
set -euo pipefail
cd "$(dirname "$0")/.."
results="${1:?usage: scripts/gpu-log.sh RESULTS_DIR [CARD]}"
card="${2:-h200}"
[ -f "$results/summary.txt" ] || { echo "gpu-log: no $results/summary.txt" >&2; exit 1; }
[ -f "$results/gpu-check-logs.tar.gz" ] || { echo "gpu-log: no $results/gpu-check-logs.tar.gz" >&2; exit 1; }
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
tar -xzf "$results/gpu-check-logs.tar.gz" -C "$logs"
dir="$logs/gpu-check-logs"
[ -d "$dir" ] || dir="$logs/logs"  # archives from before the logs moved out of OUT_DIR
date=$(sed -n 's/^date: \([0-9-]*\)T.*/\1/p' "$dir/environment.txt" 2>/dev/null | head -n 1)
date=${date:-$(date -u +%F)}
doc="docs/gpu-runs/$date-$card.md"
[ -e "$doc" ] && { echo "gpu-log: $doc exists; move it away first" >&2; exit 1; }

section() {  # title, file, [lines]: a file (or its first lines) as a fenced block, if present
  [ -s "$2" ] || return 0
  printf '\n## %s\n\n```\n' "$1"
  if [ -n "${3:-}" ]; then head -n "$3" "$2"; else cat "$2"; fi
  printf '```\n'
}

{
  printf '# GPU check, %s, %s\n\n' "$date" "$card"
  printf 'Drafted by `scripts/gpu-log.sh` from the run'"'"'s own files; the figures below are what it printed.\n'
  section "Environment" "$dir/environment.txt"
  section "Summary" "$results/summary.txt"
  section "kestrel bench" "$dir/bench.txt"
  for f in compare compare-bf16; do
    [ -s "$dir/$f.txt" ] || continue
    grep -v '^compare.sh: timing' "$dir/$f.txt" >"$logs/$f.table" || true
    section "bench/compare.sh ($f)" "$logs/$f.table"
  done
  if compgen -G "$dir/train-*-metrics.jsonl" >/dev/null; then
    printf '\n## Training runs (per-epoch seconds and test top-1)\n\n```\n'
    for m in "$dir"/train-*-metrics.jsonl; do
      python3 - "$m" <<'PY'
import json, os, sys
path = sys.argv[1]
rows = [json.loads(l) for l in open(path) if '"event"' not in l]
name = os.path.basename(path)[len("train-"):-len("-metrics.jsonl")]
secs = " ".join(f"{r['train']['seconds'] * 1e3:.1f}" for r in rows)
top1 = " ".join(f"{100 * r['eval']['top1']:.2f}" for r in rows)
print(f"{name}: ms/epoch {secs}\n{' ' * len(name)}  top-1 %   {top1}")
PY
    done
    printf '```\n'
  fi
  grep -E '^\s+[0-9]+ - ' "$dir/cuda-tests.log" >"$logs/failed.txt" 2>/dev/null || true
  section "Failed GPU tests" "$logs/failed.txt"
  section "Nsight Compute: LeNet-5 training step kernels (first lines)" "$dir/ncu-lenet5.txt" 80
  printf '\n## What it shows\n\n(to write: what passed, what failed and why, which targets the figures meet.)\n'
} >"$doc"
echo "$doc"
