// Crafted data files and shapes that must be refused with a DataError naming the file
// (defects of issue 11): sizes that overflow, non-regular paths, unbounded gzip, weak
// messages. Every expected value is written out by hand from the IDX/CIFAR formats.
#include <doctest/doctest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <pure16/data/cifar10.hpp>
#include <pure16/data/idx.hpp>
#include <string>
#include <vector>

using namespace pure16;
using namespace pure16::data;
namespace fs = std::filesystem;

namespace {

struct Scratch {
  fs::path path;
  Scratch() {
    static int counter = 0;
    path = fs::temp_directory_path() /
           ("pure16_malformed_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::create_directories(path);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name, const std::vector<std::uint8_t>& bytes) const {
    const fs::path p = path / name;
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return p.string();
  }
};

void put_be32(std::vector<std::uint8_t>& b, std::uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(v >> s));
}

std::vector<std::uint8_t> idx_header(const std::vector<std::uint32_t>& dims) {
  std::vector<std::uint8_t> b = {0, 0, 0x08, std::uint8_t(dims.size())};
  for (auto d : dims) put_be32(b, d);
  return b;
}

}  // namespace

TEST_CASE("IDX dimensions whose product wraps around are refused, naming the file") {
  // 16 bytes: rank 3, dims 2^22 x 2^21 x 2^21 = 2^64 = 0 mod 2^64, no data. Before the
  // check the file was accepted as an empty array of 2^64 elements.
  const auto b = idx_header({1u << 22, 1u << 21, 1u << 21});
  REQUIRE(b.size() == 16);
  CHECK_THROWS_WITH_AS(parse_idx(b, "wrap.idx"),
                       doctest::Contains("'wrap.idx': IDX dimensions: the product"), DataError);
  Scratch dir;
  const std::string p = dir.file("wrap-idx3-ubyte", b);
  CHECK_THROWS_WITH_AS(read_idx_images(p), doctest::Contains("overflows"), DataError);
}

TEST_CASE("Dataset shapes whose sizes wrap around are refused") {
  // N * C * H * W wraps to 0 with no pixels at all.
  CHECK_THROWS_WITH_AS(Dataset::from_u8("wrap", {1u << 22, 1, 1u << 21, 1u << 21}, {}, {}, 10),
                       doctest::Contains("Dataset 'wrap': shape"), pure16::InvalidArgument);
  // N = 0 makes the whole product 0, but a sample of 2^64 values is still nonsense.
  CHECK_THROWS_AS(Dataset::from_u8("zero", {0, 1u << 22, 1u << 21, 1u << 21}, {}, {}, 10),
                  pure16::InvalidArgument);
}

namespace {
// gzip of `header` followed by `zeros` zero bytes, deflated piecewise (never held whole).
std::vector<std::uint8_t> gzip_with_zeros(const std::vector<std::uint8_t>& header,
                                          std::size_t zeros) {
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  std::vector<std::uint8_t> out, buf(1 << 16);
  const std::vector<std::uint8_t> zero(1 << 20, 0);
  auto pump = [&](const std::uint8_t* p, std::size_t n, int flush) {
    zs.next_in = const_cast<Bytef*>(p);
    zs.avail_in = static_cast<uInt>(n);
    do {
      zs.next_out = buf.data();
      zs.avail_out = static_cast<uInt>(buf.size());
      deflate(&zs, flush);
      out.insert(out.end(), buf.begin(), buf.begin() + (buf.size() - zs.avail_out));
    } while (zs.avail_out == 0);
  };
  pump(header.data(), header.size(), Z_NO_FLUSH);
  for (std::size_t left = zeros; left > 0;) {
    const std::size_t n = std::min(left, zero.size());
    pump(zero.data(), n, Z_NO_FLUSH);
    left -= n;
  }
  pump(nullptr, 0, Z_FINISH);
  deflateEnd(&zs);
  return out;
}
}  // namespace

TEST_CASE("non-regular paths are refused by name before anything is read") {
  Scratch dir;
  // A directory: its "size" used to be read as 2^63 - 1 and allocated.
  CHECK_THROWS_WITH_AS(read_bytes(dir.path.string()), doctest::Contains("it is a directory"),
                       DataError);
  CHECK_THROWS_WITH_AS(read_idx(dir.path.string()), doctest::Contains("not a regular file"),
                       DataError);
  CHECK_THROWS_WITH_AS(read_cifar10_batch(dir.path.string()),
                       doctest::Contains("it is a directory"), DataError);
  // A character device.
  CHECK_THROWS_WITH_AS(read_idx("/dev/null"), doctest::Contains("'/dev/null': it is a character"),
                       DataError);
  CHECK_THROWS_WITH_AS(read_bytes((dir.path / "absent").string()),
                       doctest::Contains("No such file"), DataError);
}

