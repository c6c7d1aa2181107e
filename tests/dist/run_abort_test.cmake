# CTest script: a job whose last rank throws must end (within the timeout) with a non-zero
# exit code and the thrower's message.
execute_process(COMMAND ${MPIEXEC} ${NP_FLAG} 2 ${PROGRAM}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 60)
message("exit: ${rc}\n--- stdout\n${out}\n--- stderr\n${err}")
if(rc STREQUAL "0")
  message(FATAL_ERROR "the job exited 0 although a rank threw")
endif()
if(rc MATCHES "timeout")
  message(FATAL_ERROR "the job hung: ${rc}")
endif()
if(NOT "${out}${err}" MATCHES "pure16: rank 1 of 2 failed: deliberate failure in step 7")
  message(FATAL_ERROR "the thrower's message is missing from the job's output")
endif()
