// pure16/nn/guard.hpp — the non-finite guard: after a training step, check the loss and
// every parameter value and gradient of a model for NaN or infinity.
//
// Contract:
//  * check_finite(model, loss, step) returns {ok = true} when everything is finite, else
//    ok = false and `what` names the first offender in this order: the loss, then for each
//    layer in order its parameters' gradients and values, e.g.
//      "step 12: non-finite gradient in 3.weight (layer 3 Dense): 5 of 4096 values (first
//       nan at index 17)".
//    layer is -1 and tensor "loss" when the loss is the offender.
//  * NonFiniteError is the exception a trainer throws with such a report; it carries the
//    step, the layer index and the tensor name.
//  * check_updated(model, step) checks the parameter VALUES after the optimizer update of
//    `step` and names the parameter that update made non-finite (the step, not the next).
//  * require_finite(model, loss, step) throws NonFiniteError when the check fails.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <pure16/error.hpp>
#include <pure16/kernels/finite.hpp>
#include <pure16/nn/sequential.hpp>
#include <sstream>
#include <string>

namespace pure16::nn {

template <Scalar T>
struct FiniteReport {
  bool ok = true;
  std::string what;  // empty when ok
  std::int64_t step = 0;
  std::int64_t layer = -1;  // index of the offending layer; -1 for the loss or when ok
  std::string tensor;       // "loss", "3.weight", ... ; empty when ok
};

class NonFiniteError : public pure16::Error {
 public:
  NonFiniteError(const std::string& what, std::int64_t step, std::int64_t layer, std::string tensor)
      : pure16::Error(what), step_(step), layer_(layer), tensor_(std::move(tensor)) {}
  template <Scalar T>
  explicit NonFiniteError(const FiniteReport<T>& r)
      : NonFiniteError(r.what, r.step, r.layer, r.tensor) {}

  std::int64_t step() const { return step_; }
  std::int64_t layer() const { return layer_; }
  const std::string& tensor() const { return tensor_; }

 private:
  std::int64_t step_;
  std::int64_t layer_;
  std::string tensor_;
};

namespace detail {
/// Number of non-finite values of t, the index and value of the first (kernels/finite.hpp).
template <Scalar T>
std::size_t count_non_finite(const Tensor<T>& t, std::size_t& first, double& first_value) {
  const std::size_t count = kernels::count_non_finite(t.data(), t.size(), &first);
  if (count) first_value = static_cast<double>(t[first]);
  return count;
}
}  // namespace detail

template <Scalar T>
FiniteReport<T> check_finite(Sequential<T>& model, double loss, std::int64_t step) {
  FiniteReport<T> r;
  r.step = step;
  if (!std::isfinite(loss)) {
    std::ostringstream os;
    os << "step " << step << ": non-finite loss (" << loss << ")";
    r.ok = false;
    r.what = os.str();
    r.tensor = "loss";
    return r;
  }
  for (std::size_t li = 0; li < model.size(); ++li) {
    for (auto* p : model[li].parameters()) {
      const std::pair<const Tensor<T>*, const char*> checks[] = {{&p->grad, "gradient"},
                                                                 {&p->value, "value"}};
      for (auto [t, kind] : checks) {
        std::size_t first = 0;
        double fv = 0;
        const std::size_t bad = detail::count_non_finite(*t, first, fv);
        if (bad == 0) continue;
        std::ostringstream os;
        const std::string name = std::to_string(li) + "." + p->name;
        os << "step " << step << ": non-finite " << kind << " in " << name << " (layer " << li
           << ' ' << model[li].type() << "): " << bad << " of " << t->size() << " values (first "
           << fv << " at index " << first << ")";
        r.ok = false;
        r.what = os.str();
        r.layer = static_cast<std::int64_t>(li);
        r.tensor = name;
        return r;
      }
    }
  }
  return r;
}

/// After the optimizer update of step `step`: {ok = true} when every parameter value is
/// finite, else a report naming the first parameter the update made non-finite, e.g.
///   "step 7: the optimizer update made 0.weight (layer 0 Dense) non-finite: 12 of 12
///    values (first inf at index 0)".
template <Scalar T>
FiniteReport<T> check_updated(Sequential<T>& model, std::int64_t step) {
  FiniteReport<T> r;
  r.step = step;
  for (std::size_t li = 0; li < model.size(); ++li) {
    for (auto* p : model[li].parameters()) {
      std::size_t first = 0;
      double fv = 0;
      const std::size_t bad = detail::count_non_finite(p->value, first, fv);
      if (bad == 0) continue;
      std::ostringstream os;
      const std::string name = std::to_string(li) + "." + p->name;
      os << "step " << step << ": the optimizer update made " << name << " (layer " << li << ' '
         << model[li].type() << ") non-finite: " << bad << " of " << p->value.size()
         << " values (first " << fv << " at index " << first << ")";
      r.ok = false;
      r.what = os.str();
      r.layer = static_cast<std::int64_t>(li);
      r.tensor = name;
      return r;
    }
  }
  return r;
}

template <Scalar T>
void require_finite(Sequential<T>& model, double loss, std::int64_t step) {
  auto r = check_finite(model, loss, step);
  if (!r.ok) throw NonFiniteError(r);
}

}  // namespace pure16::nn
