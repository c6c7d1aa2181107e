// examples/cli.hpp — the command line every pure16 example shares: options, data folders,
// threads, and main()'s error handling.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <iostream>
#include <pure16/data/dataset.hpp>
#include <pure16/error.hpp>
#include <string>
#include <utility>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "update_modes.hpp"

namespace examples {

namespace fs = std::filesystem;

/// Options every example accepts (defaults set by the example before parsing).
struct Options {
  std::vector<std::string> precisions{"fp16", "fp32"};
  int epochs = 5;
  std::size_t batch = 128;
  double lr = 0.05;
  std::string optimizer = "momentum";
  double momentum = 0.9;
  double weight_decay = 0.0;
  std::string schedule = "constant";
  std::uint64_t seed = 1;
  int threads = 0;
  bool quiet = false;
  std::string data;  // folder with the data set's files; "" = the fetch script's cache
  std::string json;
  std::string csv_dir;
  std::size_t train_limit = 0;
  std::size_t test_limit = 0;
  std::string accumulate = "float";
  std::string on_non_finite = "stop";
  std::string checkpoint_dir;  // write <example>_<precision>.ckpt.safetensors after each epoch
  bool resume = false;         // continue from those checkpoints when present
  std::string save;            // weights file(s) to write after training
  std::string load;            // weights file to start from instead of the seed
  UpdateOptions upd;           // --rounding, --divergence, loss scaling (update_modes.hpp)
  bool distributed = false;    // data-parallel over MPI (run under mpirun); batch = global
};

/// The folder scripts/fetch_data.sh fills: ${PURE16_DATA:-$HOME/.cache/pure16}/<name>.
inline std::string default_data_dir(const std::string& name) {
  if (const char* d = std::getenv("PURE16_DATA"); d && *d) return (fs::path(d) / name).string();
  const char* home = std::getenv("HOME");
  return (fs::path(home ? home : ".") / ".cache" / "pure16" / name).string();
}

/// A finite number (CLI11's number checks let "inf" and "nan" through).
inline CLI::Validator finite() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        try {
          if (std::isfinite(std::stod(v))) return {};
        } catch (const std::exception&) {
        }
        return "value " + v + " is not a finite number";
      },
      "FINITE");
}

/// A number in [0, 1).
inline CLI::Validator unit_interval() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        try {
          const double x = std::stod(v);
          if (x >= 0.0 && x < 1.0) return {};
        } catch (const std::exception&) {
        }
        return "value " + v + " is not in [0, 1)";
      },
      "[0, 1)");
}

/// Register the shared options on `app`.
inline void add_options(CLI::App& app, Options& o) {
  app.add_option("--precision", o.precisions,
                 "precisions to train, comma-separated: fp16,bf16,fp32,fp64, and mixed "
                 "(mixed-bf16): fp16 (bf16) compute with fp32 master weights and loss scaling, "
                 "labelled mixed(fp16/fp32) -- not pure 16-bit; fp16+ROUNDING (bf16+ROUNDING) "
                 "trains that precision with that rounding only, whatever --rounding says")
      ->delimiter(',')
      ->check(CLI::IsMember(precision_choices()))
      ->capture_default_str();
  add_update_options(app, o.upd);
  app.add_option("--epochs", o.epochs, "training epochs (at least 1)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--batch", o.batch, "mini-batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--lr", o.lr, "learning rate")
      ->check(CLI::PositiveNumber & finite())
      ->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "sgd | momentum | adam | adamw | rmsprop")
      ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}))
      ->capture_default_str();
  app.add_option("--momentum", o.momentum,
                 "momentum of --optimizer momentum/nesterov/rmsprop, in [0, 1) (>= 1 diverges)")
      ->check(unit_interval())
      ->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay, "weight decay (>= 0)")
      ->check(CLI::NonNegativeNumber & finite())
      ->capture_default_str();
  app.add_option("--schedule", o.schedule, "learning-rate schedule: constant | step | cosine")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the initial weights, dropout and shuffling")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "OpenMP threads (0 = the OpenMP default)")
      ->check(CLI::Range(0, 4096))
      ->capture_default_str();
  app.add_flag("--quiet", o.quiet, "no progress bar and no per-epoch lines");
  app.add_option("--data", o.data,
                 "folder holding the data set's files under their official names, plain or "
                 ".gz (default: the folder scripts/fetch_data.sh fills)");
  app.add_option("--json", o.json, "write the comparison as JSON to this file");
  app.add_option("--csv", o.csv_dir, "write per-epoch CSV logs <example>_<precision>.csv here");
  app.add_option("--train-limit", o.train_limit, "use only the first N training samples")
      ->capture_default_str();
  app.add_option("--test-limit", o.test_limit, "use only the first N test samples")
      ->capture_default_str();
  app.add_option("--accumulate", o.accumulate,
                 "dot-product accumulator: float (default) or native (T itself)")
      ->check(CLI::IsMember({"float", "native"}))
      ->capture_default_str();
  app.add_option("--on-non-finite", o.on_non_finite,
                 "when a loss/weight/gradient is not finite: stop | skip (the batch)")
      ->check(CLI::IsMember({"stop", "skip"}))
      ->capture_default_str();
  app.add_option("--checkpoint", o.checkpoint_dir,
                 "write a checkpoint per precision to this folder after every epoch "
                 "(<example>_<precision>.ckpt.safetensors, atomically)");
  app.add_flag("--resume", o.resume,
               "continue from the checkpoints in --checkpoint DIR where they exist");
  app.add_option("--save", o.save,
                 "save each trained model as safetensors (PyTorch state_dict names) to FILE; "
                 "with several precisions to FILE's name + _<precision>");
  app.add_flag("--distributed", o.distributed,
               "data-parallel training over MPI: run under mpirun -np N; each rank trains on "
               "its shard of every --batch (the global batch); rank 0 prints and writes");
  app.add_option("--load", o.load,
                 "start from the weights in this safetensors file (pure16's or PyTorch's; "
                 "converted to each precision) instead of the seeded initialization");
}

