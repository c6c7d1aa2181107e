// pure16/io/safetensors_format.hpp — the safetensors FILE FORMAT: a validating reader and
// an atomic writer, with no knowledge of models (no nn/ dependency).
//
// The format: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F16", "shape": [..],
//    "data_offsets": [begin, end]}, ...}
// (padded with spaces so that 8 + N is a multiple of 8), then the data section: each
// tensor's elements row-major, little-endian, at [begin, end) relative to the section.
//
// Contract:
//  * SafetensorsReader reads a whole regular file and validates it before anything is
//    used: the header length lies inside the file, the header is a JSON object with no
//    duplicate key (at any depth) and nothing but spaces after its end (no NUL or other
//    trailing bytes), every entry has a known dtype, a shape of non-negative integers whose
//    element and byte counts do not overflow, and data offsets that lie inside the data
//    section and match dtype size x element count, and the tensors neither overlap nor
//    leave bytes of the section unclaimed. Every error is an io::Error naming the file and,
//    where there is one, the tensor. No byte outside the file's buffer is ever read, and no
//    allocation is larger than the file or than a tensor the file actually holds.
//  * Tensors are converted on read to any pure16 scalar type with round-to-nearest-even
//    (kernels::convert); pure16 reads and writes F16, BF16, F32 and F64. Other dtypes of
//    the format (I64, U8, ...) are recognised so that a file holding them parses, but reading
//    one as a tensor is an "unsupported dtype" error.
//  * SafetensorsWriter writes tensors in a chosen dtype with an optional __metadata__, in the
//    order they were added, atomically (io/atomic_file.hpp).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <pure16/error.hpp>
#include <pure16/io/atomic_file.hpp>
#include <pure16/io/dtype.hpp>
#include <pure16/kernels/convert.hpp>
#include <pure16/scalar.hpp>
#include <pure16/size.hpp>
#include <pure16/tensor.hpp>
#include <pure16/version.hpp>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pure16::io {

/// The pure16 version recorded in the files it writes (pure16/version.hpp, from CMake).
inline constexpr std::string_view pure16_version = pure16::version;

/// A malformed or mismatching weights file; the message names the file and the tensor.
class Error : public pure16::Error {
 public:
  using pure16::Error::Error;
};

/// String-to-string metadata of a safetensors file.
using Metadata = std::map<std::string, std::string>;

namespace detail {

inline std::string quoted_list(const std::vector<std::string>& names, std::size_t max = 20) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < max; ++i) s += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > max) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

/// Shortest decimal text that reads back as exactly v.
inline std::string exact_double(double v) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace detail

/// One tensor of a safetensors header; [begin, end) is relative to the data section.
struct TensorEntry {
  std::string name;
  std::string dtype;
  Shape shape;
  std::size_t begin = 0, end = 0;
};

