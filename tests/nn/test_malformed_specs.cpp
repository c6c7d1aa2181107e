// Layer specs (from files or users) whose sizes overflow are refused by make_layer with
// pure16::InvalidArgument, never a wrapped-around allocation.
#include <doctest/doctest.h>

#include <cmath>
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

TEST_CASE("initializer codes outside int's range are refused, not converted") {
  // static_cast<int>(1e300) is undefined behaviour (UBSan: float-cast-overflow).
  for (double code : {1e300, -1e300, 4294967296.0, 2.5, -1.0, 5.0}) {
    CAPTURE(code);
    CHECK_THROWS_AS(nn::init_from_code(code), pure16::InvalidArgument);
  }
  CHECK_THROWS_AS(nn::init_from_code(std::nan("")), pure16::InvalidArgument);
  CHECK(nn::init_from_code(0.0) == nn::init_from_code(0.0));
  const nn::LayerSpec dense{"Dense", {{"in", 2}, {"out", 2}, {"init", 1e300}}};
  CHECK_THROWS_AS(nn::make_layer<float>(dense), pure16::InvalidArgument);
}
