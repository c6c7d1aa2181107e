// pure16/kernels/cpu.hpp — runtime instruction-set detection and selection for the kernels.
//
// Contract:
//  * Isa names the kernel families pure16 ships: Portable (plain C++, any CPU), Avx2 (AVX2 +
//    FMA + F16C), Avx512 (AVX-512 F/BW/VL, plus everything of Avx2) and Avx512Bf16 (Avx512 +
//    AVX512_BF16). They are ordered: a CPU that runs one runs every smaller one.
//  * detect_isa() is the best family this CPU and OS can run (CPUID feature bits and, for the
//    AVX families, the register state the OS saves, read with XGETBV). Nothing is assumed from
//    compiler flags: the SIMD kernels carry GCC/Clang target attributes and are chosen here.
//  * active_isa() is what the kernels use by default: detect_isa(), unless the environment
//    variable PURE16_ISA=portable|avx2|avx512|avx512bf16 (read once, at the first call) or
//    set_isa() chose another. Choosing a family the CPU cannot run throws pure16::Error.
//  * The header is safe on non-x86 targets (everything but Portable reports unavailable).
#pragma once

#include <array>
#include <atomic>
#include <cstdlib>
#include <pure16/error.hpp>
#include <string>
#include <string_view>
#include <vector>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define PURE16_X86 1
#include <cpuid.h>
#include <immintrin.h>
#else
#define PURE16_X86 0
#endif

namespace pure16::kernels {

enum class Isa { Portable = 0, Avx2 = 1, Avx512 = 2, Avx512Bf16 = 3 };

inline constexpr std::array<Isa, 4> all_isas = {Isa::Portable, Isa::Avx2, Isa::Avx512,
                                                Isa::Avx512Bf16};

/// Lower-case name, as accepted by PURE16_ISA and parse_isa().
inline std::string_view isa_name(Isa isa) {
  switch (isa) {
    case Isa::Portable:
      return "portable";
    case Isa::Avx2:
      return "avx2";
    case Isa::Avx512:
      return "avx512";
    case Isa::Avx512Bf16:
      return "avx512bf16";
  }
  return "unknown";
}

/// Inverse of isa_name(); throws pure16::InvalidArgument naming the bad text.
inline Isa parse_isa(std::string_view name) {
  for (Isa i : all_isas) {
    if (isa_name(i) == name) return i;
  }
  throw pure16::InvalidArgument("pure16: unknown instruction set '" + std::string(name) +
                                "' (expected portable, avx2, avx512 or avx512bf16)");
}

namespace detail {

inline Isa detect_isa_uncached() {
#if PURE16_X86
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return Isa::Portable;
  const bool fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1,
             f16c = (c >> 29) & 1;
  if (!(osxsave && avx)) return Isa::Portable;
  // XCR0: which register files the OS saves on context switch.
  unsigned xlo = 0, xhi = 0;
  __asm__ volatile("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
  const bool os_avx = (xlo & 0x6u) == 0x6u;       // SSE + AVX state
  const bool os_avx512 = (xlo & 0xE6u) == 0xE6u;  // + opmask, ZMM_Hi256, Hi16_ZMM
  unsigned max_leaf = __get_cpuid_max(0, nullptr);
  if (max_leaf < 7 || !os_avx) return Isa::Portable;
  unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
  __cpuid_count(7, 0, a7, b7, c7, d7);
  const bool avx2 = (b7 >> 5) & 1;
  if (!(avx2 && fma && f16c)) return Isa::Portable;
  const bool avx512 = ((b7 >> 16) & 1) && ((b7 >> 30) & 1) && ((b7 >> 31) & 1);  // F BW VL
  if (!(avx512 && os_avx512)) return Isa::Avx2;
  unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
  if (a7 >= 1) __cpuid_count(7, 1, a71, b71, c71, d71);
  const bool bf16 = (a71 >> 5) & 1;
  return bf16 ? Isa::Avx512Bf16 : Isa::Avx512;
#else
  return Isa::Portable;
#endif
}

// -1: not chosen yet (environment not read), otherwise an Isa value.
inline std::atomic<int>& isa_override() {
  static std::atomic<int> v{-1};
  return v;
}

}  // namespace detail

/// Best instruction-set family this CPU and OS can run (cached).
inline Isa detect_isa() {
  static const Isa best = detail::detect_isa_uncached();
  return best;
}

/// True if this machine can run kernels of family `isa`.
inline bool isa_available(Isa isa) {
  return static_cast<int>(isa) <= static_cast<int>(detect_isa());
}

/// Every family this machine can run, Portable first.
inline std::vector<Isa> available_isas() {
  std::vector<Isa> v;
  for (Isa i : all_isas) {
    if (isa_available(i)) v.push_back(i);
  }
  return v;
}

/// Process-wide choice for the kernels; throws pure16::Error if the CPU cannot run it.
inline void set_isa(Isa isa) {
  if (!isa_available(isa)) {
    throw pure16::Error("pure16: instruction set '" + std::string(isa_name(isa)) +
                        "' requested but this CPU supports at most '" +
                        std::string(isa_name(detect_isa())) + "'");
  }
  detail::isa_override().store(static_cast<int>(isa));
}

/// The family the kernels use by default (set_isa(), else PURE16_ISA, else detect_isa()).
inline Isa active_isa() {
  int v = detail::isa_override().load(std::memory_order_relaxed);
  if (v >= 0) return static_cast<Isa>(v);
  Isa chosen = detect_isa();
  if (const char* env = std::getenv("PURE16_ISA"); env != nullptr && *env != '\0') {
    Isa want;
    try {
      want = parse_isa(env);
    } catch (const pure16::InvalidArgument& e) {
      throw pure16::Error(std::string("PURE16_ISA: ") + e.what());
    }
    if (!isa_available(want)) {
      throw pure16::Error("PURE16_ISA=" + std::string(env) + ": this CPU supports at most '" +
                          std::string(isa_name(detect_isa())) + "'");
    }
    chosen = want;
  }
  int expected = -1;
  detail::isa_override().compare_exchange_strong(expected, static_cast<int>(chosen));
  return static_cast<Isa>(detail::isa_override().load());
}

/// Throws pure16::InvalidArgument if a kernel was asked to run `isa` on a CPU without it.
inline void require_isa(Isa isa, std::string_view who) {
  if (!isa_available(isa)) {
    throw pure16::InvalidArgument(std::string(who) + ": instruction set '" +
                                  std::string(isa_name(isa)) + "' is not available on this CPU");
  }
}

}  // namespace pure16::kernels

// Function attributes that enable an instruction set for one function (GCC/Clang), so the
// SIMD kernels compile whatever -m flags the including project uses.
#if PURE16_X86
#define PURE16_TARGET_AVX2 __attribute__((target("avx2,fma,f16c")))
#define PURE16_TARGET_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl")))
#define PURE16_TARGET_AVX512BF16 \
  __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512bf16")))
#endif
