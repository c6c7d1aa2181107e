// Tests of pure16/io/safetensors.hpp: hand-built golden files, exact bytes written for a
// known model, round trips between every pair of scalar types, every malformed-file error,
// model mismatches and the atomic-write guarantee.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <fstream>
#include <nlohmann/json.hpp>
#include <pure16/io/io.hpp>
#include <pure16/nn/activations.hpp>
#include <pure16/nn/dense.hpp>
#include <pure16/nn/sequential.hpp>
#include <regex>
#include <stdexcept>
#include <string>
#include <vector>

#include "io/io_test_util.hpp"

using namespace pure16;
using namespace io_test;
using nlohmann::json;

namespace {

/// True when `call` throws io::Error whose message contains every string of `parts`.
template <class F>
void check_error(F&& call, const std::vector<std::string>& parts) {
  try {
    call();
    FAIL("no exception; expected one mentioning " << parts.front());
  } catch (const io::Error& e) {
    const std::string msg = e.what();
    for (const auto& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, msg);
  }
}

template <class T>
std::uint64_t bits_of(T v) {
  if constexpr (sizeof(T) == 2) return Eigen::numext::bit_cast<std::uint16_t>(v);
  if constexpr (sizeof(T) == 4) return std::bit_cast<std::uint32_t>(v);
  if constexpr (sizeof(T) == 8) return std::bit_cast<std::uint64_t>(v);
}

/// Dense(3,4) - ReLU - Dense(4,2), initialized from `seed`.
template <Scalar T>
nn::Sequential<T> small_mlp(std::uint64_t seed) {
  nn::Sequential<T> m;
  m.template add<nn::Dense>(3, 4);
  m.template add<nn::ReLU>();
  m.template add<nn::Dense>(4, 2);
  m.init(seed);
  return m;
}

}  // namespace

TEST_CASE("safetensors: dtype names and sizes") {
  CHECK(io::dtype_name(io::DType::BF16) == "BF16");
  CHECK(io::parse_dtype("F16") == io::DType::F16);
  CHECK(io::parse_dtype("F64") == io::DType::F64);
  CHECK_FALSE(io::parse_dtype("I64").has_value());
  CHECK_FALSE(io::parse_dtype("f32").has_value());
  CHECK(io::dtype_size("I64") == 8);
  CHECK(io::dtype_size("BF16") == 2);
  CHECK(io::dtype_size("U8") == 1);
  CHECK(io::dtype_size("Q4") == 0);
  CHECK(io::dtype_of<half>() == io::DType::F16);
  CHECK(io::dtype_of<double>() == io::DType::F64);
}

TEST_CASE("safetensors: version constant matches the CMake project version") {
  std::ifstream in(std::string(PURE16_SOURCE_DIR) + "/CMakeLists.txt");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex(R"(project\(pure16 VERSION ([0-9.]+))")));
  CHECK(m[1].str() == std::string(io::pure16_version));
}

