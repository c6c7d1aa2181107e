// pure16/pure16.hpp — umbrella header: everything pure16 offers.
#pragma once

#include <pure16/analysis/analysis.hpp>
#include <pure16/data/data.hpp>
#include <pure16/io/io.hpp>
#include <pure16/kernels/convert.hpp>
#include <pure16/kernels/cpu.hpp>
#include <pure16/kernels/gemm.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/optim.hpp>
#include <pure16/random.hpp>
#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
#include <pure16/train/train.hpp>
