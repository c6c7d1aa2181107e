// examples/common.hpp — what pure16's twin-training examples share: the command line,
// building and training one model per precision from the same seed, and the comparison
// table (stdout) and JSON report.
//
// An example describes its network once, as a generic lambda over the scalar type
//   auto build = []<class T>(pure16::nn::Sequential<T>& m) { m.template add<Dense>(784, 10); };
// and calls run_twins(); each requested precision (fp16, bf16, fp32, fp64) then gets its
// own model, initialized from the same seed (same weights up to rounding), its own
// optimizer, and the same batches in the same order. Peak memory is measured per run by
// resetting the kernel's high-water mark before each run (train/memory.hpp); it includes the
// data set, which every run shares.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <pure16/data/data.hpp>
#include <pure16/io/safetensors.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/optim.hpp>
#include <pure16/train/train.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>
#ifdef _OPENMP
#include <omp.h>
#endif

namespace examples {

namespace fs = std::filesystem;
using pure16::bfloat16;
using pure16::half;

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
};

/// The folder scripts/fetch_data.sh fills: ${PURE16_DATA:-$HOME/.cache/pure16}/<name>.
inline std::string default_data_dir(const std::string& name) {
  if (const char* d = std::getenv("PURE16_DATA"); d && *d) return (fs::path(d) / name).string();
  const char* home = std::getenv("HOME");
  return (fs::path(home ? home : ".") / ".cache" / "pure16" / name).string();
}

/// Register the shared options on `app`.
inline void add_options(CLI::App& app, Options& o) {
  app.add_option("--precision", o.precisions,
                 "precisions to train, comma-separated: fp16,bf16,fp32,fp64")
      ->delimiter(',')
      ->check(CLI::IsMember({"fp16", "bf16", "fp32", "fp64"}))
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "training epochs")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--batch", o.batch, "mini-batch size")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--lr", o.lr, "learning rate")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "sgd | momentum | adam | adamw | rmsprop")
      ->check(CLI::IsMember({"sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"}))
      ->capture_default_str();
  app.add_option("--momentum", o.momentum, "momentum of --optimizer momentum/nesterov")
      ->capture_default_str();
  app.add_option("--weight-decay", o.weight_decay, "weight decay")->capture_default_str();
  app.add_option("--schedule", o.schedule, "learning-rate schedule: constant | step | cosine")
      ->check(CLI::IsMember({"constant", "step", "cosine"}))
      ->capture_default_str();
  app.add_option("--seed", o.seed, "seed of the initial weights, dropout and shuffling")
      ->capture_default_str();
  app.add_option("--threads", o.threads, "OpenMP threads (0 = the OpenMP default)")
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
  app.add_option("--load", o.load,
                 "start from the weights in this safetensors file (pure16's or PyTorch's; "
                 "converted to each precision) instead of the seeded initialization");
}

