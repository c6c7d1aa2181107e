// examples/twins.hpp — train one network in every requested precision from the same seed
// and the same batches, then print and save the comparison.
//
// An example names its network (pure16/nn/zoo.hpp or its own nn::Spec) in an Experiment
// and calls run_twins(); each requested run (fp16, bf16, fp32, fp64, each 16-bit one once per
// --rounding, and mixed precision; see update_modes.hpp) then gets its own model, initialized from
// the same seed (same weights up to rounding), its own optimizer, and the same batches in the same
// order. Peak memory is measured per run by resetting the kernel's high-water mark before each run
// (train/memory.hpp); it includes the data set, which every run shares.
//
// run_twins is compiled once, in twins.cpp, for all examples: the four precisions'
// training code is instantiated there and not again in every example program.
#pragma once

#include <pure16/data/dataset.hpp>
#include <vector>

#include "cli.hpp"
#include "report.hpp"

namespace examples {

/// Train every requested precision, print the table, write the JSON.
std::vector<RunResult> run_twins(const Experiment& ex, const Options& o,
                                 const pure16::data::Dataset& train,
                                 const pure16::data::Dataset& test);

}  // namespace examples
