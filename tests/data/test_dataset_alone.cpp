// data/dataset.hpp on its own: it must compile without zlib (only the loaders that inflate
// gzip files include it), and a Dataset works without any loader.
#include <pure16/data/dataset.hpp>
//
#include <doctest/doctest.h>

#ifdef ZLIB_VERSION
#error "pure16/data/dataset.hpp includes zlib although it inflates nothing"
#endif

TEST_CASE("a Dataset built from memory, without any file loader") {
  using namespace pure16;
  auto d = data::Dataset::from_u8("mem", {2, 1, 1, 2}, {0, 255, 51, 102}, {1, 0}, 2);
  const std::size_t idx[] = {1};
  const auto x = d.batch<float>(idx, data::Layout::Flat);
  CHECK(x[0] == doctest::Approx(0.2));
  CHECK(x[1] == doctest::Approx(0.4));
}
