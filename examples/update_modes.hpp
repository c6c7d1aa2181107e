// examples/update_modes.hpp — how the examples choose an update mode per run: pure 16-bit
// with round-to-nearest, stochastic or compensated updates, or mixed precision (NOT pure:
// fp32 masters and state, dynamic loss scaling), and the divergence watch.
//
//   --precision fp16,fp32,mixed            "mixed" = fp16 compute, fp32 masters (also mixed-bf16)
//   --precision fp16+compensated           one 16-bit precision with one rounding only
//   --rounding nearest,stochastic,compensated
//                                          each pure 16-bit precision is trained once per
//                                          rounding; fp32/fp64 and mixed runs round to nearest
//   --divergence N                         watch every 16-bit run against an fp32 shadow
//                                          on the first N test samples after each epoch
//
// Every run is named by Optimizer::precision_label(): "fp16", "fp16+stochastic",
// "fp16+compensated", "mixed(fp16/fp32)"; file names use file_tag() of it
// ("mixed-fp16-fp32").
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <pure16/optim/make.hpp>
#include <pure16/scalar.hpp>
#include <string>
#include <utility>
#include <vector>

namespace examples {

/// The update-mode options every example accepts.
struct UpdateOptions {
  std::vector<std::string> roundings{"nearest"};
  std::size_t divergence = 0;  // probe samples of the divergence watch (0 = off)
  double loss_scale_init = 65536.0;
  std::int64_t loss_scale_interval = 2000;
};

/// One run: a scalar type, and how its weights are updated.
struct RunKind {
  std::string precision;  // fp16 | bf16 | fp32 | fp64 (the model's scalar type)
  bool mixed = false;
  pure16::Rounding rounding = pure16::Rounding::NearestEven;
};

inline const std::vector<std::string>& precision_choices() {
  static const std::vector<std::string> c{"fp16",
                                          "bf16",
                                          "fp32",
                                          "fp64",
                                          "mixed",
                                          "mixed-bf16",
                                          "fp16+nearest",
                                          "fp16+stochastic",
                                          "fp16+compensated",
                                          "bf16+nearest",
                                          "bf16+stochastic",
                                          "bf16+compensated"};
  return c;
}

inline void add_update_options(CLI::App& app, UpdateOptions& u) {
  app.add_option("--rounding", u.roundings,
                 "rounding of pure 16-bit weight updates, comma-separated (each 16-bit "
                 "precision is trained once per rounding): nearest | stochastic | compensated "
                 "(Kahan compensation tensor in T)")
      ->delimiter(',')
      ->check(CLI::IsMember({"nearest", "stochastic", "compensated"}))
      ->capture_default_str();
  app.add_option("--divergence", u.divergence,
                 "after every epoch, compare each 16-bit run with an fp32 shadow trained "
                 "alongside (same start, same batches) on the first N test samples: delta, "
                 "Gamma, guaranteed share, agreement, violations (0 = off; doubles the work)")
      ->capture_default_str();
  app.add_option("--loss-scale", u.loss_scale_init, "initial loss scale of --precision mixed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--loss-scale-interval", u.loss_scale_interval,
                 "clean steps before mixed precision doubles its loss scale")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
}

/// The runs that --precision and --rounding ask for, in order, each once (fp16 with
/// --rounding compensated and fp16+compensated name the same run).
inline std::vector<RunKind> run_kinds(const std::vector<std::string>& precisions,
                                      const UpdateOptions& u) {
  std::vector<RunKind> runs;
  const auto add = [&runs](RunKind k) {
    for (const RunKind& r : runs)
      if (r.precision == k.precision && r.mixed == k.mixed && r.rounding == k.rounding) return;
    runs.push_back(std::move(k));
  };
  for (const auto& p : precisions) {
    if (p == "mixed" || p == "mixed-bf16") {
      add({p == "mixed" ? "fp16" : "bf16", true, pure16::Rounding::NearestEven});
    } else if (const auto plus = p.find('+'); plus != std::string::npos) {  // one rounding
      add({p.substr(0, plus), false, pure16::optim::parse_rounding(p.substr(plus + 1))});
    } else if (p == "fp16" || p == "bf16") {
      for (const auto& r : u.roundings) add({p, false, pure16::optim::parse_rounding(r)});
    } else {
      add({p, false, pure16::Rounding::NearestEven});
    }
  }
  return runs;
}

/// A file-name-safe form of a run's label: "mixed(fp16/fp32)" -> "mixed-fp16-fp32".
inline std::string file_tag(const std::string& label) {
  std::string t;
  for (char c : label) {
    if (c == '(' || c == '/') {
      t += '-';
    } else if (c != ')') {
      t += c;
    }
  }
  return t;
}

}  // namespace examples
