// pure16/data/cifar10.hpp — CIFAR-10 binary batches.
//
// Contract:
//  * A batch file (data_batch_1.bin ... data_batch_5.bin, test_batch.bin) is a sequence of
//    3073-byte records: one label byte in [0, 10), then 1024 red, 1024 green and 1024 blue
//    pixel bytes of a row-major 32x32 image. The file may be gzip-compressed (detected by
//    its magic bytes).
//  * read_cifar10_batch(path) returns a Dataset of N x 3 x 32 x 32 uint8 images.
//  * load_cifar10(dir, split) reads the five training batches ("train") or test_batch.bin
//    ("test") from dir, or from dir/cifar-10-batches-bin when dir holds that folder.
//  * Malformed input is a DataError naming the file: missing file (with the paths tried),
//    a size that is not a whole number of records (truncated), an IDX or gzip-in-gzip file
//    given as a batch, a label out of range, an empty file. A compressed batch is never
//    inflated beyond kCifarMaxRecords records (the whole data set).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <pure16/data/dataset.hpp>
#include <pure16/data/file.hpp>
#include <pure16/data/gzip.hpp>
#include <pure16/data/idx.hpp>
#include <pure16/size.hpp>
#include <span>
#include <string>
#include <system_error>
#include <vector>

namespace pure16::data {

inline constexpr std::size_t kCifarRecord = 1 + 3 * 32 * 32;
/// The most records one batch file may hold: the whole data set (50,000 + 10,000 images);
/// a compressed batch is never inflated beyond this.
inline constexpr std::size_t kCifarMaxRecords = 60000;

namespace detail {
inline std::size_t cifar_size_limit(std::span<const std::uint8_t>) {
  return kCifarMaxRecords * kCifarRecord;
}
}  // namespace detail

/// Parse the bytes of one CIFAR-10 batch (already inflated); `path` names it in messages.
inline void parse_cifar10_batch(const std::vector<std::uint8_t>& b, const std::string& path,
                                std::vector<std::uint8_t>& pixels,
                                std::vector<std::int32_t>& labels) {
  if (b.size() >= 4 && b[0] == 0 && b[1] == 0 && b[2] == 0x08 && (b[3] == 1 || b[3] == 3)) {
    throw DataError(quoted(path) + " looks like an IDX file (magic 00 00 08 0" +
                    std::to_string(b[3]) + ", MNIST family), not a CIFAR-10 binary batch");
  }
  if (b.empty()) {
    throw DataError(quoted(path) + " is empty (0 bytes); expected CIFAR-10 records of " +
                    std::to_string(kCifarRecord) + " bytes (1 label + 3072 pixels)");
  }
  if (b.size() % kCifarRecord != 0) {
    throw DataError(
        quoted(path) + " is not a whole number of CIFAR-10 records: " + std::to_string(b.size()) +
        " bytes, expected a multiple of " + std::to_string(kCifarRecord) +
        " (1 label + 3072 pixels); " +
        (b.size() > kCifarRecord ? "truncated? the last record has only " +
                                       std::to_string(b.size() % kCifarRecord) + " bytes"
                                 : "the file is too short"));
  }
  const std::size_t n = b.size() / kCifarRecord;
  pixels.reserve(checked_add<DataError>(pixels.size(), n * (kCifarRecord - 1),
                                        [&] { return quoted(path) + ": CIFAR-10 pixel count"; }));
  for (std::size_t r = 0; r < n; ++r) {
    const std::uint8_t* rec = b.data() + r * kCifarRecord;
    if (rec[0] >= 10) {
      throw DataError(quoted(path) + ": label " + std::to_string(rec[0]) + " of record " +
                      std::to_string(r) + " is out of range [0, 10)" +
                      (r == 0 ? " (is this a CIFAR-10 batch? CIFAR-100 records differ)" : ""));
    }
    labels.push_back(rec[0]);
    pixels.insert(pixels.end(), rec + 1, rec + kCifarRecord);
  }
}

/// One CIFAR-10 batch file as a Dataset.
inline Dataset read_cifar10_batch(const std::string& path) {
  std::vector<std::uint8_t> pixels;
  std::vector<std::int32_t> labels;
  parse_cifar10_batch(read_maybe_gzip(path, detail::cifar_size_limit), path, pixels, labels);
  const std::size_t n = labels.size();
  return Dataset::from_u8(std::filesystem::path(path).filename().string(), {n, 3, 32, 32},
                          std::move(pixels), std::move(labels), 10);
}

/// CIFAR-10 "train" (data_batch_1..5, 50,000 images) or "test" (test_batch, 10,000).
/// With `limit` > 0 only the first `limit` images are kept (the same as `.head(limit)` of the
/// whole split), and batch files after the one that completes them are not read: a 2,000-image
/// run then holds 6 MiB of pixels, not 150 MiB.
inline Dataset load_cifar10(const std::string& dir, const std::string& split = "train",
                            std::size_t limit = 0) {
  namespace fs = std::filesystem;
  std::string root = dir;
  if (!fs::exists(fs::path(dir) / "data_batch_1.bin") &&
      !fs::exists(fs::path(dir) / "test_batch.bin") &&
      fs::is_directory(fs::path(dir) / "cifar-10-batches-bin")) {
    root = (fs::path(dir) / "cifar-10-batches-bin").string();
  }
  std::vector<std::string> names;
  if (split == "train") {
    for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  } else if (split == "test") {
    names.push_back("test_batch.bin");
  } else {
    throw DataError("unknown CIFAR-10 split '" + split + "' (expected train or test)");
  }
  std::vector<std::uint8_t> pixels;
  std::vector<std::int32_t> labels;
  // One reservation for the whole split (from the files' sizes; a gzip file counts as its
  // compressed size and the vector grows past it): growing batch by batch would copy the
  // pixels read so far at every file and briefly hold them twice.
  std::vector<std::string> paths;
  std::uintmax_t bytes = 0;
  for (const auto& name : names) {
    paths.push_back(find_data_file(root, name));
    std::error_code ec;
    const auto sz = fs::file_size(paths.back(), ec);
    if (!ec) bytes += sz;
  }
  std::uintmax_t records = bytes / kCifarRecord;
  if (limit) records = std::min<std::uintmax_t>(records, limit);
  records = std::min<std::uintmax_t>(records, kCifarMaxRecords);
  pixels.reserve(std::size_t(records) * (kCifarRecord - 1));
  labels.reserve(std::size_t(records));
  for (const auto& path : paths) {
    if (limit && labels.size() >= limit) break;
    parse_cifar10_batch(read_maybe_gzip(path, detail::cifar_size_limit), path, pixels, labels);
  }
  const std::size_t n = labels.size();
  Dataset d = Dataset::from_u8(split, {n, 3, 32, 32}, std::move(pixels), std::move(labels), 10);
  return limit ? std::move(d).head(limit) : d;
}

}  // namespace pure16::data
