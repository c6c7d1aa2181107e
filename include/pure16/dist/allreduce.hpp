// pure16/dist/allreduce.hpp — all-reduce of T values rounded once, batch sharding, and the
// fused all-reduce of a model's gradients.
//
// Contract:
//  * allreduce(comm, data, weights, acc) replaces data[i] on every rank by
//        round_T( sum_{r = 0..p-1} weights[r] * data_r[i] )
//    summed in acc_t<T> (float for half/bfloat16/float, double for double) in rank order and
//    rounded ONCE to T; Accumulate::Native rounds to T after every addition instead (strict
//    16-bit emulation). Empty weights mean 1 for every rank. Every rank gets the same bits.
//  * How: a reduce-scatter + all-gather made of MPI_Alltoall and MPI_Allgather on T's raw
//    bytes (2-byte MPI elements for half/bfloat16): block j of the data goes to rank j, which
//    widens the p copies it receives, sums them and rounds once; MPI_Allgather then hands
//    every rank the same rounded blocks. Why not MPI_Allreduce with a custom MPI_Op on a
//    2-byte type: MPI applies the op pairwise along its own tree or ring, each application
//    would round to T, so a sum over p ranks could round p-1 times (error up to about
//    (p-1) u_T sum|x|, not u_T |sum|), and the MPI standard only recommends, not requires,
//    that every rank get the same bits from a non-associative sum. This scheme sends per
//    rank what a ring all-reduce sends, 2 (p-1)/p * n * sizeof(T) bytes (n padded up to a
//    multiple of p): for 16-bit T half of what the same step sends in fp32.
//  * Error bound (checked by tests/dist): with s = sum_r w_r x_r computed exactly,
//        |result - s| <= u_T |s| + (p+1) u_acc sum_r |w_r x_r| + (T's smallest subnormal) / 2,
//    one rounding of T plus the accumulation in acc_t<T> (u_acc = 2^-24 for 16-bit T,
//    2^13 times smaller than fp16's u_T = 2^-11).
//  * shard_range(rows, rank, size) = rows [rows*rank/size, rows*(rank+1)/size) of a global
//    batch: contiguous, deterministic, sizes differing by at most one (possibly empty when
//    rows < size). shard_weights(rows, size)[r] = that shard's rows / rows.
//  * GradientReducer<T>(comm, model) keeps one flat T buffer holding every parameter's grad
//    (and, by default, every buffer such as BatchNorm running statistics). reduce(rows)
//    copies them in, all-reduces with the shard weights of a global batch of `rows` rows —
//    so each rank's gradient, which is the mean over ITS rows, becomes the mean over the
//    global batch — and copies the result back: the same bits on every rank, in one
//    all-reduce (two collectives) per bucket of at most bucket_bytes (default 64 MiB).
//    Buffers are averaged with the same weights, so replicas of a BatchNorm model stay
//    identical (each rank still normalises with its own shard's batch statistics).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <pure16/dist/communicator.hpp>
#include <pure16/kernels/convert.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace pure16::dist {

/// Rows [first, second) of a global batch of `rows` rows that rank `rank` of `size` trains on.
inline std::pair<std::size_t, std::size_t> shard_range(std::size_t rows, int rank, int size) {
  const std::size_t r = std::size_t(rank), p = std::size_t(size);
  return {rows * r / p, rows * (r + 1) / p};
}

/// Weight of each rank's shard in the global batch: its rows / rows (zero for an empty batch).
inline std::vector<double> shard_weights(std::size_t rows, int size) {
  std::vector<double> w(std::size_t(size), 0.0);
  if (rows == 0) return w;
  for (int r = 0; r < size; ++r) {
    const auto [lo, hi] = shard_range(rows, r, size);
    w[std::size_t(r)] = double(hi - lo) / double(rows);
  }
  return w;
}

/// Scratch buffers of allreduce(), kept between calls to avoid reallocating them.
template <Scalar T>
struct AllreduceWorkspace {
  std::vector<T> send, recv, block;
  std::vector<acc_t<T>> sum, wide;
};

