// Tensor<T>: shapes, views sharing storage, alignment, Eigen maps, cast.
#include <doctest/doctest.h>

#include <cstdint>
#include <pure16/nn/sequential.hpp>
#include <pure16/tensor.hpp>

using namespace pure16;

TEST_CASE_TEMPLATE("tensor basics", T, half, bfloat16, float, double) {
  Tensor<T> t({2, 3, 4});
  CHECK(t.ndim() == 3);
  CHECK(t.size() == 24);
  CHECK(t.bytes() == 24 * sizeof(T));
  CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
  for (std::size_t i = 0; i < t.size(); ++i) CHECK(static_cast<float>(t[i]) == 0.0f);
  t(1, 2, 3) = T(5.0f);
  CHECK(static_cast<float>(t[23]) == 5.0f);
  t(0, 1, 2) = T(-2.0f);
  CHECK(static_cast<float>(t[1 * 4 + 2]) == -2.0f);

  auto v = t.reshape({6, 4});
  CHECK(v.shares_storage_with(t));
  v(5, 3) = T(7.0f);
  CHECK(static_cast<float>(t(1, 2, 3)) == 7.0f);
  CHECK_THROWS_AS(t.reshape({5, 5}), pure16::InvalidArgument);

  auto s = t.slice(1, 2);
  CHECK(s.shape() == Shape{1, 3, 4});
  CHECK(s.data() == t.data() + 12);
  CHECK_THROWS_AS(t.slice(1, 3), pure16::OutOfRange);

  auto c = t.clone();
  CHECK_FALSE(c.shares_storage_with(t));
  c[0] = T(1.0f);
  CHECK(static_cast<float>(t[0]) == 0.0f);

  auto m = v.matrix();
  CHECK(m.rows() == 6);
  CHECK(m.cols() == 4);
  CHECK(static_cast<float>(m(5, 3)) == 7.0f);
  CHECK(t.vector().size() == 24);
}

TEST_CASE("tensor from values and cast rounds to nearest even") {
  auto t = Tensor<float>::from<float>({3}, {1.0f, 1.0f + 0x1.0p-11f, 1.0f + 3 * 0x1.0p-11f});
  auto h = cast<half>(t);
  CHECK(static_cast<float>(h[0]) == 1.0f);
  CHECK(static_cast<float>(h[1]) == 1.0f);                   // tie -> even (down)
  CHECK(static_cast<float>(h[2]) == 1.0f + 2 * 0x1.0p-10f);  // tie -> even (up)
  auto d = cast<double>(h);
  CHECK(d[2] == 1.0 + 2 * 0x1.0p-10);
  CHECK_THROWS_AS((Tensor<float>::from<float>({2, 2}, {1.0f})), pure16::InvalidArgument);
}

TEST_CASE("empty tensors") {
  Tensor<half> e;
  CHECK(e.size() == 0);
  Tensor<float> z({0, 5});
  CHECK(z.size() == 0);
  CHECK(z.matrix().rows() == 0);
  CHECK(cast<half>(z).shape() == Shape{0, 5});
}

TEST_CASE("freed large tensor blocks are reused, zeroed, within the cache limit") {
  const std::size_t saved = tensor_cache_limit();
  release_tensor_cache();
  set_tensor_cache_limit(std::size_t(8) << 20);
  const Shape big{256, 1024};  // 1 MiB of float
  const float* first = nullptr;
  {
    Tensor<float> t(big);
    first = t.data();
    t.fill(3.0f);
  }
  CHECK(tensor_cache_bytes() == std::size_t(1) << 20);
  {
    Tensor<float> u(big);  // same byte size: the cached block, zeroed again
    CHECK(u.data() == first);
    CHECK(tensor_cache_bytes() == 0);
    bool zero = true;
    for (float v : u) zero = zero && v == 0.0f;
    CHECK(zero);
  }
  {
    Tensor<half> small({100});  // below the size the cache keeps
  }
  CHECK(tensor_cache_bytes() == std::size_t(1) << 20);
  {
    Tensor<float> a(big);                    // takes the cached block
    Tensor<float> b(Shape{16, 1024, 1024});  // 64 MiB: over the 8 MiB limit when freed
    CHECK(tensor_cache_bytes() == 0);
  }
  CHECK(tensor_cache_bytes() == std::size_t(1) << 20);  // a's block is back, b's freed
  // over the limit, the oldest blocks go first
  release_tensor_cache();
  set_tensor_cache_limit(std::size_t(5) << 19);  // 2.5 MiB: two of the three blocks
  const float* newest = nullptr;
  {
    Tensor<float> a(Shape{256, 1024}), b(Shape{257, 1024}), c(Shape{258, 1024});
    newest = a.data();  // destroyed last (reverse order of construction)
  }
  CHECK(tensor_cache_bytes() <= std::size_t(5) << 19);
  CHECK(tensor_cache_bytes() > std::size_t(1) << 20);
  {
    Tensor<float> a(Shape{256, 1024});
    CHECK(a.data() == newest);
  }
  set_tensor_cache_limit(0);
  CHECK(tensor_cache_bytes() == 0);
  { Tensor<float> t(big); }
  CHECK(tensor_cache_bytes() == 0);
  set_tensor_cache_limit(saved);
}