TEST_CASE("gzip inflation stops at the size the IDX header declares") {
  // Header: 1 x 2 x 5 = 10 bytes of data (26 bytes in all), then 8 MiB more zeros.
  const auto header = idx_header({1, 2, 5});
  const auto gz = gzip_with_zeros(header, std::size_t{8} << 20);
  CHECK(gz.size() < 20000);  // ~1000:1 deflate of zeros
  Scratch dir;
  const std::string p = dir.file("bomb-idx3-ubyte.gz", gz);
  CHECK_THROWS_WITH_AS(read_idx(p), doctest::Contains("inflates to more than the 26 bytes"),
                       DataError);
  // The same header with exactly its 10 bytes inflates fine.
  const std::string ok = dir.file("ok-idx3-ubyte.gz", gzip_with_zeros(header, 10));
  const IdxArray a = read_idx(ok);
  CHECK(a.dims == std::vector<std::size_t>{1, 2, 5});
  CHECK(a.data == std::vector<std::uint8_t>(10, 0));
}

TEST_CASE("a compressed CIFAR-10 batch never inflates beyond the whole data set") {
  // 60,001 records of zeros (label 0): one more than CIFAR-10 has.
  const auto gz = gzip_with_zeros({}, std::size_t{60001} * 3073);
  Scratch dir;
  const std::string p = dir.file("data_batch_1.bin.gz", gz);
  CHECK_THROWS_WITH_AS(read_cifar10_batch(p),
                       doctest::Contains("inflates to more than the 184380000 bytes"), DataError);
}

TEST_CASE("weak IDX messages: empty file, huge counts, 0 images, MNIST not 28 x 28") {
  Scratch dir;
  // Empty file: used to say "magic bytes , expected 00 00 08 <rank>".
  const std::string empty = dir.file("empty-idx3-ubyte", {});
  CHECK_THROWS_WITH_AS(read_idx(empty), doctest::Contains("is empty (0 bytes)"), DataError);
  CHECK_THROWS_WITH_AS(parse_idx({0, 0}, "two"), doctest::Contains("'two' is 2 bytes long"),
                       DataError);
  // A header announcing 60000 x 28 x 28 = 47,040,000 bytes with 100 present.
  auto b = idx_header({60000, 28, 28});
  b.resize(b.size() + 100, 7);
  CHECK_THROWS_WITH_AS(parse_idx(b, "short"),
                       doctest::Contains("announces 47040000 bytes of data, got 100"), DataError);
  // Dims 2^32-1 x 2^32-1 x 3 wrap around: the count named used to be the wrapped one.
  CHECK_THROWS_WITH_AS(parse_idx(idx_header({0xFFFFFFFFu, 0xFFFFFFFFu, 3}), "huge"),
                       doctest::Contains("4294967295 x 4294967295 x 3 overflows"), DataError);

  // 0 images (and 0 labels): refused naming the image file, not inside a layer later.
  const std::string mn = (dir.path / "mnist").string();
  fs::create_directories(mn);
  auto write_pair = [&](std::uint32_t n, std::uint32_t rows, std::uint32_t cols) {
    auto img = idx_header({n, rows, cols});
    img.resize(img.size() + std::size_t(n) * rows * cols, 0);
    auto lab = idx_header({n});
    lab.resize(lab.size() + n, 1);
    std::ofstream(fs::path(mn) / "train-images-idx3-ubyte", std::ios::binary)
        .write(reinterpret_cast<const char*>(img.data()), std::streamsize(img.size()));
    std::ofstream(fs::path(mn) / "train-labels-idx1-ubyte", std::ios::binary)
        .write(reinterpret_cast<const char*>(lab.data()), std::streamsize(lab.size()));
  };
  write_pair(0, 28, 28);
  CHECK_THROWS_WITH_AS(load_mnist(mn, "train"),
                       doctest::Contains("train-images-idx3-ubyte' holds 0 images"), DataError);
  // 2 images of 20 x 30: a valid IDX pair, but not MNIST.
  write_pair(2, 20, 30);
  CHECK_THROWS_WITH_AS(load_mnist(mn, "train"),
                       doctest::Contains("holds images of 20 x 30 pixels; MNIST"), DataError);
  const Dataset other = load_idx_pair((fs::path(mn) / "train-images-idx3-ubyte").string(),
                                      (fs::path(mn) / "train-labels-idx1-ubyte").string(), 10, "x");
  CHECK(other.size() == 2);
  CHECK(other.height() == 20);
  CHECK(other.width() == 30);
  write_pair(3, 28, 28);
  CHECK(load_mnist(mn, "train").size() == 3);
  // An empty CIFAR-10 batch names the file and says so.
  CHECK_THROWS_WITH_AS(read_cifar10_batch(dir.file("test_batch.bin", {})),
                       doctest::Contains("test_batch.bin' is empty (0 bytes)"), DataError);
}
