// pure16/data/dataset.hpp — an in-memory labelled image data set and its mini-batches.
//
// Contract:
//  * A Dataset holds N samples of shape C x H x W, stored either as uint8 pixels (what the
//    MNIST and CIFAR-10 files hold; a quarter of the memory of float) or as float values,
//    plus one int32 label per sample in [0, num_classes).
//  * A sample's value fed to a model is ((raw * scale) - mean[c]) / stddev[c]: scale is
//    1/255 for uint8 pixels (so the default Normalization gives values in [0, 1]) and 1 for
//    float values; mean/stddev come from the Normalization set on the data set.
//    channel_stats(train) / global_stats(train) compute them (in double) from the TRAINING
//    set; set the same Normalization on the test set.
//  * batch<T>(indices, layout) gathers samples into a Tensor<T> [B, C, H, W] (Layout::NCHW)
//    or [B, C*H*W] (Layout::Flat): each value is computed in float and rounded once to T.
//  * Regression: set_targets(values, dim) attaches dim real-valued targets per sample (in
//    float, in sample order); batch_targets<T>(indices) gathers them as a Tensor<T>
//    [B, dim], each rounded once to T. Labels stay (use 0 with num_classes 1 when there
//    are none).
//  * Loader walks a data set in mini-batches; with shuffling, each epoch is a Fisher-Yates
//    permutation drawn from a pure16::Rng seeded once, so a seed gives the same order on
//    every platform and in every precision. Its Rng state can be saved and restored
//    (checkpoints).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <pure16/data/file.hpp>
#include <pure16/error.hpp>
#include <pure16/random.hpp>
#include <pure16/scalar.hpp>
#include <pure16/size.hpp>
#include <pure16/tensor.hpp>
#include <span>
#include <string>
#include <utility>
#include <vector>

namespace pure16::data {

/// Per-channel affine normalization: x' = (x - mean[c]) / stddev[c]. One entry broadcasts
/// to every channel; empty vectors mean mean 0, stddev 1.
struct Normalization {
  std::vector<double> mean;
  std::vector<double> stddev;

  double mean_of(std::size_t c) const {
    return mean.empty() ? 0.0 : mean[mean.size() == 1 ? 0 : c];
  }
  double stddev_of(std::size_t c) const {
    return stddev.empty() ? 1.0 : stddev[stddev.size() == 1 ? 0 : c];
  }
};

enum class Layout { NCHW, Flat };

class Dataset {
 public:
  Dataset() = default;

  /// Samples as uint8 pixels (scaled by 1/255 before normalization).
  static Dataset from_u8(std::string name, Shape nchw, std::vector<std::uint8_t> pixels,
                         std::vector<std::int32_t> labels, std::size_t num_classes) {
    Dataset d;
    d.init(std::move(name), std::move(nchw), labels, num_classes, pixels.size());
    d.u8_ = std::move(pixels);
    d.labels_ = std::move(labels);
    d.scale_ = 1.0 / 255.0;
    return d;
  }
  /// Samples as float values (used as they are before normalization).
  static Dataset from_float(std::string name, Shape nchw, std::vector<float> values,
                            std::vector<std::int32_t> labels, std::size_t num_classes) {
    Dataset d;
    d.init(std::move(name), std::move(nchw), labels, num_classes, values.size());
    d.f32_ = std::move(values);
    d.labels_ = std::move(labels);
    d.scale_ = 1.0;
    return d;
  }

  const std::string& name() const { return name_; }
  std::size_t size() const { return n_; }
  std::size_t channels() const { return c_; }
  std::size_t height() const { return h_; }
  std::size_t width() const { return w_; }
  std::size_t sample_size() const { return c_ * h_ * w_; }
  std::size_t num_classes() const { return num_classes_; }
  bool is_u8() const { return !u8_.empty() || f32_.empty(); }
  std::span<const std::uint8_t> pixels() const { return u8_; }
  std::span<const float> values() const { return f32_; }
  std::span<const std::int32_t> labels() const { return labels_; }

