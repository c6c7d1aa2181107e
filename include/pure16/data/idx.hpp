// pure16/data/idx.hpp — IDX files (MNIST, Fashion-MNIST, ...), plain or gzip-compressed.
//
// Contract:
//  * read_idx(path) parses an IDX file: magic 00 00 <type> <ndim>, ndim big-endian uint32
//    dimensions, then the elements. Only unsigned-byte elements (type 0x08, what the MNIST
//    family uses) are accepted. The file may be gzip-compressed; that is detected from its
//    first bytes, not its name.
//  * read_idx_images / read_idx_labels also check the rank (3 for images, 1 for labels).
//  * load_mnist(dir, split) reads "<split>-images-idx3-ubyte" and "<split>-labels-idx1-ubyte"
//    (each plain or with ".gz") from dir, split "train" or "t10k" ("test" is an alias of
//    t10k), checks that the counts match and every label is below 10, and returns a
//    Dataset of N x 1 x 28 x 28 uint8 images scaled to [0, 1] by default.
//  * Every malformed input is a DataError naming the file and what is wrong: missing file
//    (with every path tried), wrong magic (with a hint when the bytes look like a CIFAR-10
//    batch or another IDX kind), unsupported element type, truncated or over-long data,
//    count mismatch, label out of range, an empty file, a file of 0 images or of 0-pixel
//    images, dimensions whose product overflows; load_mnist also refuses images that are
//    not 28 x 28. A compressed file is never inflated beyond what its header declares.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <pure16/data/dataset.hpp>
#include <pure16/data/file.hpp>
#include <pure16/data/gzip.hpp>
#include <pure16/size.hpp>
#include <span>
#include <sstream>
#include <string>
#include <vector>

namespace pure16::data {

struct IdxArray {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> data;
};

namespace detail {

inline std::string hex_bytes(const std::vector<std::uint8_t>& b, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (std::size_t i = 0; i < n && i < b.size(); ++i) {
    if (i) s += ' ';
    s += digits[b[i] >> 4];
    s += digits[b[i] & 15];
  }
  return s;
}

inline std::string idx_type_name(std::uint8_t t) {
  switch (t) {
    case 0x08:
      return "unsigned byte";
    case 0x09:
      return "signed byte";
    case 0x0B:
      return "int16";
    case 0x0C:
      return "int32";
    case 0x0D:
      return "float32";
    case 0x0E:
      return "float64";
    default:
      return "unknown";
  }
}

}  // namespace detail

/// Parse IDX bytes (already inflated); `path` names the file in messages.
inline IdxArray parse_idx(const std::vector<std::uint8_t>& b, const std::string& path) {
  if (b.empty()) throw DataError(quoted(path) + " is empty (0 bytes); expected an IDX file");
  if (b.size() < 4) {
    throw DataError(quoted(path) + " is " + std::to_string(b.size()) +
                    " bytes long, too short for the 4 magic bytes of an IDX file (" +
                    detail::hex_bytes(b, 4) + ")");
  }
  if (b[0] != 0 || b[1] != 0) {
    std::string hint;
    if (!b.empty() && b.size() % 3073 == 0 && b[0] < 10) {
      hint = "; it looks like a CIFAR-10 binary batch (records of 1 label + 3072 pixels)";
    } else if (b.size() >= 4 && b[0] == 'P' && b[1] == 'K') {
      hint = "; it looks like a zip archive: extract it first";
    }
    throw DataError(quoted(path) + " is not an IDX file: magic bytes " + detail::hex_bytes(b, 4) +
                    ", expected 00 00 08 <rank>" + hint);
  }
  const std::uint8_t type = b[2];
  const std::size_t ndim = b[3];
  if (type != 0x08) {
    std::ostringstream os;
    os << std::hex << int(type);
    throw DataError(quoted(path) + " holds IDX elements of type 0x" + os.str() + " (" +
                    detail::idx_type_name(type) + "); only 0x08 (unsigned byte) is supported");
  }
  if (ndim == 0) throw DataError(quoted(path) + " is an IDX file of rank 0");
  const std::size_t header = 4 + 4 * ndim;
  if (b.size() < header) {
    throw DataError(quoted(path) + " is truncated: its IDX header needs " + std::to_string(header) +
                    " bytes, got " + std::to_string(b.size()));
  }
  IdxArray a;
  for (std::size_t i = 0; i < ndim; ++i) {
    const std::uint8_t* p = b.data() + 4 + 4 * i;
    const std::size_t d = std::size_t(p[0]) << 24 | std::size_t(p[1]) << 16 |
                          std::size_t(p[2]) << 8 | std::size_t(p[3]);
    a.dims.push_back(d);
  }
  const std::size_t count =
      checked_product<DataError>(a.dims, [&] { return quoted(path) + ": IDX dimensions"; });
  const std::size_t got = b.size() - header;
  if (got < count) {
    throw DataError(quoted(path) + " is truncated: its header announces " + std::to_string(count) +
                    " bytes of data, got " + std::to_string(got));
  }
  if (got > count) {
    throw DataError(quoted(path) + " has " + std::to_string(got - count) +
                    " unexpected bytes after the " + std::to_string(count) +
                    " bytes its header announces");
  }
  a.data.assign(b.begin() + static_cast<std::ptrdiff_t>(header), b.end());
  return a;
}

/// The size an IDX file can have given its first bytes: header + the data its dimensions
/// declare (SIZE_MAX until the header is complete). Bounds gzip inflation.
inline std::size_t idx_size_limit(std::span<const std::uint8_t> head, const std::string& path) {
  if (head.size() < 4) return std::numeric_limits<std::size_t>::max();
  if (head[0] != 0 || head[1] != 0 || head[2] != 0x08) {
    parse_idx(std::vector<std::uint8_t>(head.begin(), head.begin() + 4), path);  // says why
  }
  const std::size_t header = 4 + 4 * std::size_t(head[3]);
  if (head.size() < header) return std::numeric_limits<std::size_t>::max();
  std::vector<std::size_t> dims;
  for (std::size_t i = 0; i < head[3]; ++i) {
    const std::uint8_t* p = head.data() + 4 + 4 * i;
    dims.push_back(std::size_t(p[0]) << 24 | std::size_t(p[1]) << 16 | std::size_t(p[2]) << 8 |
                   std::size_t(p[3]));
  }
  const auto what = [&] { return quoted(path) + ": IDX dimensions"; };
  return checked_add<DataError>(header, checked_product<DataError>(dims, what), what);
}

/// Read an IDX file, plain or gzip-compressed (inflated no further than its header allows).
inline IdxArray read_idx(const std::string& path) {
  return parse_idx(
      read_maybe_gzip(
          path, [&](std::span<const std::uint8_t> head) { return idx_size_limit(head, path); }),
      path);
}

/// An IDX image file: dims {N, H, W}.
inline IdxArray read_idx_images(const std::string& path) {
  IdxArray a = read_idx(path);
  if (a.dims.size() != 3) {
    throw DataError(quoted(path) + " is an IDX file of rank " + std::to_string(a.dims.size()) +
                    (a.dims.size() == 1 ? " (a label file?)" : "") +
                    "; expected images of rank 3 (count, rows, columns)");
  }
  return a;
}

/// An IDX label file: dims {N}.
inline IdxArray read_idx_labels(const std::string& path) {
  IdxArray a = read_idx(path);
  if (a.dims.size() != 1) {
    throw DataError(quoted(path) + " is an IDX file of rank " + std::to_string(a.dims.size()) +
                    (a.dims.size() == 3 ? " (an image file?)" : "") +
                    "; expected labels of rank 1");
  }
  return a;
}

/// `<dir>/<name>` or `<dir>/<name>.gz`, whichever exists (the plain file first).
inline std::string find_data_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  const fs::path plain = fs::path(dir) / name;
  const fs::path gz = fs::path(dir) / (name + ".gz");
  if (fs::is_regular_file(plain)) return plain.string();
  if (fs::is_regular_file(gz)) return gz.string();
  throw DataError("data file not found: tried " + quoted(plain.string()) + " and " +
                  quoted(gz.string()) + " (run scripts/fetch_data.sh, or pass --data DIR)");
}

