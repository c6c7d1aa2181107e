// pure16/kernels/gemm.hpp — C = alpha*op(A)*op(B) + beta*C for T in {half, bfloat16, float,
// double}, row-major storage with leading dimensions.
//
// Contract:
//  * op(A) is M x K, op(B) is K x N, C is M x N; A is stored M x K (lda >= K) for
//    Trans::No and K x M (lda >= M) for Trans::Yes, likewise B; ldc >= N.
//  * M, N or K may be 0. With K == 0, C = beta*C. beta == 0 overwrites C (NaN in C ignored).
//  * Accumulate::Float (default): products summed in acc_t<T>, one rounding to T per
//    element of C. Accumulate::Native: every multiply-add is rounded to T (strict 16-bit).
// (Reference implementation; packed SIMD kernels replace its body per instruction set.)
#pragma once

#include <cstddef>
#include <pure16/scalar.hpp>

namespace pure16::kernels {

enum class Trans { No, Yes };

struct GemmOptions {
  Accumulate accumulate = Accumulate::Float;
};

template <Scalar T>
void gemm(Trans ta, Trans tb, std::size_t M, std::size_t N, std::size_t K, acc_t<T> alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, acc_t<T> beta, T* C,
          std::size_t ldc, const GemmOptions& opt = {}) {
  using Acc = acc_t<T>;
  for (std::size_t i = 0; i < M; ++i) {
    for (std::size_t j = 0; j < N; ++j) {
      Acc s = 0;
      T sn = T(0);
      for (std::size_t k = 0; k < K; ++k) {
        const T a = ta == Trans::No ? A[i * lda + k] : A[k * lda + i];
        const T b = tb == Trans::No ? B[k * ldb + j] : B[j * ldb + k];
        if (opt.accumulate == Accumulate::Float) {
          s += static_cast<Acc>(a) * static_cast<Acc>(b);
        } else {
          sn = round_to<T>(static_cast<Acc>(sn) + static_cast<Acc>(a) * static_cast<Acc>(b));
        }
      }
      const Acc dot = opt.accumulate == Accumulate::Float ? s : static_cast<Acc>(sn);
      const Acc c = beta == Acc(0) ? Acc(0) : beta * static_cast<Acc>(C[i * ldc + j]);
      C[i * ldc + j] = round_to<T>(alpha * dot + c);
    }
  }
}

}  // namespace pure16::kernels
