// pure16/dist/fit.hpp — data-parallel training over MPI: identical replicas, one step, fit.
//
// Contract:
//  * broadcast_state(comm, model, opt) makes every rank's model (parameters and buffers) and
//    optimizer (state tensors in T and in float, step count, learning rate, scalars() such
//    as the stochastic-rounding generator or mixed precision's loss scale) and the layers'
//    generators (Dropout) bit-identical to rank 0's: one broadcast of T values, one of
//    floats, one of 64-bit words and one of the scalars' text. It first checks, on every rank, that
//    all ranks hold the same architecture, scalar type and optimizer (dist::Error naming the ranks
//    otherwise).
//  * train_step(...) is one data-parallel step for a custom loop: this rank takes its
//    shard_range() of the global batch `rows` (sample indices, the same on every rank),
//    forward, softmax cross-entropy (mean over its rows), backward; the reducer makes the
//    gradient the mean over the global batch, the same bits on every rank; the guard
//    (non-finite reduced gradients or weights) throws nn::NonFiniteError on every rank; the
//    optimizer steps identically everywhere. It returns this rank's loss sum and rows.
//  * fit(comm, model, opt, [loss,] train, test, options) is train::fit as one replica of N: rank
//  0's
//    state is broadcast first, every global batch of options.batch_size rows (the same
//    shuffled order on every rank, from options.seed) is sharded by rank, gradients are
//    all-reduced in T (GradientReducer; a model with Accumulate::Native sums them natively
//    too), the epoch's loss and accuracy are those of the global batches. Progress, CSV log and
//    test evaluation happen on rank 0 only (other ranks get an empty FitResult::test);
//    options.on_epoch_end runs on rank 0 only and a failure there is rethrown on every rank
//    (on_root), so checkpoints are written once. In float/double, N ranks follow the single-process
//    run with the same global batch up to summation order; in fp16/bf16 a step's gradient
//    differs from the single-process one by a few roundings of T (each rank's partial gradient
//    is rounded to T before the sum; the bound is tested in tests/dist, see docs/scaling.md).
//    Layers with their own randomness (Dropout) draw from a per-rank stream derived from rank 0's,
//    so masks differ by rank.
//  * resume_from_checkpoint(comm, path, model, opt, options): rank 0 reads the checkpoint
//    (errors are thrown on every rank), its state is broadcast, and options continue the run
//    — on any number of ranks: the global batches depend only on the seed and the batch
//    size, not on the number of ranks that wrote the checkpoint.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <pure16/data/dataset.hpp>
#include <pure16/dist/allreduce.hpp>
#include <pure16/dist/communicator.hpp>
#include <pure16/io/checkpoint.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/train/fit.hpp>
#include <span>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace pure16::dist {

namespace detail {

inline void put_rng(std::vector<std::uint64_t>& w, const Rng::State& s) {
  for (auto x : s.s) w.push_back(x);
  w.push_back(s.has_spare ? 1 : 0);
  w.push_back(std::bit_cast<std::uint64_t>(s.spare));
}
inline Rng::State get_rng(const std::uint64_t*& p) {
  Rng::State s{};
  for (auto& x : s.s) x = *p++;
  s.has_spare = *p++ != 0;
  s.spare = std::bit_cast<double>(*p++);
  return s;
}

/// Architecture, scalar type, state shapes and optimizer as one comparable text.
template <Scalar T>
std::string describe(nn::Sequential<T>& model, optim::Optimizer<T>* opt) {
  std::ostringstream os;
  os << scalar_traits<T>::name << '\n' << model.summary();
  for (auto& t : model.state()) os << t.name << ' ' << shape_str(t.tensor->shape()) << '\n';
  if (opt) {
    os << opt->name() << ' ' << opt->precision_label() << '\n';
    for (auto& s : opt->state()) os << s.name << ' ' << shape_str(s.tensor->shape()) << '\n';
    for (auto& s : opt->fp32_state())
      os << s.name << " fp32 " << shape_str(s.tensor->shape()) << '\n';
  }
  return os.str();
}

/// Every tensor in `ts` <- root's, in one broadcast.
template <Scalar U>
void broadcast_tensors(Communicator& comm, const std::vector<Tensor<U>*>& ts, int root) {
  std::size_t n = 0;
  for (auto* t : ts) n += t->size();
  std::vector<U> flat(n);
  std::size_t off = 0;
  for (auto* t : ts) {
    std::copy(t->data(), t->data() + t->size(), flat.begin() + std::ptrdiff_t(off));
    off += t->size();
  }
  comm.broadcast(flat.data(), n * sizeof(U), root);
  off = 0;
  for (auto* t : ts) {
    std::copy(flat.begin() + std::ptrdiff_t(off), flat.begin() + std::ptrdiff_t(off + t->size()),
              t->data());
    off += t->size();
  }
}

}  // namespace detail

