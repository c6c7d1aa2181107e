// examples/report.hpp — the figures of trained twins: prediction agreement, the comparison
// table on stdout and the JSON report (written atomically through pure16::io).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <pure16/analysis/precision.hpp>
#include <pure16/analysis/report.hpp>
#include <pure16/io/atomic_file.hpp>
#include <pure16/train/divergence.hpp>
#include <pure16/train/fit.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli.hpp"

namespace examples {

/// The figures of one trained model.
struct RunResult {
  std::string precision;    // the run's label: fp16, fp16+compensated, mixed(fp16/fp32), ...
  bool mixed = false;       // mixed precision (fp32 masters): not pure
  bool pure_16bit = false;  // every stored tensor in a 16-bit type
  std::string rounding = "nearest";
  std::size_t optimizer_bytes = 0;  // optimizer state (moments, compensation), masters excluded
  std::size_t master_bytes = 0;     // mixed precision's fp32 master weights
  double loss_scale = 1.0;
  std::vector<pure16::train::DivergenceRecord> divergence;
  double test_accuracy = NAN;
  double test_loss = NAN;  // the training loss on the test set (MSE: reconstruction error)
  double train_loss = NAN;
  std::vector<double> epoch_seconds;
  std::vector<double> epoch_cpu_seconds;  // process CPU time per epoch (robust when shared)
  std::vector<pure16::train::EpochStats> epochs;
  std::size_t peak_rss_bytes = 0;
  std::size_t model_bytes = 0;
  std::size_t parameters = 0;
  double seconds = 0.0;
  std::int64_t skipped = 0;
  std::vector<std::int32_t> predictions;
  // Classification only: the test set's logits [samples x classes] in double (exact for
  // every 16-bit type and fp32), for the delta / Gamma analysis against the fp32 run.
  std::vector<double> test_logits;
  std::size_t classes = 0;
  // The precision analysis of this run against the fp32 run of the same invocation: for a
  // 16-bit or mixed run its "trained" twin comparison; for the fp32 run its weights rounded
  // to fp16 and bf16 (the theorem's setting). Empty without an fp32 run.
  std::vector<pure16::analysis::PrecisionReport> analyses;
};

/// A description of the run shared by every precision (for the table header and JSON).
struct Experiment {
  std::string example;             // "mnist_mlp"
  std::string dataset;             // "mnist"
  pure16::nn::zoo::Network model;  // the network, described once (pure16/nn/zoo.hpp)
  pure16::data::Layout layout = pure16::data::Layout::NCHW;
  bool regression = false;   // mean squared error against the data set's targets, no accuracy
  double loss_weight = 1.0;  // regression: minimize loss_weight x MSE (MSE is what is reported)
};

/// Fraction of samples on which every run predicts the same class (NaN with < 2 runs).
inline double agreement(const std::vector<RunResult>& runs) {
  if (runs.size() < 2 || runs[0].predictions.empty()) return NAN;
  const std::size_t n = runs[0].predictions.size();
  std::size_t same = 0;
  for (std::size_t i = 0; i < n; ++i) {
    bool all = true;
    for (auto& r : runs)
      all = all && r.predictions.size() == n && r.predictions[i] == runs[0].predictions[i];
    same += all;
  }
  return double(same) / double(n);
}

inline std::string mib(std::size_t bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(bytes < (10u << 20) ? 2 : 1) << double(bytes) / (1 << 20)
     << " MiB";
  return os.str();
}

inline double mean(const std::vector<double>& v) {
  if (v.empty()) return NAN;
  double s = 0;
  for (double x : v) s += x;
  return s / double(v.size());
}

/// The comparison table on stdout.
inline void print_table(const Experiment& ex, const Options& o, std::size_t n_train,
                        std::size_t n_test, const std::vector<RunResult>& runs) {
  std::ostringstream os;
  os << '\n'
     << ex.example << ": " << ex.model.description << " on " << ex.dataset << " (" << n_train
     << " train / " << n_test << " test), " << o.epochs << " epochs, batch " << o.batch << ", "
     << o.optimizer << " lr " << o.lr << (o.schedule == "constant" ? "" : " (" + o.schedule + ")")
     << ", seed " << o.seed << ", " << thread_count() << " threads\n\n";
  os << std::left << std::setw(18) << "precision" << std::right << std::setw(10)
     << (ex.regression ? "test MSE" : "test acc") << std::setw(12) << "train loss" << std::setw(10)
     << "s/epoch" << std::setw(10) << "cpu s/ep" << std::setw(12) << "peak RSS" << std::setw(14)
     << "model bytes" << std::setw(12) << "opt bytes" << '\n';
  os << std::string(98, '-') << '\n';
  for (const auto& r : runs) {
    std::ostringstream acc, loss, sec, cpu;
    if (ex.regression) {
      acc << std::scientific << std::setprecision(3) << r.test_loss;
    } else {
      acc << std::fixed << std::setprecision(2) << 100.0 * r.test_accuracy << " %";
    }
    loss << std::fixed << std::setprecision(4) << r.train_loss;
    sec << std::fixed << std::setprecision(1) << mean(r.epoch_seconds);
    cpu << std::fixed << std::setprecision(2) << mean(r.epoch_cpu_seconds);
    os << std::left << std::setw(18) << r.precision << std::right << std::setw(10) << acc.str()
       << std::setw(12) << loss.str() << std::setw(10) << sec.str() << std::setw(10) << cpu.str()
       << std::setw(12) << mib(r.peak_rss_bytes) << std::setw(14) << r.model_bytes << std::setw(12)
       << r.optimizer_bytes << '\n';
  }
  for (const auto& r : runs) {
    if (r.divergence.empty()) continue;
    const auto& d = r.divergence.back();
    std::ostringstream line;
    line << r.precision << " vs its fp32 shadow after epoch " << d.epoch << ": delta max "
         << std::setprecision(3) << d.delta_max << ", mean " << d.delta_mean << ", guaranteed "
         << std::fixed << std::setprecision(2) << 100.0 * d.guaranteed << " %, agreement "
         << 100.0 * d.agreement << " %, violations " << d.violations << '\n';
    os << line.str();
  }
  bool analysis_header = false;
  for (const auto& r : runs) {
    for (const auto& a : r.analyses) {
      if (!analysis_header) {
        os << "\nagainst the fp32 run (delta = max |p32 - p|, Gamma = fp32 top-1 minus top-2 "
              "probability; guaranteed: Gamma >= 2 delta):\n";
        analysis_header = true;
      }
      std::ostringstream line;
      line << "  " << std::left << std::setw(44) << a.twin.label() << ' ' << std::right
           << std::setprecision(3) << "delta mean " << a.delta.mean << " var " << a.delta.variance
           << ", Gamma mean " << a.gamma.mean << " var " << a.gamma.variance << ", guaranteed "
           << std::fixed << std::setprecision(2) << 100.0 * a.guaranteed_fraction()
           << " %, agreement " << 100.0 * a.agreement() << " %, violations " << a.violations
           << '\n';
      os << line.str();
    }
  }
  if (std::any_of(runs.begin(), runs.end(), [](const RunResult& r) { return r.mixed; })) {
    os << "mixed(...) runs are NOT pure 16-bit: fp32 master weights (counted in model bytes) "
          "and fp32 optimizer state, dynamic loss scaling\n";
  }
  const double agree = agreement(runs);
  if (!std::isnan(agree)) {
    std::string names;
    for (auto& r : runs) names += (names.empty() ? "" : " vs ") + r.precision;
    os << '\n'
       << "prediction agreement (" << names << "): " << std::fixed << std::setprecision(2)
       << 100.0 * agree << " % of " << runs[0].predictions.size() << " test samples\n";
  }
  std::cout << os.str() << std::flush;
}

/// The comparison as JSON (see the README for the schema).
inline nlohmann::json to_json(const Experiment& ex, const Options& o, std::size_t n_train,
                              std::size_t n_test, const std::vector<RunResult>& runs) {
  nlohmann::json j;
  j["example"] = ex.example;
  j["dataset"] = ex.dataset;
  j["model"] = ex.model.description;
  j["network"] = ex.model.name;
  j["task"] = ex.regression ? "regression" : "classification";
  j["loss_weight"] = ex.loss_weight;  // losses below are divided by it (MSE per element)
  j["train_samples"] = n_train;
  j["test_samples"] = n_test;
  j["options"] = {{"epochs", o.epochs},
                  {"batch", o.batch},
                  {"lr", o.lr},
                  {"optimizer", o.optimizer},
                  {"momentum", o.momentum},
                  {"weight_decay", o.weight_decay},
                  {"schedule", o.schedule},
                  {"seed", o.seed},
                  {"threads", thread_count()},
                  {"accumulate", o.accumulate},
                  {"rounding", o.upd.roundings},
                  {"divergence_probes", o.upd.divergence}};
  j["runs"] = nlohmann::json::array();
  for (const auto& r : runs) {
    nlohmann::json e;
    e["precision"] = r.precision;
    e["pure_16bit"] = r.pure_16bit;
    e["update"] = r.mixed ? "mixed" : "pure";
    e["rounding"] = r.rounding;
    e["optimizer_bytes"] = r.optimizer_bytes;
    e["master_bytes"] = r.master_bytes;
    e["loss_scale"] = r.loss_scale;
    e["test_accuracy"] = pure16::analysis::detail::num(r.test_accuracy);
    e["test_loss"] = pure16::analysis::detail::num(r.test_loss);
    e["train_loss"] = r.train_loss;
    e["epoch_seconds"] = r.epoch_seconds;
    e["epoch_cpu_seconds"] = r.epoch_cpu_seconds;
    e["peak_rss_bytes"] = r.peak_rss_bytes;
    e["model_bytes"] = r.model_bytes;
    e["parameters"] = r.parameters;
    e["seconds"] = r.seconds;
    e["skipped_batches"] = r.skipped;
    nlohmann::json ep = nlohmann::json::array();
    for (auto& s : r.epochs) {
      ep.push_back({{"epoch", s.epoch},
                    {"train_loss", s.train_loss / ex.loss_weight},
                    {"test_loss", s.test_loss / ex.loss_weight},
                    {"train_accuracy", s.train_accuracy},
                    {"test_accuracy", s.test_accuracy},
                    {"seconds", s.seconds},
                    {"cpu_seconds", s.cpu_seconds},
                    {"lr", s.lr},
                    {"loss_scale", s.loss_scale},
                    {"overflow_skipped", s.overflow_skipped}});
    }
    e["epochs"] = ep;
    nlohmann::json dv = nlohmann::json::array();
    for (const auto& d : r.divergence) {
      dv.push_back({{"epoch", d.epoch},
                    {"delta_max", d.delta_max},
                    {"delta_mean", d.delta_mean},
                    {"delta_median", d.delta_median},
                    {"gamma_mean", d.gamma_mean},
                    {"guaranteed", d.guaranteed},
                    {"strict", d.strict},
                    {"agreement", d.agreement},
                    {"violations", d.violations},
                    {"probes", d.probes},
                    {"acc_shadow", d.acc_shadow},
                    {"acc_model", d.acc_model}});
    }
    if (!r.divergence.empty()) e["divergence_vs_fp32_shadow"] = dv;
    if (!r.analyses.empty()) {
      nlohmann::json an = nlohmann::json::array();
      for (const auto& a : r.analyses) an.push_back(pure16::analysis::to_json(a));
      e["analysis_vs_fp32"] = an;
    }
    j["runs"].push_back(e);
  }
  const double agree = agreement(runs);
  j["agreement"] = std::isnan(agree) ? nlohmann::json(nullptr) : nlohmann::json(agree);
  return j;
}

/// Write `text` to `path` atomically (pure16::io): the previous file survives any failure.
inline void write_text_file(const std::string& path, const std::string& text) {
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  pure16::io::write_file_atomically(
      p, [&](pure16::io::OutputFile& f) { f.write(text.data(), text.size()); });
}

}  // namespace examples
