// Built against an installed pure16 found with `find_package(pure16 COMPONENTS core)`:
// only Eigen is required. A Dense layer described with nn::Spec, one forward pass and one
// SGD step in fp16, checked against values computed by hand (all exact in fp16).
#include <cstdio>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/optim.hpp>

int main() {
  using pure16::half;
  namespace nn = pure16::nn;
  nn::Sequential<half> m(nn::Spec{nn::dense(1)}, {2});
  auto ps = m.parameters();  // weight [1, 2], bias [1]
  ps[0]->value[0] = half(0.5f);
  ps[0]->value[1] = half(-0.25f);
  ps[1]->value[0] = half(0.125f);
  pure16::Tensor<half> x({1, 2});
  x[0] = half(1.0f);
  x[1] = half(2.0f);
  const auto y = m.forward(x, nn::Mode::Train);  // 0.5 - 0.5 + 0.125
  pure16::Tensor<half> dy({1, 1});
  dy[0] = half(1.0f);
  m.backward(dy);  // dW = x = [1, 2], db = 1
  pure16::optim::SGD<half> opt(m.parameters(), {.lr = 0.5});
  opt.step();  // W = [0, -1.25], b = -0.375
  const float got[] = {float(y[0]), float(ps[0]->value[0]), float(ps[0]->value[1]),
                       float(ps[1]->value[0])};
  const float want[] = {0.125f, 0.0f, -1.25f, -0.375f};
  for (int i = 0; i < 4; ++i) {
    if (got[i] != want[i]) {
      std::printf("consumer_core: value %d = %g, want %g\n", i, got[i], want[i]);
      return 1;
    }
  }
  std::printf("consumer_core: ok\n");
  return 0;
}
