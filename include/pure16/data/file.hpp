// pure16/data/file.hpp — reading data-set files whole; the data layer's error type.
//
// Contract:
//  * read_bytes(path) returns the file's bytes, or throws DataError naming the path when it
//    cannot be opened or read, or when it is not a regular file (a directory, a device, a
//    fifo): those are refused by name before anything is allocated.
//  * Every error of pure16's data layer is a pure16::data::DataError (a pure16::Error)
//    whose message starts with "pure16::data: " and names the file.
//  * No zlib here: gzip inflation lives in data/gzip.hpp, included only by the loaders that
//    read possibly compressed files (idx.hpp, cifar10.hpp).
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <pure16/error.hpp>
#include <pure16/file_kind.hpp>
#include <string>
#include <system_error>
#include <vector>

namespace pure16::data {

class DataError : public pure16::Error {
 public:
  explicit DataError(const std::string& what) : pure16::Error("pure16::data: " + what) {}
};

/// "'<path>'" — paths are quoted in messages so that spaces stay visible.
inline std::string quoted(const std::string& path) {
  return "'" + path + "'";
}

inline bool has_gzip_magic(const std::vector<std::uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

/// Every byte of a regular file.
inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || st.type() == std::filesystem::file_type::not_found) {
    const int e = ec ? ec.value() : ENOENT;
    throw DataError("cannot open " + quoted(path) + ": " + std::strerror(e));
  }
  if (st.type() != std::filesystem::file_type::regular) {
    throw DataError("cannot read " + quoted(path) + ": it is " + pure16::file_kind(st.type()) +
                    ", not a regular file");
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    throw DataError("cannot open " + quoted(path) + ": " + std::strerror(errno));
  }
  const auto end = in.tellg();
  if (end < 0) throw DataError("cannot determine the size of " + quoted(path));
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(end));
  in.seekg(0);
  if (!bytes.empty() &&
      !in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    throw DataError("error while reading " + quoted(path));
  }
  return bytes;
}

}  // namespace pure16::data
