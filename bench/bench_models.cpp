// Training step, inference pass and per-layer timings of the example networks in fp16, bf16
// and fp32 at 1 and 2 threads, and batch-1 inference latency of a large MLP, in one run.
//
//   train/<net>/<precision>/threads:<t>   forward (Mode::Train) + softmax cross-entropy +
//                                          backward + SGD (momentum 0.9) step, one batch
//   infer/<net>/<precision>/threads:<t>   forward (Mode::Eval), one batch
//   mlp4096_b1/<precision>/threads:<t>    4096-4096-4096-10 ReLU MLP, batch 1, Mode::Eval
//                                          (weights: 64 MiB in fp32, 32 MiB in fp16/bf16)
// Networks (the examples' models): mnist_mlp 784-512-512-10 batch 128; lenet (mnist_cnn)
// batch 64; cifar_small_cnn c32-p2-c64-p2-c64-p2-128-10 batch 64; cifar_alexnet (the
// cifar10_cnn --model alexnet variant) batch 256. Inputs and labels are random: the
// arithmetic does not depend on the values.
// Counters of train/: per layer i, "<i>_<Type>_fwd" and "<i>_<Type>_bwd" in ms per step
// (thread CPU time with 1 thread, wall-clock time with 2)
// (the step is run layer by layer to time them; the same calls Sequential makes), "loss" and
// "update" in ms, "steps_per_epoch" (seconds per epoch = step time x steps per epoch of the
// example's data set: MNIST 60000, CIFAR-10 small CNN 10000 as in the examples' quick
// runs, AlexNet 50000).
//   bench_models --benchmark_format=json --benchmark_min_time=0.2 > models.json
#include <benchmark/benchmark.h>

#include <cstdint>
#include <ctime>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/sgd.hpp>
#include <string>
#include <vector>

#include "../examples/models.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace pure16;

