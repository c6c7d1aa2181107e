// pure16/size.hpp — size arithmetic that cannot wrap around.
//
// Contract:
//  * checked_mul(a, b, what) and checked_add(a, b, what) return the exact std::size_t
//    result, or throw E (pure16::InvalidArgument unless another pure16::Error subclass is
//    named, e.g. data::DataError for a file) whose message is "<what>: a x b overflows" /
//    "<what>: a + b overflows".
//  * checked_product(dims, what) is the product of every element (1 for none), checked the
//    same way; its message lists the dims. Every size that comes from a file or a user
//    (IDX and CIFAR headers, safetensors shapes, checkpoints, Tensor shapes, layer specs)
//    goes through one of these before memory is allocated or indexed with it.
//  * Zero times anything is zero: a product with a zero factor never overflows.
//  * `what` is a string, or a callable returning one (evaluated only on failure, so hot
//    paths pay no string building).
#pragma once

#include <cstddef>
#include <pure16/error.hpp>
#include <span>
#include <string>
#include <type_traits>

namespace pure16 {

namespace detail {
template <class W>
std::string describe(const W& what) {
  if constexpr (std::is_invocable_v<const W&>)
    return std::string(what());
  else
    return std::string(what);
}
/// Product of dims into r; false when it overflows (r is then meaningless).
inline bool product_fits(std::span<const std::size_t> dims, std::size_t& r) {
  r = 1;
  bool fits = true;
  for (std::size_t d : dims) {
    if (d == 0) {
      r = 0;
      return true;
    }
    if (fits && __builtin_mul_overflow(r, d, &r)) fits = false;
  }
  return fits;
}
}  // namespace detail

template <class E = InvalidArgument, class W>
std::size_t checked_mul(std::size_t a, std::size_t b, const W& what) {
  static_assert(std::is_base_of_v<Error, E>, "pure16 errors derive from pure16::Error");
  std::size_t r = 0;
  if (__builtin_mul_overflow(a, b, &r)) {
    throw E(detail::describe(what) + ": " + std::to_string(a) + " x " + std::to_string(b) +
            " overflows std::size_t");
  }
  return r;
}

template <class E = InvalidArgument, class W>
std::size_t checked_add(std::size_t a, std::size_t b, const W& what) {
  static_assert(std::is_base_of_v<Error, E>, "pure16 errors derive from pure16::Error");
  std::size_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    throw E(detail::describe(what) + ": " + std::to_string(a) + " + " + std::to_string(b) +
            " overflows std::size_t");
  }
  return r;
}

/// Product of dims without wrap-around; `what` names the dims' owner in the error.
template <class E = InvalidArgument, class W>
std::size_t checked_product(std::span<const std::size_t> dims, const W& what) {
  static_assert(std::is_base_of_v<Error, E>, "pure16 errors derive from pure16::Error");
  std::size_t r = 1;
  if (!detail::product_fits(dims, r)) {
    std::string list;
    for (std::size_t i = 0; i < dims.size(); ++i)
      list += (i ? " x " : "") + std::to_string(dims[i]);
    throw E(detail::describe(what) + ": the product " + list + " overflows std::size_t");
  }
  return r;
}

}  // namespace pure16
