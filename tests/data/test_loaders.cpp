// Data loaders on the real files in ../shared/data and on crafted malformed files.
// Reference values (counts, labels, pixel sums, CIFAR-10 channel statistics) were computed
// independently with Python (gzip + numpy) from the same files, or are published facts
// (MNIST train label[0] == 5, t10k label[0] == 7, CIFAR-10 test label[0] == 3 "cat").
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <pure16/data/cifar10.hpp>
#include <pure16/data/idx.hpp>
#include <string>
#include <vector>

#include "shared_data.hpp"

using namespace pure16;
using namespace pure16::data;
namespace fs = std::filesystem;

namespace {

const std::string kShared = PURE16_SHARED_DATA_DIR;

std::uint64_t pixel_sum(const Dataset& d, std::size_t first, std::size_t count) {
  auto p = d.pixels().subspan(first * d.sample_size(), count * d.sample_size());
  return std::accumulate(p.begin(), p.end(), std::uint64_t{0});
}

// A scratch folder removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("pure16_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::string file(const std::string& name, const std::vector<std::uint8_t>& bytes) const {
    const fs::path p = path / name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return p.string();
  }
};

std::vector<std::uint8_t> gzip_bytes(const std::vector<std::uint8_t>& in) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::uint8_t> out(deflateBound(&zs, uLong(in.size())) + 64);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = uInt(in.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

void put_be32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(v >> s));
}
std::vector<std::uint8_t> idx_images(std::uint32_t n, std::uint32_t h, std::uint32_t w,
                                     std::size_t payload) {
  std::vector<std::uint8_t> b{0, 0, 8, 3};
  put_be32(b, n);
  put_be32(b, h);
  put_be32(b, w);
  for (std::size_t i = 0; i < payload; ++i) b.push_back(std::uint8_t(i * 7));
  return b;
}
std::vector<std::uint8_t> idx_labels(std::vector<std::uint8_t> labels) {
  std::vector<std::uint8_t> b{0, 0, 8, 1};
  put_be32(b, std::uint32_t(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

// Message of the DataError thrown by f (fails the test when none is thrown).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const DataError& e) {
    return e.what();
  }
  FAIL("no pure16::data::DataError thrown");
  return {};
}
bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("MNIST from the shared .gz files" * shared_data::needs("mnist")) {
  const Dataset train = load_mnist(kShared + "/mnist", "train");
  CHECK(train.size() == 60000);
  CHECK(train.channels() == 1);
  CHECK(train.height() == 28);
  CHECK(train.width() == 28);
  const std::vector<std::int32_t> first{5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
  CHECK(std::vector<std::int32_t>(train.labels().begin(), train.labels().begin() + 10) == first);
  CHECK(pixel_sum(train, 0, 1) == 27525);
  CHECK(pixel_sum(train, 59999, 1) == 20920);
  CHECK(pixel_sum(train, 0, 60000) == 1567298545ull);

  const Dataset test = load_mnist(kShared + "/mnist", "test");
  CHECK(test.size() == 10000);
  CHECK(test.labels()[0] == 7);
  CHECK(test.labels()[1] == 2);
  CHECK(pixel_sum(test, 0, 1) == 18454);
  CHECK(pixel_sum(test, 0, 10000) == 264923200ull);
}

TEST_CASE("CIFAR-10 from the shared batches" * shared_data::needs("cifar-10-batches-bin")) {
  const Dataset test = load_cifar10(kShared + "/cifar-10-batches-bin", "test");
  CHECK(test.size() == 10000);
  CHECK(test.channels() == 3);
  CHECK(test.height() == 32);
  const std::vector<std::int32_t> first{3, 8, 8, 0, 6, 6, 1, 6, 3, 1};
  CHECK(std::vector<std::int32_t>(test.labels().begin(), test.labels().begin() + 10) == first);
  CHECK(pixel_sum(test, 0, 1) == 332962);
  CHECK(std::accumulate(test.pixels().begin(), test.pixels().begin() + 1024, 0ull) == 112665);
  CHECK(pixel_sum(test, 9999, 1) == 331662);

  // The parent folder works too; batch 1 is the first 10,000 training images.
  const Dataset b1 = read_cifar10_batch(kShared + "/cifar-10-batches-bin/data_batch_1.bin");
  CHECK(b1.labels()[0] == 6);
  CHECK(pixel_sum(b1, 0, 1) == 317790);
  CHECK(pixel_sum(b1, 9999, 1) == 380993);
}

TEST_CASE("CIFAR-10 training set: 50,000 images and the well-known channel statistics" *
          shared_data::needs("cifar-10-batches-bin")) {
  const Dataset train = load_cifar10(kShared, "train");  // finds cifar-10-batches-bin/
  CHECK(train.size() == 50000);
  CHECK(train.labels()[0] == 6);
  const Normalization n = channel_stats(train);
  REQUIRE(n.mean.size() == 3);
  CHECK(n.mean[0] == doctest::Approx(0.4913996786152028).epsilon(1e-12));
  CHECK(n.mean[1] == doctest::Approx(0.4821584083946074).epsilon(1e-12));
  CHECK(n.mean[2] == doctest::Approx(0.4465309144454644).epsilon(1e-12));
  CHECK(n.stddev[0] == doctest::Approx(0.24703223246328238).epsilon(1e-10));
  CHECK(n.stddev[1] == doctest::Approx(0.2434851280000556).epsilon(1e-10));
  CHECK(n.stddev[2] == doctest::Approx(0.26158784172796423).epsilon(1e-10));
  const Normalization g = global_stats(train);
  CHECK(g.mean[0] == doctest::Approx(0.4733630004850874).epsilon(1e-12));
  CHECK(g.stddev[0] == doctest::Approx(0.25156892506322026).epsilon(1e-10));
}

TEST_CASE("CIFAR-10 with a record limit: the first images of the split, read from as few files" *
          shared_data::needs("cifar-10-batches-bin")) {
  const std::string dir = kShared + "/cifar-10-batches-bin";
  const Dataset lim = load_cifar10(dir, "train", 12345);  // all of batch 1, part of batch 2
  REQUIRE(lim.size() == 12345);
  CHECK(lim.pixels().size() == 12345u * 3072u);
  // The reference: the batch files read one by one.
  const Dataset b1 = read_cifar10_batch(dir + "/data_batch_1.bin");
  const Dataset b2 = read_cifar10_batch(dir + "/data_batch_2.bin");
  CHECK(std::equal(b1.pixels().begin(), b1.pixels().end(), lim.pixels().begin()));
  CHECK(std::equal(b2.pixels().begin(), b2.pixels().begin() + 2345 * 3072,
                   lim.pixels().begin() + 10000 * 3072));
  CHECK(std::equal(b2.labels().begin(), b2.labels().begin() + 2345, lim.labels().begin() + 10000));
  CHECK(load_cifar10(dir, "test", 20000).size() == 10000);  // a limit above the split: all

  // head() of a copy and of an rvalue agree, and the rvalue keeps no spare capacity.
  const Dataset h = b2.head(100);
  Dataset moved = read_cifar10_batch(dir + "/data_batch_2.bin");
  const Dataset hm = std::move(moved).head(100);
  CHECK(h.size() == 100);
  CHECK(hm.size() == 100);
  CHECK(std::equal(h.pixels().begin(), h.pixels().end(), hm.pixels().begin(), hm.pixels().end()));
  CHECK(std::equal(h.labels().begin(), h.labels().end(), hm.labels().begin(), hm.labels().end()));
  CHECK(std::equal(h.pixels().begin(), h.pixels().end(), b2.pixels().begin()));
}

TEST_CASE("IDX: a crafted pair loads, plain or gzip, whatever the file name") {
  TempDir t;
  const auto images = idx_images(3, 2, 2, 12);
  t.file("train-images-idx3-ubyte", images);
  t.file("train-labels-idx1-ubyte.gz", gzip_bytes(idx_labels({1, 0, 9})));
  // 2 x 2 images: a valid IDX pair but not MNIST, so load_idx_pair (load_mnist wants 28 x 28).
  const Dataset d = load_idx_pair((t.path / "train-images-idx3-ubyte").string(),
                                  (t.path / "train-labels-idx1-ubyte.gz").string(), 10, "train");
  CHECK(d.size() == 3);
  CHECK(d.height() == 2);
  CHECK(d.labels()[2] == 9);
  for (std::size_t i = 0; i < 12; ++i) CHECK(d.pixels()[i] == std::uint8_t(i * 7));
  // gzip detected by content: a compressed file without .gz in its name.
  const std::string odd = t.file("images.bin", gzip_bytes(images));
  CHECK(read_idx_images(odd).dims == std::vector<std::size_t>{3, 2, 2});
}

TEST_CASE("IDX: each malformed input names the file and the problem") {
  TempDir t;
  SUBCASE("missing file lists the paths tried") {
    const auto m = error_of([&] { load_mnist(t.path.string(), "train"); });
    CHECK(has(m, "not found"));
    CHECK(has(m, (t.path / "train-images-idx3-ubyte").string()));
    CHECK(has(m, (t.path / "train-images-idx3-ubyte.gz").string()));
  }
  SUBCASE("wrong magic") {
    const auto p = t.file("x", {'h', 'e', 'l', 'l', 'o', '!', '!', '!'});
    const auto m = error_of([&] { read_idx(p); });
    CHECK(has(m, "not an IDX file"));
    CHECK(has(m, "68 65 6c 6c"));
    CHECK(has(m, p));
  }
  SUBCASE("a CIFAR-10 batch given as IDX") {
    std::vector<std::uint8_t> rec(kCifarRecord * 2, 200);
    rec[0] = 3;
    const auto p = t.file("data_batch_1.bin", rec);
    CHECK(has(error_of([&] { read_idx(p); }), "looks like a CIFAR-10 binary batch"));
  }
  SUBCASE("label file where images are expected, and the reverse") {
    const auto lp = t.file("l", idx_labels({1, 2}));
    const auto ip = t.file("i", idx_images(2, 2, 2, 8));
    CHECK(has(error_of([&] { read_idx_images(lp); }), "a label file?"));
    CHECK(has(error_of([&] { read_idx_labels(ip); }), "an image file?"));
  }
  SUBCASE("unsupported element type") {
    auto b = idx_images(1, 1, 1, 1);
    b[2] = 0x0D;
    const auto p = t.file("f", b);
    CHECK(has(error_of([&] { read_idx(p); }), "0xd (float32)"));
  }
  SUBCASE("truncated data: expected vs got") {
    const auto p = t.file("i", idx_images(2, 28, 28, 1000));
    const auto m = error_of([&] { read_idx_images(p); });
    CHECK(has(m, "truncated"));
    CHECK(has(m, "1568"));
    CHECK(has(m, "got 1000"));
  }
  SUBCASE("truncated header") {
    const auto p = t.file("i", {0, 0, 8, 3, 0, 0});
    CHECK(has(error_of([&] { read_idx(p); }), "header needs 16 bytes, got 6"));
  }
  SUBCASE("trailing bytes") {
    const auto p = t.file("i", idx_images(1, 2, 2, 5));
    CHECK(has(error_of([&] { read_idx(p); }), "1 unexpected bytes"));
  }
  SUBCASE("count mismatch between images and labels") {
    t.file("t10k-images-idx3-ubyte", idx_images(3, 2, 2, 12));
    t.file("t10k-labels-idx1-ubyte", idx_labels({1, 2}));
    const auto m = error_of([&] { load_mnist(t.path.string(), "t10k"); });
    CHECK(has(m, "count mismatch"));
    CHECK(has(m, "3 images"));
    CHECK(has(m, "2 labels"));
  }
  SUBCASE("label out of range") {
    t.file("t10k-images-idx3-ubyte", idx_images(3, 2, 2, 12));
    const auto lp = t.file("t10k-labels-idx1-ubyte", idx_labels({1, 12, 2}));
    const auto m = error_of([&] { load_mnist(t.path.string(), "t10k"); });
    CHECK(has(m, "label 12 of sample 1 is out of range [0, 10)"));
    CHECK(has(m, lp));
  }
  SUBCASE("corrupt gzip stream") {
    auto gz = gzip_bytes(idx_images(4, 8, 8, 256));
    for (std::size_t i = 12; i < gz.size() - 8; ++i) gz[i] ^= 0x5A;
    const auto p = t.file("c.gz", gz);
    CHECK(has(error_of([&] { read_idx(p); }), "corrupt gzip stream"));
  }
  SUBCASE("truncated gzip stream") {
    auto gz = gzip_bytes(idx_images(4, 8, 8, 256));
    gz.resize(gz.size() / 2);
    const auto p = t.file("c.gz", gz);
    CHECK(has(error_of([&] { read_idx(p); }), "truncated"));
  }
  SUBCASE("gzip inside gzip") {
    const auto p = t.file("twice.gz", gzip_bytes(gzip_bytes(idx_labels({1}))));
    CHECK(has(error_of([&] { read_idx(p); }), "gzip file holding another gzip file"));
  }
  SUBCASE("unknown split") {
    CHECK(has(error_of([&] { load_mnist(t.path.string(), "validation"); }), "unknown MNIST split"));
  }
}

TEST_CASE("CIFAR-10: malformed batches") {
  TempDir t;
  std::vector<std::uint8_t> two(kCifarRecord * 2, 17);
  two[0] = 4;
  two[kCifarRecord] = 9;
  SUBCASE("a valid crafted batch, also gzip-compressed") {
    const auto d = read_cifar10_batch(t.file("b.bin", two));
    CHECK(d.size() == 2);
    CHECK(d.labels()[1] == 9);
    CHECK(read_cifar10_batch(t.file("b2.bin", gzip_bytes(two))).size() == 2);
  }
  SUBCASE("truncated") {
    auto b = two;
    b.resize(kCifarRecord + 100);
    const auto p = t.file("data_batch_1.bin", b);
    const auto m = error_of([&] { read_cifar10_batch(p); });
    CHECK(has(m, "multiple of 3073"));
    CHECK(has(m, "last record has only 100 bytes"));
    CHECK(has(m, p));
  }
  SUBCASE("label out of range") {
    auto b = two;
    b[kCifarRecord] = 10;
    const auto m = error_of([&] { read_cifar10_batch(t.file("b.bin", b)); });
    CHECK(has(m, "label 10 of record 1 is out of range"));
  }
  SUBCASE("an IDX file given as a batch") {
    const auto p = t.file("test_batch.bin", idx_labels({1, 2, 3}));
    CHECK(has(error_of([&] { read_cifar10_batch(p); }), "looks like an IDX file"));
  }
  SUBCASE("missing batch names the paths tried") {
    const auto m = error_of([&] { load_cifar10(t.path.string(), "test"); });
    CHECK(has(m, (t.path / "test_batch.bin").string()));
    CHECK(has(m, (t.path / "test_batch.bin.gz").string()));
  }
}

TEST_CASE_TEMPLATE("normalization and batches match a double reference", T, half, bfloat16, float,
                   double) {
  // 3 samples of 2 x 2 x 3 pixels.
  std::vector<std::uint8_t> px(3 * 12);
  for (std::size_t i = 0; i < px.size(); ++i) px[i] = std::uint8_t((i * 37 + 11) % 256);
  Dataset d = Dataset::from_u8("toy", {3, 2, 2, 3}, px, {0, 1, 2}, 3);

  // Default: values in [0, 1].
  const std::vector<std::size_t> idx{2, 0};
  const Tensor<T> x0 = d.batch<T>(idx, Layout::NCHW);
  CHECK(x0.shape() == Shape{2, 2, 2, 3});
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t i = 0; i < 12; ++i) {
      const double ref = px[idx[r] * 12 + i] / 255.0;
      CHECK(double(x0[r * 12 + i]) ==
            doctest::Approx(ref).epsilon(scalar_traits<T>::is_16bit ? 1e-2 : 1e-6));
    }

  // Per-channel statistics in double, by hand.
  double mean[2] = {0, 0}, sq[2] = {0, 0};
  for (std::size_t s = 0; s < 3; ++s)
    for (std::size_t c = 0; c < 2; ++c)
      for (std::size_t i = 0; i < 6; ++i) {
        const double v = px[s * 12 + c * 6 + i] / 255.0;
        mean[c] += v / 18.0;
        sq[c] += v * v / 18.0;
      }
  const Normalization n = channel_stats(d);
  for (std::size_t c = 0; c < 2; ++c) {
    CHECK(n.mean[c] == doctest::Approx(mean[c]).epsilon(1e-14));
    CHECK(n.stddev[c] == doctest::Approx(std::sqrt(sq[c] - mean[c] * mean[c])).epsilon(1e-12));
  }
  d.set_normalization(n);
  const Tensor<T> x = d.batch<T>(idx, Layout::Flat);
  CHECK(x.shape() == Shape{2, 12});
  for (std::size_t r = 0; r < 2; ++r)
    for (std::size_t i = 0; i < 12; ++i) {
      const std::size_t c = i / 6;
      const double ref = (px[idx[r] * 12 + i] / 255.0 - n.mean[c]) / n.stddev[c];
      // One rounding to T from a float computation.
      const double tol = scalar_traits<T>::is_16bit ? std::abs(ref) * 8e-3 + 1e-3 : 1e-5;
      CHECK(std::abs(double(x[r * 12 + i]) - ref) <= tol);
    }
  CHECK(d.batch_labels(idx) == std::vector<std::int32_t>{2, 0});

  // Normalized values of the whole set have mean 0 and stddev 1 per channel.
  for (std::size_t c = 0; c < 2; ++c) {
    double m = 0, s2 = 0;
    for (std::size_t s = 0; s < 3; ++s)
      for (std::size_t i = 0; i < 6; ++i) {
        const double v = d.value(s, c * 6 + i);
        m += v / 18;
        s2 += v * v / 18;
      }
    CHECK(m == doctest::Approx(0.0).epsilon(1e-6).scale(1));
    CHECK(s2 - m * m == doctest::Approx(1.0).epsilon(1e-5));
  }
  CHECK_THROWS_AS(d.set_normalization({{0.1, 0.2, 0.3}, {1.0}}), pure16::InvalidArgument);
  CHECK_THROWS_AS(d.set_normalization({{0.1}, {0.0}}), pure16::InvalidArgument);
  CHECK_THROWS_AS(Dataset::from_u8("bad", {2, 1, 1, 1}, {1, 2}, {0, 3}, 3),
                  pure16::InvalidArgument);
}

TEST_CASE("loader: deterministic seeded shuffling, every sample once per epoch") {
  std::vector<std::uint8_t> px(103);
  std::vector<std::int32_t> labels(103);
  for (std::size_t i = 0; i < 103; ++i) px[i] = std::uint8_t(i), labels[i] = std::int32_t(i % 10);
  const Dataset d = Dataset::from_u8("seq", {103, 1, 1, 1}, px, labels, 10);

  Loader a(d, 10, true, 42), b(d, 10, true, 42), c(d, 10, true, 43), plain(d, 10, false, 42);
  CHECK(a.num_batches() == 11);
  CHECK(Loader(d, 10, true, 42, true).num_batches() == 10);
  std::vector<std::size_t> first_epoch;
  for (int epoch = 0; epoch < 3; ++epoch) {
    a.start_epoch();
    b.start_epoch();
    c.start_epoch();
    plain.start_epoch();
    CHECK(a.order() == b.order());  // same seed, same order
    CHECK(a.order() != c.order());  // another seed, another order
    std::vector<std::size_t> sorted = a.order();
    std::sort(sorted.begin(), sorted.end());
    for (std::size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == i);  // a permutation
    for (std::size_t i = 0; i < 103; ++i) CHECK(plain.order()[i] == i);
    if (epoch == 0) first_epoch = a.order();
    if (epoch == 1) CHECK(a.order() != first_epoch);  // reshuffled each epoch
    // Batches follow the order; the last batch holds the 3 left over.
    std::size_t seen = 0;
    for (std::size_t k = 0; k < a.num_batches(); ++k) {
      const auto x = a.inputs<float>(k, Layout::Flat);
      const auto y = a.labels(k);
      CHECK(x.dim(0) == y.size());
      for (std::size_t r = 0; r < y.size(); ++r) {
        const std::size_t s = a.order()[seen + r];
        CHECK(x[r] == doctest::Approx(double(s) / 255.0));
        CHECK(y[r] == std::int32_t(s % 10));
      }
      seen += y.size();
    }
    CHECK(seen == 103);
  }
  // Resuming from a saved generator state reproduces the next epoch.
  Loader r(d, 10, true, 7), s(d, 10, true, 999);
  r.start_epoch();
  s.set_rng_state(r.rng_state());
  r.start_epoch();
  s.start_epoch();
  CHECK(r.order() == s.order());
  // Fisher-Yates with Rng::below, recomputed independently for seed 42's first epoch.
  Rng rng(42);
  std::vector<std::size_t> ref(103);
  std::iota(ref.begin(), ref.end(), std::size_t{0});
  for (std::size_t i = 103; i > 1; --i) std::swap(ref[i - 1], ref[rng.below(i)]);
  CHECK(ref == first_epoch);

  const Dataset h = d.head(5);
  CHECK(h.size() == 5);
  CHECK(h.pixels().size() == 5);
  CHECK(h.labels()[4] == 4);
}
