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
      (std::filesystem::path(std::filesystem::is_directory("/dev/shm")
                                 ? "/dev/shm"
                                 : std::filesystem::temp_directory_path()) /
       ("pure16_fuzz_ck_" + std::to_string(::getpid())))
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
  // Built once: a successful load changes them, which only varies the next starting point.
  static nn::Sequential<float> m = [] {
    nn::Sequential<float> s;
    s.add<nn::Dense>(3, 4);
    s.add<nn::BatchNorm>(4);
    s.add<nn::ReLU>();
    s.add<nn::Dropout>(0.5);
    s.add<nn::Dense>(4, 2);
    s.init(7);
    return s;
  }();
  static optim::SGD<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
  const float w0 = (*m.state()[0].tensor)[0];
  const std::int64_t steps0 = opt.steps();
  try {
    const io::TrainState st = io::load_checkpoint(scratch(), m, opt);
    if (st.epoch < 0 || st.epoch > std::numeric_limits<int>::max() || st.step < 0 ||
        opt.steps() < 0)
      std::abort();  // accepted counts out of range
  } catch (const pure16::Error&) {
    const float w = (*m.state()[0].tensor)[0];
    if (!(w == w0 || (w != w && w0 != w0)) || opt.steps() != steps0) std::abort();  // modified
  }
  return 0;
}
