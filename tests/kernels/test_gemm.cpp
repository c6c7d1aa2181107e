// GEMM on every instruction-set path this machine runs, 1 and 2 threads, against
//  * a double-precision naive reference with an error bound derived from K and the unit
//    roundoffs (Accumulate::Float), and
//  * a scalar reference that rounds every multiply-add once to T, computed in double and
//    rounded by nearest-neighbour search (Accumulate::Native): bitwise equality.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <pure16/kernels/gemm.hpp>
#include <string>
#include <vector>

using namespace pure16;
using kernels::Isa;
using kernels::Trans;

namespace {

struct Lcg {
  std::uint64_t s;
  double uniform() {  // [-1, 1)
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<double>(s >> 11) * 0x1.0p-52 - 1.0;
  }
};

template <class T>
double dv(T x) {
  if constexpr (std::is_same_v<T, double>) {
    return x;
  } else {
    return static_cast<double>(static_cast<float>(x));
  }
}

template <class T>
std::uint64_t bits_of(T x) {
  if constexpr (std::is_same_v<T, double>) {
    std::uint64_t u;
    std::memcpy(&u, &x, 8);
    return u;
  } else if constexpr (std::is_same_v<T, float>) {
    std::uint32_t u;
    std::memcpy(&u, &x, 4);
    return u;
  } else {
    return Eigen::numext::bit_cast<std::uint16_t>(x);
  }
}

// Nearest T to a finite double, ties to even, by comparing the neighbours of a first guess
// in double (exact: all candidates and d have few significant bits in these tests).
template <class T>
T ref_round(double d) {
  if constexpr (std::is_same_v<T, double>) {
    return d;
  } else if constexpr (std::is_same_v<T, float>) {
    return static_cast<float>(d);  // one rounding, IEEE
  } else {
    const T guess = T(static_cast<float>(d));
    const std::uint16_t g = Eigen::numext::bit_cast<std::uint16_t>(guess);
    T best = guess;
    double best_err = std::fabs(dv(guess) - d);
    for (int delta : {-1, 1}) {
      const std::uint16_t nb = static_cast<std::uint16_t>(g + delta);
      if (((nb ^ g) & 0x8000) != 0) continue;  // crossed the sign: not a neighbour
      const T cand = Eigen::numext::bit_cast<T>(nb);
      if (!std::isfinite(dv(cand))) continue;
      const double err = std::fabs(dv(cand) - d);
      if (err < best_err || (err == best_err && (nb & 1) == 0)) {
        best = cand;
        best_err = err;
      }
    }
    return best;
  }
}

struct Case {
  std::size_t M, N, K;
};

template <class T>
struct Problem {
  std::size_t M, N, K, lda, ldb, ldc;
  Trans ta, tb;
  std::vector<T> A, B, C0;
  double alpha, beta;
  T a(std::size_t i, std::size_t k) const {
    return ta == Trans::No ? A[i * lda + k] : A[k * lda + i];
  }
  T b(std::size_t k, std::size_t j) const {
    return tb == Trans::No ? B[k * ldb + j] : B[j * ldb + k];
  }
};

template <class T>
Problem<T> make_problem(Case c, Trans ta, Trans tb, double alpha, double beta, bool nan_c,
                        std::uint64_t seed) {
  Problem<T> p{c.M, c.N, c.K, 0, 0, 0, ta, tb, {}, {}, {}, alpha, beta};
  Lcg rng{seed};
  const std::size_t ar = ta == Trans::No ? c.M : c.K, ac = ta == Trans::No ? c.K : c.M;
  const std::size_t br = tb == Trans::No ? c.K : c.N, bc = tb == Trans::No ? c.N : c.K;
  p.lda = ac + 3;  // strided: padding is NaN, so reading it would poison the result
  p.ldb = bc + 1;
  p.ldc = c.N + 2;
  const T nan = T(std::numeric_limits<float>::quiet_NaN());
  p.A.assign(ar * p.lda + 1, nan);
  p.B.assign(br * p.ldb + 1, nan);
  p.C0.assign(c.M * p.ldc + 1, nan);
  for (std::size_t i = 0; i < ar; ++i)
    for (std::size_t j = 0; j < ac; ++j) p.A[i * p.lda + j] = T(rng.uniform());
  for (std::size_t i = 0; i < br; ++i)
    for (std::size_t j = 0; j < bc; ++j) p.B[i * p.ldb + j] = T(rng.uniform());
  for (std::size_t i = 0; i < c.M; ++i)
    for (std::size_t j = 0; j < c.N; ++j) p.C0[i * p.ldc + j] = nan_c ? nan : T(rng.uniform());
  return p;
}

template <class T>
std::vector<T> run(const Problem<T>& p, Isa isa, int threads, Accumulate acc) {
  std::vector<T> C = p.C0;
  kernels::GemmOptions opt;
  opt.accumulate = acc;
  opt.threads = threads;
  opt.isa = isa;
  kernels::gemm<T>(p.ta, p.tb, p.M, p.N, p.K, static_cast<acc_t<T>>(p.alpha), p.A.data(), p.lda,
                   p.B.data(), p.ldb, static_cast<acc_t<T>>(p.beta), C.data(), p.ldc, opt);
  return C;
}

// Checks Accumulate::Float against double. With s the computed dot product (float sums,
// any order, FMA or not, incl. VDPBF16PS pairs): |s - sum a b| <= g * S, S = sum |a||b|,
// g = (K+2) u_f / (1 - (K+2) u_f), u_f = 2^-24. Then t = alpha*s and fma(beta, c, t) add
// two float roundings, <= 2.01 u_f (|alpha| S + |beta c|), and the store rounds once to T:
// <= u_T |v| + eta_T (eta_T = half the smallest subnormal). With E the float error above,
//   |C - ref| <= u_T |ref| + (1 + u_T) E + eta_T.
// For double, u_f = u_T = 2^-53 (Eigen's double GEMM).
template <class T>
int check_float(const Problem<T>& p, const std::vector<T>& C) {
  const bool dbl = std::is_same_v<T, double>;
  const double uf = dbl ? 0x1.0p-53 : 0x1.0p-24;
  const double uT = unit_roundoff<T>();
  const double eta = dv(scalar_traits<T>::min_subnormal()) / 2;
  const double kk = static_cast<double>(p.K) + 2;
  const double g = kk * uf / (1 - kk * uf);
  int bad = 0;
  for (std::size_t i = 0; i < p.M; ++i) {
    for (std::size_t j = 0; j < p.N; ++j) {
      double s = 0, sabs = 0;
      for (std::size_t k = 0; k < p.K; ++k) {
        const double pr = dv(p.a(i, k)) * dv(p.b(k, j));
        s += pr;
        sabs += std::fabs(pr);
      }
      const double c0 = p.beta == 0 ? 0.0 : dv(p.C0[i * p.ldc + j]);
      const double ref = p.alpha * s + p.beta * c0;
      const double E = std::fabs(p.alpha) * g * sabs +
                       2.01 * uf * (std::fabs(p.alpha) * sabs + std::fabs(p.beta * c0));
      const double bound = uT * std::fabs(ref) + (1 + uT) * E + eta;
      const double got = dv(C[i * p.ldc + j]);
      if (!(std::fabs(got - ref) <= bound)) {
        if (bad < 5) {
          MESSAGE("C(" << i << "," << j << ") = " << got << " ref " << ref << " bound " << bound);
        }
        ++bad;
      }
    }
    // padding of C untouched
    for (std::size_t j = p.N; j < p.ldc; ++j) {
      if (bits_of(C[i * p.ldc + j]) != bits_of(p.C0[i * p.ldc + j])) ++bad;
    }
  }
  return bad;
}

// Accumulate::Native reference: s_k = round_T(s_{k-1} + a b) with one rounding (exact sum in
// double, then nearest T), C = round_T(fma(beta, c, alpha*s)) in float. Bitwise.
template <class T>
int check_native(const Problem<T>& p, const std::vector<T>& C) {
  int bad = 0;
  for (std::size_t i = 0; i < p.M; ++i) {
    for (std::size_t j = 0; j < p.N; ++j) {
      T s = T(0);
      for (std::size_t k = 0; k < p.K; ++k) {
        s = ref_round<T>(dv(s) + dv(p.a(i, k)) * dv(p.b(k, j)));
      }
      const float alpha = static_cast<float>(p.alpha), beta = static_cast<float>(p.beta);
      const float t = alpha * static_cast<float>(s);
      const float v = beta == 0 ? t : std::fma(beta, static_cast<float>(p.C0[i * p.ldc + j]), t);
      const T ref = round_to<T>(v);
      if (bits_of(ref) != bits_of(C[i * p.ldc + j])) {
        if (bad < 5) {
          MESSAGE("native C(" << i << "," << j << ") = " << dv(C[i * p.ldc + j]) << " ref "
                              << dv(ref));
        }
        ++bad;
      }
    }
  }
  return bad;
}

const Case kCases[] = {{0, 5, 3},
                       {5, 0, 3},
                       {4, 3, 0},
                       {1, 1, 1},
                       {7, 33, 5},
                       {33, 7, 1},
                       {1, 257, 7},
                       {33, 1, 33},
                       {257, 33, 7},
                       {7, 7, 257},
                       {61, 37, 300},
                       // small batches (the GEMV path for NT): K tails, column tails
                       {2, 67, 301},
                       {4, 9, 1031},
                       {3, 130, 17},
                       // narrow outputs (N <= 16): the GEMV path in row groups, a row tail
                       {130, 10, 515},
                       {9, 16, 64}};

std::string tname(Trans t) {
  return t == Trans::No ? "N" : "T";
}

template <class T>
void test_float_accumulation() {
  std::uint64_t seed = 1;
  for (Isa isa : kernels::available_isas()) {
    for (int threads : {1, 2}) {
      for (Trans ta : {Trans::No, Trans::Yes}) {
        for (Trans tb : {Trans::No, Trans::Yes}) {
          for (const Case& c : kCases) {
            const double alpha = (seed % 3 == 0) ? -0.75 : 1.0;
            const double beta = (seed % 4 == 0) ? 0.0 : (seed % 4 == 1 ? 1.0 : -0.5);
            CAPTURE(std::string(kernels::isa_name(isa)));
            CAPTURE(threads);
            CAPTURE(tname(ta) + tname(tb));
            CAPTURE(c.M);
            CAPTURE(c.N);
            CAPTURE(c.K);
            CAPTURE(beta);
            const auto p = make_problem<T>(c, ta, tb, alpha, beta, beta == 0.0, seed++);
            CHECK(check_float(p, run(p, isa, threads, Accumulate::Float)) == 0);
          }
        }
      }
    }
  }
}

template <class T>
void test_native_accumulation() {
  std::uint64_t seed = 100;
  for (Isa isa : kernels::available_isas()) {
    for (int threads : {1, 2}) {
      for (Trans ta : {Trans::No, Trans::Yes}) {
        for (Trans tb : {Trans::No, Trans::Yes}) {
          for (const Case& c : kCases) {
            // two threads: the split itself is tested on the larger shapes only
            if (threads == 2 && c.M * c.N < 1000) continue;
            const double beta = (seed % 2 == 0) ? 0.0 : 0.5;
            CAPTURE(std::string(kernels::isa_name(isa)));
            CAPTURE(threads);
            CAPTURE(tname(ta) + tname(tb));
            CAPTURE(c.M);
            CAPTURE(c.N);
            CAPTURE(c.K);
            const auto p = make_problem<T>(c, ta, tb, 1.0, beta, beta == 0.0, seed++);
            CHECK(check_native(p, run(p, isa, threads, Accumulate::Native)) == 0);
          }
        }
      }
    }
  }
}

}  // namespace