  const Normalization& normalization() const { return norm_; }
  void set_normalization(Normalization n) {
    if ((n.mean.size() > 1 && n.mean.size() != c_) ||
        (n.stddev.size() > 1 && n.stddev.size() != c_)) {
      throw pure16::InvalidArgument("pure16::data::Dataset '" + name_ + "': normalization for " +
                                    std::to_string(std::max(n.mean.size(), n.stddev.size())) +
                                    " channels, data has " + std::to_string(c_));
    }
    for (std::size_t c = 0; c < c_; ++c) {
      if (!(n.stddev_of(c) > 0.0)) {
        throw pure16::InvalidArgument("pure16::data::Dataset '" + name_ +
                                      "': normalization stddev must be > 0");
      }
    }
    norm_ = std::move(n);
  }

  /// Raw value (after scale, before normalization) of element i of sample s.
  double raw(std::size_t s, std::size_t i) const {
    const std::size_t k = s * sample_size() + i;
    return u8_.empty() ? double(f32_[k]) : double(u8_[k]) * scale_;
  }
  /// Normalized value of element i of sample s, as fed to a model (before rounding to T).
  float value(std::size_t s, std::size_t i) const {
    const std::size_t c = i / (h_ * w_);
    return static_cast<float>((raw(s, i) - norm_.mean_of(c)) / norm_.stddev_of(c));
  }

  /// The first n samples (all when n >= size()), same normalization. Copies only those n
  /// samples; on an rvalue (`std::move(d).head(n)`) the storage is cut in place and its
  /// unused capacity released, so limiting a data set never holds two copies of it.
  Dataset head(std::size_t n) const& {
    n = std::min(n, n_);
    Dataset d;
    d.name_ = name_;
    d.c_ = c_, d.h_ = h_, d.w_ = w_, d.num_classes_ = num_classes_;
    d.target_dim_ = target_dim_, d.scale_ = scale_, d.norm_ = norm_;
    d.n_ = n;
    const std::size_t px = u8_.empty() && f32_.empty() ? 0 : n * sample_size();
    if (!u8_.empty()) d.u8_.assign(u8_.begin(), u8_.begin() + std::ptrdiff_t(px));
    if (!f32_.empty()) d.f32_.assign(f32_.begin(), f32_.begin() + std::ptrdiff_t(px));
    d.labels_.assign(labels_.begin(), labels_.begin() + std::ptrdiff_t(n));
    if (has_targets())
      d.targets_.assign(targets_.begin(), targets_.begin() + std::ptrdiff_t(n * target_dim_));
    return d;
  }
  Dataset head(std::size_t n) && {
    n = std::min(n, n_);
    n_ = n;
    const auto cut = [](auto& v, std::size_t k) {
      if (v.empty()) return;
      v.resize(k);
      v.shrink_to_fit();
    };
    cut(u8_, n * sample_size());
    cut(f32_, n * sample_size());
    cut(labels_, n);
    cut(targets_, n * target_dim_);
    return std::move(*this);
  }

  /// Attach `dim` real-valued targets per sample (regression); values.size() = size() * dim.
  void set_targets(std::vector<float> values, std::size_t dim) {
    if (dim == 0 || values.size() != n_ * dim) {
      throw pure16::InvalidArgument(
          "pure16::data::Dataset '" + name_ + "': " + std::to_string(values.size()) +
          " targets for " + std::to_string(n_) + " samples of dimension " + std::to_string(dim));
    }
    targets_ = std::move(values);
    target_dim_ = dim;
  }
  bool has_targets() const { return target_dim_ > 0; }
  std::size_t target_dim() const { return target_dim_; }
  std::span<const float> targets() const { return targets_; }

  /// Targets of `indices` as a [B, target_dim] tensor, rounded once to T.
  template <Scalar T>
  Tensor<T> batch_targets(std::span<const std::size_t> indices) const {
    if (!has_targets()) {
      throw pure16::LogicError("pure16::data::Dataset '" + name_ +
                               "' has no real-valued targets (set_targets)");
    }
    Tensor<T> t({indices.size(), target_dim_});
    for (std::size_t r = 0; r < indices.size(); ++r) {
      const std::size_t s = indices[r];
      if (s >= n_) {
        throw pure16::OutOfRange("pure16::data::Dataset '" + name_ + "': sample " +
                                 std::to_string(s) + " of " + std::to_string(n_));
      }
      for (std::size_t j = 0; j < target_dim_; ++j)
        t[r * target_dim_ + j] = round_to<T>(targets_[s * target_dim_ + j]);
    }
    return t;
  }