TEST_CASE("safetensors: a hand-built golden file reads back the encoded numbers") {
  ScratchDir dir("golden");
  // Data section, little-endian, laid out by hand:
  //  a: F32 [2]  = {1.5, -2.0}                  bytes [0, 8)
  //  b: F16 [3]  = {1.0, 0.5, -65504}           bytes [8, 14)   0x3C00 0x3800 0xFBFF
  //  c: BF16 [1] = {3.0}                        bytes [14, 16)  0x4040
  //  d: F64 []   = 0.1                          bytes [16, 24)
  //  e: F32 [2, 0] (empty)                      bytes [24, 24)
  Bytes data = {0x00, 0x00, 0xC0, 0x3F, 0x00, 0x00, 0x00, 0xC0,   // a
                0x00, 0x3C, 0x00, 0x38, 0xFF, 0xFB,               // b
                0x40, 0x40,                                       // c
                0x9A, 0x99, 0x99, 0x99, 0x99, 0x99, 0xB9, 0x3F};  // d = 0x3FB999999999999A
  const std::string header = R"({"__metadata__":{"format":"pt","note":"hand-made"},)"
                             R"("b":{"dtype":"F16","shape":[3],"data_offsets":[8,14]},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                             R"("d":{"dtype":"F64","shape":[],"data_offsets":[16,24]},)"
                             R"("e":{"dtype":"F32","shape":[2,0],"data_offsets":[24,24]},)"
                             R"("c":{"dtype":"BF16","shape":[1],"data_offsets":[14,16]}})";
  const auto path = dir / "golden.safetensors";
  write_bytes(path, safetensors_bytes(header, data));

  const auto f = io::SafetensorsReader::open(path);
  CHECK(f.metadata().size() == 2);
  CHECK(f.metadata("note") == "hand-made");
  CHECK_FALSE(f.metadata("absent").has_value());
  REQUIRE(f.entries().size() == 5);
  CHECK(f.entries()[0].name == "a");  // ordered by data offset
  CHECK(f.entries()[1].name == "b");
  CHECK(f.header_length() == header.size());

  const auto a = f.read<float>("a");
  CHECK(a.shape() == Shape{2});
  CHECK(a[0] == 1.5f);
  CHECK(a[1] == -2.0f);
  const auto b = f.read<float>("b");
  CHECK(b[0] == 1.0f);
  CHECK(b[1] == 0.5f);
  CHECK(b[2] == -65504.0f);
  CHECK(f.read<double>("c")[0] == 3.0);
  const auto d = f.read<double>("d");
  CHECK(d.shape() == Shape{});
  CHECK(d.size() == 1);
  CHECK(d[0] == 0.1);
  CHECK(f.read<float>("d")[0] == 0.1f);  // F64 -> float, nearest
  CHECK(f.read<half>("e").size() == 0);
  CHECK(f.read<half>("e").shape() == Shape{2, 0});

  // Raw bytes are exactly the slice of the data section.
  const auto raw = f.raw(f.at("b"));
  CHECK(Bytes(raw.begin(), raw.end()) == Bytes(data.begin() + 8, data.begin() + 14));

  // Narrowing conversions: bit patterns of the nearest-even results.
  CHECK(bits_of(f.read<half>("a")[0]) == 0x3E00);      // 1.5
  CHECK(bits_of(f.read<bfloat16>("b")[2]) == 0xC780);  // -65504 -> -65536 in bf16
  CHECK(bits_of(f.read<half>("d")[0]) == 0x2E66);      // 0.1 -> 0.0999755859375
  CHECK(bits_of(f.read<bfloat16>("d")[0]) == 0x3DCD);  // 0.1 -> 0.10009765625
}

TEST_CASE("safetensors: F32 -> half conversion on read rounds to nearest, ties to even") {
  ScratchDir dir("ties");
  // 1 + 2^-11 is halfway between the halves 1 and 1 + 2^-10: ties to 1 (even).
  // 1 + 3*2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even): up.
  // 1 + 2^-11 + 2^-20 is above the tie: up to 1 + 2^-10. 70000 overflows to +inf.
  const std::vector<float> v = {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, 1.0f + 0x1p-11f + 0x1p-20f,
                                70000.0f, 0x1p-25f};
  Bytes data;
  for (float x : v) put_f32(data, x);
  const std::string header = R"({"t":{"dtype":"F32","shape":[5],"data_offsets":[0,20]}})";
  write_bytes(dir / "t.safetensors", safetensors_bytes(header, data));
  const auto t = io::SafetensorsReader::open(dir / "t.safetensors").read<half>("t");
  CHECK(bits_of(t[0]) == 0x3C00);
  CHECK(bits_of(t[1]) == 0x3C02);
  CHECK(bits_of(t[2]) == 0x3C01);
  CHECK(bits_of(t[3]) == 0x7C00);
  CHECK(bits_of(t[4]) == 0x0000);  // 2^-25 is half the smallest subnormal: ties to 0
}

