// pure16/optim/epsilon.hpp — the epsilon policy of the adaptive optimizers (RMSProp, Adam).
//
// Contract:
//  * default_epsilon<T>() is an epsilon that is a normal number of T and meaningful next
//    to the sqrt(v) magnitudes T can hold:
//      fp16: 1e-4. 1e-8 (the usual default) is exactly 0 in fp16 and 1e-7 a subnormal; the
//            smallest normal fp16 is 6.1e-5, and fp16 gradients below ~6e-5 are themselves
//            subnormal, so sqrt(v) of any normally representable gradient is >= ~6e-5.
//            1e-4 is the smallest round value that is a normal fp16 (1.0002e-4), and it
//            caps the step at lr * m / 1e-4 where a tiny v would otherwise blow it up.
//      bf16: 1e-8. bf16 has float's exponent range, so 1e-8 is a normal bf16 (9.98e-9) and
//            keeps the meaning it has in fp32 training.
//      fp32, fp64: 1e-8 (the PyTorch default).
//  * checked_epsilon<T>(eps, allow_subnormal, who) rounds eps to T and throws
//    pure16::InvalidArgument when it is not finite and positive, when it rounds to 0 in T
//    ("epsilon 1e-08 rounds to 0 in fp16"), or when it rounds to a subnormal of T unless
//    allow_subnormal is set (to reproduce the failure mode of a subnormal epsilon on
//    purpose), or when it is too large for T (1e5 rounds to infinity in fp16).
//  * require_finite_in<T>(who, {{"lr", lr}, {"momentum", m}, ...}) throws
//    pure16::InvalidArgument naming the first hyper-parameter that is not finite, or that
//    rounds to infinity in T ("lr 1e+05 rounds to inf in fp16 (largest finite 65504)").
//    Every optimizer calls it on its hyper-parameters at construction.
#pragma once

#include <cmath>
#include <cstdio>
#include <initializer_list>
#include <pure16/error.hpp>
#include <pure16/scalar.hpp>
#include <string>
#include <utility>

namespace pure16::optim {

template <Scalar T>
double default_epsilon() {
  if (static_cast<double>(round_to<T>(1e-8)) >= static_cast<double>(scalar_traits<T>::min_normal()))
    return 1e-8;  // bf16, fp32, fp64: the customary value is a normal number of T
  return 1e-4;    // fp16 (see the contract above)
}

namespace detail {
inline std::string format_value(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}
}  // namespace detail

/// eps rounded to T, or pure16::InvalidArgument when it is unusable in T (see above).
template <Scalar T>
T checked_epsilon(double eps, bool allow_subnormal, const std::string& who) {
  const std::string tn(scalar_traits<T>::name);
  if (!std::isfinite(eps) || eps <= 0) {
    throw pure16::InvalidArgument(who + ": epsilon " + detail::format_value(eps) +
                                  " must be finite and positive");
  }
  const T e = round_to<T>(eps);
  const double ed = static_cast<double>(e);
  if (!std::isfinite(ed)) {
    throw pure16::InvalidArgument(
        who + ": epsilon " + detail::format_value(eps) + " rounds to " + detail::format_value(ed) +
        " in " + tn + " (largest finite " +
        detail::format_value(static_cast<double>(scalar_traits<T>::max())) + ")");
  }
  if (ed == 0) {
    throw pure16::InvalidArgument(
        who + ": epsilon " + detail::format_value(eps) + " rounds to 0 in " + tn + "; use e.g. " +
        detail::format_value(default_epsilon<T>()) + " (default_epsilon<" + tn + ">)");
  }
  if (ed < static_cast<double>(scalar_traits<T>::min_normal()) && !allow_subnormal) {
    throw pure16::InvalidArgument(
        who + ": epsilon " + detail::format_value(eps) + " rounds to the subnormal " +
        detail::format_value(ed) + " in " + tn + " (smallest normal " +
        detail::format_value(static_cast<double>(scalar_traits<T>::min_normal())) +
        "); set allow_subnormal_eps to use it anyway");
  }
  return e;
}

/// Throws pure16::InvalidArgument naming the first value that is not finite as a double or
/// after rounding to T (see the contract above).
template <Scalar T>
void require_finite_in(const std::string& who,
                       std::initializer_list<std::pair<const char*, double>> values) {
  for (const auto& [name, v] : values) {
    if (!std::isfinite(v)) {
      throw pure16::InvalidArgument(who + ": " + name + " " + detail::format_value(v) +
                                    " is not finite");
    }
    const double r = static_cast<double>(round_to<T>(v));
    if (!std::isfinite(r)) {
      throw pure16::InvalidArgument(
          who + ": " + name + " " + detail::format_value(v) + " rounds to " +
          detail::format_value(r) + " in " + std::string(scalar_traits<T>::name) +
          " (largest finite " + detail::format_value(static_cast<double>(scalar_traits<T>::max())) +
          ")");
    }
  }
}

}  // namespace pure16::optim
