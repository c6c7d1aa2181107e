// pure16/io/model_file.hpp — models as safetensors files: save a Sequential, load weights
// into one of any scalar type, or rebuild it from the file's architecture metadata.
//
// Contract:
//  * Tensor names and layouts are those of PyTorch's state_dict of the equivalent
//    torch.nn.Sequential ("<index>.weight", "<index>.bias", "<index>.running_mean",
//    "<index>.running_var"; Linear weight [out, in], Conv2d weight [out, in, kh, kw]).
//    save_safetensors writes every state tensor (in T's dtype unless another is chosen),
//    plus an I64 "<index>.num_batches_tracked" = 0 for each BatchNorm so that torch's strict
//    load_state_dict accepts the file (pure16 does not count batches), and a __metadata__ of
//    {"format": "pt", "pure16_version", "scalar_type", "accumulate", "architecture" (the
//    layer specs as JSON)} plus the caller's extra entries.
//  * load_safetensors(path, model) loads into a Sequential<U> of any scalar type: every state
//    tensor must be present with the model's shape, and the file must hold nothing else
//    (an I64 "<i>.num_batches_tracked" of a BatchNorm layer i is accepted and ignored).
//    Missing and unexpected tensors are listed by name. The model is modified only when the
//    whole file has been checked and converted.
//  * load_model<U>(path) rebuilds the architecture from the metadata and loads the weights.
//    The architecture is checked against the tensors the file actually holds (every
//    parameter's shape and byte count) BEFORE the model is built, so a small file that
//    declares huge layers is refused without allocating them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <pure16/error.hpp>
#include <pure16/io/architecture.hpp>
#include <pure16/io/safetensors_format.hpp>
#include <pure16/nn/factory.hpp>
#include <pure16/nn/sequential.hpp>
#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pure16::io {

namespace detail {

inline std::string accumulate_name(Accumulate a) {
  return a == Accumulate::Native ? "native" : "float";
}

/// Metadata every pure16 file records about a model.
template <Scalar T>
Metadata model_metadata(const nn::Sequential<T>& model) {
  return {{"pure16_version", std::string(pure16_version)},
          {"scalar_type", std::string(scalar_traits<T>::name)},
          {"accumulate", accumulate_name(model.accumulate())},
          {"architecture", specs_to_json(model.specs()).dump()}};
}

/// Add every state tensor of `model` under `prefix` + its state name (plus the I64
/// num_batches_tracked of BatchNorm layers when `torch_extras`).
template <Scalar T>
void add_model_tensors(SafetensorsWriter& w, nn::Sequential<T>& model, const std::string& prefix,
                       std::optional<DType> as, bool torch_extras) {
  for (const auto& t : model.state()) w.add(prefix + t.name, *t.tensor, as);
  if (!torch_extras) return;
  for (std::size_t i = 0; i < model.size(); ++i) {
    if (model[i].type() != "BatchNorm") continue;
    w.add_raw(prefix + std::to_string(i) + ".num_batches_tracked", "I64", {}, [](OutputFile& out) {
      const unsigned char zero[8] = {};
      out.write(zero, 8);
    });
  }
}

/// Checked, converted values for a set of destination tensors; commit() copies them in.
template <Scalar U>
class StagedLoad {
 public:
  void stage(Tensor<U>* dst, Tensor<U> value) { items_.emplace_back(dst, std::move(value)); }
  void commit() {
    for (auto& [dst, v] : items_) dst->copy_from(v);
  }