namespace {

/// LeNet of examples/mnist_cnn.cpp.
template <class T>
void build_lenet(nn::Sequential<T>& m) {
  using namespace nn;
  m.template add<Conv2D>(1, 6, 5, 1, 2);
  m.template add<ReLU>();
  m.template add<MaxPool2D>(2);
  m.template add<Conv2D>(6, 16, 5);
  m.template add<ReLU>();
  m.template add<MaxPool2D>(2);
  m.template add<Flatten>();
  m.template add<Dense>(400, 120);
  m.template add<ReLU>();
  m.template add<Dense>(120, 84);
  m.template add<ReLU>();
  m.template add<Dense>(84, 10);
}

/// AlexNet variant of examples/cifar10_cnn.cpp (--model alexnet).
template <class T>
void build_alexnet(nn::Sequential<T>& m) {
  using namespace nn;
  m.template add<Conv2D>(3, 64, 3, 2, 1);
  m.template add<ReLU>();
  m.template add<MaxPool2D>(2, 2);
  m.template add<Conv2D>(64, 96, 3, 1, 1);
  m.template add<ReLU>();
  m.template add<MaxPool2D>(3, 2);
  m.template add<Conv2D>(96, 256, 3, 1, 1);
  m.template add<ReLU>();
  m.template add<Conv2D>(256, 256, 3, 1, 1);
  m.template add<ReLU>();
  m.template add<Conv2D>(256, 512, 3, 1, 1);
  m.template add<ReLU>();
  m.template add<MaxPool2D>(3, 2);
  m.template add<Flatten>();
  m.template add<Dense>(512, 4096);
  m.template add<Tanh>();
  m.template add<Dropout>(0.5);
  m.template add<Dense>(4096, 4096);
  m.template add<Tanh>();
  m.template add<Dropout>(0.5);
  m.template add<Dense>(4096, 10);
}

template <class T>
void build_mlp4096(nn::Sequential<T>& m) {
  using namespace nn;
  m.template add<Dense>(4096, 4096);
  m.template add<ReLU>();
  m.template add<Dense>(4096, 4096);
  m.template add<ReLU>();
  m.template add<Dense>(4096, 10);
}

struct Net {
  const char* name;
  Shape input;                // with the batch first
  std::size_t epoch_samples;  // samples per epoch of the example's data set
};

const Net kMlp{"mnist_mlp", {128, 784}, 60000};
const Net kLenet{"lenet", {64, 1, 28, 28}, 60000};
const Net kSmall{"cifar_small_cnn", {64, 3, 32, 32}, 10000};
const Net kAlex{"cifar_alexnet", {256, 3, 32, 32}, 50000};

void set_threads(benchmark::State& s) {
#ifdef _OPENMP
  omp_set_num_threads(static_cast<int>(s.range(0)));
#else
  if (s.range(0) != 1) s.SkipWithError("built without OpenMP");
#endif
}

template <class T>
Tensor<T> random_input(const Shape& shape) {
  Rng rng(2);
  Tensor<T> x(shape);
  for (auto& v : x) v = round_to<T>(rng.normal());
  return x;
}

// Per-layer clock: the calling thread's CPU time with 1 thread (what other processes on a
// shared machine disturb least, like the 1-thread step times of the report), wall-clock
// time with more threads (the other threads' work would not show in this thread's time).
struct LayerClock {
  bool cpu;
  double now() const {
    timespec ts{};
    clock_gettime(cpu ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + 1e-9 * double(ts.tv_nsec);
  }
};

template <class T, class Build>
void train(benchmark::State& state, const Net& net, Build build) {
  set_threads(state);
  nn::Sequential<T> m;
  build(m);
  m.init(1);
  const Tensor<T> x = random_input<T>(net.input);
  const std::size_t n = net.input[0];
  Rng rng(3);
  std::vector<std::int32_t> labels(n);
  for (auto& l : labels) l = static_cast<std::int32_t>(rng.below(10));
  optim::SGD<T> opt(m.parameters(), {.lr = 0.001, .momentum = 0.9});
  const std::size_t L = m.size();
  std::vector<double> fwd(L, 0.0), bwd(L, 0.0);
  double t_loss = 0.0, t_update = 0.0;
  const LayerClock clock{state.range(0) == 1};
  for (auto _ : state) {
    Tensor<T> h = x;
    for (std::size_t i = 0; i < L; ++i) {
      const double t0 = clock.now();
      h = m[i].forward(h, nn::Mode::Train);
      fwd[i] += clock.now() - t0;
    }
    double t0 = clock.now();
    auto out = nn::softmax_cross_entropy(h, labels);
    t_loss += clock.now() - t0;
    Tensor<T> g = out.grad;
    for (std::size_t i = L; i-- > 0;) {
      t0 = clock.now();
      g = m[i].backward(g);
      bwd[i] += clock.now() - t0;
    }
    t0 = clock.now();
    opt.step();
    t_update += clock.now() - t0;
    benchmark::DoNotOptimize(out.loss);
  }
  const auto avg = benchmark::Counter::kAvgIterations;
  for (std::size_t i = 0; i < L; ++i) {
    const std::string p = (i < 10 ? "0" : "") + std::to_string(i) + "_" + m[i].type();
    state.counters[p + "_fwd"] = benchmark::Counter(fwd[i] * 1e3, avg);
    state.counters[p + "_bwd"] = benchmark::Counter(bwd[i] * 1e3, avg);
  }
  state.counters["loss"] = benchmark::Counter(t_loss * 1e3, avg);
  state.counters["update"] = benchmark::Counter(t_update * 1e3, avg);
  state.counters["steps_per_epoch"] = double((net.epoch_samples + n - 1) / n);
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}

template <class T, class Build>
void infer(benchmark::State& state, const Net& net, Build build) {
  set_threads(state);
  nn::Sequential<T> m;
  build(m);
  m.init(1);
  const Tensor<T> x = random_input<T>(net.input);
  for (auto _ : state) {
    Tensor<T> y = m.forward(x, nn::Mode::Eval);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(net.input[0]));
}

#define PURE16_BUILDER(fn) [](auto& m) { fn(m); }

template <class T>
void register_precision(const char* prec) {
  const auto reg = [&](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  };
  const std::string p = std::string("/") + prec;
  reg("train/mnist_mlp" + p,
      [](benchmark::State& s) { train<T>(s, kMlp, PURE16_BUILDER(examples::build_mnist_mlp)); });
  reg("train/lenet" + p,
      [](benchmark::State& s) { train<T>(s, kLenet, PURE16_BUILDER(build_lenet)); });
  reg("train/cifar_small_cnn" + p, [](benchmark::State& s) {
    train<T>(s, kSmall, PURE16_BUILDER(examples::build_cifar_small_cnn));
  });
  reg("train/cifar_alexnet" + p,
      [](benchmark::State& s) { train<T>(s, kAlex, PURE16_BUILDER(build_alexnet)); });
  reg("infer/mnist_mlp" + p,
      [](benchmark::State& s) { infer<T>(s, kMlp, PURE16_BUILDER(examples::build_mnist_mlp)); });
  reg("infer/lenet" + p,
      [](benchmark::State& s) { infer<T>(s, kLenet, PURE16_BUILDER(build_lenet)); });
  reg("infer/cifar_small_cnn" + p, [](benchmark::State& s) {
    infer<T>(s, kSmall, PURE16_BUILDER(examples::build_cifar_small_cnn));
  });
  reg("infer/cifar_alexnet" + p,
      [](benchmark::State& s) { infer<T>(s, kAlex, PURE16_BUILDER(build_alexnet)); });
  reg("mlp4096_b1" + p, [](benchmark::State& s) {
    infer<T>(s, Net{"mlp4096", {1, 4096}, 1}, PURE16_BUILDER(build_mlp4096));
  });
}

}  // namespace

int main(int argc, char** argv) {
  register_precision<half>("fp16");
  register_precision<bfloat16>("bf16");
  register_precision<float>("fp32");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
