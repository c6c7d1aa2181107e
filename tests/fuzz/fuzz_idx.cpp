// libFuzzer target: IDX files (data/idx.hpp), plain or gzip-compressed, as the loader reads
// them: inflation bounded by the header, then parsing; an image array also becomes a
// Dataset. Every outcome but a pure16::Error or a valid array is a finding.
#include <cstddef>
#include <cstdint>
#include <pure16/data/gzip.hpp>
#include <pure16/data/idx.hpp>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pure16::data;
  std::vector<std::uint8_t> bytes(data, data + size);
  const std::string path = "fuzz.idx";
  try {
    if (has_gzip_magic(bytes)) {
      bytes = gunzip(bytes, path, [&](std::span<const std::uint8_t> head) {
        return idx_size_limit(head, path);
      });
    }
    IdxArray a = parse_idx(bytes, path);
    if (a.dims.size() == 3 && a.dims[0] > 0 && a.dims[1] > 0 && a.dims[2] > 0) {
      std::vector<std::int32_t> labels(a.dims[0], 0);
      Dataset d = Dataset::from_u8("fuzz", {a.dims[0], 1, a.dims[1], a.dims[2]}, std::move(a.data),
                                   std::move(labels), 10);
      const std::size_t first[] = {0};
      (void)d.batch<float>(first, Layout::Flat);
    }
  } catch (const pure16::Error&) {
  }
  return 0;
}
