// pure16/kernels/convert.hpp — bulk conversion between the scalar types.
//
// Contract: convert(src, dst, n[, isa]) writes dst[i] = round_to<To>(src[i]) for i < n, i.e.
// exactly what Eigen's scalar conversion gives, bit for bit, on every instruction-set path:
//  * widening (half/bfloat16 -> float/double, float -> double) is exact; NaN payloads and the
//    quiet bit are kept as Eigen keeps them (half: payload shifted, signalling stays
//    signalling in Eigen's software conversion; bfloat16: plain 16-bit shift);
//  * narrowing rounds to nearest, ties to even, with subnormal results and overflow to
//    infinity; a NaN becomes Eigen's NaN: for half the canonical quiet NaN 0x7E00 with the
//    sign kept (or, if the including code is compiled with -mf16c, the hardware result, as
//    Eigen then uses F16C itself), for bfloat16 0x7FC0 / 0xFFC0 (sign kept, payload dropped);
//  * double -> half/bfloat16 goes through float, as Eigen's conversion does.
// The AVX2 path uses F16C (VCVTPH2PS / VCVTPS2PH with round-to-nearest-even) for half and
// integer arithmetic for bfloat16; the AVX-512 path the same at 16 lanes. AVX512_BF16's
// VCVTNEPS2BF16 is NOT used: it flushes subnormal inputs to zero and keeps NaN payloads, which
// differs from Eigen. Lanes holding NaN fall back to Eigen's scalar conversion.
// src and dst must not overlap. Throws pure16::InvalidArgument if `isa` is not available.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <pure16/error.hpp>
#include <pure16/kernels/cpu.hpp>
#include <pure16/scalar.hpp>
#include <type_traits>

namespace pure16::kernels {

namespace detail {

template <class T>
inline constexpr bool is_16bit_v = std::is_same_v<T, half> || std::is_same_v<T, bfloat16>;

// ---- portable: Eigen's scalar conversion ---------------------------------------------
template <class T>
inline void to_float_portable(const T* src, float* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
}
template <class T>
inline void from_float_portable(const float* src, T* dst, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = round_to<T>(src[i]);
}

#if PURE16_X86
// ---- AVX2 + F16C ----------------------------------------------------------------------
PURE16_TARGET_AVX2 inline void half_to_float_avx2(const half* src, float* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 f = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_ps(dst + i, f);
    if (int m = _mm256_movemask_ps(_mm256_cmp_ps(f, f, _CMP_UNORD_Q)); m != 0) {
      for (int l = 0; l < 8; ++l) {
        if ((m >> l) & 1) dst[i + l] = static_cast<float>(src[i + l]);  // Eigen's NaN bits
      }
    }
  }
  to_float_portable(src + i, dst + i, n - i);
}

PURE16_TARGET_AVX2 inline void float_to_half_avx2(const float* src, half* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 f = _mm256_loadu_ps(src + i);
    const __m128i h = _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
    if (int m = _mm256_movemask_ps(_mm256_cmp_ps(f, f, _CMP_UNORD_Q)); m != 0) {
      for (int l = 0; l < 8; ++l) {
        if ((m >> l) & 1) dst[i + l] = round_to<half>(src[i + l]);
      }
    }
  }
  from_float_portable(src + i, dst + i, n - i);
}

PURE16_TARGET_AVX2 inline void bf16_to_float_avx2(const bfloat16* src, float* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i w =
        _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  to_float_portable(src + i, dst + i, n - i);
}

// 8 floats -> 8 bfloat16 bit patterns (as the low 16 bits of 32-bit lanes), Eigen's rounding.
PURE16_TARGET_AVX2 inline __m256i float_to_bf16_bits_avx2(__m256 f) {
  const __m256i u = _mm256_castps_si256(f);
  const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(1));
  const __m256i r =
      _mm256_srli_epi32(_mm256_add_epi32(u, _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF))), 16);
  const __m256i nanv =
      _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(u, 16), _mm256_set1_epi32(0x8000)),
                      _mm256_set1_epi32(0x7FC0));
  const __m256 isnan = _mm256_cmp_ps(f, f, _CMP_UNORD_Q);
  return _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(r), _mm256_castsi256_ps(nanv), isnan));
}

