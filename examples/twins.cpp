// examples/twins.cpp — run_twins and the per-precision training it runs (see twins.hpp).
#include "twins.hpp"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <pure16/analysis/precision.hpp>
#include <pure16/io/safetensors.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/train/train.hpp>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "optimizer.hpp"
#include "update_modes.hpp"

#ifdef PURE16_EXAMPLES_MPI
#include <pure16/dist/dist.hpp>
#endif

namespace examples {

using pure16::bfloat16;
using pure16::half;

namespace {

#ifdef PURE16_EXAMPLES_MPI
/// MPI for --distributed, initialised on first use and finalised at exit.
pure16::dist::Communicator& world() {
  static pure16::dist::Environment env;
  static pure16::dist::Communicator comm = pure16::dist::Communicator::world();
  fatal_error_hook = [](const char* what) { pure16::dist::abort_job(what); };
  return comm;
}
bool is_root(const Options& o) {
  return !o.distributed || world().is_root();
}
#else
bool is_root(const Options&) {
  return true;
}
#endif

inline const char* rounding_name(pure16::Rounding r) {
  return r == pure16::Rounding::Stochastic    ? "stochastic"
         : r == pure16::Rounding::Compensated ? "compensated"
                                              : "nearest";
}

/// The logits of `model` (Mode::Eval) on every sample of `data`, row-major, in double.
template <pure16::Scalar T>
std::vector<double> logits_of(pure16::nn::Sequential<T>& model, const pure16::data::Dataset& data,
                              pure16::data::Layout layout, std::size_t& classes) {
  pure16::data::Loader loader(data, 1000, false, 0);
  loader.start_epoch();
  std::vector<double> z;
  for (std::size_t b = 0; b < loader.num_batches(); ++b) {
    const pure16::Tensor<T> out =
        model.forward(loader.inputs<T>(b, layout), pure16::nn::Mode::Eval);
    classes = out.dim(1);
    for (std::size_t i = 0; i < out.size(); ++i) z.push_back(static_cast<double>(out[i]));
  }
  return z;
}

/// delta / Gamma analysis of logits `low` against `ref` (both [labels.size() x classes]).
pure16::analysis::PrecisionReport compare_logits(pure16::analysis::TwinDescription twin,
                                                 const std::vector<double>& ref,
                                                 const std::vector<double>& low,
                                                 std::size_t classes,
                                                 std::span<const std::int32_t> labels) {
  const std::size_t n = labels.size();
  pure16::Tensor<double> r({n, classes}), l({n, classes});
  std::copy(ref.begin(), ref.end(), r.data());
  std::copy(low.begin(), low.end(), l.data());
  pure16::analysis::PrecisionAnalyzer an(std::move(twin));
  an.add_logits(r, l, labels);
  return an.report();
}

/// The fp32 model's weights rounded to U: the theorem's twin of `model`.
template <pure16::Scalar U>
pure16::analysis::PrecisionReport rounded_twin(pure16::nn::Sequential<float>& model,
                                               const std::vector<double>& ref, std::size_t classes,
                                               const pure16::data::Dataset& test,
                                               pure16::data::Layout layout) {
  pure16::nn::Sequential<U> low = model.template cast<U>();
  low.set_accumulate(pure16::Accumulate::Float);
  std::size_t c = 0;
  const std::vector<double> z = logits_of(low, test, layout, c);
  pure16::analysis::TwinDescription twin;
  twin.kind = pure16::analysis::TwinKind::Rounded;
  twin.reference_type = "fp32";
  twin.low_type = std::string(pure16::scalar_traits<U>::name);
  return compare_logits(twin, ref, z, classes, test.labels());
}

/// weight x mean squared error: the loss and its gradient multiplied by `w` before the
/// gradient's one rounding to T (w = pixels per sample: the per-sample sum of squares).
template <pure16::Scalar T>
pure16::train::Loss<T> weighted_mse(double w) {
  if (w == 1.0) return pure16::train::mse<T>();
  return {"mse x " + std::to_string(w), false, true,
          [w](const pure16::Tensor<T>& out, const pure16::train::Targets<T>& t, pure16::Accumulate,
              double s) {
            pure16::nn::LossOutput<T> r = pure16::nn::mse<T>(out, *t.values, s * w);
            r.loss *= w;
            return r;
          }};
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
    const train_ns::Loss<T> loss =
        ex.regression ? weighted_mse<T>(ex.loss_weight) : train_ns::cross_entropy<T>();

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
      bool resume = o.resume && fs::exists(ckpt);
#ifdef PURE16_EXAMPLES_MPI
      if (o.distributed) {  // rank 0's view of the file decides for every rank
        char flag = resume ? 1 : 0;
        world().broadcast(&flag, sizeof flag);
        resume = flag != 0;
      }
#endif
      if (resume) {
#ifdef PURE16_EXAMPLES_MPI
        const auto st = o.distributed
                            ? pure16::dist::resume_from_checkpoint(world(), ckpt, model, *opt, fo)
                            : train_ns::resume_from_checkpoint(ckpt, model, *opt, fo);
#else
        const auto st = train_ns::resume_from_checkpoint(ckpt, model, *opt, fo);
#endif
        if (!o.quiet && is_root(o)) {
          std::fprintf(stderr, "[%s] resumed from %s after epoch %lld\n", r.precision.c_str(),
                       ckpt.string().c_str(), static_cast<long long>(st.epoch));
        }
      }
      fo.on_epoch_end = train_ns::checkpoint_each_epoch(ckpt, model, *opt, report);
    }
    std::unique_ptr<train_ns::DivergenceWatch<T>> watch;
    if (o.upd.divergence > 0 && pure16::scalar_traits<T>::is_16bit && !ex.regression) {
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
#ifdef PURE16_EXAMPLES_MPI
    // dist::fit: rank 0's state first, then every global batch sharded over the ranks;
    // progress, CSV, evaluation and on_epoch_end (report, checkpoint) on rank 0 only.
    const train_ns::FitResult fr =
        o.distributed ? pure16::dist::fit(world(), model, *opt, loss, train, &test, fo)
                      : train_ns::fit(model, *opt, loss, train, &test, fo);
#else
    const train_ns::FitResult fr = train_ns::fit(model, *opt, loss, train, &test, fo);
#endif
    if (watch) r.divergence = watch->records();
    if (!o.save.empty() && is_root(o)) {
      fs::path out(o.save);
      if (run_kinds(o.precisions, o.upd).size() > 1)
        out.replace_filename(out.stem().string() + "_" + tag + out.extension().string());
      if (out.has_parent_path()) fs::create_directories(out.parent_path());
      pure16::io::save_safetensors(out, model);
    }
    r.test_accuracy = fr.test.accuracy;
    r.test_loss = fr.test.loss / ex.loss_weight;  // reported as the mean squared error
    if (!ex.regression && is_root(o)) {
      r.test_logits = logits_of(model, test, ex.layout, r.classes);
      if constexpr (std::is_same_v<T, float>) {
        if (!run.mixed) {
          r.analyses.push_back(
              rounded_twin<half>(model, r.test_logits, r.classes, test, ex.layout));
          r.analyses.push_back(
              rounded_twin<bfloat16>(model, r.test_logits, r.classes, test, ex.layout));
        }
      }
    }
    r.train_loss = fr.final_train_loss() / ex.loss_weight;
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
#ifndef PURE16_EXAMPLES_MPI
  if (o.distributed) {
    throw pure16::InvalidArgument(
        "--distributed: these examples were built without MPI (install libopenmpi-dev, "
        "e.g. with scripts/deps.sh, and configure again)");
  }
#endif
  const bool root = is_root(o);
#ifdef PURE16_EXAMPLES_MPI
  if (o.distributed && root) {
    std::printf("data-parallel over %d MPI rank(s): global batch %zu, about %zu rows per rank\n",
                world().size(), o.batch, o.batch / std::size_t(world().size()));
  }
#endif
  std::vector<RunResult> runs;
  for (const RunKind& k : run_kinds(o.precisions, o.upd)) {
    if (k.precision == "fp16") runs.push_back(train_one<half>(ex, o, k, train, test));
    if (k.precision == "bf16") runs.push_back(train_one<bfloat16>(ex, o, k, train, test));
    if (k.precision == "fp32") runs.push_back(train_one<float>(ex, o, k, train, test));
    if (k.precision == "fp64") runs.push_back(train_one<double>(ex, o, k, train, test));
  }
  if (!root) return runs;  // rank 0 prints and writes
  // Every other classification run against the fp32 run: the "trained" twins of the study.
  const auto ref = std::find_if(runs.begin(), runs.end(), [](const RunResult& r) {
    return r.precision == "fp32" && !r.test_logits.empty();
  });
  if (ref != runs.end()) {
    for (auto& r : runs) {
      if (&r == &*ref || r.test_logits.size() != ref->test_logits.size()) continue;
      pure16::analysis::TwinDescription twin;
      twin.kind = pure16::analysis::TwinKind::Trained;
      twin.reference_type = "fp32";
      twin.low_type = r.precision;
      twin.low_accumulate =
          o.accumulate == "native" ? pure16::Accumulate::Native : pure16::Accumulate::Float;
      r.analyses.push_back(
          compare_logits(twin, ref->test_logits, r.test_logits, ref->classes, test.labels()));
    }
  }
  print_table(ex, o, train.size(), test.size(), runs);
  if (!o.json.empty()) {
    write_text_file(o.json, to_json(ex, o, train.size(), test.size(), runs).dump(2) + "\n");
  }
  return runs;
}

}  // namespace examples
