// Crafted weights files, checkpoints and save targets that must be refused with an
// io::Error naming the file and the problem (issue 11, defects 3, 5, 7, 8). Files are
// built byte by byte from the format's definition (tests/io/io_test_util.hpp).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pure16/io/checkpoint.hpp>
#include <pure16/io/safetensors.hpp>
#include <pure16/nn/dense.hpp>
#include <pure16/nn/factory.hpp>
#include <pure16/optim/sgd.hpp>
#include <string>
#include <vector>

#include "io/io_test_util.hpp"

using namespace pure16;
using namespace io_test;

TEST_CASE("safetensors: duplicate keys in the header are refused") {
  // Two entries named "a": JSON parsers keep one silently.
  const std::string h = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                        R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  Bytes data;
  put_f32(data, 1.0f);
  CHECK_THROWS_WITH_AS(io::SafetensorsReader::from_bytes(safetensors_bytes(h, data), "dup.st"),
                       doctest::Contains("'dup.st': header has the key 'a' twice"), io::Error);
  // A repeated key inside an entry or inside __metadata__.
  const std::string h2 = R"({"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}})";
  CHECK_THROWS_WITH_AS(io::SafetensorsReader::from_bytes(safetensors_bytes(h2, data), "d2"),
                       doctest::Contains("key 'dtype' twice"), io::Error);
  const std::string h3 =
      R"({"__metadata__":{"k":"1","k":"2"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  CHECK_THROWS_AS(io::SafetensorsReader::from_bytes(safetensors_bytes(h3, data), "d3"), io::Error);
  // The same key in two different objects is fine.
  const std::string ok =
      R"({"__metadata__":{"a":"x"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  CHECK(io::SafetensorsReader::from_bytes(safetensors_bytes(ok, data), "ok").entries().size() == 1);
}

TEST_CASE("safetensors: bytes after a NUL in the header are refused") {
  Bytes data;
  put_f32(data, 2.5f);
  std::string h = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})";
  const std::size_t at = h.size();
  h += std::string("\0garbage", 8);
  CHECK_THROWS_WITH_AS(io::SafetensorsReader::from_bytes(safetensors_bytes(h, data), "nul.st"),
                       doctest::Contains(("NUL byte at offset " + std::to_string(at)).c_str()),
                       io::Error);
  // Space padding (what writers add) stays fine.
  const std::string padded =
      R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})" + std::string(7, ' ');
  const auto r = io::SafetensorsReader::from_bytes(safetensors_bytes(padded, data), "pad");
  CHECK(r.read<float>("a")[0] == 2.5f);
}

TEST_CASE("load_model checks the architecture against the tensors BEFORE building the model") {
  ScratchDir dir("arch");
  // A tiny file whose metadata declares Dense(100000, 100000): 4e10 bytes of float weights
  // (plus gradients) used to be allocated before the tensors were looked at.
  const std::string h =
      R"({"__metadata__":{"architecture":")" +
      std::string(R"([{\"type\":\"Dense\",\"args\":{\"in\":100000,\"out\":100000}}])") +
      R"("},"0.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},)" +
      R"("0.bias":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  Bytes data;
  put_f32(data, 1.0f);
  put_f32(data, 2.0f);
  write_bytes(dir / "big.safetensors", safetensors_bytes(h, data));
  CHECK_THROWS_WITH_AS(
      io::load_model<float>(dir / "big.safetensors"),
      doctest::Contains("declares tensor '0.weight' of layer 0 (Dense) with shape "
                        "[100000, 100000], but the file's tensor has shape [1, 1]"),
      io::Error);
  // A declared tensor that is absent altogether.
  const std::string h2 =
      R"({"__metadata__":{"architecture":"[{\"type\":\"Dense\",\"args\":{\"in\":1,\"out\":1}}]"},)"
      R"("0.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]}})";
  Bytes d2;
  put_f32(d2, 3.0f);
  write_bytes(dir / "nobias.safetensors", safetensors_bytes(h2, d2));
  CHECK_THROWS_WITH_AS(
      io::load_model<float>(dir / "nobias.safetensors"),
      doctest::Contains("tensor '0.bias' of shape [1], which the file does not hold"), io::Error);
  // A declared architecture whose sizes overflow.
  const std::string h3 =
      R"({"__metadata__":{"architecture":"[{\"type\":\"Dense\",\"args\":{\"in\":1e15,\"out\":1e15}}]"}})";
  write_bytes(dir / "ovf.safetensors", safetensors_bytes(h3, {}));
  CHECK_THROWS_WITH_AS(io::load_model<half>(dir / "ovf.safetensors"),
                       doctest::Contains("cannot be built"), io::Error);
  // The honest file loads: Dense(1, 1) with weight 3 and bias 4.
  const std::string h4 =
      R"({"__metadata__":{"architecture":"[{\"type\":\"Dense\",\"args\":{\"in\":1,\"out\":1}}]"},)"
      R"("0.weight":{"dtype":"F32","shape":[1,1],"data_offsets":[0,4]},)"
      R"("0.bias":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})";
  Bytes d4;
  put_f32(d4, 3.0f);
  put_f32(d4, 4.0f);
  write_bytes(dir / "ok.safetensors", safetensors_bytes(h4, d4));
  auto m = io::load_model<float>(dir / "ok.safetensors");
  REQUIRE(m.state().size() == 2);
  CHECK((*m.state()[0].tensor)[0] == 3.0f);
  CHECK((*m.state()[1].tensor)[0] == 4.0f);
}

