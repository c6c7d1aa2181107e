// pure16/scalar.hpp — the four scalar types pure16 computes in, their traits, and the
// rounding from float (or double) to a storage type T.
//
// Contract:
//  * pure16::half is Eigen::half (IEEE binary16), pure16::bfloat16 is Eigen::bfloat16.
//  * scalar_traits<T> gives name, accumulator type (float for the 16-bit types and float,
//    double for double), machine epsilon, largest finite value, smallest normal and smallest
//    subnormal, all as values of T; and the bit layout: storage_type (the unsigned integer
//    of sizeof(T) bytes), exponent_mask and sign_mask in it, and dtype (the safetensors /
//    PyTorch dtype name: "F16", "BF16", "F32", "F64").
//  * scalar_traits is open: Scalar<T> means "scalar_traits<T> is specialized with these
//    members", so a new storage type is added by specializing it (kernels then need a path).
//  * round_to<T>(x) rounds x to the nearest T, ties to even (IEEE default).
//    round_stochastic<T>(x, bits) rounds x up or down with probability proportional to its
//    distance to the two neighbours, driven by 32 caller-supplied random bits (so results
//    are reproducible from a seed; see StochasticRounder).
//  * Accumulate names the reduction policy of kernels (see DESIGN "pure 16-bit" point 3).
#pragma once

#include <Eigen/Core>
#include <bit>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <string_view>
#include <type_traits>

