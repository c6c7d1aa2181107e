// pure16/data/gzip.hpp — gzip inflation of data-set files, bounded by what the format holds.
//
// Contract:
//  * gunzip(bytes, path, limit) inflates a gzip stream (one or more concatenated members,
//    as gunzip does) in 64 KiB steps. The output grows only with what was inflated (the
//    size word in the trailer is never trusted for an allocation), and it never exceeds
//    `limit(head)` bytes: `limit` is asked, after each step, for the largest size the
//    format can hold given the bytes inflated so far (e.g. what an IDX header declares).
//    More output than that is a DataError naming the file and the bound.
//  * read_maybe_gzip(path, limit) returns the UNCOMPRESSED content: a file that starts with
//    the gzip magic bytes 1f 8b is inflated (whatever its name), any other file is returned
//    as is. A corrupt or truncated gzip stream, trailing garbage, or a gzip file inside a
//    gzip file is a DataError naming the file.
#pragma once

#include <zlib.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <pure16/data/file.hpp>
#include <span>
#include <string>
#include <vector>

namespace pure16::data {

/// The largest inflated size the format allows, given the first bytes inflated so far
/// (SIZE_MAX while it is not known yet). Empty: no bound beyond memory.
using SizeLimit = std::function<std::size_t(std::span<const std::uint8_t> head)>;

namespace detail {
/// inflateEnd on every way out of a member.
struct Inflater {
  z_stream zs{};
  bool live = false;
  ~Inflater() {
    if (live) inflateEnd(&zs);
  }
};
}  // namespace detail

/// Inflate a gzip byte stream (one or more members). `path` is only used in messages.
inline std::vector<std::uint8_t> gunzip(const std::vector<std::uint8_t>& in,
                                        const std::string& path, const SizeLimit& limit = {}) {
  std::vector<std::uint8_t> out;
  std::size_t bound = std::numeric_limits<std::size_t>::max();
  std::vector<std::uint8_t> chunk(std::size_t{1} << 16);
  constexpr std::size_t kMaxFeed = std::size_t{1} << 30;  // avail_in is 32-bit
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (pos > 0 && (in.size() - pos < 2 || in[pos] != 0x1f || in[pos + 1] != 0x8b)) {
      throw DataError(quoted(path) + " holds " + std::to_string(in.size() - pos) +
                      " bytes of trailing garbage after the gzip stream");
    }
    detail::Inflater inf;
    z_stream& zs = inf.zs;
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
      throw DataError("zlib could not be initialised to read " + quoted(path));
    }
    inf.live = true;
    std::size_t fed = pos;  // input bytes handed to zlib so far
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
      if (zs.avail_in == 0 && fed < in.size()) {
        const std::size_t n = std::min(kMaxFeed, in.size() - fed);
        zs.next_in = const_cast<Bytef*>(in.data() + fed);
        zs.avail_in = static_cast<uInt>(n);
        fed += n;
      }
      zs.next_out = chunk.data();
      zs.avail_out = static_cast<uInt>(chunk.size());
      rc = inflate(&zs, Z_NO_FLUSH);
      const std::size_t got = chunk.size() - zs.avail_out;
      if (rc != Z_OK && rc != Z_STREAM_END) {
        if (rc == Z_BUF_ERROR) {
          throw DataError("gzip stream in " + quoted(path) +
                          " ends early: the .gz file is truncated (inflated " +
                          std::to_string(out.size() + got) + " bytes before the end)");
        }
        const std::string msg = zs.msg ? zs.msg : "";
        throw DataError("corrupt gzip stream in " + quoted(path) + (msg.empty() ? "" : ": " + msg) +
                        " (zlib error " + std::to_string(rc) + ")");
      }
      out.insert(out.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(got));
      if (limit && got > 0) bound = limit(std::span<const std::uint8_t>(out));
      if (out.size() > bound) {
        throw DataError(quoted(path) + " inflates to more than the " + std::to_string(bound) +
                        " bytes its format allows (a gzip bomb, or a header that declares "
                        "less data than the file holds)");
      }
      if (rc == Z_OK && zs.avail_in == 0 && fed == in.size() && zs.avail_out != 0) {
        throw DataError("gzip stream in " + quoted(path) +
                        " ends early: the .gz file is truncated (inflated " +
                        std::to_string(out.size()) + " bytes before the end)");
      }
    }
    pos = fed - zs.avail_in;
  }
  return out;
}

/// The file's content, inflated when it is gzip-compressed (detected by its magic bytes).
inline std::vector<std::uint8_t> read_maybe_gzip(const std::string& path,
                                                 const SizeLimit& limit = {}) {
  std::vector<std::uint8_t> bytes = read_bytes(path);
  if (!has_gzip_magic(bytes)) return bytes;
  // A gzip file inside: refused as soon as its first bytes are out, not once it is whole.
  const SizeLimit checked = [&](std::span<const std::uint8_t> head) {
    if (head.size() >= 2 && head[0] == 0x1f && head[1] == 0x8b) {
      throw DataError(quoted(path) +
                      " is a gzip file holding another gzip file (compressed twice?); "
                      "expected the data set's file itself, plain or compressed once");
    }
    return limit ? limit(head) : std::numeric_limits<std::size_t>::max();
  };
  return gunzip(bytes, path, checked);
}

}  // namespace pure16::data
