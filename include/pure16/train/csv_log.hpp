// pure16/train/csv_log.hpp — the per-epoch CSV log of a training run.
//
// Contract: CsvLog(path) creates (truncates) the file and writes the header
//   epoch,train_loss,train_acc,test_acc,seconds,lr,skipped,test_loss,loss_scale,overflow_skipped,
//   cpu_seconds
// then write(stats) appends one line per epoch and flushes it, so the log of a run that is
// interrupted holds every finished epoch. Accuracies are fractions in [0, 1]; train_acc and
// test_acc are empty when not measured (no test set, or a regression loss); test_loss is
// empty without a test set. loss_scale and overflow_skipped are mixed precision's (1 and 0
// for pure runs). cpu_seconds is the process's CPU time over the epoch's training (all
// threads; with one thread a timing that other processes on a shared machine barely move). An
// unwritable path throws pure16::Error naming it.
#pragma once

#include <cmath>
#include <cstdint>
#include <fstream>
#include <iomanip>
#include <pure16/error.hpp>
#include <string>

namespace pure16::train {

/// Figures of one finished epoch.
struct EpochStats {
  int epoch = 0;                      // 1-based
  double train_loss = 0.0;            // mean over the epoch's samples
  double train_accuracy = 0.0;        // on the training batches, in training mode
  double test_accuracy = NAN;         // NaN when no test set was given
  double seconds = 0.0;               // training time of the epoch (evaluation excluded)
  double lr = 0.0;                    // learning rate at the epoch's last batch
  std::int64_t skipped = 0;           // batches skipped by the non-finite guard
  double test_loss = NAN;             // mean loss on the test set (NaN without one)
  double loss_scale = 1.0;            // loss scale at the epoch's end (mixed precision)
  std::int64_t overflow_skipped = 0;  // steps the loss scaler skipped (non-finite grads)
  double cpu_seconds = 0.0;           // process CPU time of the epoch's training
};

class CsvLog {
 public:
  explicit CsvLog(const std::string& path) : path_(path), out_(path, std::ios::trunc) {
    if (!out_) throw pure16::Error("pure16::train: cannot write CSV log '" + path + "'");
    out_ << "epoch,train_loss,train_acc,test_acc,seconds,lr,skipped,test_loss,loss_scale,"
            "overflow_skipped,cpu_seconds\n";
    out_.flush();
  }
  void write(const EpochStats& s) {
    out_ << s.epoch << ',' << std::setprecision(9) << s.train_loss << ',';
    if (!std::isnan(s.train_accuracy)) out_ << s.train_accuracy;
    out_ << ',';
    if (!std::isnan(s.test_accuracy)) out_ << s.test_accuracy;
    out_ << ',' << s.seconds << ',' << s.lr << ',' << s.skipped << ',';
    if (!std::isnan(s.test_loss)) out_ << s.test_loss;
    out_ << ',' << s.loss_scale << ',' << s.overflow_skipped << ',' << s.cpu_seconds << '\n';
    out_.flush();
    if (!out_) throw pure16::Error("pure16::train: error writing CSV log '" + path_ + "'");
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace pure16::train
