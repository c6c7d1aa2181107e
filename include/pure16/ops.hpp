// pure16/ops.hpp — small building blocks shared by the layers, losses and optimizers:
// loading T into the accumulator type, rounding back once, and reductions under the
// Accumulate policy.
//
// Contract:
//  * load(x) widens a T to acc_t<T> exactly; store<T>(a) rounds an acc_t<T> to T once
//    (nearest-even).
//  * Reducer<T> sums values under a policy: Accumulate::Float keeps the running sum in
//    acc_t<T>; Accumulate::Native rounds the running sum to T after every addition (a
//    16-bit-only FPU). Each addend is computed in acc_t<T> from T operands by the caller.
//  * MeanReducer<T> computes a mean under a policy: Float sums in acc_t<T> and divides once;
//    Native keeps a running mean m_k = m_{k-1} + (v_k - m_{k-1}) / k rounded to T at every
//    step, so the accumulator stays within the range of the values and never overflows
//    (a plain running sum in T would overflow after a few dozen values near 60000).
//  * column_sums / row_sums reduce row-major matrices under the policy.
//  * widen / narrow convert blocks between T and acc_t<T> with kernels::convert (SIMD per
//    instruction set, bit-identical to load/store element by element); element-wise loops
//    work on blocks of kChunk values widened into acc_t<T> buffers.
// Layer code uses only these helpers and never branches on the scalar type.
#pragma once

#include <algorithm>
#include <cstddef>
#include <pure16/kernels/convert.hpp>
#include <pure16/scalar.hpp>
#include <vector>

namespace pure16 {

/// Widen a T to its accumulator type (exact).
template <Scalar T>
inline acc_t<T> load(T x) {
  return static_cast<acc_t<T>>(x);
}

/// Round an accumulator value to T once (nearest-even).
template <Scalar T>
inline T store(acc_t<T> x) {
  return round_to<T>(x);
}

/// Round a value held in acc_t<T> to the nearest T and widen it back: what storing the
/// value in T and loading it again gives.
template <Scalar T>
inline acc_t<T> through(acc_t<T> x) {
  return load<T>(store<T>(x));
}

/// Block size of the element-wise loops (values widened to acc_t<T> at a time).
inline constexpr std::size_t kChunk = 256;

/// dst[i] = load(src[i]) for i < n, in bulk.
template <Scalar T>
inline void widen(const T* src, acc_t<T>* dst, std::size_t n) {
  kernels::convert(src, dst, n);
}

/// dst[i] = store<T>(src[i]) for i < n, in bulk (nearest-even).
template <Scalar T>
inline void narrow(const acc_t<T>* src, T* dst, std::size_t n) {
  kernels::convert(src, dst, n);
}

/// A sum under the Accumulate policy (see the header comment).
template <Scalar T>
class Reducer {
 public:
  using Acc = acc_t<T>;
  explicit Reducer(Accumulate a) : native_(a == Accumulate::Native) {}
  void add(Acc v) {
    s_ += v;
    if (native_) s_ = through<T>(s_);
  }
  Acc value() const { return s_; }

 private:
  bool native_;
  Acc s_ = 0;
};

/// A mean under the Accumulate policy (see the header comment).
template <Scalar T>
class MeanReducer {
 public:
  using Acc = acc_t<T>;
  explicit MeanReducer(Accumulate a) : native_(a == Accumulate::Native) {}
  void add(Acc v) {
    ++n_;
    if (native_) {
      m_ = through<T>(m_ + (v - m_) / static_cast<Acc>(n_));
    } else {
      m_ += v;
    }
  }
  Acc value() const {
    if (n_ == 0) return 0;
    return native_ ? m_ : m_ / static_cast<Acc>(n_);
  }

 private:
  bool native_;
  std::size_t n_ = 0;
  Acc m_ = 0;
};

/// out[j] = sum_i a[i * cols + j] for a row-major rows x cols matrix, under the policy,
/// each sum rounded once to T.
template <Scalar T>
void column_sums(const T* a, std::size_t rows, std::size_t cols, T* out, Accumulate acc) {
  using Acc = acc_t<T>;
  std::vector<Acc> s(cols, Acc(0)), row(cols);
  const bool native = acc == Accumulate::Native;
  for (std::size_t i = 0; i < rows; ++i) {
    widen(a + i * cols, row.data(), cols);
    for (std::size_t j = 0; j < cols; ++j) s[j] += row[j];
    if (native)
      for (std::size_t j = 0; j < cols; ++j) s[j] = through<T>(s[j]);
  }
  narrow(s.data(), out, cols);
}

/// out[i] = sum_j a[i * cols + j] (row sums) under the policy, each rounded once to T.
template <Scalar T>
void row_sums(const T* a, std::size_t rows, std::size_t cols, T* out, Accumulate acc) {
  using Acc = acc_t<T>;
  Acc buf[kChunk];
  for (std::size_t i = 0; i < rows; ++i) {
    Reducer<T> r(acc);
    for (std::size_t j0 = 0; j0 < cols; j0 += kChunk) {
      const std::size_t c = std::min(kChunk, cols - j0);
      widen(a + i * cols + j0, buf, c);
      for (std::size_t j = 0; j < c; ++j) r.add(buf[j]);
    }
    out[i] = store<T>(r.value());
  }
}

}  // namespace pure16
