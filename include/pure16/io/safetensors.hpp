// pure16/io/safetensors.hpp — weights files in the safetensors format, exchangeable with
// PyTorch, loadable into a model of any scalar type.
//
// The format: an unsigned 64-bit little-endian header length N, N bytes of UTF-8 JSON
//   {"__metadata__": {str: str}, "<name>": {"dtype": "F16", "shape": [..],
//    "data_offsets": [begin, end]}, ...}
// (padded with spaces so that 8 + N is a multiple of 8), then the data section: each
// tensor's elements row-major, little-endian, at [begin, end) relative to the section.
//
// Contract:
//  * SafetensorsReader reads a whole file and validates it before anything is used: the
//    header length lies inside the file, the header is a JSON object, every entry has a
//    known dtype, a shape of non-negative integers and data offsets that lie inside the data
//    section and match dtype size x element count, and the tensors neither overlap nor leave
//    bytes of the section unclaimed. Every error is an io::Error naming the file and, where
//    there is one, the tensor. No byte outside the file's buffer is ever read.
//  * Tensors are converted on read to any pure16 scalar type with round-to-nearest-even
//    (kernels::convert); pure16 reads and writes F16, BF16, F32 and F64. Other dtypes of
//    the format (I64, U8, ...) are recognised so that a file holding them parses, but reading
//    one as a tensor is an "unsupported dtype" error.
//  * SafetensorsWriter writes tensors in a chosen dtype with an optional __metadata__, in the
//    order they were added, atomically (io/atomic_file.hpp).
//  * Models: tensor names and layouts are those of PyTorch's state_dict of the equivalent
//    torch.nn.Sequential ("<index>.weight", "<index>.bias", "<index>.running_mean",
//    "<index>.running_var"; Linear weight [out, in], Conv2d weight [out, in, kh, kw]).
//    save_safetensors writes every state tensor (in T's dtype unless another is chosen),
//    plus an I64 "<index>.num_batches_tracked" = 0 for each BatchNorm so that torch's strict
//    load_state_dict accepts the file (pure16 does not count batches), and a __metadata__ of
//    {"format": "pt", "pure16_version", "scalar_type", "accumulate", "architecture" (the
//    layer specs as JSON)} plus the caller's extra entries.
//  * load_safetensors(path, model) loads into a Sequential<U> of any scalar type: every state
//    tensor must be present with the model's shape, and the file must hold nothing else
//    (an I64 "<i>.num_batches_tracked" of a BatchNorm layer i is accepted and ignored).
//    Missing and unexpected tensors are listed by name. The model is modified only when the
//    whole file has been checked and converted.
//  * load_model<U>(path) rebuilds the architecture from the metadata and loads the weights.
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
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
#include <pure16/kernels/convert.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pure16::io {

/// The pure16 version recorded in the files it writes (the CMake project version).
inline constexpr std::string_view pure16_version = "0.1.0";

/// A malformed or mismatching weights file; the message names the file and the tensor.
class Error : public pure16::Error {
 public:
  using pure16::Error::Error;
};

/// String-to-string metadata of a safetensors file.
using Metadata = std::map<std::string, std::string>;

/// The dtypes pure16 reads and writes.
enum class DType { F16, BF16, F32, F64 };

inline std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::F32:
      return "F32";
    case DType::F64:
      return "F64";
  }
  return "?";
}

/// The DType called `name`, or nullopt for every other string.
inline std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  if (name == "F32") return DType::F32;
  if (name == "F64") return DType::F64;
  return std::nullopt;
}

/// Bytes per element of any dtype of the safetensors format; 0 for an unknown name.
inline std::size_t dtype_size(std::string_view name) {
  static const std::map<std::string_view, std::size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  auto it = sizes.find(name);
  return it == sizes.end() ? 0 : it->second;
}

/// The DType that stores T exactly.
template <Scalar T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, half>) return DType::F16;
  if constexpr (std::is_same_v<T, bfloat16>) return DType::BF16;
  if constexpr (std::is_same_v<T, float>) return DType::F32;
  if constexpr (std::is_same_v<T, double>) return DType::F64;
}

