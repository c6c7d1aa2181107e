// pure16/io/checkpoint.hpp — training checkpoints that resume bit-identically.
//
// Contract:
//  * save_checkpoint(path, model, optimizer, state) writes one safetensors file, atomically
//    (a crash or error mid-write leaves the previous checkpoint intact, see atomic_file.hpp):
//      tensors  "model.<state name>"      every parameter and buffer, in T's dtype (exact)
//               "optim.<slot name>"       every optimizer state tensor: Optimizer::state()
//                                         in T's dtype, Optimizer::fp32_state() in F32
//                                         (mixed precision's masters and moments)
//      metadata "format" = "pure16-checkpoint", "pure16_version", "scalar_type",
//               "accumulate", "architecture" (the layer specs), "optimizer" (its name),
//               "precision" (Optimizer::precision_label(), e.g. "fp16+compensated" or
//               "mixed(fp16/fp32)"), "optimizer_steps", "lr" (decimal that reads back
//               exactly), "optimizer_scalars" (JSON object of Optimizer::scalars(): the
//               stochastic-rounding generator, the loss scale, ...),
//               "layer_rng" ({layer index: generator state} of layers that have one, e.g.
//               Dropout), "epoch", "step", "data_rng" (TrainState's shuffling generator).
//    Generator states are JSON with the 64-bit words as integers and the Box-Muller spare as
//    its bit pattern, so they restore exactly.
//  * load_checkpoint(path, model, optimizer) checks that the file is a checkpoint of the
//    same architecture, scalar type, optimizer and precision label, that every model and
//    optimizer tensor is present with its shape and nothing else is, then restores tensors,
//    optimizer step count, learning rate and scalars, and layer generators, and returns the
//    TrainState. The optimizer is reached only through the optim::Optimizer interface.
//    (Files written before "optimizer_scalars" existed carry "rounder_state" instead; it is
//    read as that scalar.)
//    Nothing is modified unless the whole file checks out; errors are io::Error naming the
//    file and what is wrong. "epoch" (<= INT_MAX, what fit() counts in), "step" and
//    "optimizer_steps" must be plain non-negative decimal integers. Continuing training from the
//    restored objects gives bit for bit the same parameters as never stopping.
#pragma once

#include <bit>
#include <cmath>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <pure16/io/safetensors.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/optim/optimizer.hpp>
#include <pure16/random.hpp>
#include <string>
#include <utility>
#include <vector>

