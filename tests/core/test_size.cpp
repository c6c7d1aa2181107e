// Size arithmetic from files and users: checked_mul / checked_add / checked_product
// (size.hpp) against exact 128-bit products, and the Tensor shapes that use them.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <pure16/size.hpp>
#include <pure16/tensor.hpp>
#include <string>
#include <vector>

using namespace pure16;

namespace {
__extension__ typedef unsigned __int128 u128;
// The exact product in 128 bits (0 when any factor is 0): the independent reference.
bool fits_u64(const std::vector<std::size_t>& dims, std::size_t& r) {
  for (std::size_t d : dims) {
    if (d == 0) {
      r = 0;
      return true;
    }
  }
  u128 p = 1;
  for (std::size_t d : dims) {
    p *= d;
    if (p > std::numeric_limits<std::uint64_t>::max()) return false;
  }
  r = static_cast<std::size_t>(p);
  return true;
}
}  // namespace

TEST_CASE("checked_product agrees with an exact 128-bit product") {
  const std::size_t big = std::size_t{1} << 32;
  const std::vector<std::vector<std::size_t>> cases = {{},
                                                       {0},
                                                       {7},
                                                       {2, 3, 4},
                                                       {big, big},
                                                       {big - 1, big + 1},
                                                       {big, big, 0},
                                                       {1u << 22, 1u << 21, 1u << 21},
                                                       {std::numeric_limits<std::size_t>::max(), 1},
                                                       {std::numeric_limits<std::size_t>::max(), 2},
                                                       {3037000499u, 3037000499u},
                                                       {3037000500u, 3037000500u},
                                                       {0, big, big, big}};
  for (const auto& dims : cases) {
    std::size_t want = 0;
    if (fits_u64(dims, want)) {
      CHECK(checked_product(dims, "dims") == want);
    } else {
      CHECK_THROWS_AS(checked_product(dims, "dims"), pure16::InvalidArgument);
      CHECK_THROWS_WITH(checked_product(dims, "my dims"), doctest::Contains("my dims"));
    }
  }
  const auto max = std::numeric_limits<std::size_t>::max();
  CHECK(checked_mul(max, 1, "m") == max);
  CHECK_THROWS_WITH(checked_mul(max / 2 + 1, 2, "bytes of x"),
                    doctest::Contains("bytes of x: 9223372036854775808 x 2 overflows"));
  CHECK(checked_add(max - 1, 1, "a") == max);
  CHECK_THROWS_AS(checked_add(max, 1, "a"), pure16::InvalidArgument);
  // A lazily built message is only evaluated on failure.
  int calls = 0;
  CHECK(checked_mul(6, 7, [&] {
          ++calls;
          return std::string("lazy");
        }) == 42);
  CHECK(calls == 0);
}

TEST_CASE("a tensor shape whose element count wraps around is refused") {
  // 2^22 * 2^21 * 2^21 = 2^64 wraps to 0: before the check this allocated nothing and
  // reported size() == 0 for a tensor of 2^64 elements.
  CHECK_THROWS_WITH_AS(shape_size({1u << 22, 1u << 21, 1u << 21}),
                       doctest::Contains("tensor shape [4194304, 2097152, 2097152]"),
                       pure16::InvalidArgument);
  CHECK_THROWS_AS(Tensor<float>({1u << 22, 1u << 21, 1u << 21}), pure16::InvalidArgument);
  // Elements fit, bytes do not: 2^62 floats.
  CHECK_THROWS_WITH_AS(Tensor<float>({std::size_t{1} << 62}), doctest::Contains("bytes"),
                       pure16::InvalidArgument);
  Tensor<float> t({4, 4});
  CHECK_THROWS_AS(t.reshape({std::size_t{1} << 32, std::size_t{1} << 32, 16}),
                  pure16::InvalidArgument);
  CHECK(shape_size({}) == 1);
  CHECK(shape_size({3, 0, std::size_t{1} << 63, 4}) == 0);
}