TEST_CASE("safetensors: save of a known model writes exactly the expected bytes") {
  ScratchDir dir("save");
  nn::Sequential<float> m;
  auto& d = m.add<nn::Dense>(2, 1);
  m.add<nn::ReLU>();
  d.weight().value[0] = 1.5f;
  d.weight().value[1] = -0.25f;
  d.bias().value[0] = 3.0f;
  const auto path = dir / "m.safetensors";
  io::save_safetensors(path, m, {{"run", "golden"}});

  const Bytes b = read_bytes(path);
  REQUIRE(b.size() >= 8);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | b[static_cast<std::size_t>(i)];
  CHECK(n % 8 == 0);
  REQUIRE(8 + n + 12 == b.size());
  const std::string header(b.begin() + 8, b.begin() + 8 + static_cast<std::ptrdiff_t>(n));
  // Padding is spaces only, after the JSON text.
  const auto last = header.find_last_not_of(' ');
  CHECK(header.size() - last - 1 < 8);
  const json h = json::parse(header);
  const json expected = {
      {"__metadata__",
       {{"format", "pt"},
        {"pure16_version", std::string(io::pure16_version)},
        {"scalar_type", "fp32"},
        {"accumulate", "float"},
        {"architecture",
         R"([{"type":"Dense","args":{"bias":1,"in":2,"out":1}},{"type":"ReLU","args":{}}])"},
        {"run", "golden"}}},
      {"0.weight", {{"dtype", "F32"}, {"shape", {1, 2}}, {"data_offsets", {0, 8}}}},
      {"0.bias", {{"dtype", "F32"}, {"shape", {1}}, {"data_offsets", {8, 12}}}}};
  CHECK(h == expected);
  Bytes data;
  put_f32(data, 1.5f);
  put_f32(data, -0.25f);
  put_f32(data, 3.0f);
  CHECK(Bytes(b.end() - 12, b.end()) == data);

  // The same model stored as F16 and F64.
  io::save_safetensors(path, m, {}, io::DType::F16);
  const Bytes b16 = read_bytes(path);
  CHECK(Bytes(b16.end() - 6, b16.end()) == Bytes{0x00, 0x3E, 0x00, 0xB4, 0x00, 0x42});
  CHECK(json::parse(std::string(b16.begin() + 8, b16.end() - 6))["0.weight"]["dtype"] == "F16");
  io::save_safetensors(path, m, {}, io::DType::F64);
  const Bytes b64 = read_bytes(path);
  Bytes data64;
  put_f64(data64, 1.5);
  put_f64(data64, -0.25);
  put_f64(data64, 3.0);
  CHECK(Bytes(b64.end() - 24, b64.end()) == data64);

  CHECK_THROWS_AS(io::save_safetensors(path, m, {{"format", "x"}}), pure16::InvalidArgument);
}

TEST_CASE_TEMPLATE_DEFINE("safetensors: round trip from T into every U", T, round_trip_from) {
  ScratchDir dir("rt");
  auto m = small_mlp<T>(42);
  // Values beyond the 16-bit ranges and below their normal ranges exercise the rounding.
  auto st = m.state();
  st[0].tensor->data()[0] = round_to<T>(1.0e5);
  st[0].tensor->data()[1] = round_to<T>(-3.0e-6);
  st[0].tensor->data()[2] = round_to<T>(1.0 / 3.0);
  const auto path = dir / "m.safetensors";
  io::save_safetensors(path, m);

  auto check_into = [&]<class U>(U) {
    CAPTURE(scalar_traits<T>::name);
    CAPTURE(scalar_traits<U>::name);
    auto m2 = nn::Sequential<U>::from_specs(m.specs());
    io::load_safetensors(path, m2);
    auto m3 = io::load_model<U>(path);
    const auto a = m.state(), b = m2.state(), c = m3.state();
    REQUIRE(a.size() == b.size());
    REQUIRE(a.size() == c.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
      CHECK(a[i].name == b[i].name);
      CHECK(b[i].tensor->shape() == a[i].tensor->shape());
      for (std::size_t k = 0; k < a[i].tensor->size(); ++k) {
        // Reference: the stored value, exact in double, rounded to U by round_to (a double
        // goes to half/bfloat16 through float, as Eigen's conversion does).
        const double v = static_cast<double>(a[i].tensor->data()[k]);
        const U want = round_to<U>(v);
        CHECK(bits_of(b[i].tensor->data()[k]) == bits_of(want));
        CHECK(bits_of(c[i].tensor->data()[k]) == bits_of(want));
      }
    }
    CHECK(m3.specs() == m.specs());
  };
  check_into(half{});
  check_into(bfloat16{});
  check_into(float{});
  check_into(double{});
}
TEST_CASE_TEMPLATE_INVOKE(round_trip_from, half, bfloat16, float, double);

