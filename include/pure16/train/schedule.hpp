// pure16/train/schedule.hpp — learning-rate schedules.
//
// Contract: Schedule::lr(base, epoch, step, total_steps) is the learning rate for the batch
// numbered `step` (0-based, counted over the whole run) in 0-based `epoch`:
//  * Constant: base.
//  * Step:     base * gamma^floor(epoch / step_epochs).
//  * Cosine:   min_lr + (base - min_lr) * (1 + cos(pi * step / total_steps)) / 2, per batch.
// An optional linear warm-up scales the first warmup_steps batches by (step + 1) / warmup.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>
#include <pure16/error.hpp>
#include <string>

namespace pure16::train {

struct Schedule {
  enum class Kind { Constant, Step, Cosine };
  Kind kind = Kind::Constant;
  int step_epochs = 10;  // Step: decay every this many epochs
  double gamma = 0.1;    // Step: decay factor
  double min_lr = 0.0;   // Cosine: final learning rate
  std::int64_t warmup_steps = 0;

  double lr(double base, int epoch, std::int64_t step, std::int64_t total_steps) const {
    double r = base;
    switch (kind) {
      case Kind::Constant:
        break;
      case Kind::Step:
        r = base * std::pow(gamma, std::floor(double(epoch) / double(std::max(step_epochs, 1))));
        break;
      case Kind::Cosine: {
        const double t = total_steps > 0 ? std::min(double(step) / double(total_steps), 1.0) : 0;
        r = min_lr + (base - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * t));
        break;
      }
    }
    if (warmup_steps > 0 && step < warmup_steps) r *= double(step + 1) / double(warmup_steps);
    return r;
  }

  /// "constant", "step", "cosine" -> Kind.
  static Kind parse(const std::string& s) {
    if (s == "constant" || s == "none") return Kind::Constant;
    if (s == "step") return Kind::Step;
    if (s == "cosine") return Kind::Cosine;
    throw pure16::InvalidArgument("pure16::train: unknown learning-rate schedule '" + s +
                                  "' (expected constant, step or cosine)");
  }
};

}  // namespace pure16::train