PURE16_TARGET_AVX2 inline __m128i pack_u32_to_u16_avx2(__m256i r) {
  const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0xD8);
  return _mm256_castsi256_si128(p);
}

PURE16_TARGET_AVX2 inline void float_to_bf16_avx2(const float* src, bfloat16* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i r = float_to_bf16_bits_avx2(_mm256_loadu_ps(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), pack_u32_to_u16_avx2(r));
  }
  from_float_portable(src + i, dst + i, n - i);
}

template <class T>
PURE16_TARGET_AVX2 inline void to_float_avx2(const T* src, float* dst, std::size_t n) {
  if constexpr (std::is_same_v<T, half>) {
    half_to_float_avx2(src, dst, n);
  } else if constexpr (std::is_same_v<T, bfloat16>) {
    bf16_to_float_avx2(src, dst, n);
  } else {
    std::memcpy(dst, src, n * sizeof(float));
  }
}
template <class T>
PURE16_TARGET_AVX2 inline void from_float_avx2(const float* src, T* dst, std::size_t n) {
  if constexpr (std::is_same_v<T, half>) {
    float_to_half_avx2(src, dst, n);
  } else if constexpr (std::is_same_v<T, bfloat16>) {
    float_to_bf16_avx2(src, dst, n);
  } else {
    std::memcpy(dst, src, n * sizeof(float));
  }
}

// ---- AVX-512 (F, BW, VL) ---------------------------------------------------------------
// GCC 12 warns spuriously about the self-initialised placeholders inside its AVX-512
// intrinsics (-Wmaybe-uninitialized); the warning is silenced for these functions only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
PURE16_TARGET_AVX512 inline void half_to_float_avx512(const half* src, float* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 f = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_ps(dst + i, f);
    if (unsigned m = _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q); m != 0) {
      for (int l = 0; l < 16; ++l) {
        if ((m >> l) & 1) dst[i + l] = static_cast<float>(src[i + l]);
      }
    }
  }
  half_to_float_avx2(src + i, dst + i, n - i);
}

PURE16_TARGET_AVX512 inline void float_to_half_avx512(const float* src, half* dst, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 f = _mm512_loadu_ps(src + i);
    const __m256i h = _mm512_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), h);
    if (unsigned m = _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q); m != 0) {
      for (int l = 0; l < 16; ++l) {
        if ((m >> l) & 1) dst[i + l] = round_to<half>(src[i + l]);
      }
    }
  }
  float_to_half_avx2(src + i, dst + i, n - i);
}

PURE16_TARGET_AVX512 inline void bf16_to_float_avx512(const bfloat16* src, float* dst,
                                                      std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i w =
        _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i)));
    _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
  bf16_to_float_avx2(src + i, dst + i, n - i);
}

// 16 floats -> 16 bfloat16 bit patterns (low 16 bits of 32-bit lanes), Eigen's rounding.
PURE16_TARGET_AVX512 inline __m512i float_to_bf16_bits_avx512(__m512 f) {
  const __m512i u = _mm512_castps_si512(f);
  const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  const __m512i r =
      _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
  const __m512i nanv =
      _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x8000)),
                      _mm512_set1_epi32(0x7FC0));
  const __mmask16 isnan = _mm512_cmp_ps_mask(f, f, _CMP_UNORD_Q);
  return _mm512_mask_blend_epi32(isnan, r, nanv);
}

PURE16_TARGET_AVX512 inline void float_to_bf16_avx512(const float* src, bfloat16* dst,
                                                      std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512i r = float_to_bf16_bits_avx512(_mm512_loadu_ps(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm512_cvtepi32_epi16(r));
  }
  float_to_bf16_avx2(src + i, dst + i, n - i);
}