TEST_CASE("safetensors: load_model restores the architecture and accumulate policy") {
  ScratchDir dir("arch");
  nn::Sequential<float> m;
  m.add<nn::Dense>(5, 3, false, nn::Init::XavierNormal);
  m.add<nn::LeakyReLU>(0.125);
  m.add<nn::Dense>(3, 7);
  m.init(3);
  m.set_accumulate(Accumulate::Native);
  io::save_safetensors(dir / "a.safetensors", m);
  auto h = io::load_model<half>(dir / "a.safetensors");
  CHECK(h.specs() == m.specs());
  CHECK(h.accumulate() == Accumulate::Native);
  CHECK(h.state().size() == 3);  // 0.weight (no bias), 2.weight, 2.bias
  // The twin built by cast<half>() holds the same values.
  auto c = m.cast<half>();
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t k = 0; k < c.state()[i].tensor->size(); ++k)
      CHECK(bits_of(h.state()[i].tensor->data()[k]) == bits_of(c.state()[i].tensor->data()[k]));
}

TEST_CASE("safetensors: malformed files give errors naming the file and the tensor") {
  ScratchDir dir("bad");
  const auto path = dir / "bad.safetensors";
  const std::string file = path.string();
  auto open_bytes = [&](const Bytes& b) {
    write_bytes(path, b);
    return [&] { (void)io::SafetensorsReader::open(path); };
  };
  Bytes eight;
  for (int i = 0; i < 8; ++i) put_f32(eight, float(i));  // 32 bytes

  SUBCASE("missing file") {
    check_error([&] { (void)io::SafetensorsReader::open(dir / "nope.safetensors"); },
                {"nope.safetensors", "cannot open", "no such file"});
    check_error([&] { (void)io::SafetensorsReader::open(dir.path); },
                {dir.path.string(), "not a regular file"});
  }
  SUBCASE("shorter than the length field") {
    check_error(open_bytes({1, 2, 3}), {file, "too short"});
  }
  SUBCASE("header length beyond the file") {
    check_error(open_bytes(safetensors_bytes("{}", {}, 1000)), {file, "header length 1000"});
    check_error(open_bytes(safetensors_bytes("{}", {}, std::int64_t(1) << 62)),
                {file, "beyond the end of the file"});
  }
  SUBCASE("header that is not JSON") {
    check_error(open_bytes(safetensors_bytes(R"({"a": {"dtype": )", {})), {file, "not valid JSON"});
    check_error(open_bytes(safetensors_bytes(R"([1, 2])", {})), {file, "not a JSON object"});
  }
  SUBCASE("bad metadata") {
    check_error(open_bytes(safetensors_bytes(R"({"__metadata__": {"k": 1}})", {})),
                {file, "__metadata__ entry 'k'"});
  }
  SUBCASE("unknown dtype") {
    check_error(open_bytes(safetensors_bytes(
                    R"({"w": {"dtype": "F12", "shape": [2], "data_offsets": [0, 4]}})", Bytes(4))),
                {file, "'w'", "unknown dtype 'F12'"});
  }
  SUBCASE("unsupported dtype is refused when read") {
    auto f = open_bytes(safetensors_bytes(
        R"({"idx": {"dtype": "I64", "shape": [4], "data_offsets": [0, 32]}})", eight));
    f();  // a valid file
    check_error([&] { (void)io::SafetensorsReader::open(path).read<float>("idx"); },
                {file, "'idx'", "unsupported dtype", "I64"});
  }
  SUBCASE("incomplete entries") {
    check_error(open_bytes(safetensors_bytes(R"({"w": {"dtype": "F32", "shape": [1]}})", {})),
                {file, "'w'", "data_offsets"});
    check_error(open_bytes(safetensors_bytes(R"({"w": 3})", {})), {file, "'w'"});
    check_error(open_bytes(safetensors_bytes(
                    R"({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}})", Bytes(4))),
                {file, "'w'", "non-negative integers"});
    check_error(
        open_bytes(safetensors_bytes(
            R"({"w": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]}})", Bytes(4))),
        {file, "'w'", "non-negative integers"});
    check_error(open_bytes(safetensors_bytes(
                    R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0]}})", Bytes(4))),
                {file, "'w'", "data_offsets"});
  }
  SUBCASE("data offsets out of range") {
    check_error(
        open_bytes(safetensors_bytes(
            R"({"w": {"dtype": "F32", "shape": [8], "data_offsets": [0, 32]}})", Bytes(16))),
        {file, "'w'", "outside the data section (16 bytes)"});
    check_error(open_bytes(safetensors_bytes(
                    R"({"w": {"dtype": "F32", "shape": [0], "data_offsets": [8, 4]}})", Bytes(8))),
                {file, "'w'", "end before they begin"});
  }
  SUBCASE("data offsets that do not match dtype and shape") {
    check_error(open_bytes(safetensors_bytes(
                    R"({"w": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 32]}})", eight)),
                {file, "'w'", "F16", "[2, 3]", "need 12 bytes"});
    check_error(
        open_bytes(safetensors_bytes(
            R"({"w": {"dtype": "F64", "shape": [4294967296, 4294967296], "data_offsets": [0, 32]}})",
            eight)),
        {file, "'w'", "overflow"});
  }
  SUBCASE("overlapping tensors") {
    check_error(open_bytes(safetensors_bytes(
                    R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                    R"( "y": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},)"
                    R"( "z": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]}})",
                    eight)),
                {file, "'x'", "'y'", "overlap"});
  }
  SUBCASE("bytes that belong to no tensor") {
    check_error(open_bytes(safetensors_bytes(
                    R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                    R"( "y": {"dtype": "F32", "shape": [2], "data_offsets": [24, 32]}})",
                    eight)),
                {file, "[16, 24)", "'y'"});
    check_error(open_bytes(safetensors_bytes(
                    R"({"x": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}})", eight)),
                {file, "[16, 32)", "end of the data section"});
  }
  SUBCASE("a missing tensor in a valid file") {
    open_bytes(safetensors_bytes("{}", {}))();
    check_error([&] { (void)io::SafetensorsReader::open(path).read<float>("w"); },
                {file, "no tensor 'w'"});
  }
}