namespace pure16::io {

/// Where a training run stands, beyond the model and optimizer.
struct TrainState {
  std::int64_t epoch = 0;  // completed epochs
  std::int64_t step = 0;   // completed batches over the run
  Rng::State data_rng{};   // the trainer's shuffling generator
};

inline constexpr std::string_view checkpoint_format = "pure16-checkpoint";

namespace detail {

inline nlohmann::json rng_to_json(const Rng::State& s) {
  return {{"s", {s.s[0], s.s[1], s.s[2], s.s[3]}},
          {"has_spare", s.has_spare},
          {"spare_bits", std::bit_cast<std::uint64_t>(s.spare)}};
}

inline Rng::State rng_from_json(const nlohmann::json& j, const SafetensorsReader& file,
                                const std::string& what) {
  auto bad = [&] { return file.error("metadata '" + what + "' is not a generator state"); };
  if (!j.is_object() || !j.contains("s") || !j["s"].is_array() || j["s"].size() != 4 ||
      !j.contains("has_spare") || !j["has_spare"].is_boolean() || !j.contains("spare_bits") ||
      !j["spare_bits"].is_number_unsigned()) {
    throw bad();
  }
  Rng::State s{};
  for (std::size_t i = 0; i < 4; ++i) {
    if (!j["s"][i].is_number_unsigned()) throw bad();
    s.s[i] = j["s"][i].get<std::uint64_t>();
  }
  s.has_spare = j["has_spare"].get<bool>();
  s.spare = std::bit_cast<double>(j["spare_bits"].get<std::uint64_t>());
  return s;
}

inline const std::string& required_meta(const SafetensorsReader& file, const std::string& key) {
  auto it = file.metadata().find(key);
  if (it == file.metadata().end()) throw file.error("checkpoint has no metadata '" + key + "'");
  return it->second;
}

inline nlohmann::json meta_json(const SafetensorsReader& file, const std::string& key) {
  try {
    return nlohmann::json::parse(required_meta(file, key));
  } catch (const nlohmann::json::exception& e) {
    throw file.error("metadata '" + key + "' is not valid JSON: " + e.what());
  }
}

inline std::int64_t meta_int(const SafetensorsReader& file, const std::string& key) {
  const std::string& v = required_meta(file, key);
  std::size_t pos = 0;
  long long x = 0;
  try {
    x = std::stoll(v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != v.size())
    throw file.error("metadata '" + key + "' = '" + v + "' is not an integer");
  return x;
}

/// A count recorded in the metadata: decimal digits only, in [0, max]. A negative value,
/// anything that is not a plain integer ("1.5", " 7", "0x10", "") and values above `max`
/// are refused naming the file and the field.
inline std::int64_t meta_count(const SafetensorsReader& file, const std::string& key,
                               std::int64_t max) {
  const std::string& v = required_meta(file, key);
  const auto bad = [&](const std::string& why) {
    return file.error("metadata '" + key + "' = '" + v + "' " + why);
  };
  const bool negative = !v.empty() && v[0] == '-';
  const std::size_t first = negative ? 1 : 0;
  if (v.size() == first || v.find_first_not_of("0123456789", first) != std::string::npos)
    throw bad("is not an integer");
  if (negative) throw bad("is negative; it counts " + key + "s, from 0");
  std::int64_t x = 0;
  for (std::size_t i = first; i < v.size(); ++i) {
    const int d = v[i] - '0';
    if (x > (max - d) / 10) throw bad("is out of range (at most " + std::to_string(max) + ")");
    x = x * 10 + d;
  }
  return x;
}

inline std::uint64_t meta_u64(const SafetensorsReader& file, const std::string& key) {
  const std::string& v = required_meta(file, key);
  std::size_t pos = 0;
  unsigned long long x = 0;
  try {
    if (!v.empty() && v[0] != '-') x = std::stoull(v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != v.size())
    throw file.error("metadata '" + key + "' = '" + v + "' is not an unsigned integer");
  return x;
}

inline double meta_double(const SafetensorsReader& file, const std::string& key) {
  const std::string& v = required_meta(file, key);
  std::size_t pos = 0;
  double x = 0;
  try {
    x = std::stod(v, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0 || pos != v.size())
    throw file.error("metadata '" + key + "' = '" + v + "' is not a number");
  return x;
}

}  // namespace detail

/// Write a checkpoint of `model`, `opt` and `state` at `path` (atomically).
template <Scalar T>
void save_checkpoint(const std::filesystem::path& path, nn::Sequential<T>& model,
                     optim::Optimizer<T>& opt, const TrainState& state) {
  SafetensorsWriter w;
  Metadata meta = detail::model_metadata(model);
  meta["format"] = std::string(checkpoint_format);
  meta["optimizer"] = opt.name();
  meta["optimizer_steps"] = std::to_string(opt.steps());
  meta["lr"] = detail::exact_double(opt.lr());
  meta["precision"] = opt.precision_label();
  nlohmann::json scalars = nlohmann::json::object();
  for (const auto& [k, v] : opt.scalars()) scalars[k] = v;
  meta["optimizer_scalars"] = scalars.dump();
  nlohmann::json layers = nlohmann::json::object();
  for (std::size_t i = 0; i < model.size(); ++i)
    if (auto s = model[i].rng_state()) layers[std::to_string(i)] = detail::rng_to_json(*s);
  meta["layer_rng"] = layers.dump();
  meta["epoch"] = std::to_string(state.epoch);
  meta["step"] = std::to_string(state.step);
  meta["data_rng"] = detail::rng_to_json(state.data_rng).dump();
  for (const auto& [k, v] : meta) w.set_metadata(k, v);
  detail::add_model_tensors(w, model, "model.", std::nullopt, false);
  for (const auto& s : opt.state()) w.add("optim." + s.name, *s.tensor);
  for (const auto& s : opt.fp32_state()) w.add("optim." + s.name, *s.tensor);
  w.save(path);
}

/// Restore `model` and `opt` from the checkpoint at `path`; returns the TrainState.
template <Scalar T>
TrainState load_checkpoint(const std::filesystem::path& path, nn::Sequential<T>& model,
                           optim::Optimizer<T>& opt) {
  const auto file = SafetensorsReader::open(path);
  if (file.metadata("format") != std::string(checkpoint_format)) {
    throw file.error("is not a pure16 checkpoint (metadata 'format' is '" +
                     file.metadata("format").value_or("") + "', expected '" +
                     std::string(checkpoint_format) + "')");
  }
  const std::string& stype = detail::required_meta(file, "scalar_type");
  if (stype != scalar_traits<T>::name) {
    throw file.error("is a checkpoint of a " + stype + " model; it resumes a " + stype +
                     " model, not " + std::string(scalar_traits<T>::name));
  }
  const auto specs = read_architecture(file);
  if (specs != model.specs()) {
    throw file.error("checkpoint architecture " + detail::specs_to_json(specs).dump() +
                     " differs from the model's " + detail::specs_to_json(model.specs()).dump());
  }
  const std::string& oname = detail::required_meta(file, "optimizer");
  if (oname != opt.name()) {
    throw file.error("checkpoint was written with optimizer " + oname + ", not " + opt.name());
  }

  // Check and convert everything before modifying anything.
  TrainState ts;
  ts.epoch = detail::meta_count(file, "epoch", std::numeric_limits<int>::max());
  ts.step = detail::meta_count(file, "step", std::numeric_limits<std::int64_t>::max());
  ts.data_rng = detail::rng_from_json(detail::meta_json(file, "data_rng"), file, "data_rng");
  const std::int64_t steps =
      detail::meta_count(file, "optimizer_steps", std::numeric_limits<std::int64_t>::max());
  const double lr = detail::meta_double(file, "lr");
  if (!std::isfinite(lr) || lr < 0) throw file.error("metadata 'lr' is not a learning rate");
  if (const auto p = file.metadata("precision"); p && *p != opt.precision_label()) {
    throw file.error("checkpoint was written by a " + *p + " run; it does not resume a " +
                     opt.precision_label() + " run");
  }
  optim::Scalars scalars;
  if (file.metadata("optimizer_scalars")) {
    const nlohmann::json j = detail::meta_json(file, "optimizer_scalars");
    if (!j.is_object()) throw file.error("metadata 'optimizer_scalars' is not a JSON object");
    for (const auto& [k, v] : j.items()) {
      if (!v.is_string()) throw file.error("optimizer scalar '" + k + "' is not a string");
      scalars[k] = v.template get<std::string>();
    }
  } else if (file.metadata("rounder_state")) {  // written before optimizer_scalars existed
    scalars["rounder_state"] = std::to_string(detail::meta_u64(file, "rounder_state"));
  }
  for (const auto& [k, v] : opt.scalars()) {
    if (!scalars.count(k)) throw file.error("checkpoint has no optimizer scalar '" + k + "'");
  }

  const nlohmann::json layer_rng = detail::meta_json(file, "layer_rng");
  if (!layer_rng.is_object()) throw file.error("metadata 'layer_rng' is not a JSON object");
  std::vector<std::pair<std::size_t, Rng::State>> rngs;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (!model[i].rng_state()) continue;
    const std::string key = std::to_string(i);
    if (!layer_rng.contains(key))
      throw file.error("metadata 'layer_rng' has no generator for layer " + key);
    rngs.emplace_back(i, detail::rng_from_json(layer_rng[key], file, "layer_rng." + key));
  }
  if (layer_rng.size() != rngs.size())
    throw file.error("metadata 'layer_rng' has generators for layers that have none");

  detail::StagedLoad<T> staged;
  detail::stage_model(file, model, "model.", staged);
  std::vector<std::pair<std::string, Tensor<T>*>> ostate;
  for (const auto& s : opt.state()) ostate.emplace_back(s.name, s.tensor);
  std::vector<std::pair<std::string, Tensor<float>*>> ostate32;
  for (const auto& s : opt.fp32_state()) ostate32.emplace_back(s.name, s.tensor);
  // Each list accepts the other's names under "optim."; together they must cover the file.
  auto in_fp32 = [&](const TensorEntry&, const std::string& n) {
    for (const auto& [name, t] : ostate32)
      if (name == n) return true;
    return false;
  };
  auto in_t = [&](const TensorEntry&, const std::string& n) {
    for (const auto& [name, t] : ostate)
      if (name == n) return true;
    return false;
  };
  detail::stage_tensors<T>(file, "optim.", ostate, in_fp32, "optimizer", staged);
  detail::StagedLoad<float> staged32;
  detail::stage_tensors<float>(file, "optim.", ostate32, in_t, "optimizer", staged32);
  std::vector<std::string> stray;
  for (const auto& e : file.entries())
    if (!e.name.starts_with("model.") && !e.name.starts_with("optim.")) stray.push_back(e.name);
  if (!stray.empty())
    throw file.error("checkpoint has tensors " + detail::quoted_list(stray) +
                     " it should not have");

  try {
    opt.restore_scalars(scalars);  // checks every value first; changes nothing on error
  } catch (const pure16::InvalidArgument& e) {
    throw file.error(std::string("optimizer scalars: ") + e.what());
  }
  staged.commit();
  staged32.commit();
  for (const auto& [i, s] : rngs) model[i].set_rng_state(s);
  opt.set_steps(steps);
  opt.set_lr(lr);
  return ts;
}

}  // namespace pure16::io
