// Tests of pure16/analysis/report.hpp: tables, CSV files and JSON carry the report's values.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <pure16/analysis/report.hpp>
#include <sstream>
#include <string>
#include <vector>

using namespace pure16;
using namespace pure16::analysis;

namespace {

PrecisionReport small_report() {
  PrecisionAnalyzer an(
      TwinDescription{TwinKind::Rounded, "fp32", "bf16", Accumulate::Float, Accumulate::Native});
  // pR = (1/4, 3/4) vs pL = (1/2, 1/2): delta 1/4, Gamma 1/2 (boundary, disagree).
  an.add_sample(
      analyze_probabilities(std::vector<double>{0.25, 0.75}, std::vector<double>{0.5, 0.5}));
  // pR = (0.125, 0.875) vs pL = (0.25, 0.75): delta 1/8, Gamma 3/4 (strict, agree).
  an.add_sample(
      analyze_probabilities(std::vector<double>{0.125, 0.875}, std::vector<double>{0.25, 0.75}));
  return an.report();
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(f, l);) out.push_back(l);
  return out;
}

std::filesystem::path scratch(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / "pure16_test_analysis";
  std::filesystem::create_directories(dir);
  return dir / name;
}

}  // namespace

TEST_CASE("summary table shows each twin, its figures and the paper's") {
  const auto r = small_report();
  CHECK(r.delta.mean == 0.1875);
  CHECK(r.gamma.mean == 0.625);
  const std::string t = summary_table({r});
  CHECK(t.find("bf16 rounded (acc native) vs fp32") != std::string::npos);
  CHECK(t.find("1.88e-01") != std::string::npos);  // delta mean 0.1875
  CHECK(t.find("6.25e-01") != std::string::npos);  // Gamma mean 0.625
  CHECK(t.find("100.00%") != std::string::npos);   // both guaranteed
  CHECK(t.find("50.00%") != std::string::npos);    // strict and agreement
  CHECK(t.find("paper: fp16 vs fp32") != std::string::npos);
  CHECK(summary_table({r}, false).find("paper") == std::string::npos);
  std::ostringstream os;
  os << r;
  CHECK(os.str() == summary_table({r}, false));  // no layers, no violation
}

TEST_CASE("per-sample CSV holds one exact line per sample") {
  const auto r = small_report();
  const auto path = scratch("samples.csv").string();
  write_samples_csv(r, path);
  const auto lines = lines_of(path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[0] ==
        "index,label,pred_ref,pred_low,agree,finite,guaranteed,strict,delta,gamma,p_ref_top1");
  CHECK(lines[1] == "0,-1,1,0,0,1,1,0,0.25,0.5,0.75");
  CHECK(lines[2] == "1,-1,1,1,1,1,1,1,0.125,0.75,0.875");
  CHECK_THROWS_AS(write_samples_csv(r, "/nonexistent-dir/x.csv"), std::runtime_error);
}

TEST_CASE("histogram CSV and JSON carry the counts") {
  const auto r = small_report();
  const auto path = scratch("hist.csv").string();
  write_histograms_csv(r, path);
  const auto lines = lines_of(path);
  // header + per quantity: below, bins, above, nonfinite
  CHECK(lines.size() == 1 + (r.delta_hist.bins() + 3) + (r.gamma_hist.bins() + 3));
  std::size_t total = 0;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    if (lines[i].rfind("gamma,", 0) == 0)
      total += std::stoul(lines[i].substr(lines[i].rfind(',') + 1));
  }
  CHECK(total == 2);

  const auto j = to_json(r, true);
  CHECK(j["twin"]["label"] == "bf16 rounded (acc native) vs fp32");
  CHECK(j["twin"]["low_accumulate"] == "native");
  CHECK(j["samples"] == 2);
  CHECK(j["guaranteed"] == 2);
  CHECK(j["strict"] == 1);
  CHECK(j["boundary_disagreements"] == 1);
  CHECK(j["violations"] == 0);
  CHECK(j["delta"]["mean"].get<double>() == 0.1875);
  CHECK(j["gamma"]["max"].get<double>() == 0.75);
  CHECK(j["accuracy_ref"].is_null());  // no labels
  CHECK(j["per_sample"].size() == 2);
  CHECK(j["per_sample"][1]["delta"].get<double>() == 0.125);
}

TEST_CASE("layer table and layer CSV list every layer's error") {
  PrecisionAnalyzer an;
  const Tensor<float> a = Tensor<float>::from<float>({2, 2}, {1.0f, -2.0f, 3.0f, 4.0f});
  const Tensor<half> b = Tensor<half>::from<float>({2, 2}, {1.5f, -2.0f, 3.0f, 3.75f});
  const std::vector<Tensor<float>> ra{a};
  const std::vector<Tensor<half>> rb{b};
  const std::vector<std::string> types{"Dense"};
  an.add_layer_outputs<float, half>(ra, rb, types);
  const auto r = an.report();
  REQUIRE(r.layers.size() == 1);
  CHECK(r.layers[0].max_abs == 0.5);
  CHECK(r.layers[0].mean_abs == 0.1875);  // (0.5 + 0.25) / 4
  CHECK(r.layers[0].ref_max_abs == 4.0);
  CHECK(r.layers[0].relative() == 0.125);
  const std::string t = layer_table(r);
  CHECK(t.find("[N, 2]") != std::string::npos);
  CHECK(t.find("5.00e-01") != std::string::npos);
  CHECK(t.find("1.88e-01") != std::string::npos);
  const auto path = scratch("layers.csv").string();
  write_layers_csv(r, path);
  const auto lines = lines_of(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] == "0,Dense,4,0,0.5,0.1875,4,0.125");
}
