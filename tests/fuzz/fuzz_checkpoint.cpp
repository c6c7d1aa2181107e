// libFuzzer target: io::load_checkpoint into a fixed small model (Dense, BatchNorm, ReLU,
// Dropout, Dense) with SGD momentum. A refused file must leave model and optimizer as they
// were; an accepted one must give counts that are in range.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <pure16/io/checkpoint.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/sgd.hpp>
#include <string>

namespace {
const std::string& scratch() {
  static const std::string p =
      (std::filesystem::temp_directory_path() / ("pure16_fuzz_ck_" + std::to_string(::getpid())))
          .string();
  return p;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pure16;
  if (std::FILE* f = std::fopen(scratch().c_str(), "wb")) {
    std::fwrite(data, 1, size, f);
    std::fclose(f);
  } else {
    return 0;
  }
  nn::Sequential<float> m;
  m.add<nn::Dense>(3, 4);
  m.add<nn::BatchNorm>(4);
  m.add<nn::ReLU>();
  m.add<nn::Dropout>(0.5);
  m.add<nn::Dense>(4, 2);
  m.init(7);
  optim::SGD<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
  const float w0 = (*m.state()[0].tensor)[0];
  try {
    const io::TrainState st = io::load_checkpoint(scratch(), m, opt);
    if (st.epoch < 0 || st.epoch > std::numeric_limits<int>::max() || st.step < 0 ||
        opt.steps() < 0)
      std::abort();  // accepted counts out of range
  } catch (const pure16::Error&) {
    if ((*m.state()[0].tensor)[0] != w0 || opt.steps() != 0) std::abort();  // modified on failure
  }
  return 0;
}
