// Bulk conversion on every instruction-set path this machine runs, against two independent
// references: Eigen's scalar conversion (bit for bit) and a hand-written IEEE reference that
// rounds in double with std::nearbyint (ties to even).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <pure16/kernels/convert.hpp>
#include <string>
#include <vector>

using namespace pure16;
using pure16::kernels::Isa;

namespace {

std::uint32_t fbits(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float from_bits(std::uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
template <class T>
std::uint16_t hbits(T h) {
  return Eigen::numext::bit_cast<std::uint16_t>(h);
}
template <class T>
T from_hbits(std::uint16_t u) {
  return Eigen::numext::bit_cast<T>(u);
}

// binary16 -> float from the definition (NaN: payload shifted, as a bit pattern).
std::uint32_t ref_half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16;
  const int e = (h >> 10) & 0x1F;
  const int m = h & 0x3FF;
  if (e == 0x1F) return sign | 0x7F800000u | (static_cast<std::uint32_t>(m) << 13);
  const double v = e == 0 ? std::ldexp(m, -24) : std::ldexp(1024 + m, e - 25);
  return sign | fbits(static_cast<float>(v));  // exact
}

// float -> binary16, round to nearest even, computed in double (NaN -> 0x7E00 | sign).
std::uint16_t ref_float_to_half(float x) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return sign | 0x7E00;
  const double a = std::fabs(static_cast<double>(x));
  if (a >= 65520.0) return sign | 0x7C00;  // 65504 + half an ulp (32) ties to even = inf
  if (a < std::ldexp(1.0, -14)) {          // subnormal or zero: units of 2^-24
    const double q = std::nearbyint(a * std::ldexp(1.0, 24));
    return sign | static_cast<std::uint16_t>(q);  // q == 1024 is the smallest normal: right
  }
  int e;
  std::frexp(a, &e);                                 // a = f * 2^e, f in [0.5, 1)
  double m = std::nearbyint(std::ldexp(a, 11 - e));  // 11 significant bits
  if (m == 2048) {
    m = 1024;
    ++e;
  }
  const int be = e - 1 + 15;
  if (be >= 31) return sign | 0x7C00;
  return sign | static_cast<std::uint16_t>((be << 10) | (static_cast<int>(m) - 1024));
}

// float -> bfloat16, nearest even (NaN -> 0x7FC0 | sign), computed in double.
std::uint16_t ref_float_to_bf16(float x) {
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  if (std::isnan(x)) return sign | 0x7FC0;
  const double a = std::fabs(static_cast<double>(x));
  if (std::isinf(x)) return sign | 0x7F80;
  if (a < std::ldexp(1.0, -126)) {  // subnormal: units of 2^-133
    const double q = std::nearbyint(a * std::ldexp(1.0, 133));
    return sign | static_cast<std::uint16_t>(q);
  }
  int e;
  std::frexp(a, &e);
  double m = std::nearbyint(std::ldexp(a, 8 - e));
  if (m == 256) {
    m = 128;
    ++e;
  }
  const int be = e - 1 + 127;
  if (be >= 255) return sign | 0x7F80;
  return sign | static_cast<std::uint16_t>((be << 7) | (static_cast<int>(m) - 128));
}

// Floats that probe half/bfloat16 rounding: every representable value, exact midpoints,
// one float ulp on either side of them, overflow and subnormal boundaries, and random bits.
std::vector<float> probe_floats() {
  std::vector<float> v;
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const std::uint32_t f = ref_half_to_float(static_cast<std::uint16_t>(h));
    v.push_back(from_bits(f));
    if ((h & 0x7C00) != 0x7C00 && (h & 0x7FFF) != 0x7BFF && (h & 0x3F) == 0x15) {
      // midpoint between h and h+1 and its float neighbours
      const float lo = from_bits(f), hi = from_bits(ref_half_to_float(h + 1));
      const float mid = static_cast<float>((static_cast<double>(lo) + hi) / 2);
      v.push_back(mid);
      v.push_back(std::nextafter(mid, 0.0f));
      v.push_back(std::nextafter(mid, std::numeric_limits<float>::infinity()) * 1);
    }
  }
  for (std::uint32_t b = 0; b < 0x10000; b += 7) {
    for (std::uint32_t low : {0x7FFFu, 0x8000u, 0x8001u, 0x0001u, 0xFFFFu}) {
      v.push_back(from_bits((b << 16) | low));
    }
  }
  for (float x : {65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e30f, 5.9604645e-8f, 2.9802322e-8f,
                  2.9802326e-8f, 6.1035156e-5f, 6.1035152e-5f, 3.4028235e38f,
                  std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(),
                  std::numeric_limits<float>::infinity(), std::numeric_limits<float>::quiet_NaN(),
                  from_bits(0x7F800001u), from_bits(0xFFC12345u), from_bits(0x7FA00000u)}) {
    v.push_back(x);
    v.push_back(-x);
  }
  std::uint64_t s = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 100000; ++i) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    v.push_back(from_bits(static_cast<std::uint32_t>(s)));
  }
  return v;
}