/// Calls f(T{}) with the scalar type T of dtype d.
template <class F>
decltype(auto) visit_dtype(DType d, F&& f) {
  switch (d) {
    case DType::F16:
      return f(half{});
    case DType::BF16:
      return f(bfloat16{});
    case DType::F32:
      return f(float{});
    case DType::F64:
      break;
  }
  return f(double{});
}

namespace detail {

/// Reverse the bytes of each of n elements of `size` bytes (big-endian hosts only).
inline void swap_bytes(void* p, std::size_t n, std::size_t size) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) std::reverse(b + i * size, b + (i + 1) * size);
}
inline void to_little_endian(void* p, std::size_t n, std::size_t size) {
  if constexpr (std::endian::native == std::endian::big) swap_bytes(p, n, size);
}

inline std::string quoted_list(const std::vector<std::string>& names, std::size_t max = 20) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < max; ++i) s += (i ? ", '" : "'") + names[i] + "'";
  if (names.size() > max) s += ", ... (" + std::to_string(names.size()) + " in all)";
  return s;
}

/// Layer specs as a JSON array [{"type": "Dense", "args": {"in": 784, ...}}, ...].
inline nlohmann::ordered_json specs_to_json(const std::vector<nn::LayerSpec>& specs) {
  auto arr = nlohmann::ordered_json::array();
  for (const auto& s : specs) {
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    for (const auto& [k, v] : s.args) {
      if (v == std::floor(v) && std::fabs(v) < 0x1p53)
        args[k] = static_cast<std::int64_t>(v);
      else
        args[k] = v;
    }
    arr.push_back({{"type", s.type}, {"args", args}});
  }
  return arr;
}

inline std::vector<nn::LayerSpec> specs_from_json(const std::string& text,
                                                  const std::string& file) {
  auto bad = [&](const std::string& why) {
    return Error("pure16::io: '" + file + "': metadata 'architecture' " + why);
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("is not valid JSON: ") + e.what());
  }
  if (!j.is_array()) throw bad("is not a JSON array of layer specs");
  std::vector<nn::LayerSpec> specs;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& l = j[i];
    const std::string at = "layer " + std::to_string(i);
    if (!l.is_object() || !l.contains("type") || !l["type"].is_string())
      throw bad(at + " has no \"type\" string");
    nn::LayerSpec s{l["type"].get<std::string>(), {}};
    if (l.contains("args")) {
      if (!l["args"].is_object()) throw bad(at + " has \"args\" that is not an object");
      for (auto it = l["args"].begin(); it != l["args"].end(); ++it) {
        if (!it.value().is_number()) throw bad(at + " argument '" + it.key() + "' is not a number");
        s.args[it.key()] = it.value().get<double>();
      }
    }
    specs.push_back(std::move(s));
  }
  return specs;
}

/// Shortest decimal text that reads back as exactly v.
inline std::string exact_double(double v) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof buf, "%.17g", v);
  return std::string(buf, static_cast<std::size_t>(n));
}

}  // namespace detail

