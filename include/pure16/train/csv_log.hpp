// pure16/train/csv_log.hpp — the per-epoch CSV log of a training run.
//
// Contract: CsvLog(path) creates (truncates) the file and writes the header
//   epoch,train_loss,train_acc,test_acc,seconds,lr,skipped
// then write(stats) appends one line per epoch and flushes it, so the log of a run that is
// interrupted holds every finished epoch. Accuracies are fractions in [0, 1]; test_acc is
// empty when there is no test set. An unwritable path throws pure16::Error naming it.
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
  int epoch = 0;                // 1-based
  double train_loss = 0.0;      // mean over the epoch's samples
  double train_accuracy = 0.0;  // on the training batches, in training mode
  double test_accuracy = NAN;   // NaN when no test set was given
  double seconds = 0.0;         // training time of the epoch (evaluation excluded)
  double lr = 0.0;              // learning rate at the epoch's last batch
  std::int64_t skipped = 0;     // batches skipped by the non-finite guard
};

class CsvLog {
 public:
  explicit CsvLog(const std::string& path) : path_(path), out_(path, std::ios::trunc) {
    if (!out_) throw pure16::Error("pure16::train: cannot write CSV log '" + path + "'");
    out_ << "epoch,train_loss,train_acc,test_acc,seconds,lr,skipped\n";
    out_.flush();
  }
  void write(const EpochStats& s) {
    out_ << s.epoch << ',' << std::setprecision(9) << s.train_loss << ',' << s.train_accuracy
         << ',';
    if (!std::isnan(s.test_accuracy)) out_ << s.test_accuracy;
    out_ << ',' << s.seconds << ',' << s.lr << ',' << s.skipped << '\n';
    out_.flush();
    if (!out_) throw pure16::Error("pure16::train: error writing CSV log '" + path_ + "'");
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace pure16::train
