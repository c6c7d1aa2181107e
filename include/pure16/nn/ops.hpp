// pure16/nn/ops.hpp — the element-wise building blocks of pure16/ops.hpp, under the names
// layer code has always used (pure16::nn::widen, ...).
//
// Contract: nothing of its own; the helpers live in pure16/ops.hpp (a core header, so that
// optim/ and other areas use them without depending on nn/).
#pragma once

#include <pure16/ops.hpp>

namespace pure16::nn {
using pure16::column_sums;
using pure16::kChunk;
using pure16::load;
using pure16::MeanReducer;
using pure16::narrow;
using pure16::Reducer;
using pure16::row_sums;
using pure16::store;
using pure16::through;
using pure16::widen;
}  // namespace pure16::nn
