// Optimizer hyper-parameters must be finite after rounding to T (issue 11, defect 4): an
// epsilon of 1e5 is inf in fp16 (largest finite 65504) and used to freeze training silently.
#include <doctest/doctest.h>

#include <pure16/optim/optim.hpp>
#include <vector>

using namespace pure16;

namespace {
template <Scalar T>
struct OneParam {
  pure16::Parameter<T> p{"weight", Tensor<T>({3}), Tensor<T>({3})};
  std::vector<pure16::Parameter<T>*> ps() { return {&p}; }
};
}  // namespace

TEST_CASE("hyper-parameters that round to infinity in T are refused") {
  OneParam<half> h;
  // 65504 is the largest fp16; 65520 and above round to inf.
  CHECK_THROWS_WITH_AS(optim::Adam<half>(h.ps(), {.eps = 1e5}),
                       doctest::Contains("epsilon 100000 rounds to inf in fp16"),
                       pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(optim::RMSProp<half>(h.ps(), {.eps = 65520.0}),
                       doctest::Contains("rounds to inf"), pure16::InvalidArgument);
  CHECK_NOTHROW(optim::Adam<half>(h.ps(), {.eps = 65504.0}));
  CHECK_THROWS_WITH_AS(optim::SGD<half>(h.ps(), {.lr = 1e5}),
                       doctest::Contains("SGD: lr 100000 rounds to inf in fp16"),
                       pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(optim::SGD<half>(h.ps(), {.lr = 0.1, .weight_decay = 7e4}),
                       doctest::Contains("weight_decay 70000"), pure16::InvalidArgument);
  CHECK_THROWS_WITH_AS(optim::RMSProp<half>(h.ps(), {.lr = 0.01, .momentum = 1e6}),
                       doctest::Contains("momentum 1e+06 rounds to inf"), pure16::InvalidArgument);
  CHECK_THROWS_AS(optim::AdamW<half>(h.ps(), {.lr = 1e9}), pure16::InvalidArgument);
  // The same values are finite in bf16 (float's exponent range) and accepted there.
  OneParam<bfloat16> b;
  CHECK_NOTHROW(optim::Adam<bfloat16>(b.ps(), {.eps = 1e5}));
  CHECK_NOTHROW(optim::SGD<bfloat16>(b.ps(), {.lr = 1e5}));
  // float: 1e39 is beyond FLT_MAX (3.4e38).
  OneParam<float> f;
  CHECK_THROWS_WITH_AS(optim::Adam<float>(f.ps(), {.eps = 1e39}),
                       doctest::Contains("rounds to inf in fp32"), pure16::InvalidArgument);
}