#ifdef EIGEN_HAS_FP16_C
constexpr bool kEigenHalfSoftware = false;  // Eigen uses F16C itself: NaN payloads differ
#else
constexpr bool kEigenHalfSoftware = true;
#endif

std::string isa_str(Isa isa) {
  return std::string(kernels::isa_name(isa));
}

}  // namespace

TEST_CASE("available_isas starts with portable and is consistent with detect_isa") {
  const auto isas = kernels::available_isas();
  REQUIRE(!isas.empty());
  CHECK(isas.front() == Isa::Portable);
  CHECK(isas.back() == kernels::detect_isa());
  CHECK(kernels::parse_isa("avx2") == Isa::Avx2);
  CHECK_THROWS_AS(kernels::parse_isa("sse9"), pure16::InvalidArgument);
  for (Isa i : kernels::all_isas) {
    if (!kernels::isa_available(i)) CHECK_THROWS_AS(kernels::set_isa(i), std::runtime_error);
  }
  const Isa before = kernels::active_isa();
  kernels::set_isa(Isa::Portable);
  CHECK(kernels::active_isa() == Isa::Portable);
  kernels::set_isa(before);
}

TEST_CASE("half -> float: all 65,536 bit patterns, every ISA") {
  std::vector<half> src(0x10000);
  for (std::uint32_t h = 0; h < 0x10000; ++h) src[h] = from_hbits<half>(h);
  for (Isa isa : kernels::available_isas()) {
    CAPTURE(isa_str(isa));
    std::vector<float> dst(src.size() + 2, -1.0f);
    // offset by one and odd length: unaligned starts and the scalar tails are exercised
    kernels::convert(src.data() + 1, dst.data() + 1, src.size() - 2, isa);
    kernels::convert(src.data(), dst.data(), 1, isa);
    kernels::convert(src.data() + src.size() - 1, dst.data() + src.size() - 1, 1, isa);
    CHECK(dst[src.size()] == -1.0f);
    int bad_eigen = 0, bad_ref = 0;
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
      const std::uint32_t got = fbits(dst[h]);
      if (got != fbits(static_cast<float>(src[h]))) ++bad_eigen;
      const std::uint32_t ref = ref_half_to_float(static_cast<std::uint16_t>(h));
      const bool nan = (h & 0x7FFF) > 0x7C00;
      if (nan && !kEigenHalfSoftware ? !std::isnan(dst[h]) : got != ref) ++bad_ref;
    }
    CHECK(bad_eigen == 0);
    CHECK(bad_ref == 0);
  }
}

