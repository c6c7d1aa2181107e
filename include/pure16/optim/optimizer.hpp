// pure16/optim/optimizer.hpp — the optimizer interface.
//
// Contract:
//  * An optimizer is built over a model's parameter list and updates each value from its
//    grad in step(). All state (moments, velocities) is stored in T, the model's type.
//  * Arithmetic of an update is done in acc_t<T> registers and rounded once to T per
//    stored value (nearest-even, or stochastic when enabled).
//  * state() names every state tensor ("<param index>.<slot>") for checkpoints;
//    steps() counts completed steps (restored with set_steps()).
#pragma once

#include <cstdint>
#include <pure16/parameter.hpp>
#include <string>
#include <vector>

namespace pure16::optim {

template <Scalar T>
struct StateTensor {
  std::string name;
  Tensor<T>* tensor;
};

template <Scalar T>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step() = 0;
  virtual std::string name() const = 0;
  virtual double lr() const = 0;
  virtual void set_lr(double lr) = 0;
  virtual std::vector<StateTensor<T>> state() { return {}; }
  std::int64_t steps() const { return steps_; }
  void set_steps(std::int64_t s) { steps_ = s; }

 protected:
  std::int64_t steps_ = 0;
};

}  // namespace pure16::optim
