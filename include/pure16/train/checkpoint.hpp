// pure16/train/checkpoint.hpp — checkpoints for fit(): save after every epoch, resume later.
//
// Contract:
//  * checkpoint_each_epoch(path, model, opt, then) returns an on_epoch_end hook that writes
//    io::save_checkpoint(path, ...) — atomically (temp file + rename), so a crash leaves the
//    previous checkpoint intact — with the finished epoch count, step count and shuffling
//    generator state, then calls `then` (if any).
//  * resume_from_checkpoint(path, model, opt, options) restores model and optimizer with
//    io::load_checkpoint and sets options.start_epoch, start_step and shuffle_state, so that
//    fit(model, opt, ..., options) continues with exactly the batches and updates an
//    uninterrupted run would have done (bit-identical weights). Errors are io::Error naming
//    the file.
#pragma once

#include <filesystem>
#include <functional>
#include <pure16/io/checkpoint.hpp>
#include <pure16/train/fit.hpp>
#include <string>
#include <utility>

namespace pure16::train {

template <Scalar T>
std::function<void(const EpochEnd&)> checkpoint_each_epoch(
    std::filesystem::path path, nn::Sequential<T>& model, optim::Optimizer<T>& opt,
    std::function<void(const EpochEnd&)> then = {}) {
  return [path = std::move(path), &model, &opt, then = std::move(then)](const EpochEnd& e) {
    io::TrainState st;
    st.epoch = e.stats.epoch;
    st.step = e.step;
    st.data_rng = e.shuffle_state;
    io::save_checkpoint(path, model, opt, st);
    if (then) then(e);
  };
}

/// Restore from `path` and make `o` continue the run; returns the restored state.
template <Scalar T>
io::TrainState resume_from_checkpoint(const std::filesystem::path& path, nn::Sequential<T>& model,
                                      optim::Optimizer<T>& opt, FitOptions& o) {
  const io::TrainState st = io::load_checkpoint(path, model, opt);
  o.start_epoch = static_cast<int>(st.epoch);
  o.start_step = st.step;
  o.shuffle_state = st.data_rng;
  return st;
}

}  // namespace pure16::train