/// Make every rank's model and optimizer bit-identical to root's (see the header comment).
template <Scalar T>
void broadcast_state(Communicator& comm, nn::Sequential<T>& model,
                     optim::Optimizer<T>* opt = nullptr, int root = 0) {
  same_on_all_ranks(comm, "model architecture, scalar type or optimizer",
                    detail::describe(model, opt));
  std::vector<Tensor<T>*> ts;
  for (auto& t : model.state()) ts.push_back(t.tensor);
  std::vector<Tensor<float>*> fs;
  if (opt) {
    for (auto& s : opt->state()) ts.push_back(s.tensor);
    for (auto& s : opt->fp32_state()) fs.push_back(s.tensor);
  }
  detail::broadcast_tensors(comm, ts, root);
  if (!fs.empty()) detail::broadcast_tensors(comm, fs, root);

  std::vector<std::uint64_t> words;
  if (opt) {
    words.push_back(std::uint64_t(opt->steps()));
    words.push_back(std::bit_cast<std::uint64_t>(opt->lr()));
  }
  for (std::size_t i = 0; i < model.size(); ++i)
    if (auto s = model[i].rng_state()) detail::put_rng(words, *s);
  comm.broadcast(words.data(), words.size() * sizeof(std::uint64_t), root);
  const std::uint64_t* p = words.data();
  if (opt) {
    opt->set_steps(std::int64_t(*p++));
    opt->set_lr(std::bit_cast<double>(*p++));
    // Scalars as "name=value" lines (values are exact decimal strings without newlines).
    std::string text;
    for (const auto& [k, v] : opt->scalars()) text += k + '=' + v + '\n';
    text = comm.broadcast_string(std::move(text), root);
    optim::Scalars sc;
    for (std::size_t at = 0; at < text.size();) {
      const std::size_t eol = text.find('\n', at), eq = text.find('=', at);
      sc[text.substr(at, eq - at)] = text.substr(eq + 1, eol - eq - 1);
      at = eol + 1;
    }
    if (!sc.empty()) opt->restore_scalars(sc);
  }
  for (std::size_t i = 0; i < model.size(); ++i)
    if (model[i].rng_state()) model[i].set_rng_state(detail::get_rng(p));
}

/// Give every rank but 0 its own stream for layers with randomness (Dropout), derived from
/// the (identical) current state and the rank, so that shards get independent masks.
template <Scalar T>
void decorrelate_layer_rngs(const Communicator& comm, nn::Sequential<T>& model) {
  if (comm.rank() == 0) return;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (auto s = model[i].rng_state()) {
      std::uint64_t h = 0x9E3779B97F4A7C15ull * std::uint64_t(comm.rank() + 1);
      for (auto x : s->s) h = (h ^ x) * 0x100000001B3ull + (h >> 29);
      model[i].set_seed(h);
    }
  }
}

/// What one data-parallel step did on THIS rank.
struct StepResult {
  double loss_sum = 0.0;  // sum of this rank's per-row losses
  std::size_t rows = 0;   // this rank's rows
};

/// One data-parallel step on the global batch `rows` (see the header comment).
template <Scalar T>
StepResult train_step(Communicator& comm, GradientReducer<T>& reducer, nn::Sequential<T>& model,
                      optim::Optimizer<T>& opt, const data::Dataset& data,
                      std::span<const std::size_t> rows, data::Layout layout,
                      Accumulate loss_accumulate = Accumulate::Float) {
  const auto [lo, hi] = shard_range(rows.size(), comm.rank(), comm.size());
  const auto mine = rows.subspan(lo, hi - lo);
  StepResult r;
  r.rows = mine.size();
  if (!mine.empty()) {
    const Tensor<T> x = data.batch<T>(mine, layout);
    const std::vector<std::int32_t> y = data.batch_labels(mine);
    const Tensor<T> logits = model.forward(x, nn::Mode::Train);
    auto out =
        nn::softmax_cross_entropy<T>(logits, std::span<const std::int32_t>(y), loss_accumulate);
    model.backward(out.grad);
    r.loss_sum = out.loss * double(mine.size());
  } else {
    model.zero_grad();
  }
  reducer.reduce(rows.size());
  if (!train::detail::model_finite(model, 0.0)) {
    const auto guard = nn::check_finite(model, 0.0, opt.steps());
    throw nn::NonFiniteError("pure16::dist::train_step: non-finite value: " + guard.what,
                             opt.steps(), guard.layer, guard.tensor);
  }
  opt.step();
  return r;
}

