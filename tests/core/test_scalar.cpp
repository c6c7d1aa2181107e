// scalar_traits values against their IEEE definitions; nearest-even and stochastic rounding
// against independent references computed in double.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <pure16/random.hpp>
#include <pure16/scalar.hpp>
#include <vector>

using namespace pure16;

namespace {

template <class T>
double d(T x) {
  return static_cast<double>(static_cast<float>(x));
}

// Representable neighbours of a finite double x in a binary format with p significand bits,
// exponent range [emin, emax] (normal numbers 2^emin .. ), computed independently in double.
struct Neighbours {
  double lo, hi;
};
Neighbours neighbours(double x, int p, int emin) {
  const double ax = std::fabs(x);
  int e = ax == 0 ? emin : std::max(static_cast<int>(std::floor(std::log2(ax))), emin);
  const double ulp = std::ldexp(1.0, e - (p - 1));
  double lo = std::floor(ax / ulp) * ulp;
  if (lo > ax) lo -= ulp;  // guard against log2 rounding
  return {lo, lo + ulp};
}

}  // namespace

TEST_CASE("scalar_traits match the IEEE / bfloat16 formats") {
  CHECK(d(scalar_traits<half>::epsilon()) == std::ldexp(1.0, -10));
  CHECK(d(scalar_traits<half>::max()) == 65504.0);
  CHECK(d(scalar_traits<half>::min_normal()) == std::ldexp(1.0, -14));
  CHECK(d(scalar_traits<half>::min_subnormal()) == std::ldexp(1.0, -24));
  CHECK(d(scalar_traits<bfloat16>::epsilon()) == std::ldexp(1.0, -7));
  CHECK(d(scalar_traits<bfloat16>::max()) == std::ldexp(255.0, 120));
  CHECK(d(scalar_traits<bfloat16>::min_normal()) == std::ldexp(1.0, -126));
  CHECK(d(scalar_traits<bfloat16>::min_subnormal()) == std::ldexp(1.0, -133));
  CHECK(scalar_traits<float>::epsilon() == std::ldexp(1.0f, -23));
  CHECK(scalar_traits<double>::epsilon() == std::ldexp(1.0, -52));
  CHECK(unit_roundoff<half>() == std::ldexp(1.0, -11));
  CHECK(unit_roundoff<bfloat16>() == std::ldexp(1.0, -8));
  CHECK(scalar_traits<half>::name == "fp16");
  static_assert(std::is_same_v<acc_t<half>, float>);
  static_assert(std::is_same_v<acc_t<double>, double>);
}

TEST_CASE("round_to<half> is nearest-even against a double reference") {
  Rng rng(7);
  for (int i = 0; i < 20000; ++i) {
    // magnitudes from deep subnormal to beyond the largest finite half
    const double mag = std::ldexp(1.0 + rng.uniform(), static_cast<int>(rng.below(46)) - 28);
    const float x = static_cast<float>(rng.uniform() < 0.5 ? -mag : mag);
    const auto nb = neighbours(x, 11, -14);
    const double ax = std::fabs(static_cast<double>(x));
    double want;
    if (nb.lo >= 65520.0 || ax >= 65520.0) {
      want = std::numeric_limits<double>::infinity();
    } else {
      const double dlo = ax - nb.lo, dhi = nb.hi - ax;
      if (dlo < dhi) {
        want = nb.lo;
      } else if (dhi < dlo) {
        want = nb.hi;
      } else {  // tie: the neighbour with an even last significand bit
        const double ulp = nb.hi - nb.lo;
        want = std::fmod(nb.lo / ulp, 2.0) == 0.0 ? nb.lo : nb.hi;
      }
      if (want > 65504.0) want = std::numeric_limits<double>::infinity();
    }
    want = std::copysign(want, static_cast<double>(x));
    REQUIRE_MESSAGE(d(round_to<half>(x)) == want, "x = " << x);
  }
}

