# Runs PROG with ARGS ("~"-separated) and passes only when it exits non-zero AND its
# output matches REGEX: a bad option must be refused, by name, before anything runs.
#   cmake -DPROG=mnist_mlp -DARGS="--threads~-3" -DREGEX="--threads" -P expect_failure.cmake
string(REPLACE "~" ";" args "${ARGS}")
execute_process(COMMAND ${PROG} ${args} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err
                TIMEOUT 60)
set(all "${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "expected a failure, got exit status 0:\n${all}")
endif()
if(NOT all MATCHES "${REGEX}")
  message(FATAL_ERROR "exit status ${rc}, but the output does not match '${REGEX}':\n${all}")
endif()
message(STATUS "refused as expected (exit ${rc}): ${all}")