/// A validated safetensors file held in memory.
class SafetensorsReader {
 public:
  /// Read and validate the file at `path`.
  static SafetensorsReader open(const std::filesystem::path& path) {
    const std::string name = path.string();
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      throw Error("pure16::io: cannot open '" + name + "' for reading: " +
                  (std::filesystem::exists(path, ec) ? "not a regular file" : "no such file"));
    }
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw Error("pure16::io: cannot determine the size of '" + name + "': " + ec.message());
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("pure16::io: cannot open '" + name + "' for reading");
    std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
    if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), std::streamsize(size)))
      throw Error("pure16::io: cannot read '" + name + "'");
    return SafetensorsReader(std::move(bytes), name);
  }
  /// Validate `bytes` as a safetensors file; `name` is used in error messages.
  static SafetensorsReader from_bytes(std::vector<unsigned char> bytes, std::string name) {
    return SafetensorsReader(std::move(bytes), std::move(name));
  }

  const std::string& source() const { return source_; }
  const Metadata& metadata() const { return metadata_; }
  /// The metadata value for `key`, or nullopt.
  std::optional<std::string> metadata(const std::string& key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end()) return std::nullopt;
    return it->second;
  }
  /// Every tensor, ordered by position in the data section.
  const std::vector<TensorEntry>& entries() const { return entries_; }
  std::size_t header_length() const { return header_len_; }

  const TensorEntry* find(const std::string& name) const {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &entries_[it->second];
  }
  const TensorEntry& at(const std::string& name) const {
    if (const auto* e = find(name)) return *e;
    throw error("has no tensor '" + name + "'");
  }

  /// The raw little-endian bytes of a tensor.
  std::span<const unsigned char> raw(const TensorEntry& e) const {
    return {bytes_.data() + data_start_ + e.begin, e.end - e.begin};
  }

  /// A tensor converted to U (nearest-even); an unsupported dtype throws.
  template <Scalar U>
  Tensor<U> read(const TensorEntry& e) const {
    const auto d = parse_dtype(e.dtype);
    if (!d) {
      throw error("tensor '" + e.name + "' has dtype " + e.dtype +
                  ", which pure16 does not read (unsupported dtype; F16, BF16, F32 and F64 are)");
    }
    Tensor<U> out(e.shape);
    const std::size_t n = out.size();
    if (n == 0) return out;
    const unsigned char* src = bytes_.data() + data_start_ + e.begin;
    visit_dtype(*d, [&](auto tag) {
      using D = decltype(tag);
      if constexpr (std::is_same_v<D, U>) {
        std::memcpy(static_cast<void*>(out.data()), src, n * sizeof(U));
        detail::to_little_endian(out.data(), n, sizeof(U));
      } else {
        constexpr std::size_t chunk = 4096;
        std::vector<D> buf(std::min(n, chunk));
        for (std::size_t i = 0; i < n; i += chunk) {
          const std::size_t m = std::min(chunk, n - i);
          std::memcpy(static_cast<void*>(buf.data()), src + i * sizeof(D), m * sizeof(D));
          detail::to_little_endian(buf.data(), m, sizeof(D));
          kernels::convert(buf.data(), out.data() + i, m);
        }
      }
    });
    return out;
  }
  template <Scalar U>
  Tensor<U> read(const std::string& name) const {
    return read<U>(at(name));
  }

  /// io::Error "pure16::io: '<file>': <what>".
  Error error(const std::string& what) const {
    return Error("pure16::io: '" + source_ + "': " + what);
  }

 private:
  SafetensorsReader(std::vector<unsigned char> bytes, std::string name)
      : bytes_(std::move(bytes)), source_(std::move(name)) {
    parse();
  }

  void parse() {
    const std::size_t size = bytes_.size();
    if (size < 8) {
      throw error("is " + std::to_string(size) +
                  " bytes long, too short for the 8-byte header length of a safetensors file");
    }
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes_[static_cast<std::size_t>(i)];
    if (n > size - 8) {
      throw error("header length " + std::to_string(n) + " runs beyond the end of the file (" +
                  std::to_string(size) + " bytes)");
    }
    header_len_ = static_cast<std::size_t>(n);
    data_start_ = 8 + header_len_;
    const std::size_t data_size = size - data_start_;

    // JSON stops reading at a NUL byte, so whatever follows one would be ignored: refuse it
    // (the format's reference reader does too).
    const auto* hb = bytes_.data() + 8;
    if (const void* nul = std::memchr(hb, 0, header_len_)) {
      const std::size_t at = static_cast<std::size_t>(static_cast<const unsigned char*>(nul) - hb);
      throw error("header holds a NUL byte at offset " + std::to_string(at) + " of its " +
                  std::to_string(header_len_) + " bytes");
    }
    // Duplicate keys: a JSON parser keeps one of them silently; track the keys of every open
    // object and refuse a repeat.
    std::vector<std::set<std::string>> open_objects;
    const auto no_duplicates = [&](int /*depth*/, nlohmann::json::parse_event_t ev,
                                   nlohmann::json& parsed) {
      using E = nlohmann::json::parse_event_t;
      if (ev == E::object_start) {
        open_objects.emplace_back();
      } else if (ev == E::object_end) {
        if (!open_objects.empty()) open_objects.pop_back();
      } else if (ev == E::key && !open_objects.empty()) {
        const std::string& k = parsed.get_ref<const std::string&>();
        if (!open_objects.back().insert(k).second) {
          throw error("header has the key '" + k + "' twice" +
                      (open_objects.size() == 1 ? " (two tensors of one name)" : ""));
        }
      }
      return true;
    };
    nlohmann::json h;
    try {
      h = nlohmann::json::parse(hb, hb + header_len_, no_duplicates);
    } catch (const nlohmann::json::exception& e) {
      throw error(std::string("header is not valid JSON: ") + e.what());
    }
    if (!h.is_object()) throw error("header is not a JSON object");

    for (auto it = h.begin(); it != h.end(); ++it) {
      const std::string& key = it.key();
      const auto& v = it.value();
      if (key == "__metadata__") {
        if (!v.is_object()) throw error("__metadata__ is not a JSON object");
        for (auto m = v.begin(); m != v.end(); ++m) {
          if (!m.value().is_string())
            throw error("__metadata__ entry '" + m.key() + "' is not a string");
          metadata_[m.key()] = m.value().get<std::string>();
        }
        continue;
      }
      entries_.push_back(parse_entry(key, v, data_size));
    }

    // Ordered by position: no overlaps, no unclaimed bytes.
    std::sort(entries_.begin(), entries_.end(), [](const TensorEntry& a, const TensorEntry& b) {
      return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    std::size_t covered = 0;
    const TensorEntry* last = nullptr;
    for (const auto& e : entries_) {
      if (e.begin < covered) {
        throw error("tensors '" + last->name + "' (data offsets [" + std::to_string(last->begin) +
                    ", " + std::to_string(last->end) + "]) and '" + e.name + "' ([" +
                    std::to_string(e.begin) + ", " + std::to_string(e.end) + "]) overlap");
      }
      if (e.begin > covered) {
        throw error("bytes [" + std::to_string(covered) + ", " + std::to_string(e.begin) +
                    ") of the data section belong to no tensor (before tensor '" + e.name + "')");
      }
      if (e.end > covered) {
        covered = e.end;
        last = &e;
      }
    }
    if (covered != data_size) {
      throw error("bytes [" + std::to_string(covered) + ", " + std::to_string(data_size) +
                  ") at the end of the data section belong to no tensor");
    }
    for (std::size_t i = 0; i < entries_.size(); ++i) index_[entries_[i].name] = i;
  }

  TensorEntry parse_entry(const std::string& name, const nlohmann::json& v,
                          std::size_t data_size) const {
    const std::string t = "tensor '" + name + "'";
    if (!v.is_object()) throw error(t + " is not described by a JSON object");
    for (const char* k : {"dtype", "shape", "data_offsets"})
      if (!v.contains(k)) throw error(t + " has no \"" + k + "\"");
    TensorEntry e;
    e.name = name;
    if (!v["dtype"].is_string()) throw error(t + " has a dtype that is not a string");
    e.dtype = v["dtype"].get<std::string>();
    const std::size_t esize = dtype_size(e.dtype);
    if (esize == 0) throw error(t + " has unknown dtype '" + e.dtype + "'");
    const auto& shape = v["shape"];
    if (!shape.is_array()) throw error(t + " has a shape that is not a list");
    bool overflow = false;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0))
        throw error(t + " has a shape that is not a list of non-negative integers");
      const auto dim = d.get<std::uint64_t>();
      if (dim > std::numeric_limits<std::size_t>::max()) overflow = true;
      e.shape.push_back(static_cast<std::size_t>(dim));
    }
    std::size_t count = 0, bytes = 0;  // size.hpp's overflow-checked product
    if (!pure16::detail::product_fits(e.shape, count) ||
        __builtin_mul_overflow(count, esize, &bytes))
      overflow = true;
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned()) {
      throw error(t + " has data_offsets that are not two non-negative integers");
    }
    const auto b = off[0].get<std::uint64_t>(), en = off[1].get<std::uint64_t>();
    const std::string range = "[" + std::to_string(b) + ", " + std::to_string(en) + "]";
    if (b > en) throw error(t + " has data offsets " + range + " that end before they begin");
    if (en > data_size) {
      throw error(t + " has data offsets " + range + " outside the data section (" +
                  std::to_string(data_size) + " bytes)");
    }
    if (overflow || bytes != en - b) {
      throw error(t + " has data offsets " + range + " (" + std::to_string(en - b) +
                  " bytes), but dtype " + e.dtype + " and shape " + shape_str(e.shape) +
                  (overflow ? " overflow" : " need " + std::to_string(bytes) + " bytes"));
    }
    e.begin = static_cast<std::size_t>(b);
    e.end = static_cast<std::size_t>(en);
    return e;
  }

  std::vector<unsigned char> bytes_;
  std::string source_;
  std::size_t header_len_ = 0, data_start_ = 0;
  Metadata metadata_;
  std::vector<TensorEntry> entries_;
  std::map<std::string, std::size_t> index_;
};

