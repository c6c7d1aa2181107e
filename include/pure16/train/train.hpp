// pure16/train/train.hpp — umbrella header of pure16's training layer: fit/evaluate,
// losses with their metrics, learning-rate schedules, progress bar, CSV log, memory figures,
// checkpoints, and the per-epoch divergence watch against an fp32 shadow.
#pragma once

#include <pure16/train/checkpoint.hpp>
#include <pure16/train/csv_log.hpp>
#include <pure16/train/divergence.hpp>
#include <pure16/train/fit.hpp>
#include <pure16/train/loss.hpp>
#include <pure16/train/memory.hpp>
#include <pure16/train/progress.hpp>
#include <pure16/train/schedule.hpp>
