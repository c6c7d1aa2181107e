// pure16/kernels/gemm.hpp — C = alpha*op(A)*op(B) + beta*C for T in {half, bfloat16, float,
// double}, row-major storage with leading dimensions.
//
// Contract:
//  * op(A) is M x K, op(B) is K x N, C is M x N; A is stored M x K (lda >= K) for
//    Trans::No and K x M (lda >= M) for Trans::Yes, likewise B; ldc >= N. A bad leading
//    dimension throws pure16::InvalidArgument.
//  * M, N or K may be 0. With K == 0 or alpha == 0, C = beta*C and A, B are not read.
//    beta == 0 overwrites C (NaN or garbage in C is ignored).
//  * Accumulate::Float (default): for half/bfloat16/float the products are summed in float
//    registers (FMA), and each element of C is rounded once to T:
//        C_ij = round_T( fma(beta, float(C_ij), alpha * s_ij) ),  s_ij = sum_k a_ik b_kj in
//    float (beta == 0: round_T(alpha * s_ij)). The summation order depends on the kernel and
//    the shape, never on the thread count.
//  * Accumulate::Native (strict 16-bit emulation, half/bfloat16): the dot product is kept in T
//    and every multiply-add is one fused operation rounded once to T, in order k = 0..K-1:
//        s_0 = 0,  s_k = round_T( s_{k-1} + a_ik * b_kj )   (exact sum, one rounding),
//    then C_ij as above with s_ij = s_K. The single rounding is computed exactly in float:
//    a*b is exact in float (11+11 or 8+8 significand bits), the sum is rounded to float with
//    round-to-odd (TwoSum error term), and round-to-odd to 24 bits followed by
//    nearest-even to 11 (or 8) bits equals one nearest-even rounding. Every ISA path
//    computes the same operations, so Native results are bitwise identical across ISAs.
//    (bfloat16 caveat: a product outside float's normal range, |a*b| < 2^-126 or overflow,
//    is not exact; results may then differ from the exact rounding by one ulp.)
//    For float and double, acc_t<T> == T, so Native is the same as Float.
//  * Kernels (chosen by opt.isa, default active_isa(); an unavailable ISA throws):
//    GotoBLAS-style blocking: op(B) panels and op(A) blocks are packed into float buffers
//    (converting half/bfloat16 -> float while packing), a register-blocked FMA micro-kernel
//    (AVX2: 6x16, AVX-512: 12x32, portable C++: 4x16) accumulates in float, and C is
//    rounded once on store. Avx512Bf16 + bfloat16 + Float accumulation packs pairs of k
//    and uses VDPBF16PS (products exact, sums in float; note the instruction treats
//    bfloat16/float subnormals as zero), except on the long-K path below, which widens to
//    float. double uses Eigen's GEMM.
//    Small batches (M <= 4, A not transposed, B transposed: x W^T with W [N, K]) and narrow
//    outputs (N <= 16, K <= 4096, same layout) take a GEMV path instead, which reads B straight
//    from T (no packing; once for M <= 4) and sums each dot
//    product in float (16 partial sums on AVX2+), rounding each element of C once.
//  * Threads: opt.threads (0 = OpenMP's default, only for problems large enough to gain);
//    the work is split into independent column (or row) ranges, or, for a long K and a small
//    C (Float accumulation), into K segments whose float sums are added in segment order
//    (gemm_k_segments). Inside an OpenMP parallel region the call runs on the calling thread
//    only (no oversubscription).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <exception>
#include <pure16/error.hpp>
#include <pure16/kernels/convert.hpp>
#include <pure16/kernels/cpu.hpp>
#include <pure16/scalar.hpp>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace pure16::kernels {

enum class Trans { No, Yes };

struct GemmOptions {
  Accumulate accumulate = Accumulate::Float;
  int threads = 0;         ///< 0: OpenMP default (1 inside a parallel region or without OpenMP)
  Isa isa = active_isa();  ///< kernel family; must be available on this CPU
};

namespace detail_gemm {

inline std::size_t round_up(std::size_t x, std::size_t m) {
  return (x + m - 1) / m * m;
}

// Per-thread scratch (grows, never shrinks).
struct Workspace {
  std::vector<float> a, b, c, tmp, parts;
  std::vector<std::uint32_t> ap, bp;
};
inline Workspace& workspace() {
  thread_local Workspace ws;
  return ws;
}
template <class V>
inline typename V::value_type* grow(V& v, std::size_t n) {
  if (v.size() < n) v.resize(n);
  return v.data();
}

// A strided view of an operand: element (r, k) of a sliver is base[r*rs + k*ks].
template <class T>
struct View {
  const T* base;
  std::size_t rs, ks;
  const T* at(std::size_t r, std::size_t k) const { return base + r * rs + k * ks; }
};

#if PURE16_X86
// 8 consecutive elements of T as floats (no NaN canonicalisation needed for packing).
template <class T>
PURE16_TARGET_AVX2 inline __m256 load8_avx2(const T* p) {
  if constexpr (std::is_same_v<T, half>) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
  } else if constexpr (std::is_same_v<T, bfloat16>) {
    const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
  } else {
    return _mm256_loadu_ps(p);
  }
}

// Stores the first cnt (1..8) lanes of x.
PURE16_TARGET_AVX2 inline void store_first_avx2(float* d, __m256 x, std::size_t cnt) {
  if (cnt == 8) {
    _mm256_storeu_ps(d, x);
  } else if (cnt >= 4) {
    _mm_storeu_ps(d, _mm256_castps256_ps128(x));
    alignas(32) float t[8];
    _mm256_store_ps(t, x);
    for (std::size_t i = 4; i < cnt; ++i) d[i] = t[i];
  } else {
    alignas(32) float t[8];
    _mm256_store_ps(t, x);
    for (std::size_t i = 0; i < cnt; ++i) d[i] = t[i];
  }
}

