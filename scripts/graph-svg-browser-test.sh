#!/usr/bin/env bash
# Opens the graph drawing of `kestrel summary --svg` in a real browser: draws GoogLeNet (CIFAR
# form: Inception branches and concatenations), loads the file in headless Chromium, and checks
# that the document it builds has no XML parse error (Chromium inserts a <parsererror>), every
# node box (195) and the skip edges; a screenshot is kept for people to look at.
#
#   scripts/graph-svg-browser-test.sh KESTREL_BINARY [WORK_DIR]
#
# Exit 0 when every check passes, 1 when one fails, 77 (ctest's SKIP_RETURN_CODE) when Chromium
# is not installed (scripts/install-deps.sh installs it).
set -euo pipefail

kestrel=${1:?usage: graph-svg-browser-test.sh KESTREL_BINARY [WORK_DIR]}
work=${2:-$(mktemp -d)}
. "$(dirname "$0")/headless-chromium.sh"

rm -rf "$work"
mkdir -p "$work"

svg="$work/googlenet.svg"
"$kestrel" summary googlenet --svg "$svg" >"$work/summary.log" 2>&1 ||
  fail "kestrel summary --svg failed: $(tail -n 3 "$work/summary.log")"

dom="$work/googlenet-dom.svg"
run_browser --dump-dom "file://$svg" >"$dom" || fail "chromium could not load $svg"
if grep -q '<parsererror' "$dom"; then fail "$svg: chromium found XML errors: $(grep -o '<div[^<]*' "$dom" | head -n 1)"; fi
grep -q '^<svg xmlns="http://www.w3.org/2000/svg"' "$dom" || fail "$svg: no <svg> root in the DOM"
boxes=$(grep -o '<g class="node' "$dom" | wc -l)
[ "$boxes" -eq 195 ] || fail "$svg: $boxes node boxes in the DOM, expected 195"
grep -q '<path class="edge skip"' "$dom" || fail "$svg: no skip edges in the DOM"
grep -q 'inception3a.branch2.1.conv (Conv2d)' "$dom" || fail "$svg: no tooltip for inception3a"

# The top of the drawing: the stem and the first Inception module.
shot="$work/googlenet.png"
run_browser --window-size=800,1400 --hide-scrollbars --screenshot="$shot" "file://$svg" \
  >/dev/null || fail "chromium could not screenshot $svg"
[ -s "$shot" ] && [ "$(head -c 8 "$shot" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ] ||
  fail "no PNG screenshot of $svg"
echo "screenshot: $shot"
echo "PASS: the graph drawing renders in $($browser --version 2>/dev/null | head -n 1)"
