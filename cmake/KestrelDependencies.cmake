# Finds every dependency once, so the subdirectories only link imported targets.
# Required: fmt, Random123 (headers), OpenMP. Optional: OpenBLAS, CUDA toolkit (+ cuBLAS),
# cuDNN, NCCL, MPI (-DKESTREL_MPI=OFF leaves it out). Each result is printed by KestrelSummary.cmake.

find_package(fmt REQUIRED)
find_package(Threads REQUIRED)
find_package(OpenMP REQUIRED COMPONENTS CXX)
find_package(CLI11 CONFIG REQUIRED)
find_package(ZLIB REQUIRED)                     # gzip-compressed IDX files
find_package(PNG REQUIRED)                      # CIFAR-10 PNGs, predict inputs, report images
find_package(JPEG REQUIRED)                     # predict inputs (libjpeg-turbo; Debian: libjpeg-dev)
# Debian keeps jconfig.h, which jpeglib.h includes, under include/<multiarch>: a prefix of
# unpacked packages (scripts/gpu-check.sh) has it there too, beside no system copy.
find_path(KESTREL_JPEG_CONFIG_DIR jconfig.h HINTS ${JPEG_INCLUDE_DIRS})
if(KESTREL_JPEG_CONFIG_DIR)
  set_property(TARGET JPEG::JPEG APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES
               ${KESTREL_JPEG_CONFIG_DIR})
endif()
find_package(nlohmann_json 3 CONFIG REQUIRED)   # safetensors headers, metrics, configs

# Random123: header-only counter-based RNGs (Debian: librandom123-dev).
find_path(RANDOM123_INCLUDE_DIR Random123/philox.h HINTS ${RANDOM123_ROOT} ENV RANDOM123_ROOT
          PATH_SUFFIXES include)
if(NOT RANDOM123_INCLUDE_DIR)
  message(FATAL_ERROR "Random123 headers not found: apt-get install librandom123-dev, "
                      "or pass -DRANDOM123_ROOT=<dir containing Random123/>")
endif()
add_library(kestrel::random123 INTERFACE IMPORTED)
target_include_directories(kestrel::random123 SYSTEM INTERFACE ${RANDOM123_INCLUDE_DIR})

# BLAS for the CPU GEMMs. OpenBLAS when present; otherwise kestrel's own blocked GEMM.
set(KESTREL_BLAS_NAME "none (built-in blocked GEMM)")
set(BLA_VENDOR OpenBLAS)
find_package(BLAS QUIET)
find_path(CBLAS_INCLUDE_DIR cblas.h PATH_SUFFIXES openblas include/openblas
          include/x86_64-linux-gnu/openblas-pthread)
if(BLAS_FOUND AND CBLAS_INCLUDE_DIR)
  set(KESTREL_HAVE_BLAS ON)
  find_package(PkgConfig QUIET)
  if(PkgConfig_FOUND)
    pkg_check_modules(OPENBLAS_PC QUIET openblas)
  endif()
  set(KESTREL_BLAS_NAME "OpenBLAS ${OPENBLAS_PC_VERSION}")
  add_library(kestrel::blas INTERFACE IMPORTED)
  target_link_libraries(kestrel::blas INTERFACE ${BLAS_LIBRARIES})
  target_include_directories(kestrel::blas SYSTEM INTERFACE ${CBLAS_INCLUDE_DIR})
  target_compile_definitions(kestrel::blas INTERFACE KESTREL_HAVE_BLAS=1)
else()
  set(KESTREL_HAVE_BLAS OFF)
endif()

