// pure16/train/fit.hpp — the training loop: fit() and evaluate().
//
// Contract:
//  * fit(model, optimizer, [loss,] train, test, options) trains a Sequential<T> for
//    options.epochs epochs of mini-batches drawn by a data::Loader (shuffled each epoch
//    from options.seed) under a train::Loss<T> (train/loss.hpp): softmax cross-entropy over
//    labels by default, MSE over real-valued targets, or any user loss. Classification
//    losses report accuracies; regression losses report only losses (accuracy NaN).
//    Everything a pure optimizer keeps stays in T; batches are rounded once to T by the
//    Dataset.
//  * Per batch: forward (Mode::Train), loss and its gradient times opt.loss_scale() (the
//    loss scale of mixed precision, 1 otherwise), backward, the non-finite guard
//    (nn::check_finite on the loss, weights and gradients — gradients left out when the
//    optimizer checks them itself, as a loss-scaling optimizer does: a non-finite gradient
//    is then its cue to skip the step and lower the scale, counted in
//    EpochStats::overflow_skipped), optimizer step, options.on_batch. The guard's
//    policy: NonFinitePolicy::Stop throws nn::NonFiniteError naming the epoch, step and the
//    layer/tensor at fault; NonFinitePolicy::Skip drops that batch's update and counts it
//    (EpochStats::skipped) — more than max_skipped_in_a_row consecutive skips stop the run,
//    and so does a run in which every batch was skipped (NonFiniteError at its end).
//    After each optimizer step the updated parameter values are scanned too
//    (kernels/finite.hpp); an update that made one non-finite throws NonFiniteError naming
//    that parameter (layer index, kind, tensor) and that step, whatever the policy (the
//    update cannot be skipped after the fact).
//  * The learning rate is set from options.schedule before every batch.
//  * After each epoch: test loss and accuracy (when a test set is given), one CSV line (when
//    options.csv_path is set), and options.on_epoch_end (e.g. to write a checkpoint with
//    io::save_checkpoint; it receives the step count and the shuffling generator state, so
//    that a run resumed with options.start_epoch and options.shuffle_state continues with
//    the same batches).
//  * A progress bar is drawn on stderr unless options.quiet or stderr is not a terminal.
//  * The result holds every epoch's figures and the final evaluation on the test set,
//    including the per-sample predictions (for agreement between fp16 and fp32 twins).
//  * options.replica makes fit() one replica of a data-parallel run (dist/fit.hpp fills it
//    over MPI): each global batch of the Loader is cut to the rows replica.shard(rows)
//    returns, the gradient of those rows (a replica with no rows has zero gradients) goes
//    through replica.reduce_gradients(local rows, global rows) after backward, the guard
//    then checks the reduced gradients and weights (the same on every replica, so every
//    replica takes the same decision), and the epoch's loss/accuracy sums go through
//    replica.sum. Empty hooks: a single process, as before.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <functional>
#include <optional>
#include <pure16/data/dataset.hpp>
#include <pure16/error.hpp>
#include <pure16/kernels/finite.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/train/csv_log.hpp>
#include <pure16/train/loss.hpp>
#include <pure16/train/progress.hpp>
#include <pure16/train/schedule.hpp>
#include <span>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace pure16::train {

enum class NonFinitePolicy { Stop, Skip };

/// What on_epoch_end receives: enough to write a checkpoint that resumes exactly.
struct EpochEnd {
  const EpochStats& stats;   // the finished epoch (stats.epoch epochs are done)
  std::int64_t step;         // batches done over the whole run
  Rng::State shuffle_state;  // the Loader's generator, to draw the next epoch's order
};

/// What on_batch receives after each optimizer step.
struct BatchEnd {
  int epoch;                             // 0-based
  std::size_t batch;                     // within the epoch
  std::int64_t step;                     // over the run, counting this batch
  std::span<const std::size_t> indices;  // the batch's samples in the training set
  double lr;                             // the learning rate of this step
};

/// Hooks that make fit() one replica of a data-parallel run (see the contract above).
struct Replica {
  /// Rows [first, second) of a global batch of `rows` rows that this replica trains on.
  std::function<std::pair<std::size_t, std::size_t>(std::size_t rows)> shard;
  /// Turns this replica's gradient (mean over its `local` rows) into the gradient of the
  /// global batch of `global` rows, identical on every replica.
  std::function<void(std::size_t local, std::size_t global)> reduce_gradients;
  /// Sums the epoch's figures over the replicas, in place.
  std::function<void(std::span<double>)> sum;
};