TEST_CASE("safetensors: every prefix and every header byte change of a valid file is caught") {
  // Truncating a valid file anywhere, or corrupting its length field, must give an
  // io::Error, never a read past the buffer (run under ASan in CI).
  ScratchDir dir("trunc");
  auto m = small_mlp<float>(7);
  const auto path = dir / "m.safetensors";
  io::save_safetensors(path, m);
  const Bytes good = read_bytes(path);
  for (std::size_t n = 0; n < good.size(); n += (n < 64 ? 1 : 13)) {
    CAPTURE(n);
    const Bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS((void)io::SafetensorsReader::from_bytes(cut, "cut"), io::Error);
  }
  for (int byte = 0; byte < 8; ++byte) {
    Bytes bad = good;
    bad[static_cast<std::size_t>(byte)] ^= 0x40;
    CHECK_THROWS_AS((void)io::SafetensorsReader::from_bytes(bad, "len"), io::Error);
  }
}

TEST_CASE("safetensors: a file that does not match the model names every difference") {
  ScratchDir dir("mismatch");
  const auto path = dir / "w.safetensors";
  const std::string file = path.string();
  auto m = small_mlp<float>(1);
  io::save_safetensors(path, m);

  SUBCASE("shape mismatch") {
    nn::Sequential<float> other;
    other.add<nn::Dense>(3, 4);
    other.add<nn::ReLU>();
    other.add<nn::Dense>(4, 3);
    const auto before = other.state()[0].tensor->clone();
    check_error([&] { io::load_safetensors(path, other); },
                {file, "'2.weight'", "[2, 4]", "[3, 4]"});
    // Nothing was loaded, not even the tensors that matched.
    for (std::size_t k = 0; k < before.size(); ++k)
      CHECK(other.state()[0].tensor->data()[k] == before[k]);
  }
  SUBCASE("missing tensors") {
    nn::Sequential<float> other;
    other.add<nn::Dense>(3, 4);
    other.add<nn::ReLU>();
    other.add<nn::Dense>(4, 2);
    other.add<nn::ReLU>();
    other.add<nn::Dense>(2, 2);
    check_error([&] { io::load_safetensors(path, other); },
                {file, "missing model tensors", "'4.weight'", "'4.bias'"});
  }
  SUBCASE("unexpected tensors") {
    nn::Sequential<float> other;
    other.add<nn::Dense>(3, 4);
    other.add<nn::ReLU>();
    other.add<nn::Dense>(4, 2, false);
    check_error([&] { io::load_safetensors(path, other); }, {file, "'2.bias'", "does not have"});
  }
  SUBCASE("a num_batches_tracked without a batch-norm layer is unexpected") {
    io::SafetensorsWriter w;
    for (auto& t : m.state()) w.add(t.name, *t.tensor);
    w.add_raw("0.num_batches_tracked", "I64", {}, [](io::OutputFile& out) {
      const unsigned char z[8] = {};
      out.write(z, 8);
    });
    w.save(path);
    auto other = small_mlp<float>(2);
    check_error([&] { io::load_safetensors(path, other); }, {file, "'0.num_batches_tracked'"});
  }
  SUBCASE("no architecture metadata") {
    io::SafetensorsWriter w;
    for (auto& t : m.state()) w.add(t.name, *t.tensor);
    w.save(path);
    check_error([&] { (void)io::load_model<float>(path); }, {file, "architecture"});
    auto other = small_mlp<float>(2);
    io::load_safetensors(path, other);  // a plain weights file still loads by name
    CHECK(other.state()[2].tensor->data()[1] == m.state()[2].tensor->data()[1]);
  }
  SUBCASE("bad architecture metadata") {
    io::SafetensorsWriter w;
    w.set_metadata("architecture", R"([{"type": "Warp", "args": {}}])");
    w.save(path);
    check_error([&] { (void)io::load_model<float>(path); }, {file, "Warp"});
    w.set_metadata("architecture", R"({"type": "Dense"})");
    w.save(path);
    check_error([&] { (void)io::load_model<float>(path); }, {file, "not a JSON array"});
  }
}

