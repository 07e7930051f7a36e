#!/usr/bin/env bash
# Fuzzes the data-file parsers (IDX, CIFAR-10), the image reader (PNG, JPEG) and the safetensors
# reader (checkpoints) with libFuzzer + AddressSanitizer + UndefinedBehaviorSanitizer: builds one
# target per parser (tests/fuzz/fuzz_*.cpp) with clang++, compiling the parser sources directly,
# then runs each for a bounded time from a small seed corpus (valid raw and gzip files, small PNGs
# and JPEGs, small safetensors files). Exits
# non-zero on any crash, sanitizer report, leak, timeout or build failure;
# the input that caused it is left in $FUZZ_DIR/artifacts/.
#
#   scripts/fuzz.sh            # 20 seconds per target
#   scripts/fuzz.sh 300        # 5 minutes per target
#
# Environment: FUZZ_CXX (default clang++), FUZZ_DIR (default build-fuzz: binaries, corpora
# kept between runs, artifacts, logs).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
case "$seconds" in
  -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
  ''|*[!0-9]*|0) echo "fuzz.sh: SECONDS must be a positive whole number, got '$seconds' (try --help)" >&2
                 exit 2 ;;
esac
cxx="${FUZZ_CXX:-clang++}"
out="${FUZZ_DIR:-build-fuzz}"
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang)" >&2; exit 2; }

flags=(-std=c++20 -O1 -g -fno-omit-frame-pointer -I.
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
       -Wall -Wextra -Wpedantic -Wshadow -Wold-style-cast -Werror)
libs=(-lfmt -lz -lpng -ljpeg)
common=(kernels/common/error.cpp engine/data/byte_source.cpp)
declare -A sources=(
  [idx]="engine/data/idx_reader.cpp"
  [cifar]="engine/data/cifar_reader.cpp"
  [image]="engine/data/image_file.cpp"
  # The reader and the host tensors it fills (nlohmann json is header-only).
  [safetensors]="engine/checkpoint/safetensors.cpp engine/tensor/tensor.cpp
                 engine/tensor/storage.cpp engine/tensor/copy.cpp engine/memory/memory_pool.cpp
                 engine/memory/raw_allocator.cpp engine/core/device.cpp engine/core/shape.cpp
                 kernels/cpu/simd.cpp"
)

mkdir -p "$out/artifacts" "$out/logs"

# Seeds: small valid files of each format, raw and gzip.
seed_dir="$out/seeds"
rm -rf "$seed_dir"
mkdir -p "$seed_dir/idx" "$seed_dir/cifar" "$seed_dir/image" "$seed_dir/safetensors"
printf '\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x03' > "$seed_dir/idx/images"
head -c 18 /dev/urandom >> "$seed_dir/idx/images"
printf '\x00\x00\x08\x01\x00\x00\x00\x04\x01\x02\x03\x09' > "$seed_dir/idx/labels"
if command -v gzip >/dev/null; then
  gzip -c "$seed_dir/idx/images" > "$seed_dir/idx/images.gz"
  gzip -c "$seed_dir/idx/labels" > "$seed_dir/idx/labels.gz"
fi
{ printf '\x03'; head -c 3072 /dev/urandom; printf '\x09'; head -c 3072 /dev/urandom; } \
  > "$seed_dir/cifar/two-records"
# safetensors: FILE HEADER DATA_BYTES -> the 8-byte little-endian header length, the JSON header
# (padded with spaces to a multiple of 8, as the reference writer does) and random data bytes.
safetensors_seed() {
  local header=$2
  while [ $(( ${#header} % 8 )) -ne 0 ]; do header+=' '; done
  local n=${#header}
  printf "$(printf '\\x%02x\\x%02x\\x00\\x00\\x00\\x00\\x00\\x00' $((n & 255)) $((n >> 8)))" > "$1"
  printf '%s' "$header" >> "$1"
  head -c "$3" /dev/urandom >> "$1"
}
st="$seed_dir/safetensors"
safetensors_seed "$st/f32" \
  '{"b":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[12,36]}}' 36
safetensors_seed "$st/i64-u8" \
  '{"step":{"dtype":"I64","shape":[],"data_offsets":[0,8]},"n":{"dtype":"I64","shape":[2],"data_offsets":[8,24]},"m":{"dtype":"U8","shape":[1,5],"data_offsets":[24,29]}}' 29
safetensors_seed "$st/empty" '{}' 0
safetensors_seed "$st/empty-metadata" '{"__metadata__":{}}' 0
safetensors_seed "$st/metadata" \
  '{"__metadata__":{"format":"pt","kestrel.epoch":"3"},"x":{"dtype":"BF16","shape":[2,2],"data_offsets":[0,8]},"h":{"dtype":"F16","shape":[0,4],"data_offsets":[8,8]},"i":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}' 12
# Images: written by libpng and libjpeg (a small program on the unit tests' writers).
if ! "$cxx" -std=c++20 -O1 -I. tests/fuzz/image_seeds.cpp -lpng -ljpeg -o "$out/image_seeds" ||
   ! "$out/image_seeds" "$seed_dir/image"; then
  echo "fuzz.sh: writing the image seeds failed" >&2
  exit 1
fi

status=0
for target in idx cifar image safetensors; do
  binary="$out/fuzz_$target"
  echo "fuzz.sh: building $binary"
  if ! "$cxx" "${flags[@]}" "tests/fuzz/fuzz_$target.cpp" ${sources[$target]} "${common[@]}" \
       "${libs[@]}" -o "$binary"; then
    echo "fuzz.sh: building fuzz_$target failed" >&2
    exit 1
  fi
  corpus="$out/corpus/$target"
  mkdir -p "$corpus"
  log="$out/logs/fuzz_$target.log"
  echo "fuzz.sh: running fuzz_$target for ${seconds}s (log: $log)"
  if "$binary" "$corpus" "$seed_dir/$target" -max_total_time="$seconds" -max_len=65536 \
       -rss_limit_mb=2048 -timeout=5 -print_final_stats=1 \
       -artifact_prefix="$out/artifacts/fuzz_$target-" >"$log" 2>&1; then
    runs=$(grep -o 'Done [0-9]* runs in [0-9]* second(s)' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    echo "fuzz.sh: fuzz_$target OK: ${runs:-no summary}, ${cov:-cov: ?}, corpus $(ls "$corpus" | wc -l) inputs"
  else
    status=1
    echo "fuzz.sh: fuzz_$target FAILED; the end of its log:" >&2
    tail -n 40 "$log" >&2
  fi
done
exit "$status"
