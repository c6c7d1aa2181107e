// Tests that read the real data sets in ../shared/data: a decorator that skips them, with a
// message on stderr, where that folder (or the data set in it) is absent.
//   TEST_CASE("MNIST ..." * shared_data::needs("mnist")) { ... shared_data::path("mnist") ... }
#pragma once

#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace shared_data {

inline std::string path(const std::string& sub) {
  return std::string(PURE16_SHARED_DATA_DIR) + "/" + sub;
}

/// doctest::skip(true) with a message when ../shared/data/<sub> is missing.
inline doctest::skip needs(const std::string& sub) {
  const bool present = std::filesystem::exists(path(sub));
  if (!present) {
    std::fprintf(stderr, "skipping a test: %s is absent (see ../shared/data/README)\n",
                 path(sub).c_str());
  }
  return doctest::skip(!present);
}

}  // namespace shared_data