struct FitOptions {
  int epochs = 1;
  std::size_t batch_size = 128;
  bool shuffle = true;
  std::uint64_t seed = 0;                    // shuffling
  data::Layout layout = data::Layout::NCHW;  // Flat for MLPs
  double lr = 0.01;                          // base learning rate (schedule input)
  Schedule schedule;
  Accumulate loss_accumulate = Accumulate::Float;
  NonFinitePolicy on_non_finite = NonFinitePolicy::Stop;
  int max_skipped_in_a_row = 20;
  bool quiet = false;    // no progress bar
  std::string label;     // progress bar prefix, e.g. "fp16"
  std::string csv_path;  // per-epoch CSV log ("" = none)
  std::size_t eval_batch_size = 1000;
  int start_epoch = 0;                      // resume: epochs already done
  std::int64_t start_step = 0;              // resume: batches already done
  std::optional<Rng::State> shuffle_state;  // resume: Loader generator state
  std::function<void(const EpochEnd&)> on_epoch_end;
  std::function<void(const BatchEnd&)> on_batch;  // after each optimizer step
  Replica replica;  // data-parallel hooks (dist/fit.hpp); empty = single process
};

struct Evaluation {
  double accuracy = NAN;
  double loss = NAN;
  std::vector<std::int32_t> predictions;
};

struct FitResult {
  std::vector<EpochStats> epochs;
  Evaluation test;           // final evaluation (empty when no test set)
  double seconds = 0.0;      // whole run incl. evaluations
  std::int64_t steps = 0;    // batches done over the run
  std::int64_t skipped = 0;  // batches skipped by the guard
  double final_train_loss() const { return epochs.empty() ? NAN : epochs.back().train_loss; }
};

namespace detail {

/// True when no element of t is NaN or infinite (kernels/finite.hpp: a vectorized scan of
/// the exponent bits). The fast path of the guard; nn::check_finite builds the report.
template <Scalar T>
bool all_finite(const Tensor<T>& t) {
  return kernels::all_finite(t.data(), t.size());
}

/// Every parameter value finite (after an update).
template <Scalar T>
bool values_finite(nn::Sequential<T>& model) {
  for (auto* p : model.parameters())
    if (!all_finite(p->value)) return false;
  return true;
}

/// Loss, gradients (when `grads`) and values all finite (what nn::check_finite checks, fast).
template <Scalar T>
bool model_finite(nn::Sequential<T>& model, double loss, bool grads = true) {
  if (!std::isfinite(loss)) return false;
  for (auto* p : model.parameters()) {
    if ((grads && !all_finite(p->grad)) || !all_finite(p->value)) return false;
  }
  return true;
}

/// The targets of samples `idx` as `loss` wants them; `values` keeps the tensor alive.
template <Scalar T>
Targets<T> batch_targets(const Loss<T>& loss, const data::Dataset& data,
                         std::span<const std::size_t> idx, std::vector<std::int32_t>& labels,
                         Tensor<T>& values) {
  Targets<T> t;
  if (loss.values) {
    values = data.batch_targets<T>(idx);
    t.values = &values;
  } else {
    labels = data.batch_labels(idx);
    t.labels = labels;
  }
  return t;
}

/// The targets of batch b as `loss` wants them; `values` keeps the tensor alive.
template <Scalar T>
Targets<T> batch_targets(const Loss<T>& loss, const data::Loader& loader, std::size_t b,
                         std::vector<std::int32_t>& labels, Tensor<T>& values) {
  return batch_targets(loss, loader.dataset(), loader.indices(b), labels, values);
}

}  // namespace detail

