// GEMM throughput (GFLOP/s = 2 M N K / time) of pure16::kernels::gemm for half, bfloat16 and
// float beside Eigen's float GEMM and Eigen's own Eigen::half GEMM, measured in one run.
// Shapes: square n in {128, 256, 512, 1024} and the GEMMs of an MNIST MLP batch of 128
// (784-512-512-10: forward X W^T, backward dX = dY W and dW = dY^T X), the weight gradients
// of the small CIFAR CNN's convolutions (small C, long K), 1 and 2 threads.
// Arguments of every benchmark: M, N, K, op(A) transposed, op(B) transposed, threads.
// The instruction set is active_isa() (PURE16_ISA=portable|avx2|... selects another).
#include <benchmark/benchmark.h>

#include <Eigen/Core>
#include <cstdint>
#include <pure16/kernels/gemm.hpp>
#include <vector>

using namespace pure16;
using kernels::Trans;

namespace {

template <class T>
std::vector<T> random_vec(std::size_t n, std::uint64_t seed) {
  std::vector<T> v(n);
  for (auto& x : v) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    x = T(static_cast<float>(static_cast<double>(seed >> 11) * 0x1.0p-52 - 0.5));
  }
  return v;
}

struct Args {
  std::size_t M, N, K;
  Trans ta, tb;
  int threads;
};
Args args_of(const benchmark::State& s) {
  return {static_cast<std::size_t>(s.range(0)), static_cast<std::size_t>(s.range(1)),
          static_cast<std::size_t>(s.range(2)), s.range(3) ? Trans::Yes : Trans::No,
          s.range(4) ? Trans::Yes : Trans::No,  static_cast<int>(s.range(5))};
}

void set_flops(benchmark::State& s, const Args& a) {
  s.counters["GFLOPS"] = benchmark::Counter(2.0 * a.M * a.N * a.K * 1e-9,
                                            benchmark::Counter::kIsIterationInvariantRate);
}

template <class T, Accumulate Acc = Accumulate::Float>
void BM_pure16(benchmark::State& s) {
  const Args a = args_of(s);
  const auto A = random_vec<T>(a.M * a.K, 1), B = random_vec<T>(a.K * a.N, 2);
  std::vector<T> C(a.M * a.N, T(0));
  const std::size_t lda = a.ta == Trans::No ? a.K : a.M, ldb = a.tb == Trans::No ? a.N : a.K;
  kernels::GemmOptions opt;
  opt.accumulate = Acc;
  opt.threads = a.threads;
  for (auto _ : s) {
    kernels::gemm<T>(a.ta, a.tb, a.M, a.N, a.K, 1.0f, A.data(), lda, B.data(), ldb, 0.0f, C.data(),
                     a.N, opt);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_flops(s, a);
  s.SetLabel(std::string(kernels::isa_name(opt.isa)));
}

// Eigen's GEMM on row-major matrices with the same transposes (Eigen::setNbThreads threads).
template <class T>
void BM_eigen(benchmark::State& s) {
  using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  const Args a = args_of(s);
  const Eigen::Index M = a.M, N = a.N, K = a.K;
  Mat A = a.ta == Trans::No ? Mat(M, K) : Mat(K, M);
  Mat B = a.tb == Trans::No ? Mat(K, N) : Mat(N, K);
  const auto av = random_vec<T>(A.size(), 1), bv = random_vec<T>(B.size(), 2);
  std::copy(av.begin(), av.end(), A.data());
  std::copy(bv.begin(), bv.end(), B.data());
  Mat C = Mat::Zero(M, N);
  Eigen::setNbThreads(a.threads);
  for (auto _ : s) {
    if (a.ta == Trans::No && a.tb == Trans::No) C.noalias() = A * B;
    if (a.ta == Trans::No && a.tb == Trans::Yes) C.noalias() = A * B.transpose();
    if (a.ta == Trans::Yes && a.tb == Trans::No) C.noalias() = A.transpose() * B;
    if (a.ta == Trans::Yes && a.tb == Trans::Yes) C.noalias() = A.transpose() * B.transpose();
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  Eigen::setNbThreads(0);
  set_flops(s, a);
}

// thr = 1 is timed in CPU time of the benchmark thread (robust on a shared machine);
// thr = 2 in wall-clock time (UseRealTime), so GFLOP/s counts both threads' work.
void square(benchmark::internal::Benchmark* b, int thr) {
  b->ArgNames({"M", "N", "K", "tA", "tB", "thr"});
  for (int n : {128, 256, 512, 1024}) b->Args({n, n, n, 0, 0, thr});
}
// MNIST MLP 784-512-512-10, batch 128 (row-major activations, PyTorch [out, in] weights):
// forward Y = X W^T, backward dX = dY W and dW = dY^T X.
void mlp(benchmark::internal::Benchmark* b, int thr) {
  b->Args({128, 512, 784, 0, 1, thr});  // layer 1 forward
  b->Args({128, 512, 512, 0, 1, thr});  // layer 2 forward
  b->Args({128, 10, 512, 0, 1, thr});   // layer 3 forward
  b->Args({128, 784, 512, 0, 0, thr});  // layer 1 backward, dX
  b->Args({512, 784, 128, 1, 0, thr});  // layer 1 backward, dW
  b->Args({512, 512, 128, 1, 0, thr});  // layer 2 backward, dW
}
// Weight gradients of the small CIFAR CNN's convolutions, batch 64: dW [O, C*k*k] =
// dY [O, batch*pixels] x col^T: a small C and a long K.
void conv_dw(benchmark::internal::Benchmark* b, int thr) {
  b->Args({32, 27, 65536, 0, 1, thr});   // conv 3->32 on 32x32
  b->Args({64, 288, 16384, 0, 1, thr});  // conv 32->64 on 16x16
  b->Args({64, 576, 4096, 0, 1, thr});   // conv 64->64 on 8x8
}
void one_thread(benchmark::internal::Benchmark* b) {
  square(b, 1);
  mlp(b, 1);
  conv_dw(b, 1);
}
void two_threads(benchmark::internal::Benchmark* b) {
  square(b, 2);
  mlp(b, 2);
  conv_dw(b, 2);
  b->UseRealTime();
}
void eigen_half(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "tA", "tB", "thr"});
  b->Args({128, 128, 128, 0, 0, 1})->Args({256, 256, 256, 0, 0, 1})->Iterations(2);
}
void native(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "tA", "tB", "thr"});
  b->Args({512, 512, 512, 0, 0, 1})->Args({128, 512, 784, 0, 1, 1});
}

}  // namespace

BENCHMARK(BM_pure16<half>)->Apply(one_thread);
BENCHMARK(BM_pure16<bfloat16>)->Apply(one_thread);
BENCHMARK(BM_pure16<float>)->Apply(one_thread);
BENCHMARK(BM_eigen<float>)->Apply(one_thread);
BENCHMARK(BM_eigen<Eigen::half>)->Apply(eigen_half);
BENCHMARK(BM_pure16<half, Accumulate::Native>)->Apply(native);
BENCHMARK(BM_pure16<half>)->Apply(two_threads);
BENCHMARK(BM_pure16<bfloat16>)->Apply(two_threads);
BENCHMARK(BM_pure16<float>)->Apply(two_threads);
BENCHMARK(BM_eigen<float>)->Apply(two_threads);

BENCHMARK_MAIN();