/// pure16's architecture JSON (as in the "architecture" metadata) of a list of layer specs:
/// [{"type": "Dense", "args": {"in": 784, "out": 512, "bias": 1}}, ...].
inline std::string architecture_to_json(const std::vector<nn::LayerSpec>& specs) {
  return detail::specs_to_json(specs).dump();
}
/// The layer specs of architecture JSON text; `source` names the text in errors (io::Error).
inline std::vector<nn::LayerSpec> architecture_from_json(const std::string& text,
                                                         const std::string& source) {
  return detail::specs_from_json(text, source);
}

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

    nlohmann::json h;
    try {
      h = nlohmann::json::parse(bytes_.begin() + 8, bytes_.begin() + 8 + std::ptrdiff_t(n));
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
    std::size_t count = 1;
    bool overflow = false;
    for (const auto& d : shape) {
      if (!d.is_number_unsigned() && !(d.is_number_integer() && d.get<std::int64_t>() >= 0))
        throw error(t + " has a shape that is not a list of non-negative integers");
      const auto dim = d.get<std::uint64_t>();
      if (dim > std::numeric_limits<std::size_t>::max()) overflow = true;
      e.shape.push_back(static_cast<std::size_t>(dim));
    }
    for (std::size_t dim : e.shape) {
      if (dim != 0 && count > std::numeric_limits<std::size_t>::max() / dim) overflow = true;
      count *= dim;
    }
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
    if (overflow || count > std::numeric_limits<std::size_t>::max() / esize ||
        count * esize != en - b) {
      throw error(t + " has data offsets " + range + " (" + std::to_string(en - b) +
                  " bytes), but dtype " + e.dtype + " and shape " + shape_str(e.shape) +
                  (overflow ? " overflow" : " need " + std::to_string(count * esize) + " bytes"));
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
    entries_.push_back({name, dtype, shape, shape_size(shape) * esize, std::move(source)});
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

// ---- models ---------------------------------------------------------------------------

namespace detail {

inline std::string accumulate_name(Accumulate a) {
  return a == Accumulate::Native ? "native" : "float";
}

/// Metadata every pure16 file records about a model.
template <Scalar T>
Metadata model_metadata(const nn::Sequential<T>& model) {
  return {{"pure16_version", std::string(pure16_version)},
          {"scalar_type", std::string(scalar_traits<T>::name)},
          {"accumulate", accumulate_name(model.accumulate())},
          {"architecture", specs_to_json(model.specs()).dump()}};
}

/// Add every state tensor of `model` under `prefix` + its state name (plus the I64
/// num_batches_tracked of BatchNorm layers when `torch_extras`).
template <Scalar T>
void add_model_tensors(SafetensorsWriter& w, nn::Sequential<T>& model, const std::string& prefix,
                       std::optional<DType> as, bool torch_extras) {
  for (const auto& t : model.state()) w.add(prefix + t.name, *t.tensor, as);
  if (!torch_extras) return;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model[i].type() != "BatchNorm") continue;
    w.add_raw(prefix + std::to_string(i) + ".num_batches_tracked", "I64", {}, [](OutputFile& out) {
      const unsigned char zero[8] = {};
      out.write(zero, 8);
    });
  }
}

/// Checked, converted values for a set of destination tensors; commit() copies them in.
template <Scalar U>
class StagedLoad {
 public:
  void stage(Tensor<U>* dst, Tensor<U> value) { items_.emplace_back(dst, std::move(value)); }
  void commit() {
    for (auto& [dst, v] : items_) dst->copy_from(v);
  }

 private:
  std::vector<std::pair<Tensor<U>*, Tensor<U>>> items_;
};

/// Match the file's tensors named `prefix` + name against `expected` (name -> destination):
/// every expected tensor present with the same shape, nothing else under `prefix` except
/// the names `ignorable` accepts. Stages the converted values.
template <Scalar U>
void stage_tensors(const SafetensorsReader& file, const std::string& prefix,
                   const std::vector<std::pair<std::string, Tensor<U>*>>& expected,
                   const std::function<bool(const TensorEntry&, const std::string&)>& ignorable,
                   const std::string& what, StagedLoad<U>& staged) {
  std::map<std::string, Tensor<U>*> want;
  for (const auto& [name, t] : expected) want[name] = t;
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, t] : expected)
    if (!file.find(prefix + name)) missing.push_back(prefix + name);
  for (const auto& e : file.entries()) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string local = e.name.substr(prefix.size());
    if (!want.count(local) && !(ignorable && ignorable(e, local))) unexpected.push_back(e.name);
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string msg;
    if (!missing.empty()) msg += "is missing " + what + " tensors " + quoted_list(missing);
    if (!unexpected.empty()) {
      msg += std::string(missing.empty() ? "" : "; it ") + "has tensors " +
             quoted_list(unexpected) + " that the " + what + " does not have";
    }
    throw file.error(msg);
  }
  for (const auto& [name, t] : expected) {
    const TensorEntry& e = file.at(prefix + name);
    if (e.shape != t->shape()) {
      throw file.error("tensor '" + e.name + "' has shape " + shape_str(e.shape) + " but the " +
                       what + "'s is " + shape_str(t->shape()));
    }
    staged.stage(t, file.read<U>(e));
  }
}

