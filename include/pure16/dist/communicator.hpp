// pure16/dist/communicator.hpp — MPI's lifetime, a communicator wrapper that counts the
// bytes it sends, and the helpers that keep a multi-process job from hanging on an error.
//
// Contract (only for programs that link MPI, CMake target pure16::mpi):
//  * Environment initialises MPI once (MPI_Init_thread with MPI_THREAD_FUNNELED: OpenMP
//    threads compute, only the main thread calls MPI) unless it already is, and finalises
//    it on destruction when it was the one that initialised it. Nested Environments are fine.
//  * Communicator wraps an MPI_Comm (world, self, or one it created by split(), which it
//    frees). Every MPI call's return code is checked (MPI_ERRORS_RETURN is set on the
//    communicators it wraps): a failure throws dist::Error naming the call and MPI's message.
//  * Data movement goes through three collectives — alltoall, allgather, broadcast — and
//    bytes_sent() counts the payload bytes this rank contributes for OTHER ranks by each
//    collective's definition: alltoall (p-1) blocks, allgather its block to p-1 ranks,
//    broadcast (p-1) x the buffer at the root. This is the volume a bandwidth-optimal
//    implementation moves per rank; MPI's internal algorithm may relay more (tree
//    broadcasts), never less.
//  * on_root(comm, fn) runs fn on rank 0 only and broadcasts its outcome: if fn throws, every
//    rank throws dist::Error with rank 0's message (rank 0 rethrows its own exception), so a
//    failing checkpoint write does not leave the other ranks waiting in the next collective.
//  * same_on_all_ranks(comm, what, text) throws on every rank, naming the ranks, when `text`
//    differs between ranks (e.g. the model architecture).
//  * run(argc, argv, body) = Environment + body(world) + abort_job on any exception: the
//    failing rank prints "pure16: rank r of p failed: <what>" on stderr and calls MPI_Abort,
//    which brings the whole job down with a non-zero exit code instead of a hang.
#pragma once

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <limits>
#include <pure16/error.hpp>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pure16::dist {

/// An MPI call failed, or ranks disagree (architecture, options), or rank 0 failed.
class Error : public pure16::Error {
 public:
  using pure16::Error::Error;
};

namespace detail {

inline void check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(std::string("pure16::dist: ") + call + " failed: " + std::string(msg, len));
}

/// MPI counts are int: refuse a message that does not fit rather than truncate it.
inline int count_of(std::size_t n, const char* call) {
  if (n > std::size_t(std::numeric_limits<int>::max())) {
    throw Error(std::string("pure16::dist: ") + call + ": " + std::to_string(n) +
                " elements exceed MPI's int count");
  }
  return static_cast<int>(n);
}

/// 64-bit FNV-1a of a string (to compare long texts across ranks in 8 bytes).
inline std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

/// The MPI datatype that moves elements of `size` bytes (no MPI reduction ever touches them).
inline MPI_Datatype bytes_type(std::size_t size) {
  switch (size) {
    case 1:
      return MPI_UINT8_T;
    case 2:
      return MPI_UINT16_T;  // half, bfloat16: two bytes, moved bit for bit
    case 4:
      return MPI_UINT32_T;
    case 8:
      return MPI_UINT64_T;
    default:
      throw Error("pure16::dist: no MPI datatype for elements of " + std::to_string(size) +
                  " bytes");
  }
}

}  // namespace detail

/// Initialises MPI on construction (unless already initialised), finalises it on destruction.
class Environment {
 public:
  Environment() : Environment(nullptr, nullptr) {}
  Environment(int& argc, char**& argv) : Environment(&argc, &argv) {}
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;
  ~Environment() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (owner_ && !finalized) MPI_Finalize();
  }
  /// MPI's thread support level (MPI_THREAD_FUNNELED or better when this initialised MPI).
  int thread_level() const { return level_; }
  bool owner() const { return owner_; }

 private:
  Environment(int* argc, char*** argv) {
    int initialized = 0;
    detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
    if (initialized) {
      detail::check(MPI_Query_thread(&level_), "MPI_Query_thread");
      return;
    }
    detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &level_), "MPI_Init_thread");
    owner_ = true;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  bool owner_ = false;
  int level_ = 0;
};

class Communicator {
 public:
  /// MPI_COMM_WORLD (not freed).
  static Communicator world() { return Communicator(MPI_COMM_WORLD, false); }
  /// MPI_COMM_SELF: a job of one (not freed).
  static Communicator self() { return Communicator(MPI_COMM_SELF, false); }

  Communicator(MPI_Comm comm, bool owned) : comm_(comm), owned_(owned) {
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    detail::check(MPI_Comm_rank(comm_, &rank_), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(comm_, &size_), "MPI_Comm_size");
  }
  Communicator(Communicator&& o) noexcept
      : comm_(std::exchange(o.comm_, MPI_COMM_NULL)),
        owned_(std::exchange(o.owned_, false)),
        rank_(o.rank_),
        size_(o.size_),
        bytes_sent_(o.bytes_sent_) {}
  Communicator& operator=(Communicator&& o) noexcept {
    if (this != &o) {
      free();
      comm_ = std::exchange(o.comm_, MPI_COMM_NULL);
      owned_ = std::exchange(o.owned_, false);
      rank_ = o.rank_;
      size_ = o.size_;
      bytes_sent_ = o.bytes_sent_;
    }
    return *this;
  }
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;
  ~Communicator() { free(); }

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  MPI_Comm handle() const { return comm_; }