TEST_CASE("safetensors writer: names, dtypes and byte counts are checked") {
  io::SafetensorsWriter w;
  Tensor<float> t({2});
  w.add("a", t);
  CHECK_THROWS_AS(w.add("a", t), pure16::InvalidArgument);
  CHECK_THROWS_AS(w.add("__metadata__", t), pure16::InvalidArgument);
  CHECK_THROWS_AS(w.add_raw("q", "Q8", {1}, [](io::OutputFile&) {}), pure16::InvalidArgument);
  w.add_raw("short", "F32", {3}, [](io::OutputFile& out) { out.write("abcd", 4); });
  ScratchDir dir("writer");
  CHECK_THROWS_AS(w.save(dir / "w.safetensors"), pure16::LogicError);
  CHECK_FALSE(fs::exists(dir / "w.safetensors"));
}

TEST_CASE("atomic write: a failure mid-write leaves the old file byte-identical") {
  ScratchDir dir("atomic");
  const auto path = dir / "model.safetensors";
  auto m = small_mlp<float>(5);
  io::save_safetensors(path, m);
  const Bytes old = read_bytes(path);
  REQUIRE(old.size() > 8);
  auto no_temp_left = [&] {
    for (const auto& e : fs::directory_iterator(dir.path))
      if (e.path() != path) return false;
    return true;
  };

  SUBCASE("a tensor source that throws after writing part of its bytes") {
    auto m2 = small_mlp<float>(6);
    io::SafetensorsWriter w;
    for (auto& t : m2.state()) w.add(t.name, *t.tensor);
    w.add_raw("late", "F32", {1024}, [](io::OutputFile& out) {
      const Bytes half_of_it(2048, 0xAB);
      out.write(half_of_it.data(), half_of_it.size());
      throw pure16::Error("simulated crash while writing 'late'");
    });
    CHECK_THROWS_WITH_AS(w.save(path), "simulated crash while writing 'late'", std::runtime_error);
    CHECK(read_bytes(path) == old);
    CHECK(no_temp_left());
  }
  SUBCASE("a body that throws before writing anything") {
    CHECK_THROWS_AS(io::write_file_atomically(path, [](io::OutputFile&) { throw 42; }), int);
    CHECK(read_bytes(path) == old);
    CHECK(no_temp_left());
  }
  SUBCASE("a rename that fails: the target is a folder") {
    fs::create_directory(dir / "taken");
    const auto folder = dir / "taken";
    try {
      io::save_safetensors(folder, m);
      FAIL("no exception");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("taken") != std::string::npos);
    }
    CHECK(fs::is_directory(folder));
    fs::remove(folder);
    CHECK(read_bytes(path) == old);
    CHECK(no_temp_left());
  }
  SUBCASE("a folder that does not exist") {
    try {
      io::save_safetensors(dir / "no" / "such" / "m.safetensors", m);
      FAIL("no exception");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("m.safetensors") != std::string::npos);
    }
  }
  SUBCASE("a successful write replaces the file and leaves no temporary") {
    auto m2 = small_mlp<float>(6);
    io::save_safetensors(path, m2);
    CHECK(read_bytes(path) != old);
    CHECK(no_temp_left());
    auto back = small_mlp<float>(0);
    io::load_safetensors(path, back);
    CHECK(back.state()[0].tensor->data()[3] == m2.state()[0].tensor->data()[3]);
  }
}