  /// Samples `indices` as a batch tensor, values rounded once to T.
  template <Scalar T>
  Tensor<T> batch(std::span<const std::size_t> indices, Layout layout) const {
    const std::size_t b = indices.size(), ss = sample_size(), hw = h_ * w_;
    Tensor<T> x(layout == Layout::Flat ? Shape{b, ss} : Shape{b, c_, h_, w_});
    // Precompute the affine map per channel: value = raw * a[c] + o[c].
    std::vector<float> a(c_), o(c_);
    for (std::size_t c = 0; c < c_; ++c) {
      a[c] = static_cast<float>(scale_ / norm_.stddev_of(c));
      o[c] = static_cast<float>(-norm_.mean_of(c) / norm_.stddev_of(c));
    }
    T* out = x.data();
    for (std::size_t r = 0; r < b; ++r) {
      const std::size_t s = indices[r];
      if (s >= n_) {
        throw pure16::OutOfRange("pure16::data::Dataset '" + name_ + "': sample " +
                                 std::to_string(s) + " of " + std::to_string(n_));
      }
      for (std::size_t c = 0; c < c_; ++c) {
        T* dst = out + r * ss + c * hw;
        if (!u8_.empty()) {
          const std::uint8_t* src = u8_.data() + s * ss + c * hw;
          for (std::size_t i = 0; i < hw; ++i) dst[i] = round_to<T>(float(src[i]) * a[c] + o[c]);
        } else {
          const float* src = f32_.data() + s * ss + c * hw;
          for (std::size_t i = 0; i < hw; ++i) dst[i] = round_to<T>(src[i] * a[c] + o[c]);
        }
      }
    }
    return x;
  }
  /// Labels of `indices`.
  std::vector<std::int32_t> batch_labels(std::span<const std::size_t> indices) const {
    std::vector<std::int32_t> y(indices.size());
    for (std::size_t r = 0; r < indices.size(); ++r) y[r] = labels_.at(indices[r]);
    return y;
  }

 private:
  void init(std::string name, Shape nchw, const std::vector<std::int32_t>& labels,
            std::size_t num_classes, std::size_t values) {
    name_ = std::move(name);
    if (nchw.size() != 4) {
      throw pure16::InvalidArgument("pure16::data::Dataset '" + name_ +
                                    "': shape must be (N, C, H, W), got " + shape_str(nchw));
    }
    // The sample size on its own too: with N = 0 the whole product is 0 whatever C*H*W is.
    const auto what = [&] {
      return "pure16::data::Dataset '" + name_ + "': shape " + shape_str(nchw);
    };
    checked_product(std::span<const std::size_t>(nchw).subspan(1), what);
    const std::size_t total = checked_product(nchw, what);
    n_ = nchw[0], c_ = nchw[1], h_ = nchw[2], w_ = nchw[3];
    num_classes_ = num_classes;
    if (values != total) {
      throw pure16::InvalidArgument("pure16::data::Dataset '" + name_ +
                                    "': " + std::to_string(values) + " values for shape " +
                                    shape_str(nchw));
    }
    if (labels.size() != n_) {
      throw pure16::InvalidArgument("pure16::data::Dataset '" + name_ +
                                    "': " + std::to_string(labels.size()) + " labels for " +
                                    std::to_string(n_) + " samples");
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] < 0 || std::size_t(labels[i]) >= num_classes) {
        throw pure16::InvalidArgument("pure16::data::Dataset '" + name_ + "': label " +
                                      std::to_string(labels[i]) + " of sample " +
                                      std::to_string(i) + " out of range [0, " +
                                      std::to_string(num_classes) + ")");
      }
    }
  }

  std::string name_;
  std::size_t n_ = 0, c_ = 0, h_ = 0, w_ = 0, num_classes_ = 0;
  std::vector<std::uint8_t> u8_;
  std::vector<float> f32_;
  std::vector<std::int32_t> labels_;
  std::vector<float> targets_;
  std::size_t target_dim_ = 0;
  double scale_ = 1.0;
  Normalization norm_;
};