  /// Payload bytes this rank has sent to other ranks (see the header comment).
  std::uint64_t bytes_sent() const { return bytes_sent_; }
  void reset_bytes_sent() { bytes_sent_ = 0; }

  /// Ranks with the same color form a new communicator, ordered by key (MPI_Comm_split).
  /// A rank passing color < 0 takes part in none: it gets a communicator whose valid() is
  /// false.
  Communicator split(int color, int key) const {
    MPI_Comm out = MPI_COMM_NULL;
    detail::check(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, key, &out),
                  "MPI_Comm_split");
    if (out == MPI_COMM_NULL) return Communicator();
    return Communicator(out, true);
  }
  bool valid() const { return comm_ != MPI_COMM_NULL; }

  void barrier() const { detail::check(MPI_Barrier(comm_), "MPI_Barrier"); }

  /// recv[r*count .. (r+1)*count) = block `rank()` of rank r's send; elements of `elem` bytes.
  void alltoall(const void* send, void* recv, std::size_t count, std::size_t elem) {
    const int n = detail::count_of(count, "MPI_Alltoall");
    detail::check(
        MPI_Alltoall(send, n, detail::bytes_type(elem), recv, n, detail::bytes_type(elem), comm_),
        "MPI_Alltoall");
    bytes_sent_ += std::uint64_t(size_ - 1) * count * elem;
  }
  /// recv[r*count .. (r+1)*count) = rank r's `send` block.
  void allgather(const void* send, void* recv, std::size_t count, std::size_t elem) {
    const int n = detail::count_of(count, "MPI_Allgather");
    detail::check(
        MPI_Allgather(send, n, detail::bytes_type(elem), recv, n, detail::bytes_type(elem), comm_),
        "MPI_Allgather");
    bytes_sent_ += std::uint64_t(size_ - 1) * count * elem;
  }
  /// Every rank's `buf` receives root's bytes.
  void broadcast(void* buf, std::size_t bytes, int root = 0) {
    const int n = detail::count_of(bytes, "MPI_Bcast");
    detail::check(MPI_Bcast(buf, n, MPI_BYTE, root, comm_), "MPI_Bcast");
    if (rank_ == root) bytes_sent_ += std::uint64_t(size_ - 1) * bytes;
  }
  /// Root's string on every rank.
  std::string broadcast_string(std::string s, int root = 0) {
    std::uint64_t n = s.size();
    broadcast(&n, sizeof n, root);
    s.resize(n);
    if (n) broadcast(s.data(), n, root);
    return s;
  }
  /// Every rank's 64-bit value, in rank order.
  std::vector<std::uint64_t> allgather(std::uint64_t v) {
    std::vector<std::uint64_t> all(static_cast<std::size_t>(size_));
    allgather(&v, all.data(), 1, sizeof v);
    return all;
  }

 private:
  Communicator() = default;
  void free() {
    if (owned_ && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    comm_ = MPI_COMM_NULL;
    owned_ = false;
  }
  MPI_Comm comm_ = MPI_COMM_NULL;
  bool owned_ = false;
  int rank_ = 0, size_ = 0;
  std::uint64_t bytes_sent_ = 0;
};

/// Throws dist::Error on every rank when `text` is not the same on all of them.
inline void same_on_all_ranks(Communicator& comm, std::string_view what, std::string_view text) {
  const auto all = comm.allgather(detail::fnv1a(text));
  std::string differ;
  for (std::size_t r = 1; r < all.size(); ++r)
    if (all[r] != all[0]) differ += (differ.empty() ? "" : ", ") + std::to_string(r);
  if (!differ.empty()) {
    throw Error("pure16::dist: " + std::string(what) + " differs between rank 0 and rank(s) " +
                differ);
  }
}

/// Run fn on rank 0; its failure becomes an exception on every rank (see the header comment).
template <class F>
void on_root(Communicator& comm, F&& fn) {
  std::string failure;
  std::exception_ptr own;
  if (comm.is_root()) {
    try {
      fn();
    } catch (const std::exception& e) {
      failure = e.what();
      own = std::current_exception();
    } catch (...) {
      failure = "unknown exception";
      own = std::current_exception();
    }
    if (failure.empty() && own) failure = "exception without a message";
  }
  failure = comm.broadcast_string(std::move(failure));
  if (own) std::rethrow_exception(own);
  if (!failure.empty()) throw Error("pure16::dist: rank 0 failed: " + failure);
}

/// Print the failure and bring the whole job down (MPI_Abort); never returns.
[[noreturn]] inline void abort_job(std::string_view what, int code = 1) {
  int rank = -1, size = 0, initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) {
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  std::fprintf(stderr, "pure16: rank %d of %d failed: %.*s\n", rank, size, int(what.size()),
               what.data());
  std::fflush(stderr);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

/// Environment + body(world); any exception aborts the job with its message. Returns
/// body's exit code.
template <class F>
int run(int& argc, char**& argv, F&& body) {
  Environment env(argc, argv);
  Communicator world = Communicator::world();
  try {
    return body(world);
  } catch (const std::exception& e) {
    abort_job(e.what());
  } catch (...) {
    abort_job("unknown exception");
  }
}

}  // namespace pure16::dist