TEST_CASE("gemm half, Float accumulation: every ISA, transposes, sizes, alpha/beta, strides") {
  test_float_accumulation<half>();
}
TEST_CASE("gemm bfloat16, Float accumulation") {
  test_float_accumulation<bfloat16>();
}
TEST_CASE("gemm float, Float accumulation") {
  test_float_accumulation<float>();
}
TEST_CASE("gemm double") {
  test_float_accumulation<double>();
}

TEST_CASE("gemm half, Native accumulation: bitwise against a per-step rounding reference") {
  test_native_accumulation<half>();
}
TEST_CASE("gemm bfloat16, Native accumulation: bitwise") {
  test_native_accumulation<bfloat16>();
}

TEST_CASE("gemm Native accumulation really rounds every step (differs from Float)") {
  // 1 + 2048 * 2^-12: in half, 1 + 2^-12 rounds back to 1 every step (tie to even), so the
  // strict sum stays 1; with float accumulation it is 1.5.
  const std::size_t K = 2049;
  std::vector<half> a(K, half(1.0f)), b(K, half(std::ldexp(1.0f, -12)));
  b[0] = half(1.0f);
  for (Isa isa : kernels::available_isas()) {
    half c_native(7.0f), c_float(7.0f);
    kernels::gemm<half>(Trans::No, Trans::No, 1, 1, K, 1.0f, a.data(), K, b.data(), 1, 0.0f,
                        &c_native, 1, {Accumulate::Native, 1, isa});
    kernels::gemm<half>(Trans::No, Trans::No, 1, 1, K, 1.0f, a.data(), K, b.data(), 1, 0.0f,
                        &c_float, 1, {Accumulate::Float, 1, isa});
    CHECK(static_cast<float>(c_native) == 1.0f);
    CHECK(static_cast<float>(c_float) == 1.5f);
  }
}

