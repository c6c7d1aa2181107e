// pure16/data/file.hpp — reading data-set files whole, gzip detected by content.
//
// Contract:
//  * read_bytes(path) returns the file's bytes, or throws DataError naming the path when it
//    cannot be opened or read.
//  * read_maybe_gzip(path) returns the UNCOMPRESSED content: a file that starts with the
//    gzip magic bytes 1f 8b is inflated with zlib (whatever its name), any other file is
//    returned as is. Concatenated gzip members are inflated one after the other (as gunzip
//    does). A corrupt or truncated gzip stream is a DataError naming the file.
//  * Every error of pure16's data layer is a pure16::data::DataError (a pure16::Error)
//    whose message starts with "pure16::data: " and names the file.
#pragma once

#include <zlib.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <pure16/error.hpp>
#include <string>
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

/// Every byte of a file.
inline std::vector<std::uint8_t> read_bytes(const std::string& path) {
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

/// Inflate a gzip byte stream (one or more members). `path` is only used in messages.
inline std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& in,
                                        const std::string& path) {
  std::vector<std::uint8_t> out;
  // The last member's trailer holds its size mod 2^32: a good first guess for one member.
  if (in.size() >= 18) {
    const std::size_t n = in.size();
    const std::uint32_t isize = std::uint32_t(in[n - 4]) | std::uint32_t(in[n - 3]) << 8 |
                                std::uint32_t(in[n - 2]) << 16 | std::uint32_t(in[n - 1]) << 24;
    if (isize < (1u << 31)) out.reserve(isize);
  }
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (pos > 0 && (in.size() - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b)) {
      throw DataError(quoted(path) + " holds " + std::to_string(in.size() - pos) +
                      " bytes of trailing garbage after the gzip stream");
    }
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
      throw DataError("zlib could not be initialised to read " + quoted(path));
    }
    zs.next_in = const_cast<Bytef*>(in.data() + pos);
    zs.avail_in = static_cast<uInt>(in.size() - pos);
    std::uint8_t chunk[1 << 16];
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      zs.next_out = chunk;
      zs.avail_out = sizeof(chunk);
      rc = inflate(&zs, Z_NO_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END) {
        const std::string msg = zs.msg ? zs.msg : "";
        inflateEnd(&zs);
        if (rc == Z_BUF_ERROR) {
          throw DataError("gzip stream in " + quoted(path) +
                          " ends early: the .gz file is truncated (inflated " +
                          std::to_string(out.size() + sizeof(chunk) - zs.avail_out) +
                          " bytes before the end)");
        }
        throw DataError("corrupt gzip stream in " + quoted(path) + (msg.empty() ? "" : ": " + msg) +
                        " (zlib error " + std::to_string(rc) + ")");
      }
      out.insert(out.end(), chunk, chunk + (sizeof(chunk) - zs.avail_out));
      if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) {
        inflateEnd(&zs);
        throw DataError("gzip stream in " + quoted(path) +
                        " ends early: the .gz file is truncated (inflated " +
                        std::to_string(out.size()) + " bytes before the end)");
      }
    }
    pos = in.size() - zs.avail_in;
    inflateEnd(&zs);
  }
  return out;
}

/// The file's content, inflated when it is gzip-compressed (detected by its magic bytes).
inline std::vector<std::uint8_t> read_maybe_gzip(const std::string& path) {
  std::vector<std::uint8_t> bytes = read_bytes(path);
  if (!has_gzip_magic(bytes)) return bytes;
  std::vector<std::uint8_t> inner = gunzip(bytes, path);
  if (has_gzip_magic(inner)) {
    throw DataError(quoted(path) +
                    " is a gzip file holding another gzip file (compressed twice?); "
                    "expected the data set's file itself, plain or compressed once");
  }
  return inner;
}

}  // namespace pure16::data