/// Apply process-wide options (threads).
inline void apply_options(const Options& o) {
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

/// The optimizer `name` over the model's parameters.
template <pure16::Scalar T>
std::unique_ptr<pure16::optim::Optimizer<T>> make_optimizer(pure16::nn::Sequential<T>& model,
                                                            const Options& o) {
  namespace optim = pure16::optim;
  const std::string& n = o.optimizer;
  if (n == "sgd" || n == "momentum" || n == "nesterov") {
    optim::SGDOptions so;
    so.lr = o.lr;
    so.momentum = n == "sgd" ? 0.0 : o.momentum;
    so.nesterov = n == "nesterov";
    so.weight_decay = o.weight_decay;
    return std::make_unique<optim::SGD<T>>(model.parameters(), so);
  }
  if (n == "adam") {
    optim::AdamOptions ao;
    ao.lr = o.lr;
    ao.weight_decay = o.weight_decay;
    return std::make_unique<optim::Adam<T>>(model.parameters(), ao);
  }
  if (n == "adamw") {
    optim::AdamWOptions ao;  // decoupled weight decay, 0.01 unless --weight-decay is given
    ao.lr = o.lr;
    if (o.weight_decay > 0) ao.weight_decay = o.weight_decay;
    return std::make_unique<optim::AdamW<T>>(model.parameters(), ao);
  }
  if (n == "rmsprop") {
    optim::RMSPropOptions ro;
    ro.lr = o.lr;
    ro.weight_decay = o.weight_decay;
    return std::make_unique<optim::RMSProp<T>>(model.parameters(), ro);
  }
  throw pure16::InvalidArgument("unknown optimizer '" + n + "'");
}

/// The figures of one trained model.
struct RunResult {
  std::string precision;
  double test_accuracy = NAN;
  double train_loss = NAN;
  std::vector<double> epoch_seconds;
  std::vector<pure16::train::EpochStats> epochs;
  std::size_t peak_rss_bytes = 0;
  std::size_t model_bytes = 0;
  std::size_t parameters = 0;
  double seconds = 0.0;
  std::int64_t skipped = 0;
  std::vector<std::int32_t> predictions;
};

/// A description of the run shared by every precision (for the table header and JSON).
struct Experiment {
  std::string example;  // "mnist_mlp"
  std::string dataset;  // "mnist"
  std::string model;    // "784-512-512-10 ReLU MLP"
  pure16::data::Layout layout = pure16::data::Layout::NCHW;
};

template <pure16::Scalar T, class Build>
RunResult train_one(const Experiment& ex, const Options& o, const pure16::data::Dataset& train,
                    const pure16::data::Dataset& test, Build&& build) {
  namespace train_ns = pure16::train;
  RunResult r;
  r.precision = std::string(pure16::scalar_traits<T>::name);
  train_ns::reset_peak_rss();
  {
    pure16::nn::Sequential<T> model;
    build(model);
    model.set_accumulate(o.accumulate == "native" ? pure16::Accumulate::Native
                                                  : pure16::Accumulate::Float);
    model.init(o.seed);
    if (!o.load.empty()) pure16::io::load_safetensors(o.load, model);
    auto opt = make_optimizer(model, o);

    train_ns::FitOptions fo;
    fo.epochs = o.epochs;
    fo.batch_size = o.batch;
    fo.seed = o.seed;
    fo.layout = ex.layout;
    fo.lr = o.lr;
    fo.schedule.kind = train_ns::Schedule::parse(o.schedule);
    fo.schedule.step_epochs = std::max(1, o.epochs / 3);
    fo.loss_accumulate = model.accumulate();
    fo.on_non_finite = o.on_non_finite == "skip" ? train_ns::NonFinitePolicy::Skip
                                                 : train_ns::NonFinitePolicy::Stop;
    fo.quiet = o.quiet;
    fo.label = r.precision;
    if (!o.csv_dir.empty()) {
      fs::create_directories(o.csv_dir);
      fo.csv_path = (fs::path(o.csv_dir) / (ex.example + "_" + r.precision + ".csv")).string();
    }
    auto report = [&](const train_ns::EpochEnd& e) {
      if (o.quiet) return;
      std::fprintf(
          stderr,
          "[%s] epoch %d/%d  train loss %.4f  train acc %.2f %%  test acc %.2f %%  "
          "%.1f s%s\n",
          r.precision.c_str(), e.stats.epoch, o.epochs, e.stats.train_loss,
          100.0 * e.stats.train_accuracy, 100.0 * e.stats.test_accuracy, e.stats.seconds,
          e.stats.skipped ? (", " + std::to_string(e.stats.skipped) + " skipped").c_str() : "");
    };
    fo.on_epoch_end = report;
    if (!o.checkpoint_dir.empty()) {
      fs::create_directories(o.checkpoint_dir);
      const fs::path ckpt =
          fs::path(o.checkpoint_dir) / (ex.example + "_" + r.precision + ".ckpt.safetensors");
      if (o.resume && fs::exists(ckpt)) {
        const auto st = train_ns::resume_from_checkpoint(ckpt, model, *opt, fo);
        if (!o.quiet) {
          std::fprintf(stderr, "[%s] resumed from %s after epoch %lld\n", r.precision.c_str(),
                       ckpt.string().c_str(), static_cast<long long>(st.epoch));
        }
      }
      fo.on_epoch_end = train_ns::checkpoint_each_epoch(ckpt, model, *opt, report);
    }
    const train_ns::FitResult fr = train_ns::fit(model, *opt, train, &test, fo);
    if (!o.save.empty()) {
      fs::path out(o.save);
      if (o.precisions.size() > 1)
        out.replace_filename(out.stem().string() + "_" + r.precision + out.extension().string());
      if (out.has_parent_path()) fs::create_directories(out.parent_path());
      pure16::io::save_safetensors(out, model);
    }
    r.test_accuracy = fr.test.accuracy;
    r.train_loss = fr.final_train_loss();
    r.epochs = fr.epochs;
    for (auto& e : fr.epochs) r.epoch_seconds.push_back(e.seconds);
    r.model_bytes = model.model_bytes();
    r.parameters = model.parameter_count();
    r.seconds = fr.seconds;
    r.skipped = fr.skipped;
    r.predictions = fr.test.predictions;
    r.peak_rss_bytes = train_ns::peak_rss_bytes();
  }
  return r;
}

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
     << ex.example << ": " << ex.model << " on " << ex.dataset << " (" << n_train << " train / "
     << n_test << " test), " << o.epochs << " epochs, batch " << o.batch << ", " << o.optimizer
     << " lr " << o.lr << (o.schedule == "constant" ? "" : " (" + o.schedule + ")") << ", seed "
     << o.seed << ", " << thread_count() << " threads\n\n";
  os << std::left << std::setw(10) << "precision" << std::right << std::setw(10) << "test acc"
     << std::setw(12) << "train loss" << std::setw(10) << "s/epoch" << std::setw(12) << "peak RSS"
     << std::setw(14) << "model bytes" << '\n';
  os << std::string(68, '-') << '\n';
  for (const auto& r : runs) {
    std::ostringstream acc, loss, sec;
    acc << std::fixed << std::setprecision(2) << 100.0 * r.test_accuracy << " %";
    loss << std::fixed << std::setprecision(4) << r.train_loss;
    sec << std::fixed << std::setprecision(1) << mean(r.epoch_seconds);
    os << std::left << std::setw(10) << r.precision << std::right << std::setw(10) << acc.str()
       << std::setw(12) << loss.str() << std::setw(10) << sec.str() << std::setw(12)
       << mib(r.peak_rss_bytes) << std::setw(14) << r.model_bytes << '\n';
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
  j["model"] = ex.model;
  j["train_samples"] = n_train;
  j["test_samples"] = n_test;
  j["options"] = {
      {"epochs", o.epochs},        {"batch", o.batch},       {"lr", o.lr},
      {"optimizer", o.optimizer},  {"momentum", o.momentum}, {"weight_decay", o.weight_decay},
      {"schedule", o.schedule},    {"seed", o.seed},         {"threads", thread_count()},
      {"accumulate", o.accumulate}};
  j["runs"] = nlohmann::json::array();
  for (const auto& r : runs) {
    nlohmann::json e;
    e["precision"] = r.precision;
    e["test_accuracy"] = r.test_accuracy;
    e["train_loss"] = r.train_loss;
    e["epoch_seconds"] = r.epoch_seconds;
    e["peak_rss_bytes"] = r.peak_rss_bytes;
    e["model_bytes"] = r.model_bytes;
    e["parameters"] = r.parameters;
    e["seconds"] = r.seconds;
    e["skipped_batches"] = r.skipped;
    nlohmann::json ep = nlohmann::json::array();
    for (auto& s : r.epochs) {
      ep.push_back({{"epoch", s.epoch},
                    {"train_loss", s.train_loss},
                    {"train_accuracy", s.train_accuracy},
                    {"test_accuracy", s.test_accuracy},
                    {"seconds", s.seconds},
                    {"lr", s.lr}});
    }
    e["epochs"] = ep;
    j["runs"].push_back(e);
  }
  const double agree = agreement(runs);
  j["agreement"] = std::isnan(agree) ? nlohmann::json(nullptr) : nlohmann::json(agree);
  return j;
}

/// Write `text` to `path` atomically: a temporary file in the same folder, then rename.
inline void write_atomically(const std::string& path, const std::string& text) {
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path());
  const fs::path tmp = p.string() + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    out.flush();
    if (!out) throw pure16::Error("cannot write '" + tmp.string() + "'");
  }
  fs::rename(tmp, p);
}

