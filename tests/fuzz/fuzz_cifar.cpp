// libFuzzer target: CIFAR-10 binary batches (data/cifar10.hpp), plain or gzip-compressed,
// inflated no further than the data set can hold, parsed into a Dataset.
#include <cstddef>
#include <cstdint>
#include <pure16/data/cifar10.hpp>
#include <pure16/data/gzip.hpp>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pure16::data;
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    if (has_gzip_magic(bytes)) bytes = gunzip(bytes, "fuzz.bin", detail::cifar_size_limit);
    std::vector<std::uint8_t> pixels;
    std::vector<std::int32_t> labels;
    parse_cifar10_batch(bytes, "fuzz.bin", pixels, labels);
    const std::size_t n = labels.size();
    Dataset d = Dataset::from_u8("fuzz", {n, 3, 32, 32}, std::move(pixels), std::move(labels), 10);
    const std::size_t first[] = {n - 1};
    (void)d.batch<pure16::half>(first, Layout::NCHW);
  } catch (const pure16::Error&) {
  }
  return 0;
}
