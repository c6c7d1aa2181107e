// pure16/kernels/finite.hpp — is every value finite? A scan of the exponent bits.
//
// Contract:
//  * all_finite(p, n) is true when none of p[0..n) is NaN or infinite. It tests the
//    exponent field of each value's bits (scalar_traits<T>::exponent_mask; all ones means
//    Inf/NaN in half, bfloat16, float and double alike), without branches, so compilers vectorize
//    it; it reads each value once and never converts.
//  * count_non_finite(p, n, first) counts the non-finite values the same way; when the count
//    is not zero, *first (if given) is the index of the first of them.
//  * Both are what the non-finite guard uses: train::fit's fast path before and after every
//    optimizer step, nn::check_finite to build its report.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <pure16/scalar.hpp>

namespace pure16::kernels {

namespace detail {
/// The storage bits and exponent mask of T (scalar_traits<T>: storage_type, exponent_mask).
template <Scalar T>
struct ExponentBits {
  using Bits = typename scalar_traits<T>::storage_type;
  static constexpr Bits mask = scalar_traits<T>::exponent_mask;
  static Bits of(const T* p) {
    Bits b;
    std::memcpy(&b, p, sizeof(T));
    return b;
  }
};
}  // namespace detail

/// No NaN or infinity among p[0..n).
template <Scalar T>
bool all_finite(const T* p, std::size_t n) {
  using E = detail::ExponentBits<T>;
  unsigned bad = 0;
  for (std::size_t i = 0; i < n; ++i) bad |= unsigned((E::of(p + i) & E::mask) == E::mask);
  return bad == 0;
}

/// Number of NaN or infinite values among p[0..n); *first = index of the first of them.
template <Scalar T>
std::size_t count_non_finite(const T* p, std::size_t n, std::size_t* first = nullptr) {
  using E = detail::ExponentBits<T>;
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) count += std::size_t((E::of(p + i) & E::mask) == E::mask);
  if (count != 0 && first) {
    for (std::size_t i = 0; i < n; ++i) {
      if ((E::of(p + i) & E::mask) == E::mask) {
        *first = i;
        break;
      }
    }
  }
  return count;
}

}  // namespace pure16::kernels
