// pure16/train/train.hpp — umbrella header of pure16's training layer: fit/evaluate,
// learning-rate schedules, progress bar, CSV log, memory figures and checkpoints.
#pragma once

#include <pure16/train/checkpoint.hpp>
#include <pure16/train/csv_log.hpp>
#include <pure16/train/fit.hpp>
#include <pure16/train/memory.hpp>
#include <pure16/train/progress.hpp>
#include <pure16/train/schedule.hpp>
