#!/usr/bin/env bash
# Opens kestrel's reports in a real browser. Trains two short runs on the generated "synthetic"
# data set (no files needed; `kestrel train` writes each run's report.html), writes a report
# comparing them with `kestrel report`, then loads both pages in headless Chromium: the DOM it
# builds must hold every chart (SVG elements by id) with its data points, the heatmap, the
# per-class table and the model summary; a screenshot of each page is kept for people to look at.
#
#   scripts/report-browser-test.sh KESTREL_BINARY [WORK_DIR]
#
# Exit 0 when every check passes, 1 when one fails, 77 (ctest's SKIP_RETURN_CODE) when Chromium
# is not installed (scripts/install-deps.sh installs it).
set -euo pipefail

kestrel=${1:?usage: report-browser-test.sh KESTREL_BINARY [WORK_DIR]}
work=${2:-$(mktemp -d)}
. "$(dirname "$0")/headless-chromium.sh"

rm -rf "$work"
mkdir -p "$work"

# Two small runs: a few hundred images, two epochs each, a few seconds on a CPU.
for model in lenet5 lenet5-classic; do
  "$kestrel" train "$model" --dataset synthetic --epochs 2 --batch 64 --train-limit 384 \
    --threads 2 --out "$work/runs" --name "$model-synthetic" >"$work/train-$model.log" 2>&1 ||
    fail "kestrel train $model failed: $(tail -n 3 "$work/train-$model.log")"
  grep -q "report: $work/runs/$model-synthetic/report.html" "$work/train-$model.log" ||
    fail "kestrel train $model did not print its report's path"
done
single="$work/runs/lenet5-synthetic/report.html"
compare="$work/compare.html"
"$kestrel" report "$work/runs/lenet5-synthetic" "$work/runs/lenet5-classic-synthetic" \
  --out "$compare" >"$work/report.log" 2>&1 || fail "kestrel report failed: $(cat "$work/report.log")"

# check_dom PAGE DOM_FILE "SVG_IDS" "TOOLTIPS": the page as Chromium builds it holds each <svg>
# by id and each data point's tooltip (series: epoch N, value).
check_dom() {
  local page=$1 dom=$2 ids=$3 tips=$4 id tip
  run_browser --dump-dom "file://$page" >"$dom" || fail "chromium could not load $page"
  for id in chart-loss chart-accuracy chart-lr chart-throughput $ids; do
    grep -q "<svg id=\"$id\"" "$dom" || fail "$page: no <svg id=\"$id\"> in the DOM"
  done
  while IFS= read -r tip; do
    [ -n "$tip" ] || continue
    grep -qF "<title>$tip" "$dom" || fail "$page: no data point '$tip' in the DOM"
  done <<<"$tips"
  [ "$(grep -o '<polyline' "$dom" | wc -l)" -ge 7 ] || fail "$page: fewer polylines than series"
  grep -q '<table class="per-class">' "$dom" || fail "$page: no per-class table"
  grep -q '<table class="summary">' "$dom" || fail "$page: no model summary"
  grep -q 'conv1' "$dom" || fail "$page: the model summary lists no conv1"
  if grep -q 'http://\|https://\|<script' "$dom"; then fail "$page: network reference or script"; fi
}

# Two epochs of every series of each chart.
check_dom "$single" "$work/single-dom.html" run-1-confusion "$(
  for e in 1 2; do
    printf '%s\n' "train: epoch $e, " "test: epoch $e, " "test top-1: epoch $e, " \
      "test top-5: epoch $e, " "learning rate: epoch $e, " "training: epoch $e, " \
      "evaluation: epoch $e, "
  done
)"
# The gallery: embedded images, or the sentence that there were none to show.
grep -q '<img src="data:image/png;base64,\|got every test image right' "$work/single-dom.html" ||
  fail "$single: no misclassified gallery"
check_dom "$compare" "$work/compare-dom.html" "run-1-confusion run-2-confusion" "$(
  for run in lenet5-synthetic lenet5-classic-synthetic; do
    for e in 1 2; do
      printf '%s\n' "$run · test: epoch $e, " "$run · test top-1: epoch $e, " "$run: epoch $e, " \
        "$run · training: epoch $e, "
    done
  done
)"
grep -q '<table class="comparison">' "$work/compare-dom.html" || fail "$compare: no comparison table"
grep -q 'lenet5-classic-synthetic' "$work/compare-dom.html" || fail "$compare: run name missing"

for page in "$single" "$compare"; do
  shot="$work/$(basename "$(dirname "$page")")-$(basename "$page" .html).png"
  [ "$page" = "$compare" ] && shot="$work/compare.png"
  run_browser --window-size=1400,4000 --hide-scrollbars --screenshot="$shot" "file://$page" \
    >/dev/null || fail "chromium could not screenshot $page"
  [ -s "$shot" ] && [ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
    fail "no PNG screenshot of $page"
  echo "screenshot: $shot"
done
echo "PASS: reports render in $($browser --version 2>/dev/null | head -n 1)"
