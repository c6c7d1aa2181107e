// pure16/train/progress.hpp — a one-line progress bar on stderr.
//
// Contract: ProgressBar draws "<label> epoch e/E [====>   ] b/B  x batch/s  loss l  ETA t"
// on stderr, redrawn in place at most 10 times a second. It draws nothing when disabled,
// or when stderr is not a terminal (isatty), so logs and CI output stay clean.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

namespace pure16::train {

inline bool stderr_is_terminal() {
  return ::isatty(STDERR_FILENO) == 1;
}

class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;

  ProgressBar(std::string label, int epoch, int epochs, std::size_t total, bool enabled)
      : label_(std::move(label)),
        epoch_(epoch),
        epochs_(epochs),
        total_(total),
        enabled_(enabled && stderr_is_terminal()),
        start_(Clock::now()),
        last_(start_) {}

  bool enabled() const { return enabled_; }

  /// `done` batches finished, running mean loss `loss`.
  void update(std::size_t done, double loss) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (done < total_ && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? double(done) / secs : 0.0;
    const double eta = rate > 0 ? double(total_ - done) / rate : 0.0;
    constexpr int width = 24;
    const int filled = total_ ? int(double(width) * double(done) / double(total_)) : width;
    std::string bar(std::size_t(width), ' ');
    for (int i = 0; i < filled; ++i) bar[std::size_t(i)] = '=';
    if (filled < width) bar[std::size_t(filled)] = '>';
    std::fprintf(stderr, "\r%s epoch %d/%d [%s] %zu/%zu %6.1f batch/s  loss %.4f  %s %5.0fs ",
                 label_.c_str(), epoch_, epochs_, bar.c_str(), done, total_, rate, loss,
                 done < total_ ? "ETA" : "in ", done < total_ ? eta : secs);
    std::fflush(stderr);
  }

  /// End the line (call once at the end of the epoch).
  void finish() {
    if (!enabled_) return;
    std::fputc('\n', stderr);
    std::fflush(stderr);
  }

 private:
  std::string label_;
  int epoch_, epochs_;
  std::size_t total_;
  bool enabled_;
  Clock::time_point start_, last_;
};

}  // namespace pure16::train
