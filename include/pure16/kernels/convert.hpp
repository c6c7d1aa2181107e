// pure16/kernels/convert.hpp — bulk conversion between scalar types.
//
// Contract: convert(src, dst, n) writes dst[i] = round_to<To>(src[i]) for i < n: exact
// widening, round-to-nearest-even narrowing, bit-exact with Eigen's scalar conversion
// (subnormals, infinities, NaN, ties). src and dst must not overlap.
// (Portable implementation; SIMD paths are added per instruction set.)
#pragma once

#include <cstddef>
#include <pure16/scalar.hpp>

namespace pure16::kernels {

template <Scalar From, Scalar To>
inline void convert(const From* src, To* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<To, double>) {
      dst[i] = static_cast<double>(src[i]);
    } else if constexpr (std::is_same_v<From, double>) {
      dst[i] = round_to<To>(src[i]);
    } else {
      dst[i] = round_to<To>(static_cast<float>(src[i]));
    }
  }
}

}  // namespace pure16::kernels
