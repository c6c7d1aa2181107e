// pure16/io/io.hpp — umbrella header of pure16's weights files and checkpoints:
// safetensors save/load (PyTorch state_dict names), atomic writes, training checkpoints.
#pragma once

#include <pure16/io/atomic_file.hpp>
#include <pure16/io/checkpoint.hpp>
#include <pure16/io/safetensors.hpp>
