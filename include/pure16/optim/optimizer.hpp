// pure16/optim/optimizer.hpp — the optimizer interface.
//
// Contract:
//  * An optimizer is built over a model's parameter list and updates each value from its
//    grad in step(). For a pure optimizer all state (moments, velocities, compensation) is
//    stored in T, the model's type; a mixed-precision one (optim/mixed.hpp) also keeps fp32
//    tensors and says so in precision_label().
//  * Arithmetic of an update is done in acc_t<T> registers and rounded once to T per
//    stored value (nearest-even, stochastic or compensated, see pure16::Rounding).
//  * Everything a checkpoint needs is reachable from this interface, so that io/ never
//    has to know a concrete optimizer:
//      state()        the state tensors in T, named "<param index>.<slot>";
//      fp32_state()   the state tensors in float (mixed precision: masters and moments);
//      scalars()      the remaining state as exact strings ("rounder_state", "loss_scale",
//                     ...); restore_scalars() checks every value first and changes nothing
//                     when one is missing or malformed (it throws pure16::InvalidArgument);
//      steps()        completed steps (restored with set_steps()); lr() / set_lr().
//  * Loss scaling: loss_scale() is the factor the training loop multiplies dLoss/dOutput
//    by before backward (1 for pure optimizers). An optimizer with checks_gradients() true
//    looks for non-finite gradients itself and skips such a step (last_step_skipped()).
//  * fp32_twin(params) builds the same optimizer with the same hyper-parameters over fp32
//    parameters, rounding to nearest (the reference a 16-bit run is compared against, and
//    the inner optimizer of mixed precision); nullptr where an optimizer has no such twin.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <pure16/parameter.hpp>
#include <string>
#include <vector>

namespace pure16::optim {

template <Scalar T>
struct StateTensor {
  std::string name;
  Tensor<T>* tensor;
};

/// Scalar optimizer state as exact strings, by name.
using Scalars = std::map<std::string, std::string>;

template <Scalar T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual std::string name() const = 0;
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;

  /// State tensors in T.
  virtual std::vector<StateTensor<T>> state() { return {}; }
  /// State tensors in float (empty for a pure optimizer).
  virtual std::vector<StateTensor<float>> fp32_state() { return {}; }
  /// Scalar state other than steps and lr (generator states, loss scale, ...).
  virtual Scalars scalars() const { return {}; }
  /// Restore what scalars() gave; all or nothing.
  virtual void restore_scalars(const Scalars&) {}

  virtual std::int64_t steps() const { return steps_; }
  virtual void set_steps(std::int64_t s) { steps_ = s; }

  /// What the run is, for tables and logs: "fp16", "fp16+stochastic",
  /// "fp16+compensated", "mixed(fp16/fp32)", ...
  virtual std::string precision_label() const { return std::string(scalar_traits<T>::name); }
  /// Bytes of every tensor the optimizer keeps (state in T and in float).
  std::size_t state_bytes() {
    std::size_t n = 0;
    for (const auto& s : state()) n += s.tensor->size() * sizeof(T);
    for (const auto& s : fp32_state()) n += s.tensor->size() * sizeof(float);
    return n;
  }
  /// Bytes of weight copies kept besides the model's own (mixed precision's fp32 masters).
  virtual std::size_t master_bytes() const { return 0; }

  virtual double loss_scale() const { return 1.0; }
  virtual bool checks_gradients() const { return false; }
  virtual bool last_step_skipped() const { return false; }

  /// The same optimizer over fp32 parameters (nearest rounding, fresh state); nullptr for
  /// an optimizer that cannot build one.
  virtual std::unique_ptr<Optimizer<float>> fp32_twin(std::vector<Parameter<float>*>) const {
    return nullptr;
  }

 protected:
  std::int64_t steps_ = 0;
};

}  // namespace pure16::optim