/// Train every requested precision with `build`, print the table, write the JSON.
template <class Build>
std::vector<RunResult> run_twins(const Experiment& ex, const Options& o,
                                 const pure16::data::Dataset& train,
                                 const pure16::data::Dataset& test, Build&& build) {
  std::vector<RunResult> runs;
  for (const auto& p : o.precisions) {
    if (p == "fp16") runs.push_back(train_one<half>(ex, o, train, test, build));
    if (p == "bf16") runs.push_back(train_one<bfloat16>(ex, o, train, test, build));
    if (p == "fp32") runs.push_back(train_one<float>(ex, o, train, test, build));
    if (p == "fp64") runs.push_back(train_one<double>(ex, o, train, test, build));
  }
  print_table(ex, o, train.size(), test.size(), runs);
  if (!o.json.empty()) {
    write_atomically(o.json, to_json(ex, o, train.size(), test.size(), runs).dump(2) + "\n");
  }
  return runs;
}

/// Apply --train-limit / --test-limit.
inline void limit(pure16::data::Dataset& train, pure16::data::Dataset& test, const Options& o) {
  if (o.train_limit) train = train.head(o.train_limit);
  if (o.test_limit) test = test.head(o.test_limit);
}

/// main() body wrapper: clear one-line errors instead of uncaught exceptions.
template <class F>
int guarded_main(F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << '\n';
    return 1;
  }
}

}  // namespace examples