/// Build a Dataset from an IDX image file and an IDX label file.
inline Dataset load_idx_pair(const std::string& images_path, const std::string& labels_path,
                             std::size_t num_classes, const std::string& name) {
  IdxArray img = read_idx_images(images_path);
  IdxArray lab = read_idx_labels(labels_path);
  if (img.dims[0] == 0) {
    throw DataError(quoted(images_path) + " holds 0 images; a data set needs at least one");
  }
  if (img.dims[1] == 0 || img.dims[2] == 0) {
    throw DataError(quoted(images_path) + " holds images of " + std::to_string(img.dims[1]) +
                    " x " + std::to_string(img.dims[2]) + " pixels");
  }
  if (img.dims[0] != lab.dims[0]) {
    throw DataError("count mismatch: " + quoted(images_path) + " holds " +
                    std::to_string(img.dims[0]) + " images but " + quoted(labels_path) + " holds " +
                    std::to_string(lab.dims[0]) + " labels");
  }
  std::vector<std::int32_t> labels(lab.data.size());
  for (std::size_t i = 0; i < lab.data.size(); ++i) {
    if (lab.data[i] >= num_classes) {
      throw DataError(quoted(labels_path) + ": label " + std::to_string(lab.data[i]) +
                      " of sample " + std::to_string(i) + " is out of range [0, " +
                      std::to_string(num_classes) + ")");
    }
    labels[i] = lab.data[i];
  }
  return Dataset::from_u8(name, {img.dims[0], 1, img.dims[1], img.dims[2]}, std::move(img.data),
                          std::move(labels), num_classes);
}

/// MNIST or Fashion-MNIST split "train" or "t10k" ("test") from a folder holding the files
/// under their official names.
inline Dataset load_mnist(const std::string& dir, std::string split = "train") {
  if (split == "test") split = "t10k";
  if (split != "train" && split != "t10k") {
    throw DataError("unknown MNIST split '" + split + "' (expected train, t10k or test)");
  }
  const std::string images = find_data_file(dir, split + "-images-idx3-ubyte");
  const std::string labels = find_data_file(dir, split + "-labels-idx1-ubyte");
  Dataset d = load_idx_pair(images, labels, 10, split);
  if (d.height() != 28 || d.width() != 28) {
    throw DataError(quoted(images) + " holds images of " + std::to_string(d.height()) + " x " +
                    std::to_string(d.width()) +
                    " pixels; MNIST and Fashion-MNIST images are 28 x 28 (use load_idx_pair for "
                    "other IDX image sets)");
  }
  return d;
}

}  // namespace pure16::data
