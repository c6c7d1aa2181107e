// examples/optimizer.hpp — the optimizer an example's options name (optim::make), and the
// optimizer of one run under its update mode (update_modes.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <pure16/nn/sequential.hpp>
#include <pure16/optim/make.hpp>
#include <pure16/optim/optim.hpp>
#include <string>

#include "cli.hpp"
#include "update_modes.hpp"

namespace examples {

/// The hyper-parameters of --optimizer for optim::make.
inline pure16::optim::MakeOptions optimizer_options(const Options& o) {
  pure16::optim::MakeOptions mo;
  mo.lr = o.lr;
  mo.momentum = o.momentum;
  if (o.weight_decay > 0) mo.weight_decay = o.weight_decay;  // adamw: 0.01 unless given
  return mo;
}

/// The optimizer `--optimizer` over the model's parameters (optim::make), pure updates
/// rounded to nearest.
template <pure16::Scalar T>
std::unique_ptr<pure16::optim::Optimizer<T>> make_optimizer(pure16::nn::Sequential<T>& model,
                                                            const Options& o) {
  return pure16::optim::make<T>(o.optimizer, model.parameters(), optimizer_options(o));
}

/// The optimizer of one run (optim::make with the run's update mode).
template <pure16::Scalar T>
std::unique_ptr<pure16::optim::Optimizer<T>> make_run_optimizer(
    pure16::nn::Sequential<T>& model, const std::string& name, pure16::optim::MakeOptions mo,
    const RunKind& run, const UpdateOptions& u, std::uint64_t seed) {
  mo.rounding = run.rounding;
  mo.seed = seed;
  if (run.mixed) {
    mo.update = pure16::optim::Update::Mixed;
    mo.loss_scale.init_scale = u.loss_scale_init;
    mo.loss_scale.growth_interval = u.loss_scale_interval;
  }
  return pure16::optim::make<T>(name, model.parameters(), mo);
}

}  // namespace examples
