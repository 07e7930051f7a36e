#!/usr/bin/env bash
# Installs the Debian packages kestrel builds and tests with. Idempotent: when everything is
# already there it prints nothing and touches nothing. The CUDA toolkit, cuDNN and NCCL are not
# Debian packages here; CMake finds them when present and builds CPU-only when not. chromium is
# the headless browser the report test opens report.html in (scripts/report-browser-test.sh).
# OpenMPI runs the data-parallel CPU ranks (mpirun in the distributed tests, docs/distributed.md).
# PyTorch and torchvision are the oracle of the parity tests (bench/pytorch/parity.py) and the
# other side of bench/compare.sh; they install for Debian's /usr/bin/python3. oneDNN (libdnnl-dev)
# runs the CPU convolutions (kernels/cpu/conv2d_onednn.cpp; optional: without it, im2col + GEMM);
# Debian's build of it has an OpenCL GPU runtime, so its CMake package requires OpenCL's headers
# and loader (ocl-icd-opencl-dev), which libdnnl-dev only recommends.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libfmt-dev libgtest-dev libgmock-dev
  libopenblas-dev libdnnl-dev ocl-icd-opencl-dev librandom123-dev libcli11-dev
  zlib1g-dev libpng-dev libjpeg-dev nlohmann-json3-dev
  clang libclang-rt-14-dev
  openmpi-bin libopenmpi-dev
  chromium
  python3-torch python3-torchvision
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