namespace detail {
// Sum and sum of squares of the raw values of channel c (or of every channel when
// c == npos), exact for uint8 pixels (integer sums), in double for float values.
inline std::pair<double, double> raw_moments(const Dataset& d, std::size_t c) {
  const std::size_t hw = d.height() * d.width(), ss = d.sample_size();
  const std::size_t lo = c == std::size_t(-1) ? 0 : c * hw;
  const std::size_t len = c == std::size_t(-1) ? ss : hw;
  if (!d.pixels().empty()) {
    std::uint64_t sum = 0, sq = 0;
    for (std::size_t s = 0; s < d.size(); ++s) {
      const std::uint8_t* p = d.pixels().data() + s * ss + lo;
      for (std::size_t i = 0; i < len; ++i) {
        sum += p[i];
        sq += std::uint64_t(p[i]) * p[i];
      }
    }
    return {double(sum) / 255.0, double(sq) / (255.0 * 255.0)};
  }
  double sum = 0.0, sq = 0.0;
  for (std::size_t s = 0; s < d.size(); ++s) {
    const float* p = d.values().data() + s * ss + lo;
    for (std::size_t i = 0; i < len; ++i) {
      sum += double(p[i]);
      sq += double(p[i]) * double(p[i]);
    }
  }
  return {sum, sq};
}
}  // namespace detail

/// Per-channel mean and (population) standard deviation of a data set's raw values (after
/// the 1/255 scale of uint8 pixels). Use the TRAINING set's statistics for every split.
inline Normalization channel_stats(const Dataset& d) {
  Normalization n;
  const double count = double(d.size()) * double(d.height() * d.width());
  for (std::size_t c = 0; c < d.channels(); ++c) {
    const auto [sum, sq] = detail::raw_moments(d, c);
    const double m = sum / count;
    n.mean.push_back(m);
    n.stddev.push_back(std::sqrt(std::max(sq / count - m * m, 0.0)));
  }
  return n;
}

/// One mean and standard deviation over every value of every channel.
inline Normalization global_stats(const Dataset& d) {
  const double count = double(d.size()) * double(d.sample_size());
  const auto [sum, sq] = detail::raw_moments(d, std::size_t(-1));
  const double m = sum / count;
  return Normalization{{m}, {std::sqrt(std::max(sq / count - m * m, 0.0))}};
}

/// Mini-batches over a data set, optionally reshuffled each epoch.
class Loader {
 public:
  Loader(const Dataset& data, std::size_t batch_size, bool shuffle, std::uint64_t seed,
         bool drop_last = false)
      : data_(&data), batch_(batch_size), shuffle_(shuffle), drop_last_(drop_last), rng_(seed) {
    if (batch_size == 0) throw pure16::InvalidArgument("pure16::data::Loader: batch size 0");
    order_.resize(data.size());
    std::iota(order_.begin(), order_.end(), std::size_t{0});
  }

  /// Draw the order of the next epoch (a fresh permutation when shuffling).
  void start_epoch() {
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (!shuffle_) return;
    for (std::size_t i = order_.size(); i > 1; --i) {
      const std::size_t j = static_cast<std::size_t>(rng_.below(i));
      std::swap(order_[i - 1], order_[j]);
    }
  }

  std::size_t num_batches() const {
    const std::size_t n = data_->size();
    return drop_last_ ? n / batch_ : (n + batch_ - 1) / batch_;
  }
  /// Sample indices of batch b of the current epoch.
  std::span<const std::size_t> indices(std::size_t b) const {
    const std::size_t lo = b * batch_, hi = std::min(lo + batch_, order_.size());
    if (b >= num_batches()) {
      throw pure16::OutOfRange("pure16::data::Loader: batch " + std::to_string(b) + " of " +
                               std::to_string(num_batches()));
    }
    return std::span<const std::size_t>(order_).subspan(lo, hi - lo);
  }
  template <Scalar T>
  Tensor<T> inputs(std::size_t b, Layout layout) const {
    return data_->batch<T>(indices(b), layout);
  }
  std::vector<std::int32_t> labels(std::size_t b) const { return data_->batch_labels(indices(b)); }
  template <Scalar T>
  Tensor<T> targets(std::size_t b) const {
    return data_->batch_targets<T>(indices(b));
  }

  const std::vector<std::size_t>& order() const { return order_; }
  const Dataset& dataset() const { return *data_; }
  std::size_t batch_size() const { return batch_; }
  Rng::State rng_state() const { return rng_.state(); }
  void set_rng_state(const Rng::State& s) { rng_.set_state(s); }

 private:
  const Dataset* data_;
  std::size_t batch_;
  bool shuffle_, drop_last_;
  Rng rng_;
  std::vector<std::size_t> order_;
};

}  // namespace pure16::data