# oneDNN (Debian: libdnnl-dev 2.x, the library PyTorch's CPU convolutions run on): an optional
# CPU convolution path (kernels/cpu/conv2d_onednn.cpp). The 3.x API differs; 2.x only.
set(KESTREL_HAVE_ONEDNN OFF)
set(KESTREL_ONEDNN_NAME "not found (libdnnl-dev)")
if(KESTREL_ONEDNN)
  # Debian's oneDNN is built with an OpenCL GPU runtime and its dnnl-config.cmake calls
  # find_package(OpenCL REQUIRED), a hard configure error even under QUIET where OpenCL's
  # development files are missing (libdnnl-dev only recommends ocl-icd-opencl-dev). Look for
  # OpenCL first, so that such a machine builds without oneDNN instead of failing.
  find_package(OpenCL QUIET)
  if(OpenCL_FOUND)
    find_package(dnnl CONFIG QUIET)
  else()
    set(KESTREL_ONEDNN_NAME "not used: oneDNN's CMake package needs OpenCL (ocl-icd-opencl-dev)")
  endif()
else()
  set(KESTREL_ONEDNN_NAME "off (-DKESTREL_ONEDNN=OFF)")
endif()
if(KESTREL_ONEDNN AND dnnl_FOUND AND TARGET DNNL::dnnl)
  if(dnnl_VERSION VERSION_LESS 3.0)
    set(KESTREL_HAVE_ONEDNN ON)
    set(KESTREL_ONEDNN_NAME "oneDNN ${dnnl_VERSION}")
  else()
    set(KESTREL_ONEDNN_NAME "oneDNN ${dnnl_VERSION} found, but kestrel uses the 2.x API")
  endif()
endif()

# CUDA toolkit: optional. Architectures default to an explicit list ('native' fails on a
# machine without a GPU); 90 is the H100/H200. -DCMAKE_CUDA_ARCHITECTURES=... or CMake's own
# CUDAARCHS environment variable choose others (.ci/run compiles for 90 only).
set(KESTREL_HAVE_CUDA OFF)
if(KESTREL_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # CUDAARCHS is read here on every configure: CMake reads it only when it first finds nvcc,
    # so a build folder configured without it would otherwise get no architecture at all.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      if(NOT "$ENV{CUDAARCHS}" STREQUAL "")
        set(CMAKE_CUDA_ARCHITECTURES "$ENV{CUDAARCHS}")
      else()
        set(CMAKE_CUDA_ARCHITECTURES 75 80 86 89 90)
      endif()
    endif()
    enable_language(CUDA)
    # CMake 3.25 does not know nvcc 12+'s C++20 flag: teach it, then ask for C++20 as in C++.
    if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
      set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
      set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
    endif()
    # One CUDA runtime in the process: the shared one cuBLAS and cuDNN also load.
    set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
    set(CMAKE_CUDA_STANDARD 20)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(KESTREL_HAVE_CUDA ON)
    include(KestrelFindHelpers)
    kestrel_header_version(KESTREL_CUBLAS_VERSION "${CUDAToolkit_INCLUDE_DIRS}/cublas_api.h"
                           CUBLAS_VER_ MAJOR MINOR PATCH)
  endif()
endif()

set(KESTREL_HAVE_CUDNN OFF)
set(KESTREL_HAVE_NCCL OFF)
if(KESTREL_HAVE_CUDA)
  # The CUDA backend's convolutions are cuDNN's: without it there is no CUDA backend.
  find_package(CUDNN)
  if(NOT CUDNN_FOUND)
    message(FATAL_ERROR "CUDA toolkit found but cuDNN not: set CUDNN_ROOT (or install cuDNN 9), "
                        "or configure a CPU-only build with -DKESTREL_CUDA=OFF")
  endif()
  find_package(NCCL)
  set(KESTREL_HAVE_CUDNN ${CUDNN_FOUND})
  set(KESTREL_HAVE_NCCL ${NCCL_FOUND})
endif()

# MPI (OpenMPI from Debian): data-parallel training on CPU ranks and the NCCL id exchange of
# GPU ranks. Only its C interface is used, found through the CXX component (the project enables
# no C compiler). Without it kestrel trains in one process.
set(KESTREL_HAVE_MPI OFF)
if(KESTREL_MPI)
  find_package(MPI QUIET COMPONENTS CXX)
  if(MPI_CXX_FOUND)
    set(KESTREL_HAVE_MPI ON)
  endif()
endif()

if(KESTREL_TESTS)
  find_package(GTest REQUIRED)
endif()
