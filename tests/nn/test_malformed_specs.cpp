// Layer specs (from files or users) whose sizes overflow are refused by make_layer with
// pure16::InvalidArgument, never a wrapped-around allocation.
#include <doctest/doctest.h>

#include <pure16/nn/factory.hpp>

using namespace pure16;

TEST_CASE("layer specs whose parameter sizes overflow are refused") {
  // 1e15 x 1e15 weights: 1e30 elements wrap around 2^64 without the check.
  const nn::LayerSpec dense{"Dense", {{"in", 1e15}, {"out", 1e15}}};
  CHECK_THROWS_WITH_AS(nn::make_layer<float>(dense), doctest::Contains("overflows"),
                       pure16::InvalidArgument);
  // 2^32 x 2^32 x 2^2 x 2^2 = 2^68 weights.
  const nn::LayerSpec conv{
      "Conv2D", {{"in_channels", 4294967296.0}, {"out_channels", 4294967296.0}, {"kernel", 4.0}}};
  CHECK_THROWS_AS(nn::make_layer<half>(conv), pure16::InvalidArgument);
}
