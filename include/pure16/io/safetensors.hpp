// pure16/io/safetensors.hpp — weights files in the safetensors format, exchangeable with
// PyTorch, loadable into a model of any scalar type. An umbrella over:
//   io/dtype.hpp               the format's element types and their pure16 scalar types
//   io/safetensors_format.hpp  the file format: validating reader, atomic writer (no nn/)
//   io/architecture.hpp        the architecture JSON of a model's layer specs
//   io/model_file.hpp          save_safetensors / load_safetensors / load_model
// Include the one you need; this header keeps every existing user compiling unchanged.
#pragma once

#include <pure16/io/architecture.hpp>
#include <pure16/io/dtype.hpp>
#include <pure16/io/model_file.hpp>
#include <pure16/io/safetensors_format.hpp>
