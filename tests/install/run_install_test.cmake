# Script run by CTest: install pure16 into a scratch prefix, then configure, build and run
# the consumer project against it with find_package(pure16).
file(REMOVE_RECURSE ${WORK_DIR})
set(build ${WORK_DIR}/pure16-build)
set(prefix ${WORK_DIR}/prefix)
set(consumer ${WORK_DIR}/consumer-build)
function(run)
  execute_process(COMMAND ${ARGV} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install test: command failed (${rc}): ${ARGV}")
  endif()
endfunction()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${build} -DCMAKE_INSTALL_PREFIX=${prefix}
    -DPURE16_BUILD_TESTS=OFF -DPURE16_BUILD_BENCH=OFF -DPURE16_BUILD_EXAMPLES=OFF)
run(${CMAKE_COMMAND} --install ${build})
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install -B ${consumer}
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER})
run(${CMAKE_COMMAND} --build ${consumer})
run(${consumer}/consumer)
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install/core -B ${consumer}-core
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER})
run(${CMAKE_COMMAND} --build ${consumer}-core)
run(${consumer}-core/consumer_core)
