// tests/io/io_test_util.hpp — helpers shared by the io tests: scratch folders, raw file
// bytes, hand-built safetensors files and little-endian encodings.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace io_test {

namespace fs = std::filesystem;
using Bytes = std::vector<unsigned char>;

/// A fresh folder under the system temp dir, removed with its contents on destruction.
struct ScratchDir {
  fs::path path;
  explicit ScratchDir(const std::string& tag) {
    static int counter = 0;
    path = fs::temp_directory_path() / ("pure16_io_" + tag + "_" + std::to_string(::getpid()) +
                                        "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ScratchDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  fs::path operator/(const std::string& name) const { return path / name; }
};

inline Bytes read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const fs::path& p, const Bytes& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}

/// Append the n low-order bytes of v, least significant first.
inline void put_le(Bytes& b, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) b.push_back(static_cast<unsigned char>((v >> (8 * i)) & 0xFF));
}
inline void put_f32(Bytes& b, float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  put_le(b, u, 4);
}
inline void put_f64(Bytes& b, double f) {
  std::uint64_t u;
  std::memcpy(&u, &f, 8);
  put_le(b, u, 8);
}

/// A safetensors file: 8-byte little-endian header length, header text, data section.
/// `declared_length` overrides the header length field (for malformed files).
inline Bytes safetensors_bytes(const std::string& header, const Bytes& data,
                               std::int64_t declared_length = -1) {
  Bytes b;
  put_le(b, declared_length < 0 ? header.size() : static_cast<std::uint64_t>(declared_length), 8);
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

}  // namespace io_test
