# kestrel_add_test_suites(TARGET [TIMEOUT seconds]): one ctest test per GoogleTest suite of
# TARGET (`ctest -R TanhTest` runs Shapes/TanhTest's 30 cases in one process), instead of
# gtest_discover_tests' one per case. Each process of the CUDA configuration spends about
# 0.65 s in cuBLAS's and cuDNN's library constructors before the first test runs, and each
# sanitized one about as long in AddressSanitizer's start and LeakSanitizer's exit check: over
# ~1,600 cases that was ~17 minutes of CPU per run of the suite on a 2-core machine; per suite
# it is ~250 processes.
# The list is read from TARGET --gtest_list_tests after each build (the suites are only known
# then), into a file ctest includes; a suite whose every case skipped (no GPU) exits 77, ctest's
# skip (tests/support/main.cpp). -DKESTREL_CTEST_PER_CASE=ON goes back to one process per case,
# for a GPU run, where a kernel that faults leaves a sticky error that would fail every later
# case of its process (scripts/gpu-check.sh builds so).
option(KESTREL_CTEST_PER_CASE "ctest runs each GoogleTest case in its own process" OFF)
set(_kestrel_list_suites_script "${CMAKE_CURRENT_LIST_DIR}/KestrelListTestSuites.cmake")

function(kestrel_add_test_suites target)
  cmake_parse_arguments(arg "" "TIMEOUT" "" ${ARGN})
  if(NOT arg_TIMEOUT)
    set(arg_TIMEOUT 900)
  endif()
  set(suites_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_suites.cmake")
  set(loader_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_suites_loader.cmake")
  # Listed again whenever the binary, this script or the per-case choice changes (file(CONFIGURE)
  # rewrites the mode file only when its content changes).
  set(mode_file "${CMAKE_CURRENT_BINARY_DIR}/${target}_suites_mode.txt")
  file(CONFIGURE OUTPUT "${mode_file}" CONTENT "per_case=${KESTREL_CTEST_PER_CASE}\n")
  add_custom_command(
    OUTPUT "${suites_file}"
    COMMAND "${CMAKE_COMMAND}" -D "TEST_EXECUTABLE=$<TARGET_FILE:${target}>"
            -D "SUITES_FILE=${suites_file}" -D "TIMEOUT=${arg_TIMEOUT}"
            -D "PER_CASE=${KESTREL_CTEST_PER_CASE}"
            -D "WORKING_DIRECTORY=${CMAKE_CURRENT_BINARY_DIR}"
            -P "${_kestrel_list_suites_script}"
    DEPENDS ${target} "${mode_file}" "${_kestrel_list_suites_script}"
    COMMENT "Listing the test suites of ${target} for ctest"
    VERBATIM)
  add_custom_target(${target}_ctest_list ALL DEPENDS "${suites_file}")
  # Read by ctest: before the first build there is no list, and ctest says so in one failing test.
  file(WRITE "${loader_file}"
       "if(EXISTS \"${suites_file}\")\n"
       "  include(\"${suites_file}\")\n"
       "else()\n"
       "  add_test(${target}_NOT_BUILT \"${CMAKE_COMMAND}\" -E echo \"${target} is not built\")\n"
       "  set_tests_properties(${target}_NOT_BUILT PROPERTIES WILL_FAIL TRUE)\n"
       "endif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${loader_file}")
endfunction()