/// Builds a safetensors file: tensors in the order added, then written atomically.
class SafetensorsWriter {
 public:
  /// Writes a tensor's bytes at save time; must write exactly dtype size x element count.
  using ByteSource = std::function<void(OutputFile&)>;

  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  const Metadata& metadata() const { return metadata_; }

  /// Add a tensor, stored as `as` (T's own dtype by default; otherwise rounded to
  /// nearest-even). The tensor's storage is shared, not copied: keep it unchanged until save.
  template <Scalar T>
  void add(const std::string& name, const Tensor<T>& t, std::optional<DType> as = std::nullopt) {
    const DType d = as.value_or(dtype_of<T>());
    Tensor<T> keep = t;
    add_raw(name, std::string(dtype_name(d)), t.shape(), [keep, d](OutputFile& out) {
      visit_dtype(d, [&](auto tag) {
        using D = decltype(tag);
        const std::size_t n = keep.size();
        constexpr std::size_t chunk = 4096;
        std::vector<D> buf(std::min(n, chunk));
        for (std::size_t i = 0; i < n; i += chunk) {
          const std::size_t m = std::min(chunk, n - i);
          kernels::convert(keep.data() + i, buf.data(), m);
          detail::to_little_endian(buf.data(), m, sizeof(D));
          out.write(buf.data(), m * sizeof(D));
        }
      });
    });
  }

