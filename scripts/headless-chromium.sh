# Sourced by the scripts that check kestrel's pages in a real browser (report-browser-test.sh,
# graph-svg-browser-test.sh), after they set $work: finds Chromium or exits 77 (ctest's
# SKIP_RETURN_CODE), and defines fail MESSAGE and run_browser ARGS..., which starts headless
# Chromium with a fresh profile, nothing phoned home, its log appended to $work/chromium.log.
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "SKIP: no chromium found; scripts/install-deps.sh installs Debian's chromium"
  exit 77
fi

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

run_browser() {
  local profile
  profile=$(mktemp -d)
  timeout 120 "$browser" --headless --no-sandbox --disable-gpu --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" "$@" 2>>"$work/chromium.log"
  local status=$?
  rm -rf "$profile"
  return $status
}
