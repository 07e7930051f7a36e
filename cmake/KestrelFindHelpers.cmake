# Shared search paths for libraries that ship inside the CUDA toolkit or inside Python wheels
# (pip's nvidia-cudnn-cu12 / nvidia-nccl-cu12 put them in site-packages/nvidia/<name>/).
function(kestrel_library_hints out_var wheel_name)
  set(hints "")
  if(CUDAToolkit_LIBRARY_ROOT)
    list(APPEND hints ${CUDAToolkit_LIBRARY_ROOT})
  endif()
  if(CUDAToolkit_TARGET_DIR)
    list(APPEND hints ${CUDAToolkit_TARGET_DIR})
  endif()
  list(APPEND hints /usr/local/cuda /usr)
  # Every python3 on the PATH, and the usual site-packages layouts.
  find_program(_kestrel_python NAMES python3 python)
  if(_kestrel_python)
    execute_process(
      COMMAND ${_kestrel_python} -c "import site,sys; print(';'.join(site.getsitepackages()+[site.getusersitepackages()]))"
      OUTPUT_VARIABLE _sites OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    foreach(s IN LISTS _sites)
      list(APPEND hints ${s}/nvidia/${wheel_name})
    endforeach()
  endif()
  file(GLOB _globbed /usr/local/lib/python3*/dist-packages/nvidia/${wheel_name}
                     /usr/lib/python3*/dist-packages/nvidia/${wheel_name}
                     /opt/*/lib/python3*/site-packages/nvidia/${wheel_name}
                     /root/.pyenv/versions/*/lib/python3*/site-packages/nvidia/${wheel_name})
  list(APPEND hints ${_globbed})
  set(${out_var} ${hints} PARENT_SCOPE)
endfunction()

# Reads '#define <PREFIX>MAJOR n' style lines from a header into <out_var> "major.minor.patch".
function(kestrel_header_version out_var header prefix major minor patch)
  set(v "")
  if(EXISTS "${header}")
    file(STRINGS "${header}" _lines REGEX "#define ${prefix}(${major}|${minor}|${patch})[ \t]+[0-9]+")
    foreach(part ${major} ${minor} ${patch})
      string(REGEX MATCH "#define ${prefix}${part}[ \t]+([0-9]+)" _m "${_lines}")
      list(APPEND v ${CMAKE_MATCH_1})
    endforeach()
    list(JOIN v "." v)
  endif()
  set(${out_var} "${v}" PARENT_SCOPE)
endfunction()