TEST_CASE("round_to handles ties, overflow and NaN") {
  CHECK(d(round_to<half>(1.0f + 0x1.0p-11f)) == 1.0);
  CHECK(d(round_to<half>(1.0f + 0x1.8p-10f)) == 1.0 + 0x1.0p-9);
  CHECK(std::isinf(d(round_to<half>(65520.0f))));
  CHECK(d(round_to<half>(65519.0f)) == 65504.0);
  CHECK(d(round_to<half>(0x1.0p-25f)) == 0.0);        // tie with zero -> even (0)
  CHECK(d(round_to<half>(0x1.8p-25f)) == 0x1.0p-24);  // above the tie
  CHECK(std::isnan(d(round_to<half>(std::nanf("")))));
  CHECK(d(round_to<bfloat16>(1.0f + 0x1.0p-8f)) == 1.0);  // tie -> even
  CHECK(d(round_to<bfloat16>(1.0f + 0x1.8p-7f)) == 1.0 + 0x1.0p-6);
  CHECK(round_to<float>(0.1) == 0.1f);
}

TEST_CASE_TEMPLATE("stochastic rounding picks a neighbour with the right probability", T, half,
                   bfloat16) {
  const int p = scalar_traits<T>::mantissa_bits;
  const int emin = std::is_same_v<T, half> ? -14 : -126;
  const double xs[] = {1.0 + 0.3 * std::ldexp(1.0, 1 - p), -3.7, 1000.1, 0.3,
                       std::is_same_v<T, half> ? 3.3e-6 : 1e-39};  // incl. a subnormal
  for (double xd : xs) {
    const float x = static_cast<float>(xd);
    const auto nb = neighbours(x, p, emin);
    const double frac = (std::fabs(static_cast<double>(x)) - nb.lo) / (nb.hi - nb.lo);
    StochasticRounder sr(42);
    const int n = 40000;
    int ups = 0;
    for (int i = 0; i < n; ++i) {
      const double r = std::fabs(d(sr.round<T>(x)));
      REQUIRE((r == nb.lo || r == nb.hi));
      ups += r == nb.hi;
    }
    // binomial: 5 standard deviations
    const double sd = std::sqrt(n * frac * (1 - frac));
    CHECK_MESSAGE(std::fabs(ups - n * frac) <= 5 * sd + 1, "x = " << x << " frac = " << frac);
  }
  // exact values never move, NaN/inf pass through, and the same seed repeats
  StochasticRounder a(1), b(1);
  for (int i = 0; i < 100; ++i) {
    CHECK(d(a.round<T>(1.5f)) == 1.5);
    CHECK(d(b.round<T>(1.5f)) == 1.5);
    const float x = 0.1f * static_cast<float>(i);
    CHECK(d(a.round<T>(x)) == d(b.round<T>(x)));
  }
  CHECK(std::isinf(d(a.round<T>(std::numeric_limits<float>::infinity()))));
  CHECK(std::isnan(d(a.round<T>(std::nanf("")))));
}

TEST_CASE("half stochastic rounding follows its decision rule exactly (double reference)") {
  // For |x| on the half grid with spacing ulp (2^(e-10), e >= -14), lo = |x| truncated to
  // the grid and frac = (|x| - lo) / ulp, the result is lo + ulp exactly when the uniform
  // (bits >> 8) * 2^-24 is below frac; past 65504 that is infinity. Normal and subnormal
  // halves, both signs, exponents -27 .. 15.
  Rng g(2024);
  for (int i = 0; i < 200000; ++i) {
    const int e2 = static_cast<int>(g.below(43)) - 27;
    const double m = 1.0 + static_cast<double>(g() >> 40) * 0x1.0p-24;  // 24 fraction bits
    const float x = static_cast<float>((g() & 1 ? -1.0 : 1.0) * std::ldexp(m, e2));
    const auto bits = static_cast<std::uint32_t>(g() >> 32);
    const double ax = std::fabs(static_cast<double>(x));
    const int e = std::max(std::ilogb(ax), -14);
    const double ulp = std::ldexp(1.0, e - 10);
    const double lo = std::floor(ax / ulp) * ulp;
    const bool up = static_cast<double>(bits >> 8) * 0x1.0p-24 < (ax - lo) / ulp;
    double want = up ? lo + ulp : lo;
    if (want > 65504.0) want = std::numeric_limits<double>::infinity();
    want = std::copysign(want, static_cast<double>(x));
    const double got = d(round_stochastic<half>(x, bits));
    REQUIRE_MESSAGE(got == want, "x = " << x << " bits = " << bits);
    REQUIRE(std::signbit(got) == std::signbit(x));
  }
}

