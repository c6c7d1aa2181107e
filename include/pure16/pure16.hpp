// pure16/pure16.hpp — umbrella header: everything pure16 offers.
#pragma once

#include <pure16/kernels/convert.hpp>
#include <pure16/kernels/gemm.hpp>
#include <pure16/scalar.hpp>
#include <pure16/tensor.hpp>
