// bench_update_modes — the cost of one optimizer step under each update mode, over the
// parameters of the MNIST MLP (784-512-512-10: 669,706 values): fp32, fp16 round-to-nearest,
// fp16 stochastic, fp16 compensated (Kahan), and mixed precision (fp16 model, fp32 masters
// and state, loss scaling), for SGD with momentum and for Adam. Compare the rows of one run
// (ratios), not absolute times; name the CPU next to any figure.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <memory>
#include <pure16/optim/optim.hpp>
#include <pure16/random.hpp>
#include <string>
#include <vector>

using namespace pure16;

namespace {

const std::vector<Shape> kShapes = {{512, 784}, {512}, {512, 512}, {512}, {10, 512}, {10}};

template <Scalar T>
struct Params {
  std::vector<Parameter<T>> ps;
  std::vector<Parameter<T>*> ptrs;
  explicit Params(double grad_scale) {
    Rng r(7);
    for (const auto& s : kShapes) {
      Parameter<T> p{"w", Tensor<T>(s), Tensor<T>(s)};
      for (std::size_t k = 0; k < p.value.size(); ++k) {
        p.value[k] = round_to<T>(0.05 * r.normal());
        p.grad[k] = round_to<T>(1e-3 * grad_scale * r.normal());
      }
      ps.push_back(std::move(p));
    }
    for (auto& p : ps) ptrs.push_back(&p);
  }
};

template <Scalar T>
void step(benchmark::State& st, const std::string& name, Rounding rounding, bool mixed) {
  optim::MakeOptions o;
  o.lr = 1e-3;
  o.rounding = rounding;
  if (mixed) o.update = optim::Update::Mixed;
  Params<T> p(mixed ? o.loss_scale.init_scale / 64 : 1.0);  // scaled grads stay finite
  auto opt = optim::make<T>(name, p.ptrs, o);
  for (auto _ : st) {
    opt->step();
    benchmark::ClobberMemory();
  }
  std::size_t n = 0;
  for (auto& q : p.ps) n += q.value.size();
  st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * n));
  st.SetLabel(opt->precision_label());
}

}  // namespace

#define PURE16_MODES(opt)                                                                       \
  BENCHMARK_CAPTURE(step<float>, opt##_fp32, #opt, Rounding::NearestEven, false);                \
  BENCHMARK_CAPTURE(step<half>, opt##_fp16_nearest, #opt, Rounding::NearestEven, false);         \
  BENCHMARK_CAPTURE(step<half>, opt##_fp16_stochastic, #opt, Rounding::Stochastic, false);       \
  BENCHMARK_CAPTURE(step<half>, opt##_fp16_compensated, #opt, Rounding::Compensated, false);     \
  BENCHMARK_CAPTURE(step<half>, opt##_mixed_fp16_fp32, #opt, Rounding::NearestEven, true);

PURE16_MODES(momentum)
PURE16_MODES(adam)

BENCHMARK_MAIN();