template <class T>
PURE16_TARGET_AVX512 inline void to_float_avx512(const T* src, float* dst, std::size_t n) {
  if constexpr (std::is_same_v<T, half>) {
    half_to_float_avx512(src, dst, n);
  } else if constexpr (std::is_same_v<T, bfloat16>) {
    bf16_to_float_avx512(src, dst, n);
  } else {
    std::memcpy(dst, src, n * sizeof(float));
  }
}
template <class T>
PURE16_TARGET_AVX512 inline void from_float_avx512(const float* src, T* dst, std::size_t n) {
  if constexpr (std::is_same_v<T, half>) {
    float_to_half_avx512(src, dst, n);
  } else if constexpr (std::is_same_v<T, bfloat16>) {
    float_to_bf16_avx512(src, dst, n);
  } else {
    std::memcpy(dst, src, n * sizeof(float));
  }
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif  // PURE16_X86

/// T (half, bfloat16 or float) -> float with the kernels of `isa` (assumed available).
template <class T>
inline void to_float(const T* src, float* dst, std::size_t n, Isa isa) {
#if PURE16_X86
  if (isa >= Isa::Avx512) return to_float_avx512(src, dst, n);
  if (isa == Isa::Avx2) return to_float_avx2(src, dst, n);
#endif
  (void)isa;
  if constexpr (std::is_same_v<T, float>) {
    std::memcpy(dst, src, n * sizeof(float));
  } else {
    to_float_portable(src, dst, n);
  }
}

/// float -> T (half, bfloat16 or float), nearest-even, with the kernels of `isa`.
template <class T>
inline void from_float(const float* src, T* dst, std::size_t n, Isa isa) {
#if PURE16_X86
  if (isa >= Isa::Avx512) return from_float_avx512(src, dst, n);
  if (isa == Isa::Avx2) return from_float_avx2(src, dst, n);
#endif
  (void)isa;
  if constexpr (std::is_same_v<T, float>) {
    std::memcpy(dst, src, n * sizeof(float));
  } else {
    from_float_portable(src, dst, n);
  }
}

}  // namespace detail

/// dst[i] = round_to<To>(src[i]) using the kernels of instruction set `isa`.
template <Scalar From, Scalar To>
inline void convert(const From* src, To* dst, std::size_t n, Isa isa) {
  require_isa(isa, "pure16::kernels::convert");
  if constexpr (std::is_same_v<From, To>) {
    if (n != 0) std::memcpy(dst, src, n * sizeof(To));
  } else if constexpr (std::is_same_v<From, float> && !std::is_same_v<To, double>) {
    detail::from_float(src, dst, n, isa);
  } else if constexpr (std::is_same_v<To, float> && !std::is_same_v<From, double>) {
    detail::to_float(src, dst, n, isa);
  } else if constexpr (std::is_same_v<From, double> && std::is_same_v<To, float>) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<float>(src[i]);
  } else if constexpr (std::is_same_v<To, double> && std::is_same_v<From, float>) {
    for (std::size_t i = 0; i < n; ++i) dst[i] = static_cast<double>(src[i]);
  } else {
    // Through a float buffer: 16-bit <-> 16-bit, double <-> 16-bit (Eigen also goes
    // through float for double -> half/bfloat16, so the result is the same).
    constexpr std::size_t chunk = 256;
    float buf[chunk];
    for (std::size_t i0 = 0; i0 < n; i0 += chunk) {
      const std::size_t m = n - i0 < chunk ? n - i0 : chunk;
      if constexpr (std::is_same_v<From, double>) {
        for (std::size_t i = 0; i < m; ++i) buf[i] = static_cast<float>(src[i0 + i]);
      } else {
        detail::to_float(src + i0, buf, m, isa);
      }
      if constexpr (std::is_same_v<To, double>) {
        for (std::size_t i = 0; i < m; ++i) dst[i0 + i] = static_cast<double>(buf[i]);
      } else {
        detail::from_float(buf, dst + i0, m, isa);
      }
    }
  }
}

/// dst[i] = round_to<To>(src[i]) with the process-wide instruction set (active_isa()).
template <Scalar From, Scalar To>
inline void convert(const From* src, To* dst, std::size_t n) {
  convert(src, dst, n, active_isa());
}

}  // namespace pure16::kernels
