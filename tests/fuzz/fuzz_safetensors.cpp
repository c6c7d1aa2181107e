// libFuzzer target: safetensors files (io/safetensors_format.hpp) — validation, reading every
// tensor in two scalar types — and io::load_model (io/model_file.hpp), which rebuilds the
// model the metadata declares, in memory through a scratch file.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <pure16/io/model_file.hpp>
#include <pure16/io/safetensors_format.hpp>
#include <string>
#include <vector>

namespace {
const std::string& scratch() {
  static const std::string p =
      (std::filesystem::temp_directory_path() / ("pure16_fuzz_st_" + std::to_string(::getpid())))
          .string();
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pure16;
  try {
    const auto r = io::SafetensorsReader::from_bytes(std::vector<unsigned char>(data, data + size),
                                                     "fuzz.safetensors");
    for (const auto& e : r.entries()) {
      try {
        (void)r.read<float>(e);
        (void)r.read<half>(e);
      } catch (const io::Error&) {  // unsupported dtype
      }
    }
  } catch (const pure16::Error&) {
    return 0;  // load_model would refuse it the same way
  }
  // A valid file: rebuild its model, if it describes one.
  if (std::FILE* f = std::fopen(scratch().c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
    try {
      auto m = io::load_model<float>(scratch());
      (void)m.parameter_count();
    } catch (const pure16::Error&) {
    }
  }
  return 0;
}
