// kernels/finite.hpp: the exponent-bit scan against std::isfinite on every bit pattern of
// the 16-bit types and on random patterns of float and double.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <pure16/kernels/finite.hpp>
#include <pure16/random.hpp>
#include <vector>

using namespace pure16;

namespace {
template <Scalar T, class Bits>
std::vector<T> from_bits(const std::vector<Bits>& bits) {
  std::vector<T> v(bits.size());
  std::memcpy(static_cast<void*>(v.data()), bits.data(), bits.size() * sizeof(T));
  return v;
}

template <Scalar T>
void check_against_isfinite(const std::vector<T>& v) {
  std::size_t want = 0, want_first = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(static_cast<double>(v[i]))) {
      if (want == 0) want_first = i;
      ++want;
    }
  }
  std::size_t first = 12345;
  CHECK(kernels::count_non_finite(v.data(), v.size(), &first) == want);
  if (want) CHECK(first == want_first);
  CHECK(kernels::all_finite(v.data(), v.size()) == (want == 0));
}
}  // namespace

TEST_CASE_TEMPLATE("finite scan: every 16-bit pattern", T, half, bfloat16) {
  std::vector<std::uint16_t> bits(65536);
  for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = std::uint16_t(i);
  const auto all = from_bits<T>(bits);
  check_against_isfinite(all);
  // Windows of 100 values starting at finite and non-finite stretches.
  for (std::size_t start : {0u, 0x7B00u, 0x7C00u, 0x7F00u, 0xFB00u, 0xFF80u}) {
    std::vector<T> w(all.begin() + start, all.begin() + std::min<std::size_t>(start + 100, 65536));
    check_against_isfinite(w);
  }
}

TEST_CASE("finite scan: random float and double patterns, and the empty range") {
  Rng rng(11);
  std::vector<std::uint32_t> b32(4096);
  std::vector<std::uint64_t> b64(4096);
  for (auto& b : b32) b = std::uint32_t(rng() >> 32);
  for (auto& b : b64) b = rng();
  // Exponents all ones at a few places, in case random bits gave none.
  b32[100] = 0x7F800000u;             // +inf
  b64[3000] = 0xFFF8000000000001ull;  // NaN
  check_against_isfinite(from_bits<float>(b32));
  check_against_isfinite(from_bits<double>(b64));
  std::vector<float> fin = {0.0f, -1.0f, 3.4e38f, 1e-45f};
  check_against_isfinite(fin);
  CHECK(kernels::all_finite(fin.data(), 0));
  CHECK(kernels::count_non_finite(fin.data(), 0) == 0);
}
