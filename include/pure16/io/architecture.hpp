// pure16/io/architecture.hpp — pure16's architecture JSON: the layer specs of a model as
// recorded in the "architecture" metadata of its files.
//
// Contract:
//  * architecture_to_json(specs) gives [{"type": "Dense", "args": {"in": 784, ...}}, ...];
//    architecture_from_json(text, source) parses it back, and read_architecture(file) reads
//    it from a file's metadata. Malformed JSON, a layer without a "type" string or an
//    argument that is not a number is an io::Error naming the source and the layer.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <pure16/io/safetensors_format.hpp>
#include <pure16/nn/layer.hpp>
#include <string>
#include <vector>

namespace pure16::io {

namespace detail {

/// Layer specs as a JSON array [{"type": "Dense", "args": {"in": 784, ...}}, ...].
inline nlohmann::ordered_json specs_to_json(const std::vector<nn::LayerSpec>& specs) {
  auto arr = nlohmann::ordered_json::array();
  for (const auto& s : specs) {
    nlohmann::ordered_json args = nlohmann::ordered_json::object();
    for (const auto& [k, v] : s.args) {
      if (v == std::floor(v) && std::fabs(v) < 0x1p53)
        args[k] = static_cast<std::int64_t>(v);
      else
        args[k] = v;
    }
    arr.push_back({{"type", s.type}, {"args", args}});
  }
  return arr;
}

inline std::vector<nn::LayerSpec> specs_from_json(const std::string& text,
                                                  const std::string& file) {
  auto bad = [&](const std::string& why) {
    return Error("pure16::io: '" + file + "': metadata 'architecture' " + why);
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw bad(std::string("is not valid JSON: ") + e.what());
  }
  if (!j.is_array()) throw bad("is not a JSON array of layer specs");
  std::vector<nn::LayerSpec> specs;
  for (std::size_t i = 0; i < j.size(); ++i) {
    const auto& l = j[i];
    const std::string at = "layer " + std::to_string(i);
    if (!l.is_object() || !l.contains("type") || !l["type"].is_string())
      throw bad(at + " has no \"type\" string");
    nn::LayerSpec s{l["type"].get<std::string>(), {}};
    if (l.contains("args")) {
      if (!l["args"].is_object()) throw bad(at + " has \"args\" that is not an object");
      for (auto it = l["args"].begin(); it != l["args"].end(); ++it) {
        if (!it.value().is_number()) throw bad(at + " argument '" + it.key() + "' is not a number");
        s.args[it.key()] = it.value().get<double>();
      }
    }
    specs.push_back(std::move(s));
  }
  return specs;
}

}  // namespace detail

/// pure16's architecture JSON (as in the "architecture" metadata) of a list of layer specs:
/// [{"type": "Dense", "args": {"in": 784, "out": 512, "bias": 1}}, ...].
inline std::string architecture_to_json(const std::vector<nn::LayerSpec>& specs) {
  return detail::specs_to_json(specs).dump();
}
/// The layer specs of architecture JSON text; `source` names the text in errors (io::Error).
inline std::vector<nn::LayerSpec> architecture_from_json(const std::string& text,
                                                         const std::string& source) {
  return detail::specs_from_json(text, source);
}

/// The layer specs a pure16 file records in its metadata.
inline std::vector<nn::LayerSpec> read_architecture(const SafetensorsReader& file) {
  const auto arch = file.metadata("architecture");
  if (!arch) {
    throw file.error(
        "has no 'architecture' metadata (not written by pure16?); build the model and use "
        "load_safetensors");
  }
  return detail::specs_from_json(*arch, file.source());
}

}  // namespace pure16::io