TEST_CASE("gemm: several column panels and K blocks (N > panel width, K > block depth)") {
  // K = 2100 makes the packed panel narrower than N = 530, so more than one panel is used,
  // and K spans several k-blocks; M = 5 is not a multiple of any micro-tile height.
  const Case c{5, 530, 2100};
  for (Isa isa : kernels::available_isas()) {
    CAPTURE(std::string(kernels::isa_name(isa)));
    const auto ph = make_problem<half>(c, Trans::No, Trans::Yes, 1.0, 0.5, false, 7);
    CHECK(check_float(ph, run(ph, isa, 2, Accumulate::Float)) == 0);
    const auto pb = make_problem<bfloat16>(c, Trans::Yes, Trans::No, 1.0, 0.0, true, 8);
    CHECK(check_float(pb, run(pb, isa, 1, Accumulate::Float)) == 0);
  }
  const Case cn{3, 40, 700};
  for (Isa isa : kernels::available_isas()) {
    const auto pn = make_problem<half>(cn, Trans::No, Trans::No, 1.0, 0.0, true, 9);
    CHECK(check_native(pn, run(pn, isa, 1, Accumulate::Native)) == 0);
  }
}

TEST_CASE("gemm: small C, long K (a convolution's weight gradient) in every layout") {
  // K = 4500 narrows the packed panel to 224 columns < N = 300, and C (37 x 300) fits the
  // whole-C accumulator: the path that packs each block once. Float and Native
  // accumulation, every transpose, 1 and 2 threads, against the double references.
  const Case c{37, 300, 4500};
  std::uint64_t seed = 500;
  for (Isa isa : kernels::available_isas()) {
    for (Trans ta : {Trans::No, Trans::Yes}) {
      for (Trans tb : {Trans::No, Trans::Yes}) {
        CAPTURE(std::string(kernels::isa_name(isa)));
        CAPTURE(tname(ta) + tname(tb));
        const auto ph = make_problem<half>(c, ta, tb, 1.0, 0.5, false, seed++);
        CHECK(check_float(ph, run(ph, isa, 2, Accumulate::Float)) == 0);
        const auto pb = make_problem<bfloat16>(c, ta, tb, -0.75, 0.0, true, seed++);
        CHECK(check_float(pb, run(pb, isa, 1, Accumulate::Float)) == 0);
        const auto pf = make_problem<float>(c, ta, tb, 1.0, 1.0, false, seed++);
        CHECK(check_float(pf, run(pf, isa, 2, Accumulate::Float)) == 0);
        const auto pn = make_problem<half>(c, ta, tb, 1.0, 0.0, true, seed++);
        CHECK(check_native(pn, run(pn, isa, 1, Accumulate::Native)) == 0);
      }
    }
  }
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST_CASE("gemm: long K, small C in K segments, the same bits for 1 and 2 threads") {
  // K >= 4096 and >= 4 max(M, N): K is cut into 4 (8200) and 3 (6200; boundaries at 2064 and
  // 4128, multiples of 16) segments summed separately. Float accumulation against the double
  // reference, every ISA and transpose, and 1 and 2 threads bit for bit (the segments do not
  // depend on the thread count); Native keeps its in-order rounding (bitwise reference).
  std::uint64_t seed = 900;
  for (const Case c : {Case{16, 27, 8200}, Case{13, 40, 6200}}) {
    for (Isa isa : kernels::available_isas()) {
      for (Trans ta : {Trans::No, Trans::Yes}) {
        for (Trans tb : {Trans::No, Trans::Yes}) {
          CAPTURE(c.M);
          CAPTURE(std::string(kernels::isa_name(isa)));
          CAPTURE(tname(ta) + tname(tb));
          const auto ph = make_problem<half>(c, ta, tb, 1.0, 0.5, false, seed++);
          const auto h1 = run(ph, isa, 1, Accumulate::Float);
          CHECK(check_float(ph, h1) == 0);
          CHECK(same_bits(h1, run(ph, isa, 2, Accumulate::Float)));
          const auto pb = make_problem<bfloat16>(c, ta, tb, -0.75, 0.0, true, seed++);
          const auto b2 = run(pb, isa, 2, Accumulate::Float);
          CHECK(check_float(pb, b2) == 0);
          CHECK(same_bits(b2, run(pb, isa, 1, Accumulate::Float)));
          const auto pf = make_problem<float>(c, ta, tb, 1.0, 1.0, false, seed++);
          const auto f1 = run(pf, isa, 1, Accumulate::Float);
          CHECK(check_float(pf, f1) == 0);
          CHECK(same_bits(f1, run(pf, isa, 2, Accumulate::Float)));
          if (ta == Trans::No && tb == Trans::Yes) {
            const auto pn = make_problem<half>(c, ta, tb, 1.0, 0.0, true, seed++);
            CHECK(check_native(pn, run(pn, isa, 2, Accumulate::Native)) == 0);
          }
        }
      }
    }
  }
}

TEST_CASE("gemm: alpha == 0 or K == 0 gives beta*C without reading A and B") {
  std::vector<half> C = {half(2.0f), half(-4.0f)};
  const half* null = nullptr;
  kernels::gemm<half>(Trans::No, Trans::No, 1, 2, 0, 1.0f, null, 1, null, 2, 0.5f, C.data(), 2);
  CHECK(static_cast<float>(C[0]) == 1.0f);
  CHECK(static_cast<float>(C[1]) == -2.0f);
  std::vector<float> A = {std::numeric_limits<float>::quiet_NaN()}, B = A;
  std::vector<float> Cf = {std::numeric_limits<float>::quiet_NaN(), 3.0f};
  kernels::gemm<float>(Trans::No, Trans::No, 1, 1, 1, 0.0f, A.data(), 1, B.data(), 1, 0.0f,
                       Cf.data(), 2);
  CHECK(Cf[0] == 0.0f);
  CHECK(Cf[1] == 3.0f);
}

TEST_CASE("gemm: bad leading dimensions and unavailable ISAs throw") {
  std::vector<float> A(12), B(12), C(12);
  CHECK_THROWS_AS(kernels::gemm<float>(Trans::No, Trans::No, 3, 3, 4, 1.0f, A.data(), 3, B.data(),
                                       3, 0.0f, C.data(), 3),
                  pure16::InvalidArgument);
  CHECK_THROWS_AS(kernels::gemm<float>(Trans::No, Trans::No, 3, 3, 2, 1.0f, A.data(), 2, B.data(),
                                       3, 0.0f, C.data(), 2),
                  pure16::InvalidArgument);
  for (Isa isa : kernels::all_isas) {
    if (kernels::isa_available(isa)) continue;
    CHECK_THROWS_AS(kernels::gemm<float>(Trans::No, Trans::No, 1, 1, 1, 1.0f, A.data(), 1, B.data(),
                                         1, 0.0f, C.data(), 1, {Accumulate::Float, 1, isa}),
                    pure16::InvalidArgument);
  }
}

#ifdef _OPENMP
TEST_CASE("gemm inside an OpenMP parallel region runs serially and stays correct") {
  const Case c{33, 40, 20};
  const auto p = make_problem<half>(c, Trans::No, Trans::Yes, 1.0, 0.0, true, 11);
  int bad = 0;
#pragma omp parallel num_threads(2) reduction(+ : bad)
  { bad += check_float(p, run(p, kernels::detect_isa(), 0, Accumulate::Float)); }
  CHECK(bad == 0);
}
#endif

TEST_CASE("bfloat16 k-pair packing (the VDPBF16PS operand layout) follows its definition") {
  // dst[p*R + r] of a sliver holds v(r, 2p) in the low and v(r, 2p+1) in the high 16 bits,
  // zero past the last row and past an odd K; slivers follow each other R*ceil(K/2) apart.
  const std::size_t rows = 13, kc = 7, R = 12, ld = 9;
  std::vector<bfloat16> src(rows * ld);
  for (std::size_t i = 0; i < src.size(); ++i)
    src[i] = Eigen::numext::bit_cast<bfloat16>(static_cast<std::uint16_t>(0x3F00 + i));
  const std::size_t kp = (kc + 1) / 2;
  for (bool transposed : {false, true}) {
    // element (r, k) at src[r*ld + k] (rows of A) or src[k*ld + r] (columns of B)
    kernels::detail_gemm::View<bfloat16> v{src.data(), transposed ? 1 : ld, transposed ? ld : 1};
    const std::size_t nr = transposed ? std::min(rows, ld) : rows;
    const std::size_t nk = transposed ? std::min(kc, rows) : kc;
    std::vector<std::uint32_t> dst(2 * R * kp, 0xDEADBEEF);
    kernels::detail_gemm::pack_block_bf16_pairs(v, nr, nk, R, dst.data());
    const std::size_t nkp = (nk + 1) / 2;
    int bad = 0;
    for (std::size_t s = 0; s * R < nr; ++s) {
      for (std::size_t p = 0; p < nkp; ++p) {
        for (std::size_t r = 0; r < R; ++r) {
          const std::size_t row = s * R + r;
          auto bits = [&](std::size_t k) -> std::uint32_t {
            if (row >= nr || k >= nk) return 0;
            const std::size_t idx = transposed ? k * ld + row : row * ld + k;
            return Eigen::numext::bit_cast<std::uint16_t>(src[idx]);
          };
          const std::uint32_t want = bits(2 * p) | (bits(2 * p + 1) << 16);
          if (dst[s * R * nkp + p * R + r] != want) ++bad;
        }
      }
    }
    CHECK(bad == 0);
  }
}
