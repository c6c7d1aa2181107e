// pure16/optim/make.hpp — an optimizer by name: optim::make<T>(name, params, options).
//
// Contract:
//  * Names: "sgd" (no momentum), "momentum" (SGD with momentum), "nesterov", "adam",
//    "adamw", "rmsprop". Any other name throws pure16::InvalidArgument listing these.
//  * MakeOptions carries the hyper-parameters the names share: lr, momentum (momentum,
//    nesterov), weight_decay (L2 for sgd/momentum/nesterov/adam/rmsprop; decoupled for
//    adamw, whose default 0.01 applies when weight_decay is unset), the Rounding of the
//    new weights (NearestEven, Stochastic, Compensated) and its seed.
//  * update = Update::Mixed builds MixedPrecision<T> (fp32 masters and state, dynamic loss
//    scaling with options.loss_scale) around the same optimizer in fp32; it needs a
//    16-bit T and round-to-nearest (the masters are fp32: there is nothing to compensate).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <pure16/error.hpp>
#include <pure16/optim/adam.hpp>
#include <pure16/optim/mixed.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/optim/rmsprop.hpp>
#include <pure16/optim/sgd.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pure16::optim {

/// How weights are updated: pure (everything in T) or mixed precision (fp32 masters).
enum class Update { Pure, Mixed };

struct MakeOptions {
  double lr = 0.01;
  double momentum = 0.9;                              // "momentum" and "nesterov"
  std::optional<double> weight_decay = std::nullopt;  // unset: 0 (adamw: 0.01)
  Rounding rounding = Rounding::NearestEven;          // pure updates only
  std::uint64_t seed = 0x5eed;                        // stochastic rounding
  Update update = Update::Pure;
  LossScaleOptions loss_scale = {};  // Update::Mixed only
};

inline const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> names{"sgd",  "momentum", "nesterov",
                                              "adam", "adamw",    "rmsprop"};
  return names;
}

template <Scalar T>
std::unique_ptr<Optimizer<T>> make(const std::string& name, std::vector<Parameter<T>*> params,
                                   const MakeOptions& o = {}) {
  if (o.update == Update::Mixed) {
    if (o.rounding != Rounding::NearestEven) {
      throw pure16::InvalidArgument(
          "pure16::optim::make: mixed precision rounds its fp32 masters to nearest; "
          "stochastic or compensated rounding applies to pure 16-bit updates only");
    }
    MakeOptions inner = o;
    inner.update = Update::Pure;
    make<float>(name, {}, inner);  // an unknown name fails here, before anything is built
    return std::make_unique<MixedPrecision<T>>(
        std::move(params),
        [name, inner](std::vector<Parameter<float>*> ps) {
          return make<float>(name, std::move(ps), inner);
        },
        o.loss_scale);
  }
  const double wd = o.weight_decay.value_or(0.0);
  // The fields every optimizer's options share.
  auto with_common = [&](auto opts) {
    opts.lr = o.lr;
    opts.rounding = o.rounding;
    opts.seed = o.seed;
    return opts;
  };
  if (name == "sgd" || name == "momentum" || name == "nesterov") {
    SGDOptions so = with_common(SGDOptions{});
    so.momentum = name == "sgd" ? 0.0 : o.momentum;
    so.nesterov = name == "nesterov";
    so.weight_decay = wd;
    return std::make_unique<SGD<T>>(std::move(params), so);
  }
  if (name == "adam") {
    AdamOptions ao = with_common(AdamOptions{});
    ao.weight_decay = wd;
    return std::make_unique<Adam<T>>(std::move(params), ao);
  }
  if (name == "adamw") {
    AdamWOptions ao = with_common(AdamWOptions{});
    if (o.weight_decay) ao.weight_decay = *o.weight_decay;
    return std::make_unique<AdamW<T>>(std::move(params), ao);
  }
  if (name == "rmsprop") {
    RMSPropOptions ro = with_common(RMSPropOptions{});
    ro.weight_decay = wd;
    return std::make_unique<RMSProp<T>>(std::move(params), ro);
  }
  std::string known;
  for (const auto& n : optimizer_names()) known += (known.empty() ? "" : ", ") + n;
  throw pure16::InvalidArgument("pure16::optim::make: unknown optimizer '" + name +
                                "' (known: " + known + ")");
}

/// "nearest" | "stochastic" | "compensated" as a Rounding; anything else throws.
inline Rounding parse_rounding(const std::string& s) {
  if (s == "nearest") return Rounding::NearestEven;
  if (s == "stochastic") return Rounding::Stochastic;
  if (s == "compensated") return Rounding::Compensated;
  throw pure16::InvalidArgument("pure16::optim: unknown rounding '" + s +
                                "' (known: nearest, stochastic, compensated)");
}

}  // namespace pure16::optim