TEST_CASE("stochastic rounding beyond the half range overflows like nearest rounding") {
  StochasticRounder sr(3);
  for (int i = 0; i < 100; ++i) {
    CHECK(std::isinf(d(sr.round<half>(1e6f))));
    CHECK(std::isinf(d(sr.round<half>(-70000.0f))));
    const double r = d(sr.round<half>(65505.0f));
    CHECK((r == 65504.0 || std::isinf(r)));
  }
}

TEST_CASE("Rng is portable and reproducible") {
  Rng a(123), b(123);
  for (int i = 0; i < 1000; ++i) CHECK(a() == b());
  Rng c(5);
  double sum = 0, sum2 = 0;
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    const double z = c.normal();
    sum += z;
    sum2 += z * z;
  }
  CHECK(std::fabs(sum / n) < 0.02);
  CHECK(std::fabs(sum2 / n - 1.0) < 0.02);
  auto st = c.state();
  const double next = c.normal();
  c.set_state(st);
  CHECK(c.normal() == next);
  for (int i = 0; i < 1000; ++i) CHECK(c.below(7) < 7);
}

TEST_CASE_TEMPLATE("scalar_traits bit layout: exponent mask finds exactly the non-finite values", T,
                   half, bfloat16) {
  using U = typename scalar_traits<T>::storage_type;
  static_assert(sizeof(U) == 2);
  std::size_t nonfinite = 0;
  for (std::uint32_t b = 0; b < 65536; ++b) {
    const T x = Eigen::numext::bit_cast<T>(static_cast<std::uint16_t>(b));
    const bool ref = !std::isfinite(static_cast<float>(x));  // independent: via float
    CHECK_MESSAGE(is_nonfinite_bits(x) == ref, "pattern " << b);
    nonfinite += ref;
    if (b & scalar_traits<T>::sign_mask) CHECK(std::signbit(static_cast<float>(x)));
  }
  // Inf/NaN: every exponent bit set, any mantissa, either sign: 2 * 2^mantissa_field patterns.
  CHECK(nonfinite == 2u * (1u << (scalar_traits<T>::mantissa_bits - 1)));
}

TEST_CASE("scalar_traits: storage sizes, dtype names and the Scalar concept") {
  static_assert(Scalar<half> && Scalar<bfloat16> && Scalar<float> && Scalar<double>);
  static_assert(!Scalar<int> && !Scalar<long double>);
  static_assert(sizeof(scalar_traits<float>::storage_type) == 4);
  static_assert(sizeof(scalar_traits<double>::storage_type) == 8);
  CHECK(scalar_traits<half>::dtype == "F16");
  CHECK(scalar_traits<bfloat16>::dtype == "BF16");
  CHECK(scalar_traits<float>::dtype == "F32");
  CHECK(scalar_traits<double>::dtype == "F64");
  CHECK(is_nonfinite_bits(std::numeric_limits<float>::infinity()));
  CHECK(is_nonfinite_bits(-std::numeric_limits<double>::quiet_NaN()));
  CHECK_FALSE(is_nonfinite_bits(std::numeric_limits<float>::max()));
  CHECK_FALSE(is_nonfinite_bits(std::numeric_limits<double>::denorm_min()));
}
