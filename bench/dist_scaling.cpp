// dist_scaling — data-parallel step time under MPI, and a paper model of larger clusters.
//
//   mpirun -np 2 dist_scaling --model mlp --batch 128 --steps 40
//   dist_scaling --model alexnet --batch 128 --steps 3 --cluster
//
// Each rank trains on its own batch of --batch rows (the global batch is batch x ranks) of
// synthetic data shaped like MNIST (mlp: nn::zoo::mnist_mlp) or CIFAR-10 (alexnet:
// nn::zoo::cifar_alexnet), with SGD + momentum, in fp16
// and fp32. Per precision it prints the mean time per step (the slowest rank's), split
// into compute (forward, backward, optimizer) and all-reduce, the throughput in samples/s,
// and the bytes each rank sent per step, as counted by dist::Communicator.
// --cluster adds the paper model: ring all-reduce time 2(p-1)/p * bytes / bandwidth +
// 2(p-1) * latency for p = 8, 64, 512 at 10 and 100 Gbit/s, against the measured compute
// time of one step (a rank's compute does not depend on p at a fixed per-rank batch).
#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <pure16/dist/dist.hpp>
#include <pure16/nn/zoo.hpp>
#include <pure16/optim/sgd.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

using namespace pure16;

namespace {

nn::zoo::Network network(const std::string& model) {
  return model == "mlp" ? nn::zoo::mnist_mlp() : nn::zoo::cifar_alexnet();
}

struct Figures {
  double step = 0, compute = 0, reduce = 0, wait = 0;  // s per step (slowest rank)
  double bytes = 0;                                    // bytes sent per step by one rank
  std::size_t params = 0;
};

template <Scalar T>
Figures measure(dist::Communicator& comm, const std::string& model, std::size_t batch, int steps) {
  using Clock = std::chrono::steady_clock;
  const nn::zoo::Network net = network(model);
  nn::Sequential<T> m(net.spec, net.input_shape);
  m.init(1);
  optim::SGDOptions so;
  so.lr = 0.01;
  so.momentum = 0.9;
  optim::SGD<T> opt(m.parameters(), so);
  dist::broadcast_state(comm, m, &opt);
  dist::GradientReducer<T> reducer(comm, m);
  Shape shape{batch};
  shape.insert(shape.end(), net.input_shape.begin(), net.input_shape.end());
  Tensor<T> x(shape);
  Rng rng(100 + std::uint64_t(comm.rank()));
  for (auto& v : x) v = round_to<T>(rng.normal());
  std::vector<std::int32_t> y(batch);
  for (auto& l : y) l = std::int32_t(rng.below(10));

  Figures f;
  f.params = m.parameter_count();
  double compute = 0, reduce = 0, wait = 0;
  std::uint64_t bytes0 = 0;
  Clock::time_point start;
  for (int s = -2; s < steps; ++s) {  // 2 warm-up steps
    if (s == 0) {
      comm.barrier();
      start = Clock::now();
      bytes0 = comm.bytes_sent();
      compute = reduce = wait = 0;
    }
    const auto t0 = Clock::now();
    const Tensor<T> logits = m.forward(x, nn::Mode::Train);
    auto out = nn::softmax_cross_entropy<T>(logits, std::span<const std::int32_t>(y));
    m.backward(out.grad);
    const auto t1 = Clock::now();
    comm.barrier();  // waiting for slower ranks is not all-reduce time
    const auto tb = Clock::now();
    reducer.reduce(batch * std::size_t(comm.size()));
    const auto t2 = Clock::now();
    opt.step();
    const auto t3 = Clock::now();
    compute += std::chrono::duration<double>((t1 - t0) + (t3 - t2)).count();
    wait += std::chrono::duration<double>(tb - t1).count();
    reduce += std::chrono::duration<double>(t2 - tb).count();
  }
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  const std::uint64_t step_bytes = comm.bytes_sent() - bytes0;  // gradient all-reduces only
  std::vector<double> v{total, compute, reduce, wait};
  // Slowest rank's figures (max), gathered as raw doubles.
  std::vector<std::uint64_t> bits;
  for (double d : v) {
    const auto all = comm.allgather(std::bit_cast<std::uint64_t>(d));
    double mx = 0;
    for (auto b : all) mx = std::max(mx, std::bit_cast<double>(b));
    bits.push_back(std::bit_cast<std::uint64_t>(mx));
  }
  f.step = std::bit_cast<double>(bits[0]) / steps;
  f.compute = std::bit_cast<double>(bits[1]) / steps;
  f.reduce = std::bit_cast<double>(bits[2]) / steps;
  f.wait = std::bit_cast<double>(bits[3]) / steps;
  f.bytes = double(step_bytes) / steps;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  return dist::run(argc, argv, [&](dist::Communicator& comm) {
    std::string model = "mlp";
    std::size_t batch = 128;
    int steps = 40;
    bool cluster = false;
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw InvalidArgument("dist_scaling: " + a + " needs a value");
        return argv[++i];
      };
      if (a == "--model")
        model = next();
      else if (a == "--batch")
        batch = std::stoul(next());
      else if (a == "--steps")
        steps = std::stoi(next());
      else if (a == "--cluster")
        cluster = true;
      else
        throw InvalidArgument("dist_scaling: unknown option " + a);
    }
    if (model != "mlp" && model != "alexnet")
      throw InvalidArgument("dist_scaling: --model is mlp or alexnet, not " + model);
    const int p = comm.size();
    if (comm.is_root()) {
      std::printf("model %s, %d rank(s), batch %zu per rank (global %zu), %d timed steps\n",
                  model.c_str(), p, batch, batch * std::size_t(p), steps);
      std::printf("%-5s %10s %10s %11s %9s %13s %11s %16s\n", "type", "params", "step ms",
                  "compute ms", "wait ms", "allreduce ms", "samples/s", "bytes/step/rank");
    }
    const Figures f16 = measure<half>(comm, model, batch, steps);
    const Figures f32 = measure<float>(comm, model, batch, steps);
    for (auto [name, f] : {std::pair{"fp16", f16}, std::pair{"fp32", f32}}) {
      if (comm.is_root())
        std::printf("%-5s %10zu %10.2f %11.2f %9.2f %13.3f %11.0f %16.0f\n", name, f.params,
                    1e3 * f.step, 1e3 * f.compute, 1e3 * f.wait, 1e3 * f.reduce,
                    double(batch) * p / f.step, f.bytes);
    }
    if (comm.is_root() && p > 1)
      std::printf("bytes per step fp16 / fp32 = %.4f\n", f16.bytes / f32.bytes);
    if (comm.is_root() && cluster) {
      const double latency = 5e-6;  // per message, assumed (MPI over a modern fabric)
      std::printf(
          "\npaper model: ring all-reduce 2(p-1)/p * bytes / bandwidth + 2(p-1) * %g us,"
          " compute per step = measured\n",
          latency * 1e6);
      std::printf("%-5s %5s %8s %14s %14s %12s %10s\n", "type", "ranks", "Gbit/s", "bytes/rank",
                  "allreduce ms", "compute ms", "comm share");
      for (auto [name, f, size] : {std::tuple{"fp16", f16, 2.0}, std::tuple{"fp32", f32, 4.0}}) {
        const double bytes = double(f.params) * size;
        for (int ranks : {8, 64, 512})
          for (double gbit : {10.0, 100.0}) {
            const double vol = 2.0 * (ranks - 1) / ranks * bytes;
            const double t = vol / (gbit * 1e9 / 8) + 2.0 * (ranks - 1) * latency;
            std::printf("%-5s %5d %8.0f %14.0f %14.2f %12.2f %9.0f%%\n", name, ranks, gbit, vol,
                        1e3 * t, 1e3 * f.compute, 100 * t / (t + f.compute));
          }
      }
    }
    return 0;
  });
}