TEST_CASE("bfloat16 -> float: all 65,536 bit patterns, every ISA") {
  std::vector<bfloat16> src(0x10000);
  for (std::uint32_t h = 0; h < 0x10000; ++h) src[h] = from_hbits<bfloat16>(h);
  for (Isa isa : kernels::available_isas()) {
    CAPTURE(isa_str(isa));
    std::vector<float> dst(src.size());
    kernels::convert(src.data(), dst.data(), src.size() - 3, isa);
    kernels::convert(src.data() + src.size() - 3, dst.data() + src.size() - 3, 3, isa);
    int bad = 0;
    for (std::uint32_t h = 0; h < 0x10000; ++h) {
      if (fbits(dst[h]) != h << 16) ++bad;
      if (fbits(dst[h]) != fbits(static_cast<float>(src[h]))) ++bad;
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("16-bit -> float -> 16-bit round trip is the identity (NaN stays NaN)") {
  for (Isa isa : kernels::available_isas()) {
    CAPTURE(isa_str(isa));
    std::vector<half> h(0x10000), h2(0x10000);
    std::vector<bfloat16> b(0x10000), b2(0x10000);
    for (std::uint32_t i = 0; i < 0x10000; ++i) {
      h[i] = from_hbits<half>(i);
      b[i] = from_hbits<bfloat16>(i);
    }
    std::vector<float> f(0x10000);
    kernels::convert(h.data(), f.data(), f.size(), isa);
    kernels::convert(f.data(), h2.data(), f.size(), isa);
    kernels::convert(b.data(), f.data(), f.size(), isa);
    kernels::convert(f.data(), b2.data(), f.size(), isa);
    int bad = 0;
    for (std::uint32_t i = 0; i < 0x10000; ++i) {
      const bool hnan = (i & 0x7FFF) > 0x7C00, bnan = (i & 0x7FFF) > 0x7F80;
      if (hnan ? !(Eigen::numext::isnan)(h2[i]) || ((hbits(h2[i]) ^ i) & 0x8000)
               : hbits(h2[i]) != i)
        ++bad;
      if (bnan ? hbits(b2[i]) != ((i & 0x8000) | 0x7FC0) : hbits(b2[i]) != i) ++bad;
    }
    CHECK(bad == 0);
  }
}

TEST_CASE("float -> half / bfloat16: ties, subnormals, overflow, NaN, random; every ISA") {
  const std::vector<float> src = probe_floats();
  for (Isa isa : kernels::available_isas()) {
    CAPTURE(isa_str(isa));
    std::vector<half> h(src.size());
    std::vector<bfloat16> b(src.size());
    kernels::convert(src.data(), h.data(), src.size(), isa);
    kernels::convert(src.data(), b.data(), src.size(), isa);
    int bad_h_eigen = 0, bad_h_ref = 0, bad_b_eigen = 0, bad_b_ref = 0;
    for (std::size_t i = 0; i < src.size(); ++i) {
      const float x = src[i];
      if (hbits(h[i]) != hbits(half(x))) ++bad_h_eigen;
      if (std::isnan(x) && !kEigenHalfSoftware) {
        if (!(Eigen::numext::isnan)(h[i])) ++bad_h_ref;
      } else if (hbits(h[i]) != ref_float_to_half(x)) {
        ++bad_h_ref;
      }
      if (hbits(b[i]) != hbits(bfloat16(x))) ++bad_b_eigen;
      if (hbits(b[i]) != ref_float_to_bf16(x)) ++bad_b_ref;
    }
    CHECK(bad_h_eigen == 0);
    CHECK(bad_h_ref == 0);
    CHECK(bad_b_eigen == 0);
    CHECK(bad_b_ref == 0);
  }
}

TEST_CASE("reference spot checks: ties to even at the subnormal and overflow boundaries") {
  CHECK(ref_float_to_half(65519.0f) == 0x7BFF);
  CHECK(ref_float_to_half(65520.0f) == 0x7C00);
  CHECK(ref_float_to_half(std::ldexp(1.0f, -25)) == 0x0000);         // tie -> even (0)
  CHECK(ref_float_to_half(std::ldexp(3.0f, -25)) == 0x0002);         // tie -> even (2)
  CHECK(ref_float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);  // tie -> 1.0
  CHECK(ref_float_to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);
  CHECK(ref_float_to_bf16(1.0f + std::ldexp(3.0f, -8)) == 0x3F82);
}

TEST_CASE("double <-> 16-bit and float <-> double go through float like Eigen") {
  const std::vector<double> src = {
      0.1,    -1e-8, 65519.999, 1e300, -0.0, 3.0e-45, std::numeric_limits<double>::quiet_NaN(),
      1.0 / 3};
  for (Isa isa : kernels::available_isas()) {
    std::vector<half> h(src.size());
    std::vector<bfloat16> b(src.size());
    std::vector<double> back(src.size());
    std::vector<float> f(src.size());
    kernels::convert(src.data(), h.data(), src.size(), isa);
    kernels::convert(src.data(), b.data(), src.size(), isa);
    kernels::convert(src.data(), f.data(), src.size(), isa);
    for (std::size_t i = 0; i < src.size(); ++i) {
      CHECK(hbits(h[i]) == hbits(round_to<half>(src[i])));
      CHECK(hbits(b[i]) == hbits(round_to<bfloat16>(src[i])));
      CHECK(fbits(f[i]) == fbits(static_cast<float>(src[i])));
    }
    kernels::convert(h.data(), back.data(), src.size(), isa);
    for (std::size_t i = 0; i < src.size(); ++i) {
      if (std::isnan(src[i])) {
        CHECK(std::isnan(back[i]));
      } else {
        CHECK(back[i] == static_cast<double>(static_cast<float>(h[i])));
      }
    }
    std::vector<half> hh(src.size());
    std::vector<bfloat16> bb(src.size());
    kernels::convert(b.data(), hh.data(), src.size(), isa);
    kernels::convert(h.data(), bb.data(), src.size(), isa);
    for (std::size_t i = 0; i < src.size(); ++i) {
      CHECK(hbits(hh[i]) == hbits(half(static_cast<float>(b[i]))));
      CHECK(hbits(bb[i]) == hbits(bfloat16(static_cast<float>(h[i]))));
    }
  }
}