  /// Add a tensor of any dtype of the format whose bytes `source` writes at save time.
  void add_raw(const std::string& name, const std::string& dtype, const Shape& shape,
               ByteSource source) {
    if (name.empty() || name == "__metadata__")
      throw pure16::InvalidArgument("pure16::io::SafetensorsWriter: invalid tensor name '" + name +
                                    "'");
    const std::size_t esize = dtype_size(dtype);
    if (esize == 0) {
      throw pure16::InvalidArgument("pure16::io::SafetensorsWriter: tensor '" + name +
                                    "' has unknown dtype '" + dtype + "'");
    }
    if (!names_.insert(name).second) {
      throw pure16::InvalidArgument("pure16::io::SafetensorsWriter: tensor '" + name +
                                    "' added twice");
    }
    const std::size_t bytes = checked_mul(shape_size(shape), esize, [&] {
      return "pure16::io::SafetensorsWriter: bytes of tensor '" + name + "'";
    });
    entries_.push_back({name, dtype, shape, bytes, std::move(source)});
  }

  std::size_t size() const { return entries_.size(); }

  /// The header JSON, padded with spaces to a multiple of 8 bytes.
  std::string header() const {
    nlohmann::ordered_json h = nlohmann::ordered_json::object();
    if (!metadata_.empty()) h["__metadata__"] = metadata_;
    std::size_t off = 0;
    for (const auto& e : entries_) {
      h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {off, off + e.bytes}}};
      off += e.bytes;
    }
    std::string s = h.dump();
    s.append((8 - s.size() % 8) % 8, ' ');
    return s;
  }

  /// Write the whole file to `out`.
  void write(OutputFile& out) const {
    const std::string h = header();
    unsigned char len[8];
    std::uint64_t n = h.size();
    for (auto& b : len) {
      b = static_cast<unsigned char>(n & 0xFF);
      n >>= 8;
    }
    out.write(len, 8);
    out.write(h.data(), h.size());
    for (const auto& e : entries_) {
      const std::size_t before = out.written();
      e.source(out);
      if (out.written() - before != e.bytes) {
        throw pure16::LogicError("pure16::io::SafetensorsWriter: tensor '" + e.name + "' wrote " +
                                 std::to_string(out.written() - before) + " bytes, expected " +
                                 std::to_string(e.bytes));
      }
    }
  }

  /// Write the file at `path` atomically (the old file survives any failure).
  void save(const std::filesystem::path& path) const {
    write_file_atomically(path, [&](OutputFile& out) { write(out); });
  }

 private:
  struct Entry {
    std::string name, dtype;
    Shape shape;
    std::size_t bytes;
    ByteSource source;
  };
  Metadata metadata_;
  std::vector<Entry> entries_;
  std::set<std::string> names_;
};

}  // namespace pure16::io
