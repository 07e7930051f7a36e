# FindCUDNN: cuDNN headers and library. Hints: CUDNN_ROOT (CMake or environment variable),
# the CUDA toolkit's include/, lib/ and lib64/, and Python wheels (site-packages/nvidia/cudnn).
# Defines CUDNN_FOUND, CUDNN_VERSION and the imported target CUDNN::cudnn.
include(KestrelFindHelpers)
kestrel_library_hints(_cudnn_hints cudnn)

find_path(CUDNN_INCLUDE_DIR cudnn.h
  HINTS ${CUDNN_ROOT} ENV CUDNN_ROOT ${_cudnn_hints}
  PATH_SUFFIXES include include/x86_64-linux-gnu)
find_library(CUDNN_LIBRARY
  NAMES cudnn libcudnn.so.9 libcudnn.so.8 NAMES_PER_DIR
  HINTS ${CUDNN_ROOT} ENV CUDNN_ROOT ${_cudnn_hints}
  PATH_SUFFIXES lib64 lib lib/x86_64-linux-gnu)

set(_cudnn_header "${CUDNN_INCLUDE_DIR}/cudnn_version.h")
if(NOT EXISTS "${_cudnn_header}")
  set(_cudnn_header "${CUDNN_INCLUDE_DIR}/cudnn.h")
endif()
kestrel_header_version(CUDNN_VERSION "${_cudnn_header}" CUDNN_ MAJOR MINOR PATCHLEVEL)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CUDNN
  REQUIRED_VARS CUDNN_LIBRARY CUDNN_INCLUDE_DIR
  VERSION_VAR CUDNN_VERSION)

if(CUDNN_FOUND AND NOT TARGET CUDNN::cudnn)
  add_library(CUDNN::cudnn UNKNOWN IMPORTED)
  set_target_properties(CUDNN::cudnn PROPERTIES
    IMPORTED_LOCATION "${CUDNN_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CUDNN_INCLUDE_DIR}")
endif()
mark_as_advanced(CUDNN_INCLUDE_DIR CUDNN_LIBRARY)