// In-register 8x8 transpose: r[i] lane j -> r[j] lane i.
PURE16_TARGET_AVX2 inline void transpose8_avx2(__m256 r[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
  const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
  const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
  const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
  const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
  r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
  r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
  r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
  r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
  r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
  r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
  r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// pack_sliver with AVX2 + F16C: rows contiguous -> vector convert per k; k contiguous ->
// convert 8 k of up to 8 rows and transpose in registers.
template <class T>
PURE16_TARGET_AVX2 void pack_sliver_avx2(View<T> v, std::size_t w, std::size_t kc, std::size_t R,
                                         float* dst) {
  if (v.rs == 1) {
    for (std::size_t k = 0; k < kc; ++k) {
      const T* src = v.at(0, k);
      float* d = dst + k * R;
      std::size_t r = 0;
      for (; r + 8 <= w; r += 8) _mm256_storeu_ps(d + r, load8_avx2(src + r));
      for (; r < w; ++r) d[r] = static_cast<float>(src[r]);
      for (; r < R; ++r) d[r] = 0.0f;
    }
    return;
  }
  for (std::size_t r0 = 0; r0 < R; r0 += 8) {
    const std::size_t cnt = std::min<std::size_t>(8, R - r0);
    const std::size_t valid = w > r0 ? std::min<std::size_t>(cnt, w - r0) : 0;
    std::size_t k = 0;
    for (; k + 8 <= kc; k += 8) {
      __m256 x[8];
      for (std::size_t i = 0; i < 8; ++i)
        x[i] = i < valid ? load8_avx2(v.at(r0 + i, k)) : _mm256_setzero_ps();
      transpose8_avx2(x);
      for (std::size_t kk = 0; kk < 8; ++kk) store_first_avx2(dst + (k + kk) * R + r0, x[kk], cnt);
    }
    for (; k < kc; ++k) {
      for (std::size_t i = 0; i < cnt; ++i)
        dst[k * R + r0 + i] = i < valid ? static_cast<float>(*v.at(r0 + i, k)) : 0.0f;
    }
  }
}

// A whole block with rows contiguous (v.rs == 1): bands of 4 k, each read sequentially
// across all slivers (a power-of-two leading dimension would otherwise make the column
// walk of one sliver thrash the cache sets).
template <class T>
PURE16_TARGET_AVX2 void pack_block_rows_avx2(View<T> v, std::size_t rows, std::size_t kc,
                                             std::size_t R, float* dst) {
  constexpr std::size_t band = 4;
  for (std::size_t k0 = 0; k0 < kc; k0 += band) {
    const std::size_t k1 = std::min(kc, k0 + band);
    for (std::size_t r0 = 0; r0 < rows; r0 += R) {
      const std::size_t w = std::min(R, rows - r0);
      float* ds = dst + r0 * kc;
      for (std::size_t k = k0; k < k1; ++k) {
        const T* src = v.at(r0, k);
        float* d = ds + k * R;
        std::size_t r = 0;
        for (; r + 8 <= w; r += 8) _mm256_storeu_ps(d + r, load8_avx2(src + r));
        for (; r < w; ++r) d[r] = static_cast<float>(src[r]);
        for (; r < R; ++r) d[r] = 0.0f;
      }
    }
  }
}
#endif

// Packs rows [0, w) x k [0, kc) of v into dst[k*R + r] as float, zero for r in [w, R).
template <class T>
inline void pack_sliver(View<T> v, std::size_t w, std::size_t kc, std::size_t R, float* dst,
                        float* tmp, Isa isa) {
#if PURE16_X86
  if (isa != Isa::Portable) return pack_sliver_avx2(v, w, kc, R, dst);
#endif
  if (v.rs == 1) {  // rows contiguous: one conversion per k
    for (std::size_t k = 0; k < kc; ++k) {
      float* d = dst + k * R;
      detail::to_float(v.at(0, k), d, w, isa);
      for (std::size_t r = w; r < R; ++r) d[r] = 0.0f;
    }
  } else {  // k contiguous: convert a row, then scatter
    for (std::size_t r = 0; r < w; ++r) {
      detail::to_float(v.at(r, 0), tmp, kc, isa);
      for (std::size_t k = 0; k < kc; ++k) dst[k * R + r] = tmp[k];
    }
    for (std::size_t r = w; r < R; ++r) {
      for (std::size_t k = 0; k < kc; ++k) dst[k * R + r] = 0.0f;
    }
  }
}

// Packs a block of `rows` rows (in slivers of R) x kc into dst (sliver after sliver).
template <class T>
inline void pack_block(View<T> v, std::size_t rows, std::size_t kc, std::size_t R, float* dst,
                       float* tmp, Isa isa) {
#if PURE16_X86
  if (isa != Isa::Portable && v.rs == 1) return pack_block_rows_avx2(v, rows, kc, R, dst);
#endif
  for (std::size_t r0 = 0; r0 < rows; r0 += R) {
    View<T> s{v.at(r0, 0), v.rs, v.ks};
    pack_sliver(s, std::min(R, rows - r0), kc, R, dst + r0 * kc, tmp, isa);
  }
}

// bfloat16 pairs of k: dst[p*R + r] = bits(v(r, 2p)) | bits(v(r, 2p+1)) << 16, zero padded.
inline void pack_block_bf16_pairs(View<bfloat16> v, std::size_t rows, std::size_t kc, std::size_t R,
                                  std::uint32_t* dst) {
  const std::size_t kp = (kc + 1) / 2;
  for (std::size_t r0 = 0; r0 < rows; r0 += R) {
    const std::size_t w = std::min(R, rows - r0);
    std::uint32_t* d = dst + r0 * kp;
    for (std::size_t p = 0; p < kp; ++p) {
      for (std::size_t r = 0; r < R; ++r) {
        std::uint32_t lo = 0, hi = 0;
        if (r < w) {
          lo = Eigen::numext::bit_cast<std::uint16_t>(*v.at(r0 + r, 2 * p));
          if (2 * p + 1 < kc) hi = Eigen::numext::bit_cast<std::uint16_t>(*v.at(r0 + r, 2 * p + 1));
        }
        d[p * R + r] = lo | (hi << 16);
      }
    }
  }
}

// ---- micro-kernels ---------------------------------------------------------------------
// All compute c[MR x NR] (row stride ldc) = (acc ? c : 0) + sum_k a[k*MR + i] * b[k*NR + j].

// Portable (plain C++; compilers vectorize it for the baseline SIMD).
inline constexpr std::size_t kPortMR = 4, kPortNR = 16;
inline void kernel_portable(std::size_t kc, const float* a, const float* b, float* c,
                            std::size_t ldc, bool acc) {
  float t[kPortMR][kPortNR];
  for (std::size_t i = 0; i < kPortMR; ++i)
    for (std::size_t j = 0; j < kPortNR; ++j) t[i][j] = acc ? c[i * ldc + j] : 0.0f;
  for (std::size_t k = 0; k < kc; ++k) {
    for (std::size_t i = 0; i < kPortMR; ++i) {
      const float ai = a[k * kPortMR + i];
      for (std::size_t j = 0; j < kPortNR; ++j) t[i][j] += ai * b[k * kPortNR + j];
    }
  }
  for (std::size_t i = 0; i < kPortMR; ++i)
    for (std::size_t j = 0; j < kPortNR; ++j) c[i * ldc + j] = t[i][j];
}

// One strict 16-bit multiply-add, s <- round_T(s + a*b) with a single rounding (see the
// header comment); the vector kernels do exactly these operations lane by lane.
template <class T>
inline float native_fma_step(float s, float a, float b) {
  const float p = a * b;  // exact for half/bfloat16 operands
  const float r = s + p;
  const float bp = r - s;
  const float ap = r - bp;
  const float e = (s - ap) + (p - bp);  // r + e == s + p exactly (TwoSum)
  std::uint32_t u;
  std::memcpy(&u, &r, 4);
  if (e != 0.0f) {  // inexact: round to odd (false for NaN/inf, which pass through)
    std::uint32_t ue;
    std::memcpy(&ue, &e, 4);
    if ((u ^ ue) >> 31) u -= 1;  // r is above the exact value in magnitude: truncate
    u |= 1u;
  }
  float ro;
  std::memcpy(&ro, &u, 4);
  return static_cast<float>(round_to<T>(ro));
}

template <class T>
inline void kernel_native_portable(std::size_t kc, const float* a, const float* b, float* c,
                                   std::size_t ldc, bool acc) {
  float t[kPortMR][kPortNR];
  for (std::size_t i = 0; i < kPortMR; ++i)
    for (std::size_t j = 0; j < kPortNR; ++j) t[i][j] = acc ? c[i * ldc + j] : 0.0f;
  for (std::size_t k = 0; k < kc; ++k) {
    for (std::size_t i = 0; i < kPortMR; ++i) {
      const float ai = a[k * kPortMR + i];
      for (std::size_t j = 0; j < kPortNR; ++j)
        t[i][j] = native_fma_step<T>(t[i][j], ai, b[k * kPortNR + j]);
    }
  }
  for (std::size_t i = 0; i < kPortMR; ++i)
    for (std::size_t j = 0; j < kPortNR; ++j) c[i * ldc + j] = t[i][j];
}

// out[j] = fma(beta, out[j], alpha*acc[j])  (beta == 0: alpha*acc[j]); out holds float(C).
inline void combine_portable(const float* acc, float* out, std::size_t n, float alpha, float beta) {
  if (beta == 0.0f) {
    for (std::size_t j = 0; j < n; ++j) out[j] = alpha * acc[j];
  } else {
    for (std::size_t j = 0; j < n; ++j) out[j] = std::fma(beta, out[j], alpha * acc[j]);
  }
}

#if PURE16_X86
inline constexpr std::size_t kAvx2MR = 6, kAvx2NR = 16;

PURE16_TARGET_AVX2 inline void kernel_avx2(std::size_t kc, const float* a, const float* b, float* c,
                                           std::size_t ldc, bool acc) {
  __m256 t[kAvx2MR][2];
#pragma GCC unroll 6
  for (std::size_t i = 0; i < kAvx2MR; ++i) {
    t[i][0] = acc ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
    t[i][1] = acc ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
  }
#pragma GCC unroll 2
  for (std::size_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (std::size_t i = 0; i < kAvx2MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      t[i][0] = _mm256_fmadd_ps(ai, b0, t[i][0]);
      t[i][1] = _mm256_fmadd_ps(ai, b1, t[i][1]);
    }
    a += kAvx2MR;
    b += kAvx2NR;
  }
#pragma GCC unroll 6
  for (std::size_t i = 0; i < kAvx2MR; ++i) {
    _mm256_storeu_ps(c + i * ldc, t[i][0]);
    _mm256_storeu_ps(c + i * ldc + 8, t[i][1]);
  }
}

// Vector form of native_fma_step (8 lanes).
template <class T>
PURE16_TARGET_AVX2 inline __m256 native_step_avx2(__m256 s, __m256 a, __m256 b) {
  const __m256 p = _mm256_mul_ps(a, b);
  const __m256 r = _mm256_add_ps(s, p);
  const __m256 bp = _mm256_sub_ps(r, s);
  const __m256 ap = _mm256_sub_ps(r, bp);
  const __m256 e = _mm256_add_ps(_mm256_sub_ps(s, ap), _mm256_sub_ps(p, bp));
  const __m256i inexact = _mm256_castps_si256(_mm256_cmp_ps(e, _mm256_setzero_ps(), _CMP_NEQ_OQ));
  const __m256i ur = _mm256_castps_si256(r);
  const __m256i opposite =
      _mm256_srai_epi32(_mm256_xor_si256(ur, _mm256_castps_si256(e)), 31);  // -1 or 0
  __m256i u = _mm256_add_epi32(ur, _mm256_and_si256(opposite, inexact));
  u = _mm256_or_si256(u, _mm256_and_si256(inexact, _mm256_set1_epi32(1)));
  const __m256 ro = _mm256_castsi256_ps(u);
  if constexpr (std::is_same_v<T, half>) {
    return _mm256_cvtph_ps(_mm256_cvtps_ph(ro, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  } else {
    return _mm256_castsi256_ps(_mm256_slli_epi32(detail::float_to_bf16_bits_avx2(ro), 16));
  }
}

template <class T>
PURE16_TARGET_AVX2 inline void kernel_native_avx2(std::size_t kc, const float* a, const float* b,
                                                  float* c, std::size_t ldc, bool acc) {
  __m256 t[kAvx2MR][2];
#pragma GCC unroll 6
  for (std::size_t i = 0; i < kAvx2MR; ++i) {
    t[i][0] = acc ? _mm256_loadu_ps(c + i * ldc) : _mm256_setzero_ps();
    t[i][1] = acc ? _mm256_loadu_ps(c + i * ldc + 8) : _mm256_setzero_ps();
  }
  for (std::size_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
#pragma GCC unroll 6
    for (std::size_t i = 0; i < kAvx2MR; ++i) {
      const __m256 ai = _mm256_broadcast_ss(a + i);
      t[i][0] = native_step_avx2<T>(t[i][0], ai, b0);
      t[i][1] = native_step_avx2<T>(t[i][1], ai, b1);
    }
    a += kAvx2MR;
    b += kAvx2NR;
  }
#pragma GCC unroll 6
  for (std::size_t i = 0; i < kAvx2MR; ++i) {
    _mm256_storeu_ps(c + i * ldc, t[i][0]);
    _mm256_storeu_ps(c + i * ldc + 8, t[i][1]);
  }
}

PURE16_TARGET_AVX2 inline void combine_avx2(const float* acc, float* out, std::size_t n,
                                            float alpha, float beta) {
  const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
  std::size_t j = 0;
  if (beta == 0.0f) {
    for (; j + 8 <= n; j += 8)
      _mm256_storeu_ps(out + j, _mm256_mul_ps(va, _mm256_loadu_ps(acc + j)));
  } else {
    for (; j + 8 <= n; j += 8) {
      _mm256_storeu_ps(out + j, _mm256_fmadd_ps(vb, _mm256_loadu_ps(out + j),
                                                _mm256_mul_ps(va, _mm256_loadu_ps(acc + j))));
    }
  }
  combine_portable(acc + j, out + j, n - j, alpha, beta);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
inline constexpr std::size_t kAvx512MR = 12, kAvx512NR = 32;

PURE16_TARGET_AVX512 inline void kernel_avx512(std::size_t kc, const float* a, const float* b,
                                               float* c, std::size_t ldc, bool acc) {
  __m512 t[kAvx512MR][2];
#pragma GCC unroll 12
  for (std::size_t i = 0; i < kAvx512MR; ++i) {
    t[i][0] = acc ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
    t[i][1] = acc ? _mm512_loadu_ps(c + i * ldc + 16) : _mm512_setzero_ps();
  }
  for (std::size_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16);
#pragma GCC unroll 12
    for (std::size_t i = 0; i < kAvx512MR; ++i) {
      const __m512 ai = _mm512_set1_ps(a[i]);
      t[i][0] = _mm512_fmadd_ps(ai, b0, t[i][0]);
      t[i][1] = _mm512_fmadd_ps(ai, b1, t[i][1]);
    }
    a += kAvx512MR;
    b += kAvx512NR;
  }
#pragma GCC unroll 12
  for (std::size_t i = 0; i < kAvx512MR; ++i) {
    _mm512_storeu_ps(c + i * ldc, t[i][0]);
    _mm512_storeu_ps(c + i * ldc + 16, t[i][1]);
  }
}

// bfloat16 pairs: a[p*MR + i], b[p*NR + j] hold (k = 2p, 2p+1) pairs; VDPBF16PS.
PURE16_TARGET_AVX512BF16 inline void kernel_bf16_avx512(std::size_t kp, const std::uint32_t* a,
                                                        const std::uint32_t* b, float* c,
                                                        std::size_t ldc, bool acc) {
  __m512 t[kAvx512MR][2];
#pragma GCC unroll 12
  for (std::size_t i = 0; i < kAvx512MR; ++i) {
    t[i][0] = acc ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
    t[i][1] = acc ? _mm512_loadu_ps(c + i * ldc + 16) : _mm512_setzero_ps();
  }
  for (std::size_t p = 0; p < kp; ++p) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + 16);
#pragma GCC unroll 12
    for (std::size_t i = 0; i < kAvx512MR; ++i) {
      const __m512bh ai = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[i]));
      t[i][0] = _mm512_dpbf16_ps(t[i][0], ai, b0);
      t[i][1] = _mm512_dpbf16_ps(t[i][1], ai, b1);
    }
    a += kAvx512MR;
    b += kAvx512NR;
  }
#pragma GCC unroll 12
  for (std::size_t i = 0; i < kAvx512MR; ++i) {
    _mm512_storeu_ps(c + i * ldc, t[i][0]);
    _mm512_storeu_ps(c + i * ldc + 16, t[i][1]);
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // PURE16_X86

inline void combine(const float* acc, float* out, std::size_t n, float alpha, float beta, Isa isa) {
#if PURE16_X86
  if (isa != Isa::Portable) return combine_avx2(acc, out, n, alpha, beta);
#endif
  (void)isa;
  combine_portable(acc, out, n, alpha, beta);
}

// C[m x n] = round_T(fma(beta, C, alpha*acc)) row by row; acc has row stride lda.
template <class T>
inline void store_block(const float* acc, std::size_t lda, T* C, std::size_t ldc, std::size_t m,
                        std::size_t n, float alpha, float beta, float* tmp, Isa isa) {
  for (std::size_t i = 0; i < m; ++i) {
    T* crow = C + i * ldc;
    if (beta != 0.0f) detail::to_float(crow, tmp, n, isa);
    combine(acc + i * lda, tmp, n, alpha, beta, isa);
    detail::from_float(tmp, crow, n, isa);
  }
}

// ---- kernel families -------------------------------------------------------------------
enum class Family { Portable, PortableNative, Avx2, Avx2Native, Avx512, Avx512Bf16 };

struct Shape {
  std::size_t mr, nr, mc, kc, nc;
  bool pairs;  // bfloat16 k-pairs (VDPBF16PS)
};

inline Shape shape_of(Family f) {
  switch (f) {
    case Family::Portable:
    case Family::PortableNative:
      return {kPortMR, kPortNR, 64, 256, 1024, false};
#if PURE16_X86
    case Family::Avx2:
    case Family::Avx2Native:
      return {kAvx2MR, kAvx2NR, 48, 256, 1024, false};
    case Family::Avx512:
      return {kAvx512MR, kAvx512NR, 48, 192, 1024, false};
    case Family::Avx512Bf16:
      return {kAvx512MR, kAvx512NR, 48, 384, 1024, true};
#else
    default:
      break;
#endif
  }
  return {kPortMR, kPortNR, 64, 256, 1024, false};
}

template <class T>
inline void run_kernel(Family f, std::size_t kc, const float* a, const float* b, float* c,
                       std::size_t ldc, bool acc) {
  switch (f) {
#if PURE16_X86
    case Family::Avx2:
      return kernel_avx2(kc, a, b, c, ldc, acc);
    case Family::Avx2Native:
      if constexpr (detail::is_16bit_v<T>) return kernel_native_avx2<T>(kc, a, b, c, ldc, acc);
      return kernel_avx2(kc, a, b, c, ldc, acc);
    case Family::Avx512:
      return kernel_avx512(kc, a, b, c, ldc, acc);
#endif
    case Family::PortableNative:
      if constexpr (detail::is_16bit_v<T>) {
        return kernel_native_portable<T>(kc, a, b, c, ldc, acc);
      }
      return kernel_portable(kc, a, b, c, ldc, acc);
    default:
      return kernel_portable(kc, a, b, c, ldc, acc);
  }
}

// Equal k-blocks (multiples of 8, at most s.kc) instead of full blocks and a thin remainder.
inline std::size_t k_block(const Shape& s, std::size_t K) {
  const std::size_t kblocks = (K + s.kc - 1) / s.kc;
  return std::min(s.kc, round_up((K + kblocks - 1) / kblocks, 8));
}

// Float sums of all of op(A) op(B) (M x N, K) into cacc (row stride ldacc >= round_up(N, nr),
// round_up(M, mr) rows), each kc-block of op(A) and op(B) packed once, k in order.
template <class T>
void full_c_sums(Family fam, Isa isa, Trans ta, Trans tb, std::size_t M, std::size_t N,
                 std::size_t K, const T* A, std::size_t lda, const T* B, std::size_t ldb,
                 float* cacc, std::size_t ldacc, std::size_t kcb) {
  const Shape s = shape_of(fam);
  const std::size_t kunit = s.pairs ? 2 : 1;
  const std::size_t np = round_up(N, s.nr), mc = std::min(s.mc, round_up(M, s.mr));
  const std::size_t ku_max = (std::min(kcb, round_up(K, kunit)) + kunit - 1) / kunit;
  Workspace& ws = workspace();
  float* tmp = grow(ws.tmp, std::max(K, np) + 16);
  float* bpack = nullptr;
  float* apack = nullptr;
  std::uint32_t* bpk = nullptr;
  std::uint32_t* apk = nullptr;
  if (s.pairs) {
    bpk = grow(ws.bp, ku_max * np);
    apk = grow(ws.ap, ku_max * mc);
  } else {
    bpack = grow(ws.b, ku_max * np);
    apack = grow(ws.a, ku_max * mc);
  }
  const std::size_t a_rs = ta == Trans::No ? lda : 1, a_ks = ta == Trans::No ? 1 : lda;
  const std::size_t b_rs = tb == Trans::No ? 1 : ldb, b_ks = tb == Trans::No ? ldb : 1;
  for (std::size_t pc = 0; pc < K; pc += kcb) {
    const std::size_t kc = std::min(kcb, K - pc);
    const std::size_t ku = (kc + kunit - 1) / kunit;
    bool pairs = false;
    if constexpr (std::is_same_v<T, bfloat16>) {
      if (s.pairs) {
        pack_block_bf16_pairs(View<T>{B + pc * b_ks, b_rs, b_ks}, N, kc, s.nr, bpk);
        pairs = true;
      }
    }
    if (!pairs) pack_block(View<T>{B + pc * b_ks, b_rs, b_ks}, N, kc, s.nr, bpack, tmp, isa);
    for (std::size_t ic = 0; ic < M; ic += mc) {
      const std::size_t mcur = std::min(mc, M - ic);
      const std::size_t mcp = round_up(mcur, s.mr);
      View<T> va{A + ic * a_rs + pc * a_ks, a_rs, a_ks};
      if constexpr (std::is_same_v<T, bfloat16>) {
        if (pairs) pack_block_bf16_pairs(va, mcur, kc, s.mr, apk);
      }
      if (!pairs) pack_block(va, mcur, kc, s.mr, apack, tmp, isa);
      const bool acc = pc != 0;
      for (std::size_t jr = 0; jr < np; jr += s.nr) {
        for (std::size_t ir = 0; ir < mcp; ir += s.mr) {
          float* ctile = cacc + (ic + ir) * ldacc + jr;
#if PURE16_X86
          if (pairs) {
            kernel_bf16_avx512(ku, apk + ir * ku, bpk + jr * ku, ctile, ldacc, acc);
            continue;
          }
#endif
          run_kernel<T>(fam, ku, apack + ir * ku, bpack + jr * ku, ctile, ldacc, acc);
        }
      }
    }
  }
}

// Serial GEMM for a small C and a long K (a convolution's weight gradient: C is O x C*k*k,
// K is batch x pixels). The blocked loop below walks all of K once per nc-column panel and
// packs op(A) again for every panel; here the float accumulator holds all of C, so each
// kc-block of op(A) and op(B) is packed exactly once. Each C element still sums its k in
// the same order into the same float accumulator, so the result is bit-identical.
template <class T>
void gemm_serial_full_c(Family fam, Isa isa, Trans ta, Trans tb, std::size_t M, std::size_t N,
                        std::size_t K, float alpha, const T* A, std::size_t lda, const T* B,
                        std::size_t ldb, float beta, T* C, std::size_t ldc, std::size_t kcb) {
  const Shape s = shape_of(fam);
  const std::size_t ldacc = round_up(N, s.nr) + 16;  // padded rows: see gemm_serial
  Workspace& ws = workspace();
  float* cacc = grow(ws.c, round_up(M, s.mr) * ldacc);
  full_c_sums<T>(fam, isa, ta, tb, M, N, K, A, lda, B, ldb, cacc, ldacc, kcb);
  float* tmp = grow(ws.tmp, std::max(K, round_up(N, s.nr)) + 16);
  store_block(cacc, ldacc, C, ldc, M, N, alpha, beta, tmp, isa);
}

// Serial blocked GEMM on one sub-problem (T in half, bfloat16, float).
// Loop order: jc (nc columns; the whole K x nc panel of op(B) is packed once) -> ic (mc
// rows) -> pc (kc; the mc x kc block of op(A) is packed) -> jr -> ir (micro-kernel into a
// float accumulator block mc x nc) -> after the last pc, C is updated and rounded once.
template <class T>
void gemm_serial(Family fam, Isa isa, Trans ta, Trans tb, std::size_t M, std::size_t N,
                 std::size_t K, float alpha, const T* A, std::size_t lda, const T* B,
                 std::size_t ldb, float beta, T* C, std::size_t ldc) {
  const Shape s = shape_of(fam);
  const std::size_t kunit = s.pairs ? 2 : 1;
  // Keep the packed K x nc panel of B within ~4 MiB.
  std::size_t nc = std::min<std::size_t>(
      s.nc, std::max<std::size_t>(s.nr, ((1u << 20) / std::max<std::size_t>(K, 1)) / s.nr * s.nr));
  nc = std::min(nc, round_up(N, s.nr));
  const std::size_t mc = std::min(s.mc, round_up(M, s.mr));
  const std::size_t kcb = k_block(s, K);
  const std::size_t kc_max = std::min(kcb, round_up(K, kunit));
  const std::size_t ku_max = (kc_max + kunit - 1) / kunit;
  const std::size_t k_units_total = [&] {
    std::size_t t = 0;
    for (std::size_t pc = 0; pc < K; pc += kcb) t += (std::min(kcb, K - pc) + kunit - 1) / kunit;
    return t;
  }();

  // More than one nc panel, and all of C fits a float accumulator of at most 1 MiB: pack
  // every block once instead (same sums, same order).
  if (nc < round_up(N, s.nr) && round_up(M, s.mr) * (round_up(N, s.nr) + 16) <= (1u << 18)) {
    return gemm_serial_full_c<T>(fam, isa, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                 kcb);
  }
  Workspace& ws = workspace();
  // accumulator rows padded by one cache line: a power-of-two row stride would map the rows
  // of a micro-tile onto the same cache sets
  const std::size_t ldacc = nc + 16;
  float* cacc = grow(ws.c, mc * ldacc);
  float* tmp = grow(ws.tmp, std::max(K, nc) + 16);
  float* bpack = nullptr;
  float* apack = nullptr;
  std::uint32_t* bpk = nullptr;
  std::uint32_t* apk = nullptr;
  if (s.pairs) {
    bpk = grow(ws.bp, k_units_total * nc);
    apk = grow(ws.ap, ku_max * mc);
  } else {
    bpack = grow(ws.b, k_units_total * nc);
    apack = grow(ws.a, ku_max * mc);
  }
  // op(A)(i, k) and op(B)(k, j) as slivers: A rows i, B "rows" j.
  const std::size_t a_rs = ta == Trans::No ? lda : 1, a_ks = ta == Trans::No ? 1 : lda;
  const std::size_t b_rs = tb == Trans::No ? 1 : ldb, b_ks = tb == Trans::No ? ldb : 1;

  for (std::size_t jc = 0; jc < N; jc += nc) {
    const std::size_t ncur = std::min(nc, N - jc);
    const std::size_t ncp = round_up(ncur, s.nr);
    // pack the K x ncur panel of op(B), pc block after pc block
    {
      std::size_t off = 0;
      for (std::size_t pc = 0; pc < K; pc += kcb) {
        const std::size_t kc = std::min(kcb, K - pc);
        const std::size_t ku = (kc + kunit - 1) / kunit;
        View<T> vb{B + jc * b_rs + pc * b_ks, b_rs, b_ks};
        if constexpr (std::is_same_v<T, bfloat16>) {
          if (s.pairs) {
            pack_block_bf16_pairs(vb, ncur, kc, s.nr, bpk + off);
            off += ku * ncp;
            continue;
          }
        }
        pack_block(vb, ncur, kc, s.nr, bpack + off, tmp, isa);
        off += ku * ncp;
      }
    }
    for (std::size_t ic = 0; ic < M; ic += mc) {
      const std::size_t mcur = std::min(mc, M - ic);
      const std::size_t mcp = round_up(mcur, s.mr);
      std::size_t boff = 0;
      for (std::size_t pc = 0; pc < K; pc += kcb) {
        const std::size_t kc = std::min(kcb, K - pc);
        const std::size_t ku = (kc + kunit - 1) / kunit;
        View<T> va{A + ic * a_rs + pc * a_ks, a_rs, a_ks};
        bool packed_pairs = false;
        if constexpr (std::is_same_v<T, bfloat16>) {
          if (s.pairs) {
            pack_block_bf16_pairs(va, mcur, kc, s.mr, apk);
            packed_pairs = true;
          }
        }
        if (!packed_pairs) pack_block(va, mcur, kc, s.mr, apack, tmp, isa);
        const bool acc = pc != 0;
        for (std::size_t jr = 0; jr < ncp; jr += s.nr) {
          for (std::size_t ir = 0; ir < mcp; ir += s.mr) {
            float* ctile = cacc + ir * ldacc + jr;
#if PURE16_X86
            if (packed_pairs) {
              kernel_bf16_avx512(ku, apk + ir * ku, bpk + boff + jr * ku, ctile, ldacc, acc);
              continue;
            }
#endif
            run_kernel<T>(fam, ku, apack + ir * ku, bpack + boff + jr * ku, ctile, ldacc, acc);
          }
        }
        boff += ku * ncp;
      }
      store_block(cacc, ldacc, C + ic * ldc + jc, ldc, mcur, ncur, alpha, beta, tmp, isa);
    }
  }
}

// ---- small-batch path: C[M x N] = op(A) * B^T with M <= kGemvMaxRows -------------------
// Batch-1..4 inference (x W^T with W [N, K] row-major) is bound by reading W: packing W into
// float panels would write (and then read) twice the bytes of a 16-bit W. This path reads
// each row of W once, straight from T (F16C / bfloat16 shifts), against the M rows of A
// converted to float once, with FMA in float registers and one rounding per output.
inline constexpr std::size_t kGemvMaxRows = 4;

#if PURE16_X86
PURE16_TARGET_AVX2 inline float hsum_avx2(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// out[i][j] (i < M, j < 4) = sum_k a[i][k] * b_j[k] for the 4 rows b_j of B at `b` (row stride
// ldb); a: M float rows of length K, stride lda_f.
template <class T>
PURE16_TARGET_AVX2 inline void gemv4_avx2(std::size_t M, std::size_t K, const float* a,
                                          std::size_t lda_f, const T* b, std::size_t ldb,
                                          std::size_t ncols, float out[kGemvMaxRows][4],
                                          const T* next) {
  const T* bj[4];
  for (std::size_t j = 0; j < 4; ++j) bj[j] = b + std::min(j, ncols - 1) * ldb;
  const std::size_t K8 = K / 8 * 8, K16 = K / 16 * 16;
  for (std::size_t i = 0; i < M; ++i) {
    const float* ai = a + i * lda_f;
    // two independent sums per column: 8 FMA chains hide the FMA latency
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    __m256 t0 = _mm256_setzero_ps(), t1 = _mm256_setzero_ps();
    __m256 t2 = _mm256_setzero_ps(), t3 = _mm256_setzero_ps();
    std::size_t k = 0;
    for (; k < K16; k += 16) {
      if (i == 0 && next) {  // the next 4 rows of B, one cache line per row and step
        for (std::size_t j = 0; j < 4; ++j)
          _mm_prefetch(reinterpret_cast<const char*>(next + j * ldb + k), _MM_HINT_T0);
      }
      const __m256 x = _mm256_loadu_ps(ai + k), y = _mm256_loadu_ps(ai + k + 8);
      s0 = _mm256_fmadd_ps(x, load8_avx2(bj[0] + k), s0);
      s1 = _mm256_fmadd_ps(x, load8_avx2(bj[1] + k), s1);
      s2 = _mm256_fmadd_ps(x, load8_avx2(bj[2] + k), s2);
      s3 = _mm256_fmadd_ps(x, load8_avx2(bj[3] + k), s3);
      t0 = _mm256_fmadd_ps(y, load8_avx2(bj[0] + k + 8), t0);
      t1 = _mm256_fmadd_ps(y, load8_avx2(bj[1] + k + 8), t1);
      t2 = _mm256_fmadd_ps(y, load8_avx2(bj[2] + k + 8), t2);
      t3 = _mm256_fmadd_ps(y, load8_avx2(bj[3] + k + 8), t3);
    }
    for (; k < K8; k += 8) {
      const __m256 x = _mm256_loadu_ps(ai + k);
      s0 = _mm256_fmadd_ps(x, load8_avx2(bj[0] + k), s0);
      s1 = _mm256_fmadd_ps(x, load8_avx2(bj[1] + k), s1);
      s2 = _mm256_fmadd_ps(x, load8_avx2(bj[2] + k), s2);
      s3 = _mm256_fmadd_ps(x, load8_avx2(bj[3] + k), s3);
    }
    float r[4] = {hsum_avx2(_mm256_add_ps(s0, t0)), hsum_avx2(_mm256_add_ps(s1, t1)),
                  hsum_avx2(_mm256_add_ps(s2, t2)), hsum_avx2(_mm256_add_ps(s3, t3))};
    for (std::size_t k = K8; k < K; ++k)
      for (std::size_t j = 0; j < 4; ++j) r[j] += ai[k] * static_cast<float>(bj[j][k]);
    for (std::size_t j = 0; j < 4; ++j) out[i][j] = r[j];
  }
}
#endif

// Columns [j0, j1) of the small-batch product; a: M float rows (stride lda_f).
template <class T>
void gemv_columns(Isa isa, std::size_t M, std::size_t j0, std::size_t j1, std::size_t K,
                  float alpha, const float* a, std::size_t lda_f, const T* B, std::size_t ldb,
                  float beta, T* C, std::size_t ldc) {
  for (std::size_t j = j0; j < j1; j += 4) {
    const std::size_t nj = std::min<std::size_t>(4, j1 - j);
    float out[kGemvMaxRows][4];
#if PURE16_X86
    if (isa != Isa::Portable) {
      // the next 4 rows (nullptr after the last group) are prefetched during this one: a row
      // of a 16-bit W is only a few KiB, too short for the hardware prefetcher to ramp up
      gemv4_avx2<T>(M, K, a, lda_f, B + j * ldb, ldb, nj, out,
                    j + 8 <= j1 ? B + (j + 4) * ldb : nullptr);
    } else
#endif
    {
      (void)isa;
      for (std::size_t i = 0; i < M; ++i)
        for (std::size_t jj = 0; jj < 4; ++jj) {
          const T* b = B + (j + std::min(jj, nj - 1)) * ldb;
          float acc = 0.0f;
          for (std::size_t k = 0; k < K; ++k) acc += a[i * lda_f + k] * static_cast<float>(b[k]);
          out[i][jj] = acc;
        }
    }
    for (std::size_t i = 0; i < M; ++i)
      for (std::size_t jj = 0; jj < nj; ++jj) {
        T& c = C[i * ldc + j + jj];
        const float v = beta == 0.0f ? alpha * out[i][jj]
                                     : std::fma(beta, static_cast<float>(c), alpha * out[i][jj]);
        c = round_to<T>(v);
      }
  }
}

// C = alpha * A B^T + beta C for A [M, K] (Trans::No), B [N, K], M <= kGemvMaxRows or
// N <= kGemvMaxCols: A converted to float once, then groups of 4 rows against groups of 4
// rows of B. A narrow N (a classifier's 10 outputs) would fill a third of the blocked
// kernel's 32-wide register tile; here B (N x K, at most kGemvMaxK) stays in cache while
// the row groups of A pass. Threads take row groups (or column groups when there are more).
inline constexpr std::size_t kGemvMaxCols = 16, kGemvMaxK = 4096;

template <class T>
void gemv_small_batch(const GemmOptions& opt, std::size_t M, std::size_t N, std::size_t K,
                      float alpha, const T* A, std::size_t lda, const T* B, std::size_t ldb,
                      float beta, T* C, std::size_t ldc, int threads) {
  Workspace& ws = workspace();
  const std::size_t lda_f = round_up(K, 16);
  float* a = grow(ws.a, M * lda_f);
  for (std::size_t i = 0; i < M; ++i) detail::to_float(A + i * lda, a + i * lda_f, K, opt.isa);
  // rows [i0, i1) (i0 a multiple of kGemvMaxRows) times columns [j0, j1)
  const auto part = [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
    for (std::size_t i = i0; i < i1; i += kGemvMaxRows)
      gemv_columns<T>(opt.isa, std::min(kGemvMaxRows, i1 - i), j0, j1, K, alpha, a + i * lda_f,
                      lda_f, B, ldb, beta, C + i * ldc, ldc);
  };
  const std::size_t row_groups = (M + kGemvMaxRows - 1) / kGemvMaxRows, blocks = (N + 3) / 4;
  const bool split_rows = row_groups >= blocks;
  threads = static_cast<int>(
      std::min<std::size_t>(std::max(threads, 1), split_rows ? row_groups : blocks));
  if (threads <= 1) {
    part(0, M, 0, N);
    return;
  }
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
  {
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t nthr = static_cast<std::size_t>(omp_get_num_threads());
    if (split_rows) {
      const std::size_t lo = std::min(M, row_groups * t / nthr * kGemvMaxRows);
      const std::size_t hi = std::min(M, row_groups * (t + 1) / nthr * kGemvMaxRows);
      if (lo < hi) part(lo, hi, 0, N);
    } else {
      const std::size_t lo = std::min(N, blocks * t / nthr * 4);
      const std::size_t hi = std::min(N, blocks * (t + 1) / nthr * 4);
      if (lo < hi) part(0, M, lo, hi);
    }
  }
#endif
}

// ---- long-K path: C small, K long (a convolution's weight gradient) ----------------------
// Splitting C's rows or columns over threads would leave each thread packing all of the
// shared operand over the whole K (and C has few tiles to share out: 3 for 32 x 27). Here K
// is cut into segments of about kSegmentK: each segment's float sums (full_c_sums) go to a
// buffer of their own, the threads take whole segments, and the buffers are added in
// segment order before the single rounding to T. The segments depend on the shape only, so
// the result is the same for any thread count. Float accumulation only: Native rounds each
// step in k order.
inline constexpr std::size_t kSegmentK = 2048, kMaxSegments = 64;

inline bool long_k(const Shape& s, std::size_t M, std::size_t N, std::size_t K) {
  return K >= 2 * kSegmentK && K >= 4 * std::max(M, N) &&
         round_up(M, s.mr) * (round_up(N, s.nr) + 16) <= (1u << 16);
}

template <class T>
void gemm_k_segments(Family fam, Isa isa, Trans ta, Trans tb, std::size_t M, std::size_t N,
                     std::size_t K, float alpha, const T* A, std::size_t lda, const T* B,
                     std::size_t ldb, float beta, T* C, std::size_t ldc, int threads) {
  const Shape s = shape_of(fam);
  const std::size_t segs = std::min(kMaxSegments, K / kSegmentK);
  const std::size_t ldacc = round_up(N, s.nr) + 16, part = round_up(M, s.mr) * ldacc;
  Workspace& ws = workspace();
  float* parts = grow(ws.parts, segs * part);
  const std::size_t a_ks = ta == Trans::No ? 1 : lda, b_ks = tb == Trans::No ? ldb : 1;
  // segment g: k in [bound(g), bound(g + 1)), boundaries multiples of 16 (bfloat16 pairs)
  const auto bound = [&](std::size_t g) { return g == segs ? K : K * g / segs / 16 * 16; };
  const auto run = [&](std::size_t g0, std::size_t g1) {
    for (std::size_t g = g0; g < g1; ++g) {
      const std::size_t lo = bound(g), kg = bound(g + 1) - lo;
      full_c_sums<T>(fam, isa, ta, tb, M, N, kg, A + lo * a_ks, lda, B + lo * b_ks, ldb,
                     parts + g * part, ldacc, k_block(s, kg));
    }
  };
  threads = static_cast<int>(std::min<std::size_t>(std::max(threads, 1), segs));
  if (threads <= 1) {
    run(0, segs);
  } else {
    std::exception_ptr error;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    {
      const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
      const std::size_t nthr = static_cast<std::size_t>(omp_get_num_threads());
      try {
        run(segs * t / nthr, segs * (t + 1) / nthr);
      } catch (...) {
#pragma omp critical(pure16_gemm_error)
        error = std::current_exception();
      }
    }
#endif
    if (error) std::rethrow_exception(error);
  }
  for (std::size_t g = 1; g < segs; ++g) {  // in segment order, whatever the threads
    const float* pg = parts + g * part;
    for (std::size_t i = 0; i < M; ++i)
      for (std::size_t j = 0; j < N; ++j) parts[i * ldacc + j] += pg[i * ldacc + j];
  }
  float* tmp = grow(ws.tmp, round_up(N, s.nr) + 16);
  store_block(parts, ldacc, C, ldc, M, N, alpha, beta, tmp, isa);
}

inline Family family_for(Isa isa, bool native, bool is_bf16) {
  if (native) return isa == Isa::Portable ? Family::PortableNative : Family::Avx2Native;
  switch (isa) {
    case Isa::Portable:
      return Family::Portable;
    case Isa::Avx2:
      return Family::Avx2;
    case Isa::Avx512:
      return Family::Avx512;
    case Isa::Avx512Bf16:
      return is_bf16 ? Family::Avx512Bf16 : Family::Avx512;
  }
  return Family::Portable;
}

inline int thread_count(int requested, std::size_t M, std::size_t N, std::size_t K) {
#ifdef _OPENMP
  if (omp_in_parallel()) return 1;
  if (requested > 0) return requested;
  // auto: only when there is enough work per thread to pay for the fork/join (a few us);
  // 2^20 multiply-adds take about 50 us on one core. (A 9.6e6 threshold left LeNet's first
  // convolution, 6 x 36864 x 25, on one thread in both its forward and weight-gradient GEMMs.)
  if (static_cast<double>(M) * static_cast<double>(N) * static_cast<double>(K) < 1048576.0)
    return 1;
  return std::max(1, omp_get_max_threads());
#else
  (void)requested, (void)M, (void)N, (void)K;
  return 1;
#endif
}

template <class T>
void gemm_float_family(const GemmOptions& opt, Trans ta, Trans tb, std::size_t M, std::size_t N,
                       std::size_t K, float alpha, const T* A, std::size_t lda, const T* B,
                       std::size_t ldb, float beta, T* C, std::size_t ldc) {
  const bool native = opt.accumulate == Accumulate::Native && detail::is_16bit_v<T>;
  if ((M <= kGemvMaxRows || (N <= kGemvMaxCols && K <= kGemvMaxK)) && ta == Trans::No &&
      tb == Trans::Yes && !native) {
    gemv_small_batch<T>(opt, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                        thread_count(opt.threads, 16 * M, N, K));
    return;
  }
  const Family fam = family_for(opt.isa, native, std::is_same_v<T, bfloat16>);
  const Shape s = shape_of(fam);
  if (!native && long_k(s, M, N, K)) {
    // bfloat16 k-pairs (VDPBF16PS) pay a pairing pass over both operands that a C this small
    // (few products per packed element) does not repay: there the float kernel (exact
    // bfloat16 -> float widening, FMA) runs faster
    const Family f = fam == Family::Avx512Bf16 ? Family::Avx512 : fam;
    gemm_k_segments<T>(f, opt.isa, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                       thread_count(opt.threads, M, N, K));
    return;
  }
  const std::size_t mt = (M + s.mr - 1) / s.mr, nt = (N + s.nr - 1) / s.nr;
  const bool split_n = nt >= mt;
  int threads = thread_count(opt.threads, M, N, K);
  threads = static_cast<int>(std::min<std::size_t>(threads, split_n ? nt : mt));
  if (threads <= 1) {
    gemm_serial<T>(fam, opt.isa, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const std::size_t tiles = split_n ? nt : mt;
  const std::size_t unit = split_n ? s.nr : s.mr;
  std::exception_ptr error;
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
  {
    const std::size_t t = static_cast<std::size_t>(omp_get_thread_num());
    const std::size_t nthr = static_cast<std::size_t>(omp_get_num_threads());
    const std::size_t t0 = tiles * t / nthr, t1 = tiles * (t + 1) / nthr;
    const std::size_t total = split_n ? N : M;
    const std::size_t lo = std::min(t0 * unit, total), hi = std::min(t1 * unit, total);
    if (lo < hi) {
      try {
        if (split_n) {
          const T* Bs = B + (tb == Trans::No ? lo : lo * ldb);
          gemm_serial<T>(fam, opt.isa, ta, tb, M, hi - lo, K, alpha, A, lda, Bs, ldb, beta, C + lo,
                         ldc);
        } else {
          const T* As = A + (ta == Trans::No ? lo * lda : lo);
          gemm_serial<T>(fam, opt.isa, ta, tb, hi - lo, N, K, alpha, As, lda, B, ldb, beta,
                         C + lo * ldc, ldc);
        }
      } catch (...) {
#pragma omp critical(pure16_gemm_error)
        error = std::current_exception();
      }
    }
  }
#endif
  if (error) std::rethrow_exception(error);
}

inline void check_ld(const char* name, std::size_t ld, std::size_t rows, std::size_t cols) {
  if (rows > 0 && ld < cols) {
    throw pure16::InvalidArgument("pure16::kernels::gemm: leading dimension " + std::string(name) +
                                  "=" + std::to_string(ld) + " is smaller than the " +
                                  std::to_string(cols) + " columns it stores");
  }
}

}  // namespace detail_gemm

template <Scalar T>
void gemm(Trans ta, Trans tb, std::size_t M, std::size_t N, std::size_t K, acc_t<T> alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, acc_t<T> beta, T* C,
          std::size_t ldc, const GemmOptions& opt = {}) {
  using Acc = acc_t<T>;
  require_isa(opt.isa, "pure16::kernels::gemm");
  detail_gemm::check_ld("lda", lda, ta == Trans::No ? M : K, ta == Trans::No ? K : M);
  detail_gemm::check_ld("ldb", ldb, tb == Trans::No ? K : N, tb == Trans::No ? N : K);
  detail_gemm::check_ld("ldc", ldc, M, N);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == Acc(0)) {  // C = beta*C, A and B not read
    for (std::size_t i = 0; i < M; ++i) {
      for (std::size_t j = 0; j < N; ++j) {
        T& c = C[i * ldc + j];
        c = beta == Acc(0) ? T(0) : round_to<T>(beta * static_cast<Acc>(c));
      }
    }
    return;
  }
  if constexpr (std::is_same_v<T, double>) {
    using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using CMap = Eigen::Map<const Mat, 0, Eigen::OuterStride<>>;
    Eigen::Map<Mat, 0, Eigen::OuterStride<>> c(C, M, N, Eigen::OuterStride<>(ldc));
    const std::size_t ar = ta == Trans::No ? M : K, ac = ta == Trans::No ? K : M;
    const std::size_t br = tb == Trans::No ? K : N, bc = tb == Trans::No ? N : K;
    CMap a(A, ar, ac, Eigen::OuterStride<>(lda));
    CMap b(B, br, bc, Eigen::OuterStride<>(ldb));
    if (beta == 0.0) {
      c.setZero();
    } else if (beta != 1.0) {
      c *= beta;
    }
    if (ta == Trans::No && tb == Trans::No) c.noalias() += alpha * a * b;
    if (ta == Trans::No && tb == Trans::Yes) c.noalias() += alpha * a * b.transpose();
    if (ta == Trans::Yes && tb == Trans::No) c.noalias() += alpha * a.transpose() * b;
    if (ta == Trans::Yes && tb == Trans::Yes) c.noalias() += alpha * a.transpose() * b.transpose();
  } else {
    detail_gemm::gemm_float_family<T>(opt, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

}  // namespace pure16::kernels
