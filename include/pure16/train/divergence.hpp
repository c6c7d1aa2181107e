// pure16/train/divergence.hpp — watch a 16-bit run diverge from fp32 while it trains.
//
// The shadow. DivergenceWatch<T> keeps an fp32 twin of the model trained alongside it:
// it starts from the model's weights cast up to fp32 (exact: every T is a float), so both
// runs start from the same point; it takes the same batches in the same order with the
// same learning rates and the same loss, and is updated by the same optimizer in fp32
// (Optimizer::fp32_twin: round-to-nearest, fp32 state). After every epoch the precision
// analysis (analysis/precision.hpp) compares the 16-bit model with the shadow on a fixed
// probe set. Why a trained twin and not the 16-bit weights cast up: the cast-up twin has
// the very same weights, so its distance measures only the forward pass's rounding (the
// theorem's setting, which the epoch-0 record shows); the trained shadow measures how far
// 16-bit TRAINING has carried the model from where fp32 training goes — the divergence.
// It costs one fp32 training step per batch and one comparison per epoch; it is not part
// of the checkpoint (a resumed run starts a new shadow from the resumed weights).
//
// Contract:
//  * DivergenceWatch(model, opt, train, probe, options, loss) builds the shadow; attach(fit
//    options) chains options.on_batch (one shadow step on the same samples) and
//    options.on_epoch_end (measure, then the previous hook), and records epoch
//    options.start_epoch before training.
//  * Each DivergenceRecord holds, over the first options.probe_size samples of `probe`:
//    max / mean / median delta (output probabilities), mean Gamma of the shadow, the
//    guaranteed (Gamma >= 2 delta) and strict shares, prediction agreement, theorem
//    violations (must be 0), and both models' accuracies on the probe.
//  * options.csv_path: one CSV line per record (header below), flushed, written as
//    it goes; to_json() gives the records for reports. The optimizer must have an fp32
//    twin (pure16's all do), else pure16::InvalidArgument.
//    CSV: epoch,delta_max,delta_mean,delta_median,gamma_mean,guaranteed,strict,agreement,
//         violations,probes,acc_shadow,acc_model
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <memory>
#include <pure16/analysis/precision.hpp>
#include <pure16/data/dataset.hpp>
#include <pure16/error.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/train/fit.hpp>
#include <pure16/train/loss.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pure16::train {

struct DivergenceOptions {
  std::size_t probe_size = 1000;  // first N samples of the probe set (0: all)
  std::string csv_path;           // "" = no CSV
  data::Layout layout = data::Layout::NCHW;
};

struct DivergenceRecord {
  int epoch = 0;  // completed epochs when measured
  double delta_max = NAN, delta_mean = NAN, delta_median = NAN, gamma_mean = NAN;
  double guaranteed = NAN, strict = NAN, agreement = NAN;  // fractions of the probes
  std::size_t violations = 0, probes = 0;
  double acc_shadow = NAN, acc_model = NAN;
};

template <Scalar T>
class DivergenceWatch {
 public:
  DivergenceWatch(nn::Sequential<T>& model, const optim::Optimizer<T>& opt,
                  const data::Dataset& train, const data::Dataset& probe, DivergenceOptions o = {},
                  Loss<float> loss = cross_entropy<float>())
      : model_(&model), train_(&train), probe_(&probe), o_(std::move(o)), loss_(std::move(loss)) {
    shadow_ = std::make_unique<nn::Sequential<float>>(model.template cast<float>());
    shadow_->set_accumulate(Accumulate::Float);
    shadow_opt_ = opt.fp32_twin(shadow_->parameters());
    if (!shadow_opt_) {
      throw pure16::InvalidArgument("pure16::train::DivergenceWatch: optimizer " + opt.name() +
                                    " has no fp32 twin to train the shadow with");
    }
    if (!o_.csv_path.empty()) {
      csv_.open(o_.csv_path, std::ios::trunc);
      if (!csv_)
        throw pure16::Error("pure16::train: cannot write divergence CSV '" + o_.csv_path + "'");
      csv_ << "epoch,delta_max,delta_mean,delta_median,gamma_mean,guaranteed,strict,agreement,"
              "violations,probes,acc_shadow,acc_model\n";
      csv_.flush();
    }
  }
  DivergenceWatch(const DivergenceWatch&) = delete;
  DivergenceWatch& operator=(const DivergenceWatch&) = delete;