/// Stage the state of `model` from the tensors named `prefix` + state name.
template <Scalar U>
void stage_model(const SafetensorsReader& file, nn::Sequential<U>& model, const std::string& prefix,
                 StagedLoad<U>& staged) {
  std::vector<std::pair<std::string, Tensor<U>*>> expected;
  std::set<std::string> has_running_mean;
  for (const auto& t : model.state()) {
    expected.emplace_back(t.name, t.tensor);
    if (t.name.size() > 13 && t.name.ends_with(".running_mean"))
      has_running_mean.insert(t.name.substr(0, t.name.size() - 13));
  }
  // PyTorch's BatchNorm counter: an I64 scalar (or one-element) tensor, ignored.
  auto ignorable = [&](const TensorEntry& e, const std::string& local) {
    constexpr std::string_view suffix = ".num_batches_tracked";
    if (!local.ends_with(suffix) || e.dtype != "I64" || e.end - e.begin != 8) return false;
    return has_running_mean.count(local.substr(0, local.size() - suffix.size())) > 0;
  };
  stage_tensors<U>(file, prefix, expected, ignorable, "model", staged);
}

inline Accumulate parse_accumulate(const SafetensorsReader& file) {
  const auto a = file.metadata("accumulate");
  if (!a || *a == "float") return Accumulate::Float;
  if (*a == "native") return Accumulate::Native;
  throw file.error("metadata 'accumulate' is '" + *a + "' (expected 'float' or 'native')");
}

}  // namespace detail

/// Load every state tensor of `model` from an open file (see the header comment).
template <Scalar U>
void load_state(const SafetensorsReader& file, nn::Sequential<U>& model) {
  detail::StagedLoad<U> staged;
  detail::stage_model(file, model, "", staged);
  staged.commit();
}

/// Save `model` as a safetensors file at `path` (atomically). Tensors are stored in T's
/// dtype, or in `as` (rounded to nearest-even); `extra` entries join the metadata.
template <Scalar T>
void save_safetensors(const std::filesystem::path& path, nn::Sequential<T>& model,
                      const Metadata& extra = {}, std::optional<DType> as = std::nullopt) {
  SafetensorsWriter w;
  Metadata meta = detail::model_metadata(model);
  meta["format"] = "pt";
  for (const auto& [k, v] : extra) {
    if (meta.count(k)) {
      throw pure16::InvalidArgument("pure16::io::save_safetensors: metadata key '" + k +
                                    "' is reserved by pure16");
    }
    meta[k] = v;
  }
  for (const auto& [k, v] : meta) w.set_metadata(k, v);
  detail::add_model_tensors(w, model, "", as, true);
  w.save(path);
}

/// Load the weights file at `path` into `model`, converting to U on load.
template <Scalar U>
void load_safetensors(const std::filesystem::path& path, nn::Sequential<U>& model) {
  load_state(SafetensorsReader::open(path), model);
}

/// The layer specs a pure16 file records in its metadata.
inline std::vector<nn::LayerSpec> read_architecture(const SafetensorsReader& file) {
  const auto arch = file.metadata("architecture");
  if (!arch) {
    throw file.error(
        "has no 'architecture' metadata (not written by pure16?); build the model and use "
        "load_safetensors");
  }
  return detail::specs_from_json(*arch, file.source());
}

/// Rebuild the model a pure16 file describes, in scalar type U, and load its weights.
template <Scalar U>
nn::Sequential<U> load_model(const std::filesystem::path& path) {
  const auto file = SafetensorsReader::open(path);
  std::vector<nn::LayerSpec> specs = read_architecture(file);
  nn::Sequential<U> model;
  try {
    model = nn::Sequential<U>::from_specs(specs);
  } catch (const pure16::InvalidArgument& e) {
    throw file.error(std::string("metadata 'architecture' cannot be built: ") + e.what());
  }
  model.set_accumulate(detail::parse_accumulate(file));
  load_state(file, model);
  return model;
}

}  // namespace pure16::io
