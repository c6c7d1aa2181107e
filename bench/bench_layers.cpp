// Training-step time per batch of pure16 models in fp16, bf16 and fp32, measured in one run:
// one step = forward (Mode::Train) + softmax cross-entropy + backward + SGD (momentum 0.9)
// update, on random inputs and labels (the arithmetic does not depend on the values).
//   MLP: 784-512-512-10 with ReLU, batch 128 (MNIST-sized).
//   CNN: LeNet-style Conv(1->6, 5, pad 2)-ReLU-MaxPool 2-Conv(6->16, 5)-ReLU-MaxPool 2-
//        Flatten-Dense(400->120)-ReLU-Dense(120->84)-ReLU-Dense(84->10), batch 64, 28x28.
// Counters: batch/s (items_per_second reports samples per second).
// Threads follow OpenMP's default (set OMP_NUM_THREADS to pin them).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/sgd.hpp>
#include <vector>

using namespace pure16;

namespace {

template <Scalar T>
void build_mlp(nn::Sequential<T>& m) {
  m.template add<nn::Dense>(784, 512);
  m.template add<nn::ReLU>();
  m.template add<nn::Dense>(512, 512);
  m.template add<nn::ReLU>();
  m.template add<nn::Dense>(512, 10);
}

template <Scalar T>
void build_cnn(nn::Sequential<T>& m) {
  m.template add<nn::Conv2D>(1, 6, 5, 1, 2);
  m.template add<nn::ReLU>();
  m.template add<nn::MaxPool2D>(2);
  m.template add<nn::Conv2D>(6, 16, 5);
  m.template add<nn::ReLU>();
  m.template add<nn::MaxPool2D>(2);
  m.template add<nn::Flatten>();
  m.template add<nn::Dense>(400, 120);
  m.template add<nn::ReLU>();
  m.template add<nn::Dense>(120, 84);
  m.template add<nn::ReLU>();
  m.template add<nn::Dense>(84, 10);
}

template <Scalar T>
void train_step(benchmark::State& state, void (*build)(nn::Sequential<T>&), Shape input,
                Accumulate acc) {
  nn::Sequential<T> m;
  build(m);
  m.set_accumulate(acc);
  m.init(1);
  Rng rng(2);
  Tensor<T> x(input);
  for (auto& v : x) v = round_to<T>(rng.normal());
  const std::size_t n = input[0];
  std::vector<std::int32_t> labels(n);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(10));
  optim::SGD<T> opt(m.parameters(), {.lr = 0.01, .momentum = 0.9});
  for (auto _ : state) {
    auto out = nn::softmax_cross_entropy(m.forward(x, nn::Mode::Train), labels, acc);
    m.backward(out.grad);
    opt.step();
    benchmark::DoNotOptimize(out.loss);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
  state.counters["batch/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

template <Scalar T>
void BM_MLP_784_512_512_10_b128(benchmark::State& s) {
  train_step<T>(s, build_mlp<T>, {128, 784}, Accumulate::Float);
}
template <Scalar T>
void BM_CNN_LeNet_b64(benchmark::State& s) {
  train_step<T>(s, build_cnn<T>, {64, 1, 28, 28}, Accumulate::Float);
}
template <Scalar T>
void BM_MLP_784_512_512_10_b128_native(benchmark::State& s) {
  train_step<T>(s, build_mlp<T>, {128, 784}, Accumulate::Native);
}

}  // namespace

BENCHMARK(BM_MLP_784_512_512_10_b128<half>)
    ->Name("MLP_784_512_512_10_b128/fp16")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_MLP_784_512_512_10_b128<bfloat16>)
    ->Name("MLP_784_512_512_10_b128/bf16")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_MLP_784_512_512_10_b128<float>)
    ->Name("MLP_784_512_512_10_b128/fp32")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CNN_LeNet_b64<half>)
    ->Name("CNN_LeNet_b64/fp16")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CNN_LeNet_b64<bfloat16>)
    ->Name("CNN_LeNet_b64/bf16")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_CNN_LeNet_b64<float>)
    ->Name("CNN_LeNet_b64/fp32")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_MLP_784_512_512_10_b128_native<half>)
    ->Name("MLP_784_512_512_10_b128/fp16_native_accumulate")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