/// Mean loss, and for a classification loss accuracy and predictions, of `model`
/// (Mode::Eval) on a whole data set.
template <Scalar T>
Evaluation evaluate(nn::Sequential<T>& model, const Loss<T>& loss, const data::Dataset& data,
                    data::Layout layout, std::size_t batch_size = 1000,
                    Accumulate acc = Accumulate::Float) {
  Evaluation ev;
  data::Loader loader(data, batch_size, false, 0);
  loader.start_epoch();
  if (loss.classification) ev.predictions.reserve(data.size());
  double loss_sum = 0.0;
  std::size_t correct = 0;
  std::vector<std::int32_t> y;
  Tensor<T> values;
  for (std::size_t b = 0; b < loader.num_batches(); ++b) {
    const Tensor<T> x = loader.inputs<T>(b, layout);
    const Targets<T> t = detail::batch_targets(loss, loader, b, y, values);
    const Tensor<T> out = model.forward(x, nn::Mode::Eval);
    const std::size_t n = loader.indices(b).size();
    loss_sum += loss.compute(out, t, acc, 1.0).loss * double(n);
    if (!loss.classification) continue;
    const std::vector<std::int32_t> pred = nn::argmax_rows<T>(out);
    for (std::size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i];
    ev.predictions.insert(ev.predictions.end(), pred.begin(), pred.end());
  }
  if (data.size()) {
    if (loss.classification) ev.accuracy = double(correct) / double(data.size());
    ev.loss = loss_sum / double(data.size());
  }
  return ev;
}

/// evaluate() under softmax cross-entropy.
template <Scalar T>
Evaluation evaluate(nn::Sequential<T>& model, const data::Dataset& data, data::Layout layout,
                    std::size_t batch_size = 1000, Accumulate acc = Accumulate::Float) {
  return evaluate(model, cross_entropy<T>(), data, layout, batch_size, acc);
}