/// Throws pure16::InvalidArgument naming the option when `file` cannot be written: its
/// folder is missing or not writable, or the file exists and is not a writable regular file.
inline void require_writable_file(const std::string& file, const std::string& option) {
  const fs::path p(file);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    throw pure16::InvalidArgument(option + " " + file + ": folder '" + dir.string() +
                                  "' does not exist");
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    throw pure16::InvalidArgument(option + " " + file + ": folder '" + dir.string() +
                                  "' is not writable");
  }
  const auto st = fs::status(p, ec);
  if (!ec && fs::exists(st)) {
    if (!fs::is_regular_file(st)) {
      throw pure16::InvalidArgument(option + " " + file + ": exists and is not a regular file");
    }
    if (::access(p.c_str(), W_OK) != 0) {
      throw pure16::InvalidArgument(option + " " + file + ": is not writable");
    }
  }
}

/// Throws pure16::InvalidArgument naming the option when folder `dir` cannot be created
/// or written.
inline void require_writable_folder(const std::string& dir, const std::string& option) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    throw pure16::InvalidArgument(option + " " + dir + ": cannot create the folder" +
                                  (ec ? ": " + ec.message() : std::string()));
  }
  if (::access(dir.c_str(), W_OK) != 0) {
    throw pure16::InvalidArgument(option + " " + dir + ": folder is not writable");
  }
}

/// Every output the options name can be written: checked before any training starts, so
/// that a typo is not found after hours of training.
inline void check_outputs(const Options& o) {
  if (!o.json.empty()) require_writable_file(o.json, "--json");
  if (!o.csv_dir.empty()) require_writable_folder(o.csv_dir, "--csv");
  if (!o.checkpoint_dir.empty()) require_writable_folder(o.checkpoint_dir, "--checkpoint");
  if (!o.save.empty()) require_writable_file(o.save, "--save");
  if (o.resume && o.checkpoint_dir.empty())
    throw pure16::InvalidArgument("--resume needs --checkpoint DIR");
}

/// Apply process-wide options (threads) and check the outputs (see check_outputs).
inline void apply_options(const Options& o) {
  check_outputs(o);
#ifdef _OPENMP
  if (o.threads > 0) omp_set_num_threads(o.threads);
#else
  (void)o;
#endif
}

inline int thread_count() {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

/// Apply --train-limit / --test-limit.
inline void limit(pure16::data::Dataset& train, pure16::data::Dataset& test, const Options& o) {
  if (o.train_limit) train = std::move(train).head(o.train_limit);
  if (o.test_limit) test = std::move(test).head(o.test_limit);
}

/// main() body wrapper: clear one-line errors instead of uncaught exceptions.
/// Set while a --distributed run is under way (twins.cpp): ends the whole MPI job with the
/// message, so that one rank's error does not leave the others waiting for it.
inline void (*fatal_error_hook)(const char* what) = nullptr;

template <class F>
int guarded_main(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    if (fatal_error_hook) fatal_error_hook(e.what());
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace examples
