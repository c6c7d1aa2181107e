// pure16/tensor.hpp — Tensor<T>: a dense, row-major, n-dimensional array (images NCHW).
//
// Contract:
//  * Storage is 64-byte aligned, zero-initialised, and shared between a tensor and its
//    views (reshape, slice, copies of the Tensor object). clone() makes a deep copy.
//  * Copying a Tensor is cheap and aliases the same data, like a shared pointer; assign
//    element values with copy_from()/clone() when a separate copy is wanted.
//  * matrix() maps the tensor as a (dim0 x rest) row-major Eigen matrix, vector() as a flat
//    Eigen vector, both without copying.
//  * cast<U>(t) converts element-wise with round-to-nearest-even (kernels/convert.hpp).
//  * Blocks of at least 64 KiB, once freed, are kept in a process-wide cache and handed to
//    the next tensor of the same byte size: a training step allocates the same sizes every
//    step, and without the cache each large block is a fresh mmap whose pages fault in again
//    (a third of a small CNN's step). The cache holds at most tensor_cache_limit() bytes
//    (256 MiB, or PURE16_TENSOR_CACHE_MB from the environment; 0 turns it off), dropping the
//    oldest blocks first; release_tensor_cache() returns them all to the system. Off under
//    AddressSanitizer, which must see every free.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <new>
#include <numeric>
#include <pure16/error.hpp>
#include <pure16/kernels/convert.hpp>
#include <pure16/scalar.hpp>
#include <pure16/size.hpp>
#include <span>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pure16 {

using Shape = std::vector<std::size_t>;

/// "[2, 3, 4]" — used in error messages.
inline std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < s.size(); ++i) os << (i ? ", " : "") << s[i];
  os << ']';
  return os.str();
}

/// Number of elements of a shape (1 for the empty shape of a scalar); a shape whose
/// element count overflows std::size_t throws pure16::InvalidArgument (size.hpp).
inline std::size_t shape_size(const Shape& s) {
  return checked_product(s, [&] { return "pure16: tensor shape " + shape_str(s); });
}

inline constexpr std::size_t kTensorAlignment = 64;

namespace detail {
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kTensorCacheDefaultOn = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kTensorCacheDefaultOn = false;
#else
inline constexpr bool kTensorCacheDefaultOn = true;
#endif
#else
inline constexpr bool kTensorCacheDefaultOn = true;
#endif

// Freed tensor blocks, oldest first (see the header comment). Never destroyed, so that
// tensors with static storage duration may be freed after it would have been.
class BlockCache {
 public:
  static constexpr std::size_t kMinBytes = std::size_t(64) << 10;

  static BlockCache& instance() {
    static BlockCache* c = new BlockCache;
    return *c;
  }
  /// A cached block of exactly `bytes` (the most recently freed one), or nullptr.
  void* take(std::size_t bytes) {
    if (bytes < kMinBytes) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = blocks_.size(); i-- > 0;) {
      if (blocks_[i].bytes != bytes) continue;
      void* p = blocks_[i].p;
      blocks_.erase(blocks_.begin() + static_cast<std::ptrdiff_t>(i));
      cached_ -= bytes;
      return p;
    }
    return nullptr;
  }
  /// Keeps p (false: the caller frees it); the oldest blocks go when over the limit.
  bool give(void* p, std::size_t bytes) {
    if (bytes < kMinBytes) return false;
    std::vector<Block> drop;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (bytes > limit_) return false;
      blocks_.push_back({p, bytes});
      cached_ += bytes;
      std::size_t n = 0;
      while (cached_ > limit_) cached_ -= blocks_[n++].bytes;
      drop.assign(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(n));
      blocks_.erase(blocks_.begin(), blocks_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    for (const Block& b : drop) ::operator delete(b.p, std::align_val_t(kTensorAlignment));
    return true;
  }
  void set_limit(std::size_t bytes) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      limit_ = bytes;
    }
    if (cached() > bytes) release();
  }
  std::size_t limit() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return limit_;
  }
  std::size_t cached() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return cached_;
  }
  void release() {
    std::vector<Block> old;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      old.swap(blocks_);
      cached_ = 0;
    }
    for (const Block& b : old) ::operator delete(b.p, std::align_val_t(kTensorAlignment));
  }

 private:
  struct Block {
    void* p;
    std::size_t bytes;
  };
  BlockCache() {
    limit_ = kTensorCacheDefaultOn ? (std::size_t(256) << 20) : 0;
    if (const char* env = std::getenv("PURE16_TENSOR_CACHE_MB"); env != nullptr && *env) {
      char* end = nullptr;
      const unsigned long long mb = std::strtoull(env, &end, 10);
      if (end != env && *end == '\0') limit_ = static_cast<std::size_t>(mb) << 20;
    }
  }
  mutable std::mutex mutex_;
  std::vector<Block> blocks_;
  std::size_t cached_ = 0;
  std::size_t limit_ = 0;
};
}  // namespace detail

