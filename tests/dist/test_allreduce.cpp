// All-reduce of T values under MPI (run with 2 and 3 ranks): against a long-double reference
// sum of every rank's inputs (each rank regenerates all ranks' inputs from their seeds), the
// one-rounding property on a case where pairwise rounding differs, bit-identical results on
// every rank, the byte counter, and the fused/bucketed gradient reducer.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <pure16/dist/allreduce.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/random.hpp>
#include <string>
#include <vector>

using namespace pure16;

namespace {

dist::Communicator& world() {
  static dist::Communicator c = dist::Communicator::world();
  return c;
}

/// Rank r's inputs: normal values scaled by 2^k, k uniform in [-6, 6], rounded to T.
template <Scalar T>
std::vector<T> inputs(int rank, std::size_t n) {
  Rng rng(1000 + std::uint64_t(rank));
  std::vector<T> v(n);
  for (auto& x : v) {
    const int k = int(rng.below(13)) - 6;
    x = round_to<T>(std::ldexp(rng.normal(), k));
  }
  return v;
}

template <Scalar T>
std::string bytes_of(const T* p, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(p), n * sizeof(T));
}

template <Scalar T>
void check_against_reference(std::span<const double> weights) {
  auto& comm = world();
  const int p = comm.size();
  const std::size_t n = 1001;  // not a multiple of 2 or 3: the last block is padded
  std::vector<T> data = inputs<T>(comm.rank(), n);
  dist::allreduce<T>(comm, std::span<T>(data), weights);

  const double u_t = unit_roundoff<T>();
  const double u_acc = unit_roundoff<acc_t<T>>();
  const double sub = double(scalar_traits<T>::min_subnormal());
  std::vector<std::vector<T>> all;
  for (int r = 0; r < p; ++r) all.push_back(inputs<T>(r, n));
  double worst = 0.0;  // largest error in units of the bound
  for (std::size_t i = 0; i < n; ++i) {
    long double s = 0, mag = 0;
    for (int r = 0; r < p; ++r) {
      const long double w = weights.empty() ? 1.0L : (long double)weights[std::size_t(r)];
      s += w * (long double)double(all[std::size_t(r)][i]);
      mag += std::fabs(w * (long double)double(all[std::size_t(r)][i]));
    }
    const double bound = u_t * std::fabs(double(s)) + double(p + 1) * u_acc * double(mag) + sub / 2;
    const double err = std::fabs(double((long double)double(data[i]) - s));
    worst = std::max(worst, err / bound);
  }
  INFO(scalar_traits<T>::name << " with " << p << " ranks: worst error / bound = " << worst);
  CHECK(worst <= 1.0);
  CHECK(worst > 0.0);  // the data do get rounded: a bound of 0 would mean a vacuous test
  CHECK_NOTHROW(dist::same_on_all_ranks(comm, "all-reduce result", bytes_of(data.data(), n)));
}

}  // namespace

TEST_CASE_TEMPLATE(
    "allreduce: sum within one rounding of T of the exact sum, same bits on every rank", T, half,
    bfloat16, float, double) {
  check_against_reference<T>({});
  const auto w = dist::shard_weights(7, world().size());  // unequal shards for 3 ranks
  check_against_reference<T>(w);
}

TEST_CASE("allreduce: one rounding where rounding after each addition would differ") {
  // Rank 0 holds 1, every other rank 2^-11 (half an ulp of 1 in fp16). Rounding after each
  // pairwise addition gives 1 + 2^-11 -> 1 (tie to even) at every step, i.e. 1; the exact
  // sum 1 + (p-1) 2^-11 rounded once is 1 + 2^-10 for 3 ranks.
  auto& comm = world();
  const int p = comm.size();
  std::vector<half> v(5, comm.rank() == 0 ? half(1.0f) : half(std::ldexp(1.0f, -11)));
  dist::allreduce<half>(comm, std::span<half>(v));
  const half want = round_to<half>(1.0 + double(p - 1) * std::ldexp(1.0, -11));
  for (auto x : v) CHECK(float(x) == float(want));
  if (p == 3) CHECK(float(v[0]) == 1.0f + std::ldexp(1.0f, -10));

  // Accumulate::Native: rounded to fp16 after every addition, in rank order.
  std::vector<half> nat(5, comm.rank() == 0 ? half(1.0f) : half(std::ldexp(1.0f, -11)));
  dist::allreduce<half>(comm, std::span<half>(nat), {}, Accumulate::Native);
  float seq = 0.0f;
  for (int r = 0; r < p; ++r) seq = float(half(seq + (r == 0 ? 1.0f : std::ldexp(1.0f, -11))));
  for (auto x : nat) CHECK(float(x) == seq);
}

