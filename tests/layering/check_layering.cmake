# Checks that pure16's dependencies point one way: for each rule, a translation unit that
# includes the listed headers is preprocessed (-M) and must not pull in any forbidden path.
# Run by CTest: cmake -DCXX=... -DSOURCE_DIR=... -DINCLUDES="dir|dir" -P check_layering.cmake
# rule name | headers (comma-separated) | forbidden paths (comma-separated)
set(rules
  "core|pure16/error.hpp,pure16/scalar.hpp,pure16/tensor.hpp,pure16/random.hpp,pure16/parameter.hpp,pure16/ops.hpp,pure16/kernels/gemm.hpp,pure16/kernels/convert.hpp,pure16/kernels/cpu.hpp,pure16/kernels/finite.hpp,pure16/size.hpp|pure16/nn/,pure16/optim/,pure16/data/,pure16/io/,pure16/analysis/,pure16/train/,nlohmann/,zlib.h"
  "optim|pure16/optim/optim.hpp|pure16/nn/,pure16/data/,pure16/io/,pure16/analysis/,pure16/train/,nlohmann/,zlib.h"
  "nn|pure16/nn/nn.hpp|pure16/optim/,pure16/data/,pure16/io/,pure16/analysis/,pure16/train/,nlohmann/,zlib.h"
  "nn+optim consumer|pure16/nn/nn.hpp,pure16/optim/optim.hpp|pure16/data/,pure16/io/,pure16/analysis/,pure16/train/,nlohmann/,zlib.h"
  "data|pure16/data/data.hpp|pure16/nn/,pure16/optim/,pure16/io/,pure16/analysis/,pure16/train/,nlohmann/"
  "dataset without zlib|pure16/data/dataset.hpp|zlib.h,pure16/nn/,pure16/io/"
  "safetensors format|pure16/io/safetensors_format.hpp|pure16/nn/,pure16/optim/,pure16/data/,pure16/analysis/,pure16/train/,zlib.h"
  "analysis|pure16/analysis/precision.hpp,pure16/analysis/statistics.hpp|pure16/optim/,pure16/io/,pure16/train/,nlohmann/"
  "umbrella without MPI|pure16/pure16.hpp|pure16/dist/,mpi.h"
)
string(REPLACE "|" ";" include_dirs "${INCLUDES}")
set(flags -std=c++20 -M -I${SOURCE_DIR}/include)
foreach(d IN LISTS include_dirs)
  list(APPEND flags -I${d})
endforeach()
set(failed 0)
foreach(rule IN LISTS rules)
  string(REPLACE "|" ";" parts "${rule}")
  list(GET parts 0 name)
  list(GET parts 1 headers)
  list(GET parts 2 forbidden)
  string(REPLACE "," ";" headers "${headers}")
  string(REPLACE "," ";" forbidden "${forbidden}")
  set(tu "${WORK_DIR}/layering_${name}.cpp")
  string(REPLACE "+" "_" tu "${tu}")
  string(REPLACE " " "_" tu "${tu}")
  set(text "")
  foreach(h IN LISTS headers)
    string(APPEND text "#include <${h}>\n")
  endforeach()
  file(WRITE "${tu}" "${text}")
  execute_process(COMMAND ${CXX} ${flags} ${tu} OUTPUT_VARIABLE deps ERROR_VARIABLE err
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(SEND_ERROR "layering '${name}': the headers do not compile on their own:\n${err}")
    set(failed 1)
    continue()
  endif()
  foreach(f IN LISTS forbidden)
    string(FIND "${deps}" "${f}" at)
    if(NOT at EQUAL -1)
      string(REGEX MATCH "[^ \n]*${f}[^ \n]*" first "${deps}")
      message(SEND_ERROR "layering '${name}': ${headers} pulls in ${f} (${first})")
      set(failed 1)
    endif()
  endforeach()
  if(NOT failed)
    message(STATUS "layering '${name}': ok")
  endif()
endforeach()
if(failed)
  message(FATAL_ERROR "wrong-way dependencies found")
endif()
