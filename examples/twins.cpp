// examples/twins.cpp — run_twins and the per-precision training it runs (see twins.hpp).
#include "twins.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <pure16/io/safetensors.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/train/train.hpp>
#include <string>
#include <vector>

#include "optimizer.hpp"
#include "update_modes.hpp"

namespace examples {

using pure16::bfloat16;
using pure16::half;

namespace {

inline const char* rounding_name(pure16::Rounding r) {
  return r == pure16::Rounding::Stochastic    ? "stochastic"
         : r == pure16::Rounding::Compensated ? "compensated"
                                              : "nearest";
}

template <pure16::Scalar T>
RunResult train_one(const Experiment& ex, const Options& o, const RunKind& run,
                    const pure16::data::Dataset& train, const pure16::data::Dataset& test) {
  namespace train_ns = pure16::train;
  RunResult r;
  train_ns::reset_peak_rss();
  {
    pure16::nn::Sequential<T> model(ex.model.spec, ex.model.input_shape);
    model.set_accumulate(o.accumulate == "native" ? pure16::Accumulate::Native
                                                  : pure16::Accumulate::Float);
    model.init(o.seed);
    if (!o.load.empty()) pure16::io::load_safetensors(o.load, model);
    auto opt = make_run_optimizer(model, o.optimizer, optimizer_options(o), run, o.upd, o.seed);
    r.precision = opt->precision_label();
    r.mixed = run.mixed;
    r.pure_16bit = !run.mixed && pure16::scalar_traits<T>::is_16bit;
    r.rounding = rounding_name(run.rounding);
    const std::string tag = file_tag(r.precision);

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
      fo.csv_path = (fs::path(o.csv_dir) / (ex.example + "_" + tag + ".csv")).string();
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
          fs::path(o.checkpoint_dir) / (ex.example + "_" + tag + ".ckpt.safetensors");
      if (o.resume && fs::exists(ckpt)) {
        const auto st = train_ns::resume_from_checkpoint(ckpt, model, *opt, fo);
        if (!o.quiet) {
          std::fprintf(stderr, "[%s] resumed from %s after epoch %lld\n", r.precision.c_str(),
                       ckpt.string().c_str(), static_cast<long long>(st.epoch));
        }
      }
      fo.on_epoch_end = train_ns::checkpoint_each_epoch(ckpt, model, *opt, report);
    }
    std::unique_ptr<train_ns::DivergenceWatch<T>> watch;
    if (o.upd.divergence > 0 && pure16::scalar_traits<T>::is_16bit) {
      train_ns::DivergenceOptions dopt;
      dopt.probe_size = o.upd.divergence;
      if (!o.csv_dir.empty()) {
        dopt.csv_path =
            (fs::path(o.csv_dir) / (ex.example + "_" + tag + "_divergence.csv")).string();
      }
      watch = std::make_unique<train_ns::DivergenceWatch<T>>(model, *opt, train, test, dopt);
      auto after = std::move(fo.on_epoch_end);
      fo.on_epoch_end = [&, after](const train_ns::EpochEnd& e) {
        if (after) after(e);
        const auto& d = watch->records().back();
        if (o.quiet) return;
        std::fprintf(stderr,
                     "[%s] vs fp32 shadow after epoch %d: delta max %.3g mean %.3g, guaranteed "
                     "%.2f %%, agreement %.2f %%, violations %zu (%zu probes)\n",
                     r.precision.c_str(), d.epoch, d.delta_max, d.delta_mean, 100.0 * d.guaranteed,
                     100.0 * d.agreement, d.violations, d.probes);
      };
      watch->attach(fo);
    }
    const train_ns::FitResult fr = train_ns::fit(model, *opt, train, &test, fo);
    if (watch) r.divergence = watch->records();
    if (!o.save.empty()) {
      fs::path out(o.save);
      if (run_kinds(o.precisions, o.upd).size() > 1)
        out.replace_filename(out.stem().string() + "_" + tag + out.extension().string());
      if (out.has_parent_path()) fs::create_directories(out.parent_path());
      pure16::io::save_safetensors(out, model);
    }
    r.test_accuracy = fr.test.accuracy;
    r.train_loss = fr.final_train_loss();
    r.epochs = fr.epochs;
    for (auto& e : fr.epochs) {
      r.epoch_seconds.push_back(e.seconds);
      r.epoch_cpu_seconds.push_back(e.cpu_seconds);
    }
    // Honest sizes: mixed precision's fp32 masters count as model bytes (they are the
    // weights it trains); optimizer state is reported separately.
    r.master_bytes = opt->master_bytes();
    r.model_bytes = model.model_bytes() + r.master_bytes;
    r.optimizer_bytes = opt->state_bytes() - r.master_bytes;
    r.loss_scale = opt->loss_scale();
    r.parameters = model.parameter_count();
    r.seconds = fr.seconds;
    r.skipped = fr.skipped;
    r.predictions = fr.test.predictions;
    r.peak_rss_bytes = train_ns::peak_rss_bytes();
  }
  return r;
}

}  // namespace

/// Train every requested precision, print the table, write the JSON.
std::vector<RunResult> run_twins(const Experiment& ex, const Options& o,
                                 const pure16::data::Dataset& train,
                                 const pure16::data::Dataset& test) {
  std::vector<RunResult> runs;
  for (const RunKind& k : run_kinds(o.precisions, o.upd)) {
    if (k.precision == "fp16") runs.push_back(train_one<half>(ex, o, k, train, test));
    if (k.precision == "bf16") runs.push_back(train_one<bfloat16>(ex, o, k, train, test));
    if (k.precision == "fp32") runs.push_back(train_one<float>(ex, o, k, train, test));
    if (k.precision == "fp64") runs.push_back(train_one<double>(ex, o, k, train, test));
  }
  print_table(ex, o, train.size(), test.size(), runs);
  if (!o.json.empty()) {
    write_text_file(o.json, to_json(ex, o, train.size(), test.size(), runs).dump(2) + "\n");
  }
  return runs;
}

}  // namespace examples
