// Built against an installed pure16: checks that the umbrella header compiles on its own
// and that the half GEMM from the installed tree gives the exact answer for a tiny case.
#include <cstdio>
#include <pure16/pure16.hpp>

int main() {
  using pure16::half;
  pure16::Tensor<half> a({2, 2}), b({2, 2}), c({2, 2});
  const float av[] = {1, 2, 3, 4}, bv[] = {5, 6, 7, 8};
  for (int i = 0; i < 4; ++i) {
    a[i] = half(av[i]);
    b[i] = half(bv[i]);
  }
  pure16::kernels::gemm<half>(pure16::kernels::Trans::No, pure16::kernels::Trans::No, 2, 2, 2, 1.0f,
                              a.data(), 2, b.data(), 2, 0.0f, c.data(), 2);
  const float want[] = {19, 22, 43, 50};
  for (int i = 0; i < 4; ++i) {
    if (static_cast<float>(c[i]) != want[i]) {
      std::printf("consumer: c[%d] = %g, want %g\n", i, static_cast<float>(c[i]), want[i]);
      return 1;
    }
  }
  std::printf("consumer: ok\n");
  return 0;
}