namespace pure16 {

using half = Eigen::half;
using bfloat16 = Eigen::bfloat16;

/// Reduction policy for dot products (GEMM, convolution, sums):
///  Float  — accumulate in scalar_traits<T>::accum_type (float for 16-bit T), round once at
///           the store. This is what GPU tensor cores do and the default.
///  Native — accumulate in T itself, rounding after every multiply-add: a strict emulation
///           of a 16-bit-only FPU.
enum class Accumulate { Float, Native };

/// How a value computed in float becomes a T.
///  NearestEven — IEEE round-to-nearest, ties to even (the default).
///  Stochastic  — up or down at random, with probability proportional to the distance to
///                the two neighbours (16-bit T; see StochasticRounder).
///  Compensated — nearest-even, and the part of an optimizer's weight update that the
///                rounding dropped is kept in a compensation tensor in T and added to the
///                next update (Kahan summation; see optim/detail.hpp). For a single value
///                outside an optimizer it is the same as NearestEven.
enum class Rounding { NearestEven, Stochastic, Compensated };

template <class T>
struct scalar_traits;

template <>
struct scalar_traits<half> {
  using storage_type = std::uint16_t;
  static constexpr storage_type exponent_mask = 0x7C00;
  static constexpr storage_type sign_mask = 0x8000;
  static constexpr std::string_view dtype = "F16";
  using accum_type = float;
  static constexpr std::string_view name = "fp16";
  static constexpr bool is_16bit = true;
  static constexpr int mantissa_bits = 11;  // incl. the implicit bit
  static half epsilon() { return Eigen::numext::bit_cast<half>(std::uint16_t{0x1400}); }
  static half max() { return Eigen::numext::bit_cast<half>(std::uint16_t{0x7BFF}); }
  static half min_normal() { return Eigen::numext::bit_cast<half>(std::uint16_t{0x0400}); }
  static half min_subnormal() { return Eigen::numext::bit_cast<half>(std::uint16_t{0x0001}); }
};

template <>
struct scalar_traits<bfloat16> {
  using storage_type = std::uint16_t;
  static constexpr storage_type exponent_mask = 0x7F80;
  static constexpr storage_type sign_mask = 0x8000;
  static constexpr std::string_view dtype = "BF16";
  using accum_type = float;
  static constexpr std::string_view name = "bf16";
  static constexpr bool is_16bit = true;
  static constexpr int mantissa_bits = 8;
  static bfloat16 epsilon() { return Eigen::numext::bit_cast<bfloat16>(std::uint16_t{0x3C00}); }
  static bfloat16 max() { return Eigen::numext::bit_cast<bfloat16>(std::uint16_t{0x7F7F}); }
  static bfloat16 min_normal() { return Eigen::numext::bit_cast<bfloat16>(std::uint16_t{0x0080}); }
  static bfloat16 min_subnormal() {
    return Eigen::numext::bit_cast<bfloat16>(std::uint16_t{0x0001});
  }
};

template <>
struct scalar_traits<float> {
  using storage_type = std::uint32_t;
  static constexpr storage_type exponent_mask = 0x7F800000u;
  static constexpr storage_type sign_mask = 0x80000000u;
  static constexpr std::string_view dtype = "F32";
  using accum_type = float;
  static constexpr std::string_view name = "fp32";
  static constexpr bool is_16bit = false;
  static constexpr int mantissa_bits = 24;
  static float epsilon() { return std::numeric_limits<float>::epsilon(); }
  static float max() { return std::numeric_limits<float>::max(); }
  static float min_normal() { return std::numeric_limits<float>::min(); }
  static float min_subnormal() { return std::numeric_limits<float>::denorm_min(); }
};

template <>
struct scalar_traits<double> {
  using storage_type = std::uint64_t;
  static constexpr storage_type exponent_mask = 0x7FF0000000000000ull;
  static constexpr storage_type sign_mask = 0x8000000000000000ull;
  static constexpr std::string_view dtype = "F64";
  using accum_type = double;
  static constexpr std::string_view name = "fp64";
  static constexpr bool is_16bit = false;
  static constexpr int mantissa_bits = 53;
  static double epsilon() { return std::numeric_limits<double>::epsilon(); }
  static double max() { return std::numeric_limits<double>::max(); }
  static double min_normal() { return std::numeric_limits<double>::min(); }
  static double min_subnormal() { return std::numeric_limits<double>::denorm_min(); }
};

/// A type with pure16's scalar traits (half, bfloat16, float, double, or a user's own
/// specialization of scalar_traits).
template <class T>
concept Scalar = requires {
  typename scalar_traits<T>::accum_type;
  typename scalar_traits<T>::storage_type;
  { scalar_traits<T>::name } -> std::convertible_to<std::string_view>;
  { scalar_traits<T>::dtype } -> std::convertible_to<std::string_view>;
  { scalar_traits<T>::is_16bit } -> std::convertible_to<bool>;
  { scalar_traits<T>::mantissa_bits } -> std::convertible_to<int>;
  {
    scalar_traits<T>::exponent_mask
    } -> std::convertible_to<typename scalar_traits<T>::storage_type>;
  { scalar_traits<T>::max() } -> std::convertible_to<T>;
}
&&sizeof(typename scalar_traits<T>::storage_type) == sizeof(T);

/// True when every bit of x's exponent field is set (Inf or NaN), from its bit pattern.
template <Scalar T>
inline bool is_nonfinite_bits(T x) {
  using U = typename scalar_traits<T>::storage_type;
  return (std::bit_cast<U>(x) & scalar_traits<T>::exponent_mask) == scalar_traits<T>::exponent_mask;
}

/// Accumulator type of T (float for half/bfloat16/float, double for double).
template <class T>
using acc_t = typename scalar_traits<T>::accum_type;

/// Unit roundoff u = 2^-mantissa_bits of T (half the machine epsilon), as a double.
template <class T>
constexpr double unit_roundoff() {
  return std::ldexp(1.0, -scalar_traits<T>::mantissa_bits);
}

/// Round x to the nearest T, ties to even. Exact for every float (double for T = double);
/// for T = half/bfloat16 this is Eigen's conversion, which is IEEE round-to-nearest-even
/// including subnormals, infinities and NaN.
template <Scalar T, class F>
inline T round_to(F x) {
  static_assert(std::is_floating_point_v<F>);
  if constexpr (std::is_same_v<T, half> || std::is_same_v<T, bfloat16>) {
    return T(static_cast<float>(x));
  } else {
    return static_cast<T>(x);
  }
}

/// Stochastic rounding of a float to T with 32 random bits. x is rounded toward zero to
/// the bits of T, and then up in magnitude with probability equal to the discarded fraction.
/// NaN and infinities pass through; finite values beyond T's range overflow to infinity
/// exactly as nearest rounding would. For T = float or double it returns x unchanged.
template <Scalar T>
inline T round_stochastic(float x, std::uint32_t random_bits) {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>) {
    (void)random_bits;
    return static_cast<T>(x);
  } else {
    if (!std::isfinite(x)) return T(x);
    if constexpr (std::is_same_v<T, bfloat16>) {
      // bfloat16 is the top half of a float: the discarded low 16 bits are the fraction.
      const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
      std::uint32_t r = (u + (random_bits & 0xFFFFu)) & 0xFFFF0000u;
      return Eigen::numext::bit_cast<bfloat16>(static_cast<std::uint16_t>(r >> 16));
    } else {
      // half, on the float's bits: truncate |x| toward zero to the half grid, then step up
      // one half ulp when the uniform (random_bits >> 8) * 2^-24 is below the discarded
      // fraction. Normal halves keep 10 of the float's 23 fraction bits, so the fraction is
      // low13 / 2^13 and the test is (random_bits >> 19) < low13; subnormal halves are
      // multiples of 2^-24. A step past the largest finite half (65504) gives infinity.
      const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
      const auto sign = static_cast<std::uint16_t>((u >> 16) & 0x8000u);
      const std::uint32_t a = u & 0x7FFFFFFFu;  // |x|
      std::uint32_t bits;
      if (a >= 0x38800000u) {  // |x| >= 2^-14
        const std::uint32_t up = (random_bits >> 19) < (a & 0x1FFFu) ? 1u : 0u;
        const std::uint32_t t = (a >> 13) + up;                 // float exponent | 10 bits
        bits = t >= (143u << 10) ? 0x7C00u : t - (112u << 10);  // rebias 127 -> 15
      } else {
        const float scaled = std::bit_cast<float>(a) * 0x1.0p24f;  // exact: units of 2^-24
        const float lo = std::floor(scaled);
        const float uni = static_cast<float>(random_bits >> 8) * 0x1.0p-24f;
        bits = static_cast<std::uint32_t>(lo) + (uni < scaled - lo ? 1u : 0u);
      }
      return Eigen::numext::bit_cast<half>(static_cast<std::uint16_t>(bits | sign));
    }
  }
}

/// A seeded source of stochastic rounding (xorshift-style generator, splitmix64 seeding).
/// The same seed and the same sequence of calls give the same results on every machine.
class StochasticRounder {
 public:
  explicit StochasticRounder(std::uint64_t seed = 0x5eed) { this->seed(seed); }
  void seed(std::uint64_t s) {
    std::uint64_t z = s + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    state_ = (z ^ (z >> 31)) | 1ull;
  }
  std::uint32_t next_bits() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return static_cast<std::uint32_t>((state_ * 0x2545F4914F6CDD1Dull) >> 32);
  }
  template <Scalar T>
  T round(float x) {
    return round_stochastic<T>(x, next_bits());
  }
  std::uint64_t state() const { return state_; }
  void set_state(std::uint64_t s) { state_ = s ? s : 1ull; }

 private:
  std::uint64_t state_ = 1;
};

/// Round a float to T with the given mode; `rng` is used only for Rounding::Stochastic.
template <Scalar T>
inline T round_as(float x, Rounding mode, StochasticRounder* rng) {
  if (mode == Rounding::Stochastic && rng != nullptr) return rng->round<T>(x);
  return round_to<T>(x);
}

}  // namespace pure16