/// Most bytes of freed tensor storage kept for reuse (0: none). See the header comment.
inline void set_tensor_cache_limit(std::size_t bytes) {
  detail::BlockCache::instance().set_limit(bytes);
}
inline std::size_t tensor_cache_limit() {
  return detail::BlockCache::instance().limit();
}
/// Bytes currently held by the cache.
inline std::size_t tensor_cache_bytes() {
  return detail::BlockCache::instance().cached();
}
/// Return every cached block to the system.
inline void release_tensor_cache() {
  detail::BlockCache::instance().release();
}

/// Tag of Tensor(shape, uninitialized): storage without the zero fill, for a result whose
/// every element the caller writes before any is read (a layer's output, an im2col matrix).
/// Its values are unspecified until written.
struct Uninitialized {
  explicit Uninitialized() = default;
};
inline constexpr Uninitialized uninitialized{};

template <Scalar T>
class Tensor {
 public:
  using value_type = T;
  using MatrixMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
  using ConstMatrixMap =
      Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
  using VectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
  using ConstVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

  /// An empty tensor: shape {0}, no storage.
  Tensor() : shape_{0} {}

  /// A zero-filled tensor of the given shape.
  explicit Tensor(Shape shape) : shape_(std::move(shape)) { allocate(); }
  Tensor(std::initializer_list<std::size_t> shape) : Tensor(Shape(shape)) {}

  /// A tensor of the given shape whose values are unspecified until written (no zero fill).
  Tensor(Shape shape, Uninitialized) : shape_(std::move(shape)) { allocate(false); }

  /// A tensor of the given shape filled with `value`.
  Tensor(Shape shape, T value) : Tensor(std::move(shape)) { fill(value); }

  /// A tensor of the given shape holding `values` (converted to T, nearest-even).
  template <class V>
  static Tensor from(Shape shape, std::span<const V> values) {
    Tensor t(std::move(shape));
    if (values.size() != t.size()) {
      throw pure16::InvalidArgument("pure16::Tensor::from: " + std::to_string(values.size()) +
                                    " values for shape " + shape_str(t.shape()));
    }
    for (std::size_t i = 0; i < values.size(); ++i) t.data_[i] = round_to<T>(values[i]);
    return t;
  }
  template <class V>
  static Tensor from(Shape shape, std::initializer_list<V> values) {
    return from<V>(std::move(shape), std::span<const V>(values.begin(), values.size()));
  }

  const Shape& shape() const { return shape_; }
  std::size_t ndim() const { return shape_.size(); }
  std::size_t dim(std::size_t i) const {
    if (i >= shape_.size()) {
      throw pure16::OutOfRange("pure16::Tensor::dim(" + std::to_string(i) + ") of shape " +
                               shape_str(shape_));
    }
    return shape_[i];
  }
  std::size_t size() const {  // shape_ was checked by shape_size when it was set
    return std::accumulate(shape_.begin(), shape_.end(), std::size_t{1}, std::multiplies<>());
  }
  bool empty() const { return size() == 0; }
  std::size_t bytes() const { return size() * sizeof(T); }

  T* data() { return data_; }
  const T* data() const { return data_; }
  T* begin() { return data_; }
  T* end() { return data_ + size(); }
  const T* begin() const { return data_; }
  const T* end() const { return data_ + size(); }
  std::span<T> span() { return {data_, size()}; }
  std::span<const T> span() const { return {data_, size()}; }

  T& operator[](std::size_t i) { return data_[i]; }
  const T& operator[](std::size_t i) const { return data_[i]; }

  /// Element at a multi-index (row-major). Bounds are checked in debug builds.
  template <class... I>
  T& operator()(I... idx) {
    return data_[offset_of({static_cast<std::size_t>(idx)...})];
  }
  template <class... I>
  const T& operator()(I... idx) const {
    return data_[offset_of({static_cast<std::size_t>(idx)...})];
  }

  /// A view with another shape of the same size, sharing storage.
  Tensor reshape(Shape shape) const {
    if (shape_size(shape) != size()) {
      throw pure16::InvalidArgument("pure16::Tensor::reshape: cannot view shape " +
                                    shape_str(shape_) + " as " + shape_str(shape));
    }
    Tensor v = *this;
    v.shape_ = std::move(shape);
    return v;
  }