/// data[i] <- round_T(sum_r weights[r] * data_r[i]) on every rank (see the header comment).
template <Scalar T>
void allreduce(Communicator& comm, std::span<T> data, std::span<const double> weights = {},
               Accumulate acc = Accumulate::Float, AllreduceWorkspace<T>* workspace = nullptr) {
  using Acc = acc_t<T>;
  const std::size_t p = std::size_t(comm.size()), n = data.size();
  if (!weights.empty() && weights.size() != p) {
    throw Error("pure16::dist::allreduce: " + std::to_string(weights.size()) + " weights for " +
                std::to_string(p) + " ranks");
  }
  if (p == 1 && (weights.empty() || weights[0] == 1.0)) return;  // round(1 * x) = x
  const std::size_t c = (n + p - 1) / p;                         // block per rank
  AllreduceWorkspace<T> local;
  AllreduceWorkspace<T>& ws = workspace ? *workspace : local;
  ws.send.assign(c * p, T(0));
  std::copy(data.begin(), data.end(), ws.send.begin());
  ws.recv.resize(c * p);
  comm.alltoall(ws.send.data(), ws.recv.data(), c, sizeof(T));

  // Sum the p copies of this rank's block in rank order, round once.
  ws.sum.assign(c, Acc(0));  // +0 first: -0 inputs sum to +0, as a sum from zero does
  ws.wide.resize(c);
  const bool native = acc == Accumulate::Native;
  for (std::size_t r = 0; r < p; ++r) {
    const Acc w = weights.empty() ? Acc(1) : static_cast<Acc>(weights[r]);
    if (c) kernels::convert(ws.recv.data() + r * c, ws.wide.data(), c);
    if (native) {
      for (std::size_t k = 0; k < c; ++k)
        ws.sum[k] = static_cast<Acc>(round_to<T>(ws.sum[k] + w * ws.wide[k]));
    } else {
      for (std::size_t k = 0; k < c; ++k) ws.sum[k] += w * ws.wide[k];
    }
  }
  ws.block.resize(c);
  if (c) kernels::convert(ws.sum.data(), ws.block.data(), c);

  comm.allgather(ws.block.data(), ws.send.data(), c, sizeof(T));
  std::copy(ws.send.begin(), ws.send.begin() + std::ptrdiff_t(n), data.begin());
}

/// Tensor overload: every element all-reduced.
template <Scalar T>
void allreduce(Communicator& comm, Tensor<T>& t, std::span<const double> weights = {},
               Accumulate acc = Accumulate::Float) {
  allreduce<T>(comm, std::span<T>(t.data(), t.size()), weights, acc);
}

struct ReduceOptions {
  std::size_t bucket_bytes = std::size_t(64) << 20;  // largest message of one all-reduce
  bool buffers = true;                               // average buffers (BatchNorm statistics)
  Accumulate accumulate = Accumulate::Float;
};

/// Fused, bucketed all-reduce of a model's gradients (see the header comment).
template <Scalar T>
class GradientReducer {
 public:
  GradientReducer(Communicator& comm, nn::Sequential<T>& model, ReduceOptions o = {})
      : comm_(&comm), o_(o) {
    for (auto* p : model.parameters()) tensors_.push_back(&p->grad);
    if (o_.buffers)
      for (auto& t : model.state())
        if (!t.trainable) tensors_.push_back(t.tensor);
    std::size_t n = 0;
    for (auto* t : tensors_) n += t->size();
    flat_.resize(n);
    const std::size_t per = std::max<std::size_t>(1, o_.bucket_bytes / sizeof(T));
    for (std::size_t lo = 0; lo < n; lo += per) buckets_.emplace_back(lo, std::min(n, lo + per));
  }

  /// Gradients of each rank's shard of a global batch of `rows` rows -> the global batch's
  /// gradient, identical on every rank.
  void reduce(std::size_t rows) {
    const auto w = shard_weights(rows, comm_->size());
    reduce_weighted(w);
  }

  /// Gradients and buffers <- sum_r weights[r] * rank r's, rounded once.
  void reduce_weighted(std::span<const double> weights) {
    std::size_t off = 0;
    for (auto* t : tensors_) {
      std::copy(t->data(), t->data() + t->size(), flat_.begin() + std::ptrdiff_t(off));
      off += t->size();
    }
    for (const auto& [lo, hi] : buckets_) {
      allreduce<T>(*comm_, std::span<T>(flat_.data() + lo, hi - lo), weights, o_.accumulate, &ws_);
    }
    off = 0;
    for (auto* t : tensors_) {
      std::copy(flat_.begin() + std::ptrdiff_t(off),
                flat_.begin() + std::ptrdiff_t(off + t->size()), t->data());
      off += t->size();
    }
    ++calls_;
  }

  std::size_t elements() const { return flat_.size(); }
  std::size_t buckets() const { return buckets_.size(); }
  std::uint64_t calls() const { return calls_; }

 private:
  Communicator* comm_;
  ReduceOptions o_;
  std::vector<Tensor<T>*> tensors_;
  std::vector<T> flat_;
  std::vector<std::pair<std::size_t, std::size_t>> buckets_;
  AllreduceWorkspace<T> ws_;
  std::uint64_t calls_ = 0;
};

}  // namespace pure16::dist
