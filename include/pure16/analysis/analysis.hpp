// pure16/analysis/analysis.hpp — umbrella header of the precision analysis: statistics,
// the delta / Gamma comparison of twin models with its theorem check, and reports.
#pragma once

#include <pure16/analysis/precision.hpp>
#include <pure16/analysis/report.hpp>
#include <pure16/analysis/statistics.hpp>
