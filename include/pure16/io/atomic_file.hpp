// pure16/io/atomic_file.hpp — write a file so that it is either completely replaced or left
// untouched.
//
// Contract:
//  * write_file_atomically(path, body) creates "<path>.tmp.<pid>" in the folder of `path`,
//    lets `body` write the contents through an OutputFile, then flushes the C stream, fsyncs
//    the file, closes it and renames it over `path` (atomic on POSIX file systems), and
//    finally fsyncs the folder so that the rename itself is durable.
//  * If anything fails — `body` throws, a write is short (disk full), fsync, close or rename
//    fails — the temporary file is removed, `path` keeps its previous contents byte for byte
//    (or stays absent), and the exception propagates; pure16's own failures are
//    pure16::Error naming the file and the system error.
//  * A process killed mid-write leaves at most a stray "<path>.tmp.<pid>" beside an intact
//    `path`; the next atomic write of the same `path` removes every such temporary whose
//    process no longer exists (kill(pid, 0) fails with ESRCH), and only those.
//  * A `path` that exists and is not a regular file (a directory, a device node, a fifo, a
//    socket) is refused with pure16::Error naming it before anything is written: renaming
//    over it would replace it. A symbolic link is judged by what it points to.
// POSIX only (open/fsync/rename).
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <pure16/error.hpp>
#include <pure16/file_kind.hpp>
#include <string>
#include <system_error>

namespace pure16::io {

/// A file being written; every failure throws pure16::Error naming the file.
class OutputFile {
 public:
  OutputFile(std::FILE* f, std::string name) : f_(f), name_(std::move(name)) {}

  void write(const void* data, std::size_t n) {
    if (n == 0) return;
    if (std::fwrite(data, 1, n, f_) != n) fail("write of " + std::to_string(n) + " bytes");
    written_ += n;
  }
  /// Bytes written so far.
  std::size_t written() const { return written_; }
  /// The file's name (the temporary file while an atomic write is in progress).
  const std::string& name() const { return name_; }

  [[noreturn]] void fail(const std::string& what) const {
    const int e = errno;
    throw pure16::Error("pure16::io: " + what + " failed on '" + name_ + "': " + std::strerror(e));
  }

 private:
  std::FILE* f_;
  std::string name_;
  std::size_t written_ = 0;
};

namespace detail {
/// "pure16::io: <what>: <system error>", with errno read at the call.
inline pure16::Error sys_error(const std::string& what) {
  const int e = errno;
  return pure16::Error("pure16::io: " + what + ": " + std::strerror(e));
}

/// fsync a folder so that a rename inside it survives a crash (best effort on file systems
/// that do not support it).
inline void sync_folder(const std::filesystem::path& folder) {
  const std::string d = folder.empty() ? std::string(".") : folder.string();
  const int fd = ::open(d.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}
}  // namespace detail

/// The temporary name an atomic write of `path` uses: "<path>.tmp.<pid>".
inline std::filesystem::path atomic_temp_path(const std::filesystem::path& path) {
  return std::filesystem::path(path.string() + ".tmp." + std::to_string(::getpid()));
}

namespace detail {

/// Refuse a target that exists and is not a regular file.
inline void require_regular_target(const std::filesystem::path& path) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  if (ec || st.type() == std::filesystem::file_type::not_found ||
      st.type() == std::filesystem::file_type::regular) {
    return;  // absent (created by the rename) or a regular file (replaced by it)
  }
  throw pure16::Error("pure16::io: cannot write '" + path.string() + "': it is " +
                      pure16::file_kind(st.type()) + ", not a regular file");
}

/// Remove "<path>.tmp.<pid>" files left by processes that no longer exist.
inline void remove_stale_temporaries(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  const fs::path folder = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  const std::string prefix = path.filename().string() + ".tmp.";
  std::error_code ec;
  fs::directory_iterator it(folder, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string::npos) continue;
    const long pid = std::stol(digits);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours
    std::error_code rm;
    if (it->is_regular_file(rm)) fs::remove(it->path(), rm);
  }
}
}  // namespace detail

/// Write `path` atomically with `body` (see the header comment).
inline void write_file_atomically(const std::filesystem::path& path,
                                  const std::function<void(OutputFile&)>& body) {
  detail::require_regular_target(path);
  detail::remove_stale_temporaries(path);
  const std::filesystem::path tmp = atomic_temp_path(path);
  const std::string tmp_name = tmp.string();
  std::FILE* f = std::fopen(tmp_name.c_str(), "wb");
  if (!f) {
    throw detail::sys_error("cannot create the temporary file '" + tmp_name + "' to write '" +
                            path.string() + "'");
  }
  bool closed = false;
  try {
    OutputFile out(f, tmp_name);
    body(out);
    if (std::fflush(f) != 0) out.fail("flush");
    if (::fsync(::fileno(f)) != 0) out.fail("fsync");
    closed = true;
    if (std::fclose(f) != 0) out.fail("close");
    if (std::rename(tmp_name.c_str(), path.string().c_str()) != 0) {
      throw detail::sys_error("cannot rename '" + tmp_name + "' over '" + path.string() + "'");
    }
  } catch (...) {
    if (!closed) std::fclose(f);
    std::remove(tmp_name.c_str());
    throw;
  }
  detail::sync_folder(path.parent_path());
}

}  // namespace pure16::io
