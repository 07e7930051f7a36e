# cmake -P script behind kestrel_add_test_suites (KestrelTestSuites.cmake): lists the tests of
# TEST_EXECUTABLE and writes SUITES_FILE, one add_test per suite, or per case when PER_CASE is
# true.
execute_process(COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
                OUTPUT_VARIABLE listing RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} --gtest_list_tests failed (${rc})")
endif()
# Suite lines are "Name." and case lines "  Case"; either may end in a "  # GetParam() = ..."
# comment, which can hold ';' and brackets: comments go before the text becomes a list.
string(REGEX REPLACE "#[^\n]*" "" listing "${listing}")
string(REPLACE "\n" ";" lines "${listing}")
set(content "# Written by KestrelListTestSuites.cmake after each build of ${TEST_EXECUTABLE}\n")
set(names "")
foreach(line IN LISTS lines)
  if(line MATCHES "^([^ ]+)\\.[ ]*$")
    set(suite "${CMAKE_MATCH_1}")
    if(NOT PER_CASE)
      list(APPEND names "${suite}")
    endif()
  elseif(PER_CASE AND line MATCHES "^  ([^ ]+)[ ]*$")
    list(APPEND names "${suite}.${CMAKE_MATCH_1}")
  endif()
endforeach()
if(NOT names)
  message(FATAL_ERROR "${TEST_EXECUTABLE} lists no tests")
endif()
foreach(name IN LISTS names)
  if(PER_CASE)
    set(filter "${name}")
  else()
    set(filter "${name}.*")
  endif()
  string(APPEND content
         "add_test([==[${name}]==] \"${TEST_EXECUTABLE}\" [==[--gtest_filter=${filter}]==])\n"
         "set_tests_properties([==[${name}]==] PROPERTIES TIMEOUT ${TIMEOUT} "
         "SKIP_RETURN_CODE 77 WORKING_DIRECTORY \"${WORKING_DIRECTORY}\")\n")
endforeach()
file(WRITE "${SUITES_FILE}" "${content}")
