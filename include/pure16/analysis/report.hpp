// pure16/analysis/report.hpp — presenting PrecisionReports: text tables, CSV files and JSON.
//
// Contract:
//  * summary_table(reports, paper_row) formats one row per report (twin label, samples,
//    mean/variance/median/95 % of delta, mean/variance of Gamma, guaranteed and strict
//    fractions, agreement, violations, accuracies) and, when paper_row is set, a last row
//    with the published figures for fp16 vs fp32 (delta ~ 1e-3 with variance 1e-5..1e-4,
//    Gamma ~ 1e-1 with variance ~ 1e-2).
//  * operator<< prints one report: its summary row, its layer table, any violation message.
//  * layer_table(report) lists the per-layer error: max and mean |ref - low|, and max_abs
//    relative to the reference's largest |output|.
//  * write_samples_csv / write_layers_csv / write_histograms_csv write one header line and
//    one line per sample / layer / bin, numbers with 17 significant digits (exact round
//    trip of a double). A file that cannot be written throws pure16::Error naming it.
//  * to_json(report, with_samples) gives the summary (and optionally every sample) as
//    nlohmann::json; NaN becomes null.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <ostream>
#include <pure16/analysis/precision.hpp>
#include <pure16/error.hpp>
#include <sstream>
#include <string>
#include <vector>