  /// Rows [begin, end) along the first dimension, sharing storage (a batch slice).
  Tensor slice(std::size_t begin, std::size_t end) const {
    if (ndim() == 0 || begin > end || end > shape_[0]) {
      throw pure16::OutOfRange("pure16::Tensor::slice(" + std::to_string(begin) + ", " +
                               std::to_string(end) + ") of shape " + shape_str(shape_));
    }
    const std::size_t row = shape_[0] ? size() / shape_[0] : 0;
    Tensor v = *this;
    v.shape_[0] = end - begin;
    v.data_ = data_ + begin * row;
    return v;
  }

  /// True when both tensors use the same allocation (one is a view of the other).
  bool shares_storage_with(const Tensor& o) const { return storage_ && storage_ == o.storage_; }

  /// A deep copy with its own storage.
  Tensor clone() const {
    Tensor t(shape_);
    if (size()) std::memcpy(t.data_, data_, bytes());
    return t;
  }

  /// Copy element values from a tensor of the same size (shapes may differ).
  void copy_from(const Tensor& o) {
    if (o.size() != size()) {
      throw pure16::InvalidArgument("pure16::Tensor::copy_from: shape " + shape_str(o.shape_) +
                                    " into " + shape_str(shape_));
    }
    if (size() && o.data_ != data_) std::memmove(data_, o.data_, bytes());
  }

  void fill(T value) { std::fill(begin(), end(), value); }
  void zero() {
    if (size()) std::memset(static_cast<void*>(data_), 0, bytes());
  }

  /// (dim0 x size/dim0) row-major view; a 1-d tensor maps as one row.
  MatrixMap matrix() { return MatrixMap(data_, rows(), cols()); }
  ConstMatrixMap matrix() const { return ConstMatrixMap(data_, rows(), cols()); }
  VectorMap vector() { return VectorMap(data_, static_cast<Eigen::Index>(size())); }
  ConstVectorMap vector() const { return ConstVectorMap(data_, static_cast<Eigen::Index>(size())); }

 private:
  void allocate(bool zero = true) {
    const std::size_t n = shape_size(shape_);
    if (n == 0) return;
    const auto what = [&] { return "pure16: bytes of a tensor of shape " + shape_str(shape_); };
    const std::size_t bytes_rounded =
        checked_add(checked_mul(n, sizeof(T), what), kTensorAlignment - 1, what) /
        kTensorAlignment * kTensorAlignment;
    void* p = detail::BlockCache::instance().take(bytes_rounded);
    if (p == nullptr) p = ::operator new(bytes_rounded, std::align_val_t(kTensorAlignment));
    if (zero) std::memset(p, 0, bytes_rounded);  // all-zero bits are +0 in every scalar type
    storage_ = std::shared_ptr<void>(p, [bytes_rounded](void* q) {
      if (!detail::BlockCache::instance().give(q, bytes_rounded))
        ::operator delete(q, std::align_val_t(kTensorAlignment));
    });
    data_ = static_cast<T*>(p);
  }

  Eigen::Index rows() const { return static_cast<Eigen::Index>(ndim() <= 1 ? 1 : shape_[0]); }
  Eigen::Index cols() const {
    const auto r = rows();
    return r ? static_cast<Eigen::Index>(size()) / r : 0;
  }

  std::size_t offset_of(std::initializer_list<std::size_t> idx) const {
#ifndef NDEBUG
    if (idx.size() != shape_.size()) {
      throw pure16::OutOfRange("pure16::Tensor: " + std::to_string(idx.size()) +
                               " indices for shape " + shape_str(shape_));
    }
#endif
    std::size_t off = 0, d = 0;
    for (std::size_t i : idx) {
#ifndef NDEBUG
      if (i >= shape_[d]) {
        throw pure16::OutOfRange("pure16::Tensor: index " + std::to_string(i) + " in dimension " +
                                 std::to_string(d) + " of shape " + shape_str(shape_));
      }
#endif
      off = off * shape_[d++] + i;
    }
    return off;
  }

  static_assert(std::is_trivially_copyable_v<T>);
  Shape shape_;
  std::shared_ptr<void> storage_;
  T* data_ = nullptr;
};

/// Element-wise conversion to another scalar type (round-to-nearest-even).
template <Scalar U, Scalar T>
Tensor<U> cast(const Tensor<T>& t) {
  if constexpr (std::is_same_v<U, T>) {
    return t.clone();
  } else {
    Tensor<U> out(t.shape());
    kernels::convert(t.data(), out.data(), t.size());
    return out;
  }
}

}  // namespace pure16