/// train::fit as one replica of a data-parallel run over `comm` (see the header comment).
template <Scalar T>
train::FitResult fit(Communicator& comm, nn::Sequential<T>& model, optim::Optimizer<T>& opt,
                     const train::Loss<T>& loss, const data::Dataset& train,
                     const data::Dataset* test, train::FitOptions o, ReduceOptions reduce = {}) {
  std::ostringstream opts;
  opts << o.epochs << ' ' << o.batch_size << ' ' << o.shuffle << ' ' << o.seed << ' '
       << int(o.layout) << ' ' << std::bit_cast<std::uint64_t>(o.lr) << ' ' << o.start_epoch << ' '
       << o.start_step << ' ' << o.shuffle_state.has_value() << ' ' << train.size() << ' '
       << train.name();
  same_on_all_ranks(comm, "fit options or training set", opts.str());
  broadcast_state(comm, model, &opt);
  if (o.shuffle_state) {  // resumed runs: the shuffling generator of rank 0
    std::vector<std::uint64_t> w;
    detail::put_rng(w, *o.shuffle_state);
    comm.broadcast(w.data(), w.size() * sizeof(std::uint64_t));
    const std::uint64_t* p = w.data();
    o.shuffle_state = detail::get_rng(p);
  }
  decorrelate_layer_rngs(comm, model);

  if (model.accumulate() == Accumulate::Native) reduce.accumulate = Accumulate::Native;
  GradientReducer<T> reducer(comm, model, reduce);
  const int rank = comm.rank(), size = comm.size();
  o.replica.shard = [rank, size](std::size_t rows) { return shard_range(rows, rank, size); };
  o.replica.reduce_gradients = [&reducer](std::size_t, std::size_t rows) { reducer.reduce(rows); };
  o.replica.sum = [&comm](std::span<double> v) { allreduce<double>(comm, v); };
  if (!comm.is_root()) {
    o.quiet = true;
    o.csv_path.clear();
    test = nullptr;
  }
  if (o.on_epoch_end) {
    o.on_epoch_end = [&comm, f = std::move(o.on_epoch_end)](const train::EpochEnd& e) {
      on_root(comm, [&] { f(e); });
    };
  }
  return train::fit(model, opt, loss, train, test, o);
}

/// fit() under softmax cross-entropy (the default loss).
template <Scalar T>
train::FitResult fit(Communicator& comm, nn::Sequential<T>& model, optim::Optimizer<T>& opt,
                     const data::Dataset& train, const data::Dataset* test, train::FitOptions o,
                     ReduceOptions reduce = {}) {
  return fit(comm, model, opt, train::cross_entropy<T>(), train, test, std::move(o), reduce);
}

/// Rank 0 reads the checkpoint at `path`, every rank continues from it (see the header).
template <Scalar T>
io::TrainState resume_from_checkpoint(Communicator& comm, const std::filesystem::path& path,
                                      nn::Sequential<T>& model, optim::Optimizer<T>& opt,
                                      train::FitOptions& o) {
  io::TrainState st;
  on_root(comm, [&] { st = io::load_checkpoint(path, model, opt); });
  broadcast_state(comm, model, &opt);
  std::vector<std::uint64_t> w{std::uint64_t(st.epoch), std::uint64_t(st.step)};
  detail::put_rng(w, st.data_rng);
  comm.broadcast(w.data(), w.size() * sizeof(std::uint64_t));
  const std::uint64_t* p = w.data();
  st.epoch = std::int64_t(*p++);
  st.step = std::int64_t(*p++);
  st.data_rng = detail::get_rng(p);
  o.start_epoch = static_cast<int>(st.epoch);
  o.start_step = st.step;
  o.shuffle_state = st.data_rng;
  return st;
}

}  // namespace pure16::dist