namespace pure16::analysis {

namespace detail {
inline std::string sci(double v, int digits = 2) {
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*e", digits, v);
  return buf;
}
inline std::string pct(double v) {
  if (std::isnan(v)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.2f%%", 100.0 * v);
  return buf;
}
inline std::ofstream open_for_writing(const std::string& path, const char* who) {
  std::ofstream f(path);
  if (!f) {
    throw pure16::Error(std::string("pure16::analysis::") + who + ": cannot write '" + path + "'");
  }
  f << std::setprecision(17);
  return f;
}
inline void finish_writing(std::ofstream& f, const std::string& path, const char* who) {
  f.flush();
  if (!f) {
    throw pure16::Error(std::string("pure16::analysis::") + who + ": error writing '" + path + "'");
  }
}
inline nlohmann::json num(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}
}  // namespace detail

/// One row per report, plus the paper's figures (see the header comment).
inline std::string summary_table(const std::vector<PrecisionReport>& reports,
                                 bool paper_row = true) {
  std::ostringstream os;
  char line[512];
  const char* fmt = "%-34s %7s %10s %10s %10s %10s %10s %10s %8s %8s %8s %5s %8s %8s\n";
  std::snprintf(line, sizeof line, fmt, "twin", "n", "delta mean", "delta var", "delta p50",
                "delta p95", "Gamma mean", "Gamma var", "guar.", "strict", "agree", "viol",
                "acc ref", "acc low");
  os << line;
  for (const auto& r : reports) {
    std::snprintf(line, sizeof line, fmt, r.twin.label().c_str(), std::to_string(r.size()).c_str(),
                  detail::sci(r.delta.mean).c_str(), detail::sci(r.delta.variance).c_str(),
                  detail::sci(r.delta.median).c_str(), detail::sci(r.delta.q95).c_str(),
                  detail::sci(r.gamma.mean).c_str(), detail::sci(r.gamma.variance).c_str(),
                  detail::pct(r.guaranteed_fraction()).c_str(),
                  detail::pct(r.strict_fraction()).c_str(), detail::pct(r.agreement()).c_str(),
                  std::to_string(r.violations).c_str(), detail::pct(r.accuracy_ref()).c_str(),
                  detail::pct(r.accuracy_low()).c_str());
    os << line;
  }
  if (paper_row) {
    std::snprintf(line, sizeof line, fmt, "paper: fp16 vs fp32", "-", "~1e-3", "1e-5..1e-4", "-",
                  "-", "~1e-1", "~1e-2", "-", "-", "-", "0", "-", "-");
    os << line;
  }
  return os.str();
}

/// Per-layer error of one report.
inline std::string layer_table(const PrecisionReport& r) {
  std::ostringstream os;
  char line[256];
  const char* fmt = "%5s  %-12s %-18s %11s %11s %11s %11s\n";
  std::snprintf(line, sizeof line, fmt, "layer", "type", "output", "max |diff|", "mean |diff|",
                "max |ref|", "rel. max");
  os << line;
  for (const auto& e : r.layers) {
    // The batch dimension is shown as N: it varies between batches.
    std::ostringstream shape;
    shape << '[';
    for (std::size_t d = 0; d < e.shape.size(); ++d) {
      shape << (d ? ", " : "");
      if (d == 0) {
        shape << 'N';
      } else {
        shape << e.shape[d];
      }
    }
    shape << ']';
    std::snprintf(line, sizeof line, fmt, std::to_string(e.index).c_str(), e.type.c_str(),
                  shape.str().c_str(), detail::sci(e.max_abs).c_str(),
                  detail::sci(e.mean_abs).c_str(), detail::sci(e.ref_max_abs).c_str(),
                  detail::sci(e.relative()).c_str());
    os << line;
    if (e.nonfinite) os << "       (" << e.nonfinite << " non-finite elements left out)\n";
  }
  return os.str();
}

/// The one-row summary table of `r`, its per-layer error, and its violation message if any.
inline std::ostream& operator<<(std::ostream& os, const PrecisionReport& r) {
  os << summary_table({r}, false);
  if (!r.layers.empty()) os << layer_table(r);
  if (!r.theorem_holds()) os << r.violation_message() << '\n';
  return os;
}

/// index,label,pred_ref,pred_low,agree,finite,guaranteed,strict,delta,gamma,p_ref_top1
inline void write_samples_csv(const PrecisionReport& r, const std::string& path) {
  auto f = detail::open_for_writing(path, "write_samples_csv");
  f << "index,label,pred_ref,pred_low,agree,finite,guaranteed,strict,delta,gamma,p_ref_top1\n";
  for (const auto& s : r.samples) {
    f << s.index << ',' << s.label << ',' << s.pred_ref << ',' << s.pred_low << ',' << s.agree
      << ',' << s.finite << ',' << s.guaranteed << ',' << s.strict << ',' << s.delta << ','
      << s.gamma << ',' << s.p_ref_top1 << '\n';
  }
  detail::finish_writing(f, path, "write_samples_csv");
}

/// layer,type,elements,nonfinite,max_abs,mean_abs,ref_max_abs,relative
inline void write_layers_csv(const PrecisionReport& r, const std::string& path) {
  auto f = detail::open_for_writing(path, "write_layers_csv");
  f << "layer,type,elements,nonfinite,max_abs,mean_abs,ref_max_abs,relative\n";
  for (const auto& e : r.layers) {
    f << e.index << ',' << e.type << ',' << e.elements << ',' << e.nonfinite << ',' << e.max_abs
      << ',' << e.mean_abs << ',' << e.ref_max_abs << ',' << e.relative() << '\n';
  }
  detail::finish_writing(f, path, "write_layers_csv");
}

/// quantity,scale,lo,hi,count — the delta and Gamma histograms, one line per bin, plus
/// lines for the samples below / above the range (lo = hi = the edge) and non-finite ones.
inline void write_histograms_csv(const PrecisionReport& r, const std::string& path) {
  auto f = detail::open_for_writing(path, "write_histograms_csv");
  f << "quantity,scale,lo,hi,count\n";
  auto emit = [&](const char* q, const Histogram& h) {
    const char* sc = h.log_scale ? "log" : "linear";
    f << q << ',' << sc << ",-inf," << h.edges.front() << ',' << h.below << '\n';
    for (std::size_t k = 0; k < h.bins(); ++k) {
      f << q << ',' << sc << ',' << h.edges[k] << ',' << h.edges[k + 1] << ',' << h.counts[k]
        << '\n';
    }
    f << q << ',' << sc << ',' << h.edges.back() << ",inf," << h.above << '\n';
    f << q << ',' << sc << ",nan,nan," << h.nonfinite << '\n';
  };
  emit("delta", r.delta_hist);
  emit("gamma", r.gamma_hist);
  detail::finish_writing(f, path, "write_histograms_csv");
}

inline nlohmann::json to_json(const Summary& s) {
  return {{"count", s.count},
          {"nonfinite", s.nonfinite},
          {"mean", detail::num(s.mean)},
          {"variance", detail::num(s.variance)},
          {"stddev", detail::num(s.stddev)},
          {"min", detail::num(s.min)},
          {"q05", detail::num(s.q05)},
          {"q25", detail::num(s.q25)},
          {"median", detail::num(s.median)},
          {"q75", detail::num(s.q75)},
          {"q95", detail::num(s.q95)},
          {"max", detail::num(s.max)}};
}

inline nlohmann::json to_json(const Histogram& h) {
  return {{"scale", h.log_scale ? "log" : "linear"},
          {"edges", h.edges},
          {"counts", h.counts},
          {"below", h.below},
          {"above", h.above},
          {"nonfinite", h.nonfinite}};
}

inline nlohmann::json to_json(const PrecisionReport& r, bool with_samples = false) {
  nlohmann::json j;
  j["twin"] = {{"label", r.twin.label()},
               {"kind", std::string(twin_kind_name(r.twin.kind))},
               {"reference_type", r.twin.reference_type},
               {"low_type", r.twin.low_type},
               {"reference_accumulate", std::string(accumulate_name(r.twin.reference_accumulate))},
               {"low_accumulate", std::string(accumulate_name(r.twin.low_accumulate))}};
  j["samples"] = r.size();
  j["classes"] = r.classes;
  j["finite"] = r.finite;
  j["guaranteed"] = r.guaranteed;
  j["strict"] = r.strict;
  j["agree"] = r.agree;
  j["violations"] = r.violations;
  j["violation_indices"] = r.violation_indices;
  j["boundary_disagreements"] = r.boundary_disagreements;
  j["guaranteed_fraction"] = detail::num(r.guaranteed_fraction());
  j["agreement"] = detail::num(r.agreement());
  j["accuracy_ref"] = detail::num(r.accuracy_ref());
  j["accuracy_low"] = detail::num(r.accuracy_low());
  j["delta"] = to_json(r.delta);
  j["gamma"] = to_json(r.gamma);
  j["delta_histogram"] = to_json(r.delta_hist);
  j["gamma_histogram"] = to_json(r.gamma_hist);
  auto layers = nlohmann::json::array();
  for (const auto& e : r.layers) {
    layers.push_back({{"layer", e.index},
                      {"type", e.type},
                      {"elements", e.elements},
                      {"nonfinite", e.nonfinite},
                      {"max_abs", detail::num(e.max_abs)},
                      {"mean_abs", detail::num(e.mean_abs)},
                      {"ref_max_abs", detail::num(e.ref_max_abs)},
                      {"relative", detail::num(e.relative())}});
  }
  j["layers"] = layers;
  if (with_samples) {
    auto ss = nlohmann::json::array();
    for (const auto& s : r.samples) {
      ss.push_back({{"index", s.index},
                    {"label", s.label},
                    {"pred_ref", s.pred_ref},
                    {"pred_low", s.pred_low},
                    {"delta", detail::num(s.delta)},
                    {"gamma", detail::num(s.gamma)},
                    {"guaranteed", s.guaranteed},
                    {"strict", s.strict},
                    {"agree", s.agree}});
    }
    j["per_sample"] = ss;
  }
  return j;
}

}  // namespace pure16::analysis
