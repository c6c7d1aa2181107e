// pure16/file_kind.hpp — words for what a path is when it is not a regular file, for the
// messages of every reader and writer that refuses one (data/, io/).
//
// Contract: file_kind(type) returns "a directory", "a block device", "a character device",
// "a fifo", "a socket", or "not a regular file" for any other type.
#pragma once

#include <filesystem>

namespace pure16 {

inline const char* file_kind(std::filesystem::file_type t) {
  switch (t) {
    case std::filesystem::file_type::directory:
      return "a directory";
    case std::filesystem::file_type::block:
      return "a block device";
    case std::filesystem::file_type::character:
      return "a character device";
    case std::filesystem::file_type::fifo:
      return "a fifo";
    case std::filesystem::file_type::socket:
      return "a socket";
    default:
      return "not a regular file";
  }
}

}  // namespace pure16
