#!/usr/bin/env bash
# Prepares, on a machine with Debian's archive, what scripts/gpu-check.sh needs on a GPU machine
# that has no network: the Debian packages of kestrel's build dependencies, downloaded (not
# installed) into third_party/debs/ (git-ignored). gpu-check.sh unpacks them into a private
# prefix there; and MNIST, gzip-compressed, into third_party/gpu-data/ (git-ignored) for its
# training stage. Run it once; it is a no-op when the files are already present.
#
#   scripts/gpu-prepare.sh, then carry third_party/debs and third_party/gpu-data with the
#   checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  libfmt-dev libfmt9 libgtest-dev libgmock-dev
  libopenblas-dev libopenblas0-pthread libopenblas-pthread-dev libgfortran5
  librandom123-dev libcli11-dev nlohmann-json3-dev zlib1g-dev libpng-dev libpng16-16
  libjpeg-dev libjpeg62-turbo-dev libjpeg62-turbo
)
dest=third_party/debs
mkdir -p "$dest"
missing=()
for p in "${packages[@]}"; do
  compgen -G "$dest/${p}_*.deb" >/dev/null || missing+=("$p")
done

# MNIST for gpu-check.sh's training stage, gzip-compressed (12 MB instead of 53; kestrel reads
# both forms), from the verified files of scripts/fetch-data.sh mnist.
gpu_data=third_party/gpu-data/mnist
if [ -f data/mnist/train-images-idx3-ubyte ] && [ ! -f "$gpu_data/train-images-idx3-ubyte.gz" ]; then
  mkdir -p "$gpu_data"
  for f in data/mnist/*-ubyte; do gzip -c -6 "$f" >"$gpu_data/$(basename "$f").gz"; done
  # fetch-data.sh's marker: scripts/gpu-lab.sh restores the raw files beside it.
  cp data/mnist/.verified "$gpu_data/.verified"
  echo "gpu-prepare: MNIST in $gpu_data ($(du -sh "$gpu_data" | cut -f1))"
fi
[ -f "$gpu_data/train-images-idx3-ubyte.gz" ] ||
  echo "gpu-prepare: no data/mnist (scripts/fetch-data.sh mnist): gpu-check.sh will skip training"

[ ${#missing[@]} -eq 0 ] && { echo "gpu-prepare: $dest is complete"; exit 0; }
[ -f /var/lib/apt/lists/lock ] && [ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ] || apt-get update -qq
# apt-get download runs as the _apt user where it can; a private temporary folder it can write.
tmp=$(mktemp -d)
chmod 777 "$tmp"
(cd "$tmp" && apt-get download -qq "${missing[@]}")
mv "$tmp"/*.deb "$dest"/
rmdir "$tmp"
echo "gpu-prepare: $(ls "$dest"/*.deb | wc -l) packages in $dest ($(du -sh "$dest" | cut -f1))"
