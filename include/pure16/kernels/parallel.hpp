// pure16/kernels/parallel.hpp — a parallel loop for the layers' data-parallel passes (im2col,
// col2im, pooling, element-wise maps), so that they use the threads the GEMMs use.
//
// Contract:
//  * parallel_for(n, work, fn) calls fn(i) once for every i in [0, n). The calls are spread
//    over OpenMP's threads (static schedule) when OpenMP is enabled, more than one thread
//    is allowed, the caller is not already inside a parallel region, n > 1 and `work` (the
//    caller's estimate of the elements touched) is at least kParallelMinWork; otherwise they
//    run in order on the calling thread. Either way the result must not depend on the order.
//  * An exception thrown by fn is rethrown on the calling thread (the first one caught).
//  * fn may use thread_local scratch: each thread runs its calls one after another.
#pragma once

#include <cstddef>
#include <exception>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace pure16::kernels {

/// Below this many touched elements a pass stays serial (a fork/join costs microseconds).
inline constexpr std::size_t kParallelMinWork = std::size_t(1) << 16;

template <class F>
void parallel_for(std::size_t n, std::size_t work, F&& fn) {
#ifdef _OPENMP
  if (n > 1 && work >= kParallelMinWork && !omp_in_parallel() && omp_get_max_threads() > 1) {
    std::exception_ptr error;
    const std::ptrdiff_t count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(static)
    for (std::ptrdiff_t i = 0; i < count; ++i) {
      try {
        fn(static_cast<std::size_t>(i));
      } catch (...) {
#pragma omp critical(pure16_parallel_for_error)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
#else
  (void)work;
#endif
  for (std::size_t i = 0; i < n; ++i) fn(i);
}

}  // namespace pure16::kernels