  /// Chain the watch into `fo` (keep the watch alive while fit runs) and record the start.
  void attach(FitOptions& fo) {
    o_.layout = fo.layout;
    auto prev_batch = std::move(fo.on_batch);
    fo.on_batch = [this, prev_batch](const BatchEnd& b) {
      shadow_step(b.indices, b.lr);
      if (prev_batch) prev_batch(b);
    };
    auto prev_epoch = std::move(fo.on_epoch_end);
    fo.on_epoch_end = [this, prev_epoch](const EpochEnd& e) {
      measure(e.stats.epoch);
      if (prev_epoch) prev_epoch(e);
    };
    measure(fo.start_epoch);
  }

  /// One shadow training step on the training samples `indices` at learning rate lr.
  void shadow_step(std::span<const std::size_t> indices, double lr) {
    const Tensor<float> x = train_->batch<float>(indices, o_.layout);
    std::vector<std::int32_t> y;
    Tensor<float> values;
    Targets<float> t;
    if (loss_.values) {
      values = train_->batch_targets<float>(indices);
      t.values = &values;
    } else {
      y = train_->batch_labels(indices);
      t.labels = y;
    }
    const Tensor<float> out = shadow_->forward(x, nn::Mode::Train);
    const auto l = loss_.compute(out, t, Accumulate::Float, 1.0);
    shadow_->backward(l.grad);
    shadow_opt_->set_lr(lr);
    shadow_opt_->step();
  }

  /// Compare the model with the shadow on the probe set now; appends and returns the record.
  const DivergenceRecord& measure(int epoch) {
    analysis::CompareOptions co;
    co.layerwise = false;
    co.layout = o_.layout;
    co.limit = o_.probe_size;
    const analysis::PrecisionReport r =
        analysis::compare(*shadow_, *model_, *probe_, analysis::TwinKind::Trained, co);
    DivergenceRecord d;
    d.epoch = epoch;
    d.delta_max = r.delta.max;
    d.delta_mean = r.delta.mean;
    d.delta_median = r.delta.median;
    d.gamma_mean = r.gamma.mean;
    d.guaranteed = r.guaranteed_fraction();
    d.strict = r.strict_fraction();
    d.agreement = r.agreement();
    d.violations = r.violations;
    d.probes = r.size();
    d.acc_shadow = r.accuracy_ref();
    d.acc_model = r.accuracy_low();
    records_.push_back(d);
    if (csv_.is_open()) {
      csv_ << d.epoch << ',' << std::setprecision(9) << d.delta_max << ',' << d.delta_mean << ','
           << d.delta_median << ',' << d.gamma_mean << ',' << d.guaranteed << ',' << d.strict << ','
           << d.agreement << ',' << d.violations << ',' << d.probes << ',' << d.acc_shadow << ','
           << d.acc_model << '\n';
      csv_.flush();
      if (!csv_) throw pure16::Error("pure16::train: error writing '" + o_.csv_path + "'");
    }
    return records_.back();
  }

  const std::vector<DivergenceRecord>& records() const { return records_; }
  nn::Sequential<float>& shadow() { return *shadow_; }
  optim::Optimizer<float>& shadow_optimizer() { return *shadow_opt_; }

 private:
  nn::Sequential<T>* model_;
  const data::Dataset* train_;
  const data::Dataset* probe_;
  DivergenceOptions o_;
  Loss<float> loss_;
  std::unique_ptr<nn::Sequential<float>> shadow_;
  std::unique_ptr<optim::Optimizer<float>> shadow_opt_;
  std::vector<DivergenceRecord> records_;
  std::ofstream csv_;
};

}  // namespace pure16::train