TEST_CASE("state_shapes agrees with the layers make_layer builds") {
  const std::vector<nn::LayerSpec> specs = {
      {"Dense", {{"in", 5}, {"out", 3}}},
      {"Dense", {{"in", 2}, {"out", 7}, {"bias", 0}}},
      {"Conv2D", {{"in_channels", 3}, {"out_channels", 4}, {"kernel", 5}}},
      {"Conv2D", {{"in_channels", 1}, {"out_channels", 2}, {"kernel", 3}, {"bias", 0}}},
      {"BatchNorm", {{"num_features", 6}}},
      {"MaxPool2D", {{"kernel", 2}}},
      {"ReLU", {}},
      {"Dropout", {{"p", 0.25}}},
      {"Flatten", {}}};
  for (const auto& s : specs) {
    CAPTURE(s.type);
    auto layer = nn::make_layer<float>(s);
    std::vector<std::pair<std::string, Shape>> built;
    for (auto* p : layer->parameters()) built.emplace_back(p->name, p->value.shape());
    for (auto& b : layer->buffers()) built.emplace_back(b.name, b.value->shape());
    CHECK(nn::state_shapes(s) == built);
  }
  CHECK_THROWS_AS(nn::state_shapes({"Bogus", {}}), pure16::InvalidArgument);
}

TEST_CASE("checkpoint counts are range-checked, naming the file and the field") {
  ScratchDir dir("ckrange");
  const auto path = dir / "c.safetensors";
  nn::Sequential<float> m;
  m.add<nn::Dense>(2, 2);
  m.init(1);
  optim::SGD<float> opt(m.parameters(), {.lr = 0.1, .momentum = 0.9});
  io::save_checkpoint(path, m, opt, io::TrainState{.epoch = 3, .step = 30});
  const io::SafetensorsReader good = io::SafetensorsReader::open(path);
  // Rewrite the checkpoint with one metadata field changed.
  auto with = [&](const std::string& key, const std::string& value) {
    io::SafetensorsWriter w;
    for (const auto& [k, v] : good.metadata()) w.set_metadata(k, k == key ? value : v);
    for (const auto& e : good.entries()) w.add(e.name, good.read<float>(e));
    w.save(path);
  };
  const auto load = [&] { return io::load_checkpoint(path, m, opt); };
  with("epoch", "3");
  CHECK(load().epoch == 3);
  const std::string file = "'" + path.string() + "'";
  with("epoch", "-1");
  CHECK_THROWS_WITH_AS(load(),
                       doctest::Contains((file + ": metadata 'epoch' = '-1' is negative").c_str()),
                       io::Error);
  // 2^32 + 1: used to be cut to int and resume at epoch 1.
  with("epoch", "4294967297");
  CHECK_THROWS_WITH_AS(load(),
                       doctest::Contains("'epoch' = '4294967297' is out of range (at most "
                                         "2147483647)"),
                       io::Error);
  with("epoch", "2147483647");
  CHECK(load().epoch == 2147483647);
  with("step", "-5");
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("'step' = '-5' is negative"), io::Error);
  with("step", "1.5");
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("'step' = '1.5' is not an integer"), io::Error);
  with("step", " 7");
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("is not an integer"), io::Error);
  with("step", "99999999999999999999");
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("'step' = '99999999999999999999' is out of range"),
                       io::Error);
  with("optimizer_steps", "-3");
  CHECK_THROWS_WITH_AS(load(), doctest::Contains("'optimizer_steps' = '-3' is negative"),
                       io::Error);
  with("optimizer_steps", "");
  CHECK_THROWS_AS(load(), io::Error);
}

TEST_CASE("atomic saves refuse non-regular targets by name") {
  ScratchDir dir("atomic");
  const auto body = [](io::OutputFile& out) { out.write("x", 1); };
  // A fifo: rename() used to replace it with a regular file.
  const auto fifo = dir / "pipe";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK_THROWS_WITH_AS(io::write_file_atomically(fifo, body),
                       doctest::Contains(("'" + fifo.string() + "': it is a fifo").c_str()),
                       pure16::Error);
  CHECK(fs::is_fifo(fifo));
  // A directory, and a symbolic link to one.
  fs::create_directories(dir / "sub");
  CHECK_THROWS_WITH_AS(io::write_file_atomically(dir / "sub", body),
                       doctest::Contains("it is a directory"), pure16::Error);
  fs::create_symlink(dir / "sub", dir / "link");
  CHECK_THROWS_AS(io::write_file_atomically(dir / "link", body), pure16::Error);
  CHECK(fs::is_directory(dir / "sub"));
  // No temporary is left behind by a refusal.
  for (const auto& e : fs::directory_iterator(dir.path))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
  // A regular file is replaced as before.
  write_bytes(dir / "f", {'a', 'b'});
  io::write_file_atomically(dir / "f", body);
  CHECK(read_bytes(dir / "f") == Bytes{'x'});
}

TEST_CASE("atomic saves clean the stale temporaries of dead processes, and only those") {
  ScratchDir dir("stale");
  // A pid that certainly existed and is now gone: a child that exited and was reaped.
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  REQUIRE(::waitpid(child, nullptr, 0) == child);
  const auto target = dir / "w.safetensors";
  const std::string dead = "w.safetensors.tmp." + std::to_string(child);
  const std::string alive = "w.safetensors.tmp.1";                         // init: always alive
  const std::string other = "x.safetensors.tmp." + std::to_string(child);  // another target
  for (const auto& n : {dead, alive, other}) write_bytes(dir / n, {'s'});
  io::write_file_atomically(target, [](io::OutputFile& out) { out.write("ok", 2); });
  CHECK(read_bytes(target) == Bytes{'o', 'k'});
  CHECK_FALSE(fs::exists(dir / dead));
  CHECK(fs::exists(dir / alive));
  CHECK(fs::exists(dir / other));
}
