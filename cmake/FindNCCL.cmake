# FindNCCL: NCCL headers and library. Hints: NCCL_ROOT (CMake or environment variable), the
# CUDA toolkit's lib/ and lib64/ (CUDA 13 installs put libnccl in lib/), and Python wheels
# (site-packages/nvidia/nccl). Defines NCCL_FOUND, NCCL_VERSION and the target NCCL::nccl.
include(KestrelFindHelpers)
kestrel_library_hints(_nccl_hints nccl)

find_path(NCCL_INCLUDE_DIR nccl.h
  HINTS ${NCCL_ROOT} ENV NCCL_ROOT ${_nccl_hints}
  PATH_SUFFIXES include)
find_library(NCCL_LIBRARY
  NAMES nccl libnccl.so.2 NAMES_PER_DIR
  HINTS ${NCCL_ROOT} ENV NCCL_ROOT ${_nccl_hints}
  PATH_SUFFIXES lib lib64 lib/x86_64-linux-gnu)

kestrel_header_version(NCCL_VERSION "${NCCL_INCLUDE_DIR}/nccl.h" NCCL_ MAJOR MINOR PATCH)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NCCL
  REQUIRED_VARS NCCL_LIBRARY NCCL_INCLUDE_DIR
  VERSION_VAR NCCL_VERSION)

if(NCCL_FOUND AND NOT TARGET NCCL::nccl)
  add_library(NCCL::nccl UNKNOWN IMPORTED)
  set_target_properties(NCCL::nccl PROPERTIES
    IMPORTED_LOCATION "${NCCL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NCCL_INCLUDE_DIR}")
endif()
mark_as_advanced(NCCL_INCLUDE_DIR NCCL_LIBRARY)
