// Training step, inference pass and per-layer timings of the example networks in fp16, bf16
// and fp32 at 1 and 2 threads, and batch-1 inference latency of a large MLP, in one run.
//
//   train/<net>/<precision>/threads:<t>   forward (Mode::Train) + softmax cross-entropy +
//                                          backward + SGD (momentum 0.9) step, one batch
//   infer/<net>/<precision>/threads:<t>   forward (Mode::Eval), one batch
//   mlp4096_b1/<precision>/threads:<t>    4096-4096-4096-10 ReLU MLP, batch 1, Mode::Eval
//                                          (weights: 64 MiB in fp32, 32 MiB in fp16/bf16)
// Networks (nn/zoo.hpp, the examples' models): mnist_mlp 784-512-512-10 batch 128; lenet
// batch 64; cifar_small_cnn c32-p2-c64-p2-c64-p2-128-10 batch 64; cifar_alexnet batch 256. Inputs
// and labels are random: the arithmetic does not depend on the values. Counters of train/: per
// layer i, "<i>_<Type>_fwd" and "<i>_<Type>_bwd" in ms per step (thread CPU time with 1 thread,
// wall-clock time with 2) (the step is run layer by layer to time them; the same calls Sequential
// makes), "loss" and "update" in ms, "steps_per_epoch" (seconds per epoch = step time x steps per
// epoch of the example's data set: MNIST 60000, CIFAR-10 small CNN 10000 as in the examples' quick
// runs, AlexNet 50000).
//   bench_models --benchmark_format=json --benchmark_min_time=0.2 > models.json
#include <benchmark/benchmark.h>

#include <cstdint>
#include <ctime>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/sgd.hpp>
#include <string>
#include <utility>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace pure16;

namespace {

/// 4096-4096-4096-10 ReLU MLP (64 MiB of float weights, far beyond the caches).
nn::zoo::Network mlp4096() {
  using namespace nn;
  return {"mlp4096",
          "4096-4096-4096-10 ReLU MLP",
          {dense(4096), relu(), dense(4096), relu(), dense(10)},
          {4096}};
}

struct Net {
  nn::zoo::Network (*network)();
  std::size_t batch;
  std::size_t epoch_samples;  // samples per epoch of the example's data set
};

const Net kMlp{nn::zoo::mnist_mlp, 128, 60000};
const Net kLenet{nn::zoo::lenet, 64, 60000};
const Net kSmall{[] { return nn::zoo::cifar_small_cnn(); }, 64, 10000};
const Net kAlex{nn::zoo::cifar_alexnet, 256, 50000};
const Net kMlp4096{mlp4096, 1, 1};

template <class T>
nn::Sequential<T> build(const Net& net, Shape& input) {
  const nn::zoo::Network n = net.network();
  input = n.input_shape;
  input.insert(input.begin(), net.batch);
  nn::Sequential<T> m(n.spec, n.input_shape);
  m.init(1);
  return m;
}

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

template <class T>
void train(benchmark::State& state, const Net& net) {
  set_threads(state);
  Shape input;
  nn::Sequential<T> m = build<T>(net, input);
  const Tensor<T> x = random_input<T>(input);
  const std::size_t n = net.batch;
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

template <class T>
void infer(benchmark::State& state, const Net& net) {
  set_threads(state);
  Shape input;
  nn::Sequential<T> m = build<T>(net, input);
  const Tensor<T> x = random_input<T>(input);
  for (auto _ : state) {
    Tensor<T> y = m.forward(x, nn::Mode::Eval);
    benchmark::DoNotOptimize(y.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(net.batch));
}

template <class T>
void register_precision(const char* prec) {
  const std::string p = std::string("/") + prec;
  const auto reg = [&](const std::string& name, const Net* net, bool training) {
    benchmark::RegisterBenchmark(name.c_str(),
                                 [net, training](benchmark::State& s) {
                                   if (training)
                                     train<T>(s, *net);
                                   else
                                     infer<T>(s, *net);
                                 })
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  };
  const std::pair<const char*, const Net*> nets[] = {{"mnist_mlp", &kMlp},
                                                     {"lenet", &kLenet},
                                                     {"cifar_small_cnn", &kSmall},
                                                     {"cifar_alexnet", &kAlex}};
  for (auto [name, net] : nets) reg(std::string("train/") + name + p, net, true);
  for (auto [name, net] : nets) reg(std::string("infer/") + name + p, net, false);
  reg("mlp4096_b1" + p, &kMlp4096, false);
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