 private:
  std::vector<std::pair<Tensor<U>*, Tensor<U>>> items_;
};

/// Match the file's tensors named `prefix` + name against `expected` (name -> destination):
/// every expected tensor present with the same shape, nothing else under `prefix` except
/// the names `ignorable` accepts. Stages the converted values.
template <Scalar U>
void stage_tensors(const SafetensorsReader& file, const std::string& prefix,
                   const std::vector<std::pair<std::string, Tensor<U>*>>& expected,
                   const std::function<bool(const TensorEntry&, const std::string&)>& ignorable,
                   const std::string& what, StagedLoad<U>& staged) {
  std::map<std::string, Tensor<U>*> want;
  for (const auto& [name, t] : expected) want[name] = t;
  std::vector<std::string> missing, unexpected;
  for (const auto& [name, t] : expected)
    if (!file.find(prefix + name)) missing.push_back(prefix + name);
  for (const auto& e : file.entries()) {
    if (e.name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string local = e.name.substr(prefix.size());
    if (!want.count(local) && !(ignorable && ignorable(e, local))) unexpected.push_back(e.name);
  }
  if (!missing.empty() || !unexpected.empty()) {
    std::string msg;
    if (!missing.empty()) msg += "is missing " + what + " tensors " + quoted_list(missing);
    if (!unexpected.empty()) {
      msg += std::string(missing.empty() ? "" : "; it ") + "has tensors " +
             quoted_list(unexpected) + " that the " + what + " does not have";
    }
    throw file.error(msg);
  }
  for (const auto& [name, t] : expected) {
    const TensorEntry& e = file.at(prefix + name);
    if (e.shape != t->shape()) {
      throw file.error("tensor '" + e.name + "' has shape " + shape_str(e.shape) + " but the " +
                       what + "'s is " + shape_str(t->shape()));
    }
    staged.stage(t, file.read<U>(e));
  }
}

/// Stage the state of `model` from the tensors named `prefix` + state name.
template <Scalar U>
void stage_model(const SafetensorsReader& file, nn::Sequential<U>& model, const std::string& prefix,
                 StagedLoad<U>& staged) {
  std::vector<std::pair<std::string, Tensor<U>*>> expected;
  std::set<std::string> has_running_mean;
  for (const auto& t : model.state()) {
    expected.emplace_back(t.name, t.tensor);
    if (t.name.size() > 13 && t.name.ends_with(".running_mean"))
      has_running_mean.insert(t.name.substr(0, t.name.size() - 13));
  }
  // PyTorch's BatchNorm counter: an I64 scalar (or one-element) tensor, ignored.
  auto ignorable = [&](const TensorEntry& e, const std::string& local) {
    constexpr std::string_view suffix = ".num_batches_tracked";
    if (!local.ends_with(suffix) || e.dtype != "I64" || e.end - e.begin != 8) return false;
    return has_running_mean.count(local.substr(0, local.size() - suffix.size())) > 0;
  };
  stage_tensors<U>(file, prefix, expected, ignorable, "model", staged);
}

/// Before a model is built from a file's architecture metadata: every state tensor the
/// specs declare must be in the file with the declared shape (so its bytes are there too),
/// which caps what building the model allocates at what the file holds.
inline void check_architecture_against_tensors(const SafetensorsReader& file,
                                               const std::vector<nn::LayerSpec>& specs) {
  for (std::size_t i = 0; i < specs.size(); ++i) {
    std::vector<std::pair<std::string, Shape>> shapes;
    try {
      shapes = nn::state_shapes(specs[i]);
    } catch (const pure16::InvalidArgument& e) {
      throw file.error(std::string("metadata 'architecture' cannot be built: ") + e.what());
    }
    for (const auto& [name, shape] : shapes) {
      const std::string full = std::to_string(i) + "." + name;
      const TensorEntry* e = file.find(full);
      const std::string layer = "layer " + std::to_string(i) + " (" + specs[i].type + ")";
      if (!e) {
        throw file.error("metadata 'architecture' declares " + layer + " with tensor '" + full +
                         "' of shape " + shape_str(shape) + ", which the file does not hold");
      }
      if (e->shape != shape) {
        throw file.error("metadata 'architecture' declares tensor '" + full + "' of " + layer +
                         " with shape " + shape_str(shape) + ", but the file's tensor has shape " +
                         shape_str(e->shape));
      }
    }
  }
}

inline Accumulate parse_accumulate(const SafetensorsReader& file) {
  const auto a = file.metadata("accumulate");
  if (!a || *a == "float") return Accumulate::Float;
  if (*a == "native") return Accumulate::Native;
  throw file.error("metadata 'accumulate' is '" + *a + "' (expected 'float' or 'native')");
}

}  // namespace detail

/// Load every state tensor of `model` from an open file (see the header comment).
template <Scalar U>
void load_state(const SafetensorsReader& file, nn::Sequential<U>& model) {
  detail::StagedLoad<U> staged;
  detail::stage_model(file, model, "", staged);
  staged.commit();
}

/// Save `model` as a safetensors file at `path` (atomically). Tensors are stored in T's
/// dtype, or in `as` (rounded to nearest-even); `extra` entries join the metadata.
template <Scalar T>
void save_safetensors(const std::filesystem::path& path, nn::Sequential<T>& model,
                      const Metadata& extra = {}, std::optional<DType> as = std::nullopt) {
  SafetensorsWriter w;
  Metadata meta = detail::model_metadata(model);
  meta["format"] = "pt";
  for (const auto& [k, v] : extra) {
    if (meta.count(k)) {
      throw pure16::InvalidArgument("pure16::io::save_safetensors: metadata key '" + k +
                                    "' is reserved by pure16");
    }
    meta[k] = v;
  }
  for (const auto& [k, v] : meta) w.set_metadata(k, v);
  detail::add_model_tensors(w, model, "", as, true);
  w.save(path);
}

/// Load the weights file at `path` into `model`, converting to U on load.
template <Scalar U>
void load_safetensors(const std::filesystem::path& path, nn::Sequential<U>& model) {
  load_state(SafetensorsReader::open(path), model);
}

/// Rebuild the model a pure16 file describes, in scalar type U, and load its weights.
template <Scalar U>
nn::Sequential<U> load_model(const std::filesystem::path& path) {
  const auto file = SafetensorsReader::open(path);
  std::vector<nn::LayerSpec> specs = read_architecture(file);
  detail::check_architecture_against_tensors(file, specs);
  nn::Sequential<U> model;
  try {
    model = nn::Sequential<U>::from_specs(specs);
  } catch (const pure16::InvalidArgument& e) {
    throw file.error(std::string("metadata 'architecture' cannot be built: ") + e.what());
  }
  model.set_accumulate(detail::parse_accumulate(file));
  load_state(file, model);
  return model;
}

}  // namespace pure16::io
