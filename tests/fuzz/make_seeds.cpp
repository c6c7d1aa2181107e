// Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/): a few tiny valid
// files of each kind, made by pure16's own writers (and zlib for the .gz variants), so that
// the fuzzers start from inputs that pass every check. Run by scripts/fuzz.sh --seeds;
// its output is checked in.
#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <pure16/io/checkpoint.hpp>
#include <pure16/io/safetensors.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/sgd.hpp>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

static void write(const fs::path& p, const Bytes& b) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

static Bytes gzip(const Bytes& in) {
  z_stream zs{};
  deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  Bytes out(deflateBound(&zs, uLong(in.size())) + 32);
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = uInt(in.size());
  zs.next_out = out.data();
  zs.avail_out = uInt(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

static Bytes idx(const std::vector<std::uint32_t>& dims) {
  Bytes b = {0, 0, 0x08, std::uint8_t(dims.size())};
  std::size_t n = 1;
  for (auto d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(d >> s));
    n *= d;
  }
  for (std::size_t i = 0; i < n; ++i) b.push_back(std::uint8_t(i * 37));
  return b;
}

int main(int argc, char** argv) {
  using namespace pure16;
  const fs::path dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
  for (const char* sub : {"idx", "cifar", "safetensors", "checkpoint"})
    fs::create_directories(dir / sub);
  // IDX: images 2 x 3 x 4, labels of 5, rank 2, each plain and compressed.
  write(dir / "idx/images", idx({2, 3, 4}));
  write(dir / "idx/images.gz", gzip(idx({2, 3, 4})));
  write(dir / "idx/labels", idx({5}));
  write(dir / "idx/rank2.gz", gzip(idx({3, 2})));
  // CIFAR-10: one record (label 3) and two compressed.
  Bytes rec(3073);
  for (std::size_t i = 0; i < rec.size(); ++i) rec[i] = std::uint8_t(i * 13);
  rec[0] = 3;
  write(dir / "cifar/one.bin", rec);
  Bytes two = rec;
  two.insert(two.end(), rec.begin(), rec.end());
  two[3073] = 9;
  write(dir / "cifar/two.bin.gz", gzip(two));
  // safetensors: an MLP and a CNN-ish model written by pure16, in F16 and F32.
  nn::Sequential<float> mlp;
  mlp.add<nn::Dense>(3, 4);
  mlp.add<nn::ReLU>();
  mlp.add<nn::Dense>(4, 2);
  mlp.init(1);
  io::save_safetensors(dir / "safetensors/mlp.safetensors", mlp);
  io::save_safetensors(dir / "safetensors/mlp_f16.safetensors", mlp, {}, io::DType::F16);
  nn::Sequential<float> cnn;
  cnn.add<nn::Conv2D>(1, 2, 3, 1, 1);
  cnn.add<nn::BatchNorm>(2);
  cnn.add<nn::MaxPool2D>(2);
  cnn.add<nn::Flatten>();
  cnn.add<nn::Dense>(8, 2);
  cnn.init(2);
  io::save_safetensors(dir / "safetensors/cnn.safetensors", cnn);
  // checkpoint: the fuzz target's model and optimizer, after a few updates.
  nn::Sequential<float> m;
  m.add<nn::Dense>(3, 4);
  m.add<nn::BatchNorm>(4);
  m.add<nn::ReLU>();
  m.add<nn::Dropout>(0.5);
  m.add<nn::Dense>(4, 2);
  m.init(7);
  optim::SGD<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
  io::save_checkpoint(dir / "checkpoint/fresh.safetensors", m, opt, io::TrainState{});
  io::save_checkpoint(dir / "checkpoint/epoch2.safetensors", m, opt,
                      io::TrainState{.epoch = 2, .step = 10});
  return 0;
}