/// Train `model` with `opt` under `loss` on `train`; evaluate on `test` (may be null) after
/// each epoch.
template <Scalar T>
FitResult fit(nn::Sequential<T>& model, optim::Optimizer<T>& opt, const Loss<T>& loss,
              const data::Dataset& train, const data::Dataset* test, const FitOptions& o) {
  using Clock = std::chrono::steady_clock;
  if (o.epochs < 0) throw pure16::InvalidArgument("pure16::train::fit: negative epoch count");
  if (train.size() == 0) {
    throw pure16::InvalidArgument("pure16::train::fit: empty training set '" + train.name() + "'");
  }
  const auto run_start = Clock::now();
  FitResult res;
  data::Loader loader(train, o.batch_size, o.shuffle, o.seed);
  if (o.shuffle_state) loader.set_rng_state(*o.shuffle_state);
  std::optional<CsvLog> csv;
  if (!o.csv_path.empty()) csv.emplace(o.csv_path);
  const std::int64_t per_epoch = std::int64_t(loader.num_batches());
  const std::int64_t total_steps = per_epoch * o.epochs;
  std::int64_t step = o.start_step;
  const std::string label = o.label.empty() ? opt.precision_label() : o.label;
  const bool check_grads = !opt.checks_gradients();
  std::vector<std::int32_t> y;
  Tensor<T> values;
  std::int64_t applied = 0;  // batches whose update was applied (not skipped)

  for (int epoch = o.start_epoch; epoch < o.epochs; ++epoch) {
    const auto t0 = Clock::now();
    const std::clock_t c0 = std::clock();
    loader.start_epoch();
    ProgressBar bar(label, epoch + 1, o.epochs, loader.num_batches(), !o.quiet);
    double loss_sum = 0.0;
    std::size_t seen = 0, correct = 0;
    std::int64_t skipped = 0, overflow_skipped = 0;
    int skipped_in_a_row = 0;
    double lr = o.lr;
    for (std::size_t b = 0; b < loader.num_batches(); ++b, ++step) {
      lr = o.schedule.lr(o.lr, epoch, step, total_steps);
      opt.set_lr(lr);
      const auto rows = loader.indices(b);
      const auto [lo, hi] = o.replica.shard ? o.replica.shard(rows.size())
                                            : std::pair<std::size_t, std::size_t>(0, rows.size());
      const auto mine = rows.subspan(lo, hi - lo);  // all rows unless data-parallel
      const std::size_t n = mine.size();
      Tensor<T> logits;
      nn::LossOutput<T> out{0.0, Tensor<T>()};
      if (n) {
        const Tensor<T> x = train.batch<T>(mine, o.layout);
        const Targets<T> t = detail::batch_targets(loss, train, mine, y, values);
        logits = model.forward(x, nn::Mode::Train);
        out = loss.compute(logits, t, o.loss_accumulate, opt.loss_scale());
        model.backward(out.grad);
      } else {  // a replica without rows of a short last batch
        y.clear();
        model.zero_grad();
      }
      if (o.replica.reduce_gradients) o.replica.reduce_gradients(n, rows.size());
      if (!detail::model_finite(model, o.replica.reduce_gradients ? 0.0 : out.loss, check_grads)) {
        const auto guard = nn::check_finite(model, out.loss, step);
        const std::string where = "epoch " + std::to_string(epoch + 1) + ", batch " +
                                  std::to_string(b) + " (step " + std::to_string(step) + ")";
        if (o.on_non_finite == NonFinitePolicy::Stop) {
          bar.finish();
          throw nn::NonFiniteError("pure16::train::fit [" + label + "]: non-finite value at " +
                                       where + ": " + guard.what,
                                   step, guard.layer, guard.tensor);
        }
        ++skipped;
        if (++skipped_in_a_row > o.max_skipped_in_a_row) {
          bar.finish();
          throw nn::NonFiniteError("pure16::train::fit [" + label +
                                       "]: " + std::to_string(skipped_in_a_row) +
                                       " batches in a row skipped for non-finite values, last at " +
                                       where + ": " + guard.what,
                                   step, guard.layer, guard.tensor);
        }
        continue;
      }
      skipped_in_a_row = 0;
      opt.step();
      overflow_skipped += opt.last_step_skipped();
      ++applied;
      // The update itself can overflow (lr too large for T): name the parameter and this step.
      if (!detail::values_finite(model)) {
        const auto guard = nn::check_updated(model, step);
        bar.finish();
        throw nn::NonFiniteError("pure16::train::fit [" + label + "]: epoch " +
                                     std::to_string(epoch + 1) + ", batch " + std::to_string(b) +
                                     ": " + guard.what,
                                 step, guard.layer, guard.tensor);
      }
      if (o.on_batch) o.on_batch(BatchEnd{epoch, b, step + 1, loader.indices(b), lr});
      loss_sum += out.loss * double(n);
      seen += n;
      if (loss.classification && n) {
        const std::vector<std::int32_t> pred = nn::argmax_rows<T>(logits);
        for (std::size_t i = 0; i < y.size(); ++i) correct += pred[i] == y[i];
      }
      bar.update(b + 1, loss_sum / double(seen));
    }
    bar.finish();
    if (o.replica.sum) {  // figures of the global batches
      double sums[3] = {loss_sum, double(seen), double(correct)};
      o.replica.sum(sums);
      loss_sum = sums[0], seen = std::size_t(sums[1]), correct = std::size_t(sums[2]);
    }
    EpochStats s;
    s.epoch = epoch + 1;
    s.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    s.cpu_seconds = double(std::clock() - c0) / CLOCKS_PER_SEC;
    s.train_loss = seen ? loss_sum / double(seen) : NAN;
    s.train_accuracy = seen && loss.classification ? double(correct) / double(seen) : NAN;
    s.lr = lr;
    s.skipped = skipped;
    s.loss_scale = opt.loss_scale();
    s.overflow_skipped = overflow_skipped;
    res.skipped += skipped;
    if (test) {
      res.test = evaluate(model, loss, *test, o.layout, o.eval_batch_size, o.loss_accumulate);
      s.test_accuracy = res.test.accuracy;
      s.test_loss = res.test.loss;
    }
    res.epochs.push_back(s);
    if (csv) csv->write(s);
    if (o.on_epoch_end) o.on_epoch_end(EpochEnd{s, step, loader.rng_state()});
  }
  if (applied == 0 && res.skipped > 0) {
    throw nn::NonFiniteError("pure16::train::fit [" + label + "]: every one of the " +
                                 std::to_string(res.skipped) +
                                 " batches was skipped for non-finite values; nothing was trained",
                             step, -1, "");
  }
  if (test && std::isnan(res.test.loss)) {
    res.test = evaluate(model, loss, *test, o.layout, o.eval_batch_size, o.loss_accumulate);
  }
  res.steps = step;
  res.seconds = std::chrono::duration<double>(Clock::now() - run_start).count();
  return res;
}

/// fit() under softmax cross-entropy (the default loss).
template <Scalar T>
FitResult fit(nn::Sequential<T>& model, optim::Optimizer<T>& opt, const data::Dataset& train,
              const data::Dataset* test, const FitOptions& o) {
  return fit(model, opt, cross_entropy<T>(), train, test, o);
}

}  // namespace pure16::train