TEST_CASE("allreduce: bytes sent per rank, fp16 half of fp32") {
  auto& comm = world();
  const std::uint64_t p = std::uint64_t(comm.size());
  const std::size_t n = 10007;
  std::vector<half> h(n, half(1.0f));
  std::vector<float> f(n, 1.0f);
  comm.reset_bytes_sent();
  dist::allreduce<half>(comm, std::span<half>(h));
  const std::uint64_t bytes16 = comm.bytes_sent();
  comm.reset_bytes_sent();
  dist::allreduce<float>(comm, std::span<float>(f));
  const std::uint64_t bytes32 = comm.bytes_sent();
  const std::uint64_t block = (n + p - 1) / p;
  CHECK(bytes16 == 2 * (p - 1) * block * 2);  // alltoall + allgather, 2 bytes each
  CHECK(bytes32 == 2 * bytes16);
  CHECK(float(h[0]) == float(p));
  CHECK(f[n - 1] == float(p));
}

TEST_CASE("allreduce: bad weights are an error on every rank") {
  std::vector<float> v(3, 1.0f);
  const std::vector<double> w(std::size_t(world().size()) + 1, 1.0);
  CHECK_THROWS_AS(dist::allreduce<float>(world(), std::span<float>(v), w), dist::Error);
}

TEST_CASE("shard_range covers a batch once, contiguously, in balanced shards") {
  for (int p = 1; p <= 5; ++p)
    for (std::size_t rows : {0, 1, 3, 7, 128, 1001}) {
      std::size_t next = 0;
      double wsum = 0;
      const auto w = dist::shard_weights(rows, p);
      for (int r = 0; r < p; ++r) {
        const auto [lo, hi] = dist::shard_range(rows, r, p);
        CHECK(lo == next);
        CHECK(hi - lo <= rows / std::size_t(p) + 1);
        CHECK(hi - lo >= rows / std::size_t(p));
        next = hi;
        wsum += w[std::size_t(r)];
      }
      CHECK(next == rows);
      if (rows) CHECK(wsum == doctest::Approx(1.0).epsilon(1e-15));
    }
}

TEST_CASE_TEMPLATE(
    "GradientReducer: one fused all-reduce of every gradient, buckets change nothing", T, half,
    float) {
  auto& comm = world();
  nn::Sequential<T> model;
  model.template add<nn::Dense>(13, 11);
  model.template add<nn::ReLU>();
  model.template add<nn::Dense>(11, 3);
  model.init(5);
  auto fill = [&](int rank) {  // rank-dependent gradients
    Rng rng(77 + std::uint64_t(rank));
    for (auto* p : model.parameters())
      for (auto& g : p->grad) g = round_to<T>(rng.normal());
  };
  auto snapshot = [&] {
    std::string s;
    for (auto* p : model.parameters()) s += bytes_of(p->grad.data(), p->grad.size());
    return s;
  };
  const std::size_t rows = 10;
  fill(comm.rank());
  dist::GradientReducer<T> one(comm, model);
  CHECK(one.buckets() == 1);
  CHECK(one.elements() == model.parameter_count());
  comm.reset_bytes_sent();
  one.reduce(rows);
  const std::string fused = snapshot();
  const std::uint64_t p = std::uint64_t(comm.size());
  CHECK(comm.bytes_sent() == 2 * (p - 1) * ((one.elements() + p - 1) / p) * sizeof(T));

  // Each element equals the weighted all-reduce of that element alone.
  const auto w = dist::shard_weights(rows, comm.size());
  std::vector<std::vector<T>> all;
  for (int r = 0; r < comm.size(); ++r) {
    fill(r);
    std::vector<T> v;
    for (auto* q : model.parameters()) v.insert(v.end(), q->grad.begin(), q->grad.end());
    all.push_back(v);
  }
  bool all_ok = true;
  {
    // The fused result equals, element by element, the rank-order weighted sum rounded once.
    fill(comm.rank());
    one.reduce(rows);
    CHECK(snapshot() == fused);  // deterministic
    std::size_t j = 0;
    for (auto* q : model.parameters())
      for (std::size_t i = 0; i < q->grad.size(); ++i, ++j) {
        acc_t<T> s = 0;
        for (int r = 0; r < comm.size(); ++r)
          s += static_cast<acc_t<T>>(w[std::size_t(r)]) *
               static_cast<acc_t<T>>(all[std::size_t(r)][j]);
        all_ok = all_ok && round_to<T>(s) == q->grad[i];
      }
  }
  CHECK(all_ok);

  fill(comm.rank());
  dist::ReduceOptions small;
  small.bucket_bytes = 64;
  dist::GradientReducer<T> many(comm, model, small);
  CHECK(many.buckets() == (model.parameter_count() * sizeof(T) + 63) / 64);
  many.reduce(rows);
  CHECK(snapshot() == fused);
  CHECK_NOTHROW(dist::same_on_all_ranks(comm, "reduced gradients", fused));
}
