// precision_report — how far 16-bit twins of fp32 classifiers are from them, and when their
// predictions provably agree (pure16/analysis/precision.hpp).
//
// For each data set (an MNIST 784-512-512-10 ReLU MLP, a small CIFAR-10 CNN) it trains an
// fp32 model (or loads one with --load-mnist / --load-cifar), builds its twins
//   fp16 rounded (acc float)   the fp32 weights rounded to fp16: the theorem's setting
//   bf16 rounded (acc float)   the same in bfloat16
//   fp16 rounded (acc native)  fp16 weights, every dot product accumulated in fp16 itself
//   fp16 trained (acc float)   an fp16 model trained on its own from the same seed
// and compares each with the fp32 model on the test set: per sample delta = max_i |p32_i -
// p16_i| and Gamma = top-1 minus top-2 probability of fp32, whether Gamma >= 2 delta (which
// guarantees equal predictions), agreement, and theorem violations (must be 0; the program
// exits with status 2 and names the samples otherwise). It prints the summary table beside
// the published figures (delta ~ 1e-3 with variance 1e-5..1e-4, Gamma ~ 1e-1 with variance
// ~ 1e-2) and the per-layer error, and optionally writes per-sample CSV files, a JSON report
// and PNG histograms (tools/plot_precision.py, run with /usr/bin/python3).
//
//   precision_report --data ../shared/data --epochs 2 --csv out --plot
//   precision_report --dataset cifar10 --train-limit 10000 --epochs 1 --json cifar.json
//   precision_report --dataset mnist --load-mnist mlp_fp32.safetensors --no-trained
#include <pure16/analysis/analysis.hpp>
#include <pure16/data/cifar10.hpp>
#include <pure16/data/idx.hpp>
#include <pure16/io/safetensors.hpp>
#include <pure16/nn/zoo.hpp>
#include <pure16/train/fit.hpp>

#include "cli.hpp"
#include "optimizer.hpp"
#include "report.hpp"

namespace {

namespace fs = std::filesystem;
namespace an = pure16::analysis;
using pure16::Accumulate;
using pure16::bfloat16;
using pure16::half;
using pure16::nn::Sequential;

struct Config {
  std::string dataset = "both";
  int epochs = -1;  // -1: per data set default
  std::string data;
  std::size_t train_limit = 0;
  std::size_t test_limit = 0;
  std::string csv_dir;
  std::string json;
  bool plot = false;
  std::string plot_dir;
  std::string load_mnist, load_cifar, save_dir;
  bool trained = true;
  std::uint64_t seed = 1;
  int threads = 0;
  bool quiet = false;
};

/// One data set's experiment: how to build its model and train it.
struct Setup {
  std::string name;   // "mnist", "cifar10"
  std::string model;  // description
  pure16::data::Layout layout;
  int default_epochs;
  examples::Options train;  // optimizer and batch settings
};

/// The data set's network (pure16/nn/zoo.hpp).
pure16::nn::zoo::Network network(const Setup& s) {
  return s.name == "mnist" ? pure16::nn::zoo::mnist_mlp() : pure16::nn::zoo::cifar_small_cnn();
}

/// The folder holding a data set's files: DIR/<sub> when it exists, else DIR itself.
std::string data_dir(const Config& c, const std::vector<std::string>& subs,
                     const std::string& cache_name) {
  if (c.data.empty()) return examples::default_data_dir(cache_name);
  for (const auto& s : subs) {
    if (fs::is_directory(fs::path(c.data) / s)) return (fs::path(c.data) / s).string();
  }
  return c.data;
}

/// Train a fresh model of type T (initialised from the seed) and return it.
template <class T>
void train_model(Sequential<T>& model, const Setup& s, const Config& c, int epochs,
                 const pure16::data::Dataset& train, const pure16::data::Dataset& test) {
  namespace tr = pure16::train;
  auto opt = examples::make_optimizer(model, s.train);
  tr::FitOptions fo;
  fo.epochs = epochs;
  fo.batch_size = s.train.batch;
  fo.seed = c.seed;
  fo.layout = s.layout;
  fo.lr = s.train.lr;
  fo.loss_accumulate = model.accumulate();
  fo.quiet = c.quiet;
  fo.label = s.name + " " + std::string(pure16::scalar_traits<T>::name);
  fo.on_epoch_end = [&](const tr::EpochEnd& e) {
    if (c.quiet) return;
    std::fprintf(stderr, "[%s] epoch %d/%d  train loss %.4f  test acc %.2f %%  %.1f s\n",
                 fo.label.c_str(), e.stats.epoch, epochs, e.stats.train_loss,
                 100.0 * e.stats.test_accuracy, e.stats.seconds);
  };
  tr::fit(model, *opt, train, &test, fo);
}

std::string slug(const an::PrecisionReport& r) {
  return r.twin.low_type + "_" + std::string(an::twin_kind_name(r.twin.kind)) + "_" +
         std::string(an::accumulate_name(r.twin.low_accumulate));
}

/// Run one data set: model, twins, reports. Returns the reports.
std::vector<an::PrecisionReport> run(const Setup& s, const Config& c, nlohmann::json& js) {
  pure16::data::Dataset train, test;
  if (s.name == "mnist") {
    const std::string dir = data_dir(c, {"mnist"}, "mnist");
    train = pure16::data::load_mnist(dir, "train");
    test = pure16::data::load_mnist(dir, "t10k");
  } else {
    const std::string dir = data_dir(c, {"cifar-10-batches-bin", "cifar-10"}, "cifar-10");
    train = pure16::data::load_cifar10(dir, "train", c.train_limit);
    test = pure16::data::load_cifar10(dir, "test", c.test_limit);
  }
  if (c.train_limit) train = std::move(train).head(c.train_limit);
  if (c.test_limit) test = std::move(test).head(c.test_limit);
  if (s.name == "cifar10") {
    const auto norm = pure16::data::channel_stats(train);
    train.set_normalization(norm);
    test.set_normalization(norm);
  }
  const int epochs = c.epochs >= 0 ? c.epochs : s.default_epochs;
  const std::string load = s.name == "mnist" ? c.load_mnist : c.load_cifar;

  const auto net = network(s);
  Sequential<float> ref(net.spec, net.input_shape);
  if (!load.empty()) {
    pure16::io::load_safetensors(load, ref);
    if (!c.quiet)
      std::fprintf(stderr, "[%s] loaded fp32 model from %s\n", s.name.c_str(), load.c_str());
  } else {
    ref.init(c.seed);
    train_model(ref, s, c, epochs, train, test);
  }
  if (!c.save_dir.empty()) {
    fs::create_directories(c.save_dir);
    pure16::io::save_safetensors(fs::path(c.save_dir) / (s.name + "_fp32.safetensors"), ref);
  }

  an::CompareOptions co;
  co.layout = s.layout;
  co.batch_size = 500;
  std::vector<an::PrecisionReport> reports;
  {
    auto h = an::rounded_twin<half>(ref, Accumulate::Float);
    reports.push_back(an::compare(ref, h, test, an::TwinKind::Rounded, co));
  }
  {
    auto b = an::rounded_twin<bfloat16>(ref, Accumulate::Float);
    reports.push_back(an::compare(ref, b, test, an::TwinKind::Rounded, co));
  }
  {
    auto hn = an::rounded_twin<half>(ref, Accumulate::Native);
    reports.push_back(an::compare(ref, hn, test, an::TwinKind::Rounded, co));
  }
  if (c.trained) {
    auto t = an::trained_twin<half>(
        ref, c.seed, [&](Sequential<half>& m) { train_model(m, s, c, epochs, train, test); });
    if (!c.save_dir.empty()) {
      pure16::io::save_safetensors(fs::path(c.save_dir) / (s.name + "_fp16_trained.safetensors"),
                                   t);
    }
    reports.push_back(an::compare(ref, t, test, an::TwinKind::Trained, co));
  }

  std::ostringstream os;
  os << "\n== " << s.name << ": " << s.model << ", " << train.size() << " train / " << test.size()
     << " test samples, "
     << (load.empty() ? std::to_string(epochs) + " epochs" : "loaded from " + load) << ", seed "
     << c.seed << ", " << examples::thread_count() << " threads\n\n";
  os << an::summary_table(reports) << '\n';
  os << "guar. = Gamma >= 2 delta (prediction guaranteed equal), strict = Gamma > 2 delta "
        "beyond rounding,\nviol = strict samples whose predictions differ (must be 0).\n";
  for (const auto& r : reports) {
    os << "\nper-layer error, " << r.twin.label() << ":\n" << an::layer_table(r);
    if (r.boundary_disagreements) {
      os << "  " << r.boundary_disagreements
         << " disagreement(s) at Gamma == 2 delta (a tie the theorem allows)\n";
    }
  }
  std::cout << os.str() << std::flush;

  if (!c.csv_dir.empty()) {
    fs::create_directories(c.csv_dir);
    for (const auto& r : reports) {
      const fs::path base = fs::path(c.csv_dir) / (s.name + "_" + slug(r));
      an::write_samples_csv(r, base.string() + "_samples.csv");
      an::write_layers_csv(r, base.string() + "_layers.csv");
      an::write_histograms_csv(r, base.string() + "_histograms.csv");
    }
  }
  nlohmann::json d;
  d["model"] = s.model;
  d["train_samples"] = train.size();
  d["test_samples"] = test.size();
  d["epochs"] = load.empty() ? nlohmann::json(epochs) : nlohmann::json(nullptr);
  d["loaded_from"] = load;
  d["seed"] = c.seed;
  d["reports"] = nlohmann::json::array();
  for (const auto& r : reports) d["reports"].push_back(an::to_json(r));
  js[s.name] = d;
  return reports;
}

/// tools/plot_precision.py next to this source file's folder.
std::string plot_script() {
  return (fs::path(__FILE__).parent_path().parent_path() / "tools" / "plot_precision.py").string();
}

}  // namespace

int main(int argc, char** argv) {
  Config c;
  CLI::App app{
      "pure16 precision_report: delta, Gamma and the agreement theorem for 16-bit twins of "
      "fp32 classifiers"};
  app.add_option("--dataset", c.dataset, "mnist | cifar10 | both")
      ->check(CLI::IsMember({"mnist", "cifar10", "both"}))
      ->capture_default_str();
  app.add_option("--epochs", c.epochs,
                 "training epochs of every model (default: 3 for MNIST, 2 for CIFAR-10)");
  app.add_option("--data", c.data,
                 "folder holding mnist/ and cifar-10-batches-bin/ (or one data set's files); "
                 "default: the folder scripts/fetch_data.sh fills");
  app.add_option("--train-limit", c.train_limit, "use only the first N training samples");
  app.add_option("--test-limit", c.test_limit, "compare on the first N test samples only");
  app.add_option("--csv", c.csv_dir,
                 "write <dataset>_<twin>_{samples,layers,histograms}.csv into this folder");
  app.add_option("--json", c.json, "write every report as JSON to this file");
  app.add_flag("--plot", c.plot,
               "plot delta and Gamma histograms as PNG (needs the CSV files: --csv, default "
               "'precision_report')");
  app.add_option("--plot-dir", c.plot_dir, "folder of the PNG files (default: the --csv folder)");
  app.add_option("--load-mnist", c.load_mnist, "fp32 MNIST MLP weights (safetensors) to load")
      ->check(CLI::ExistingFile);
  app.add_option("--load-cifar", c.load_cifar, "fp32 CIFAR-10 CNN weights (safetensors) to load")
      ->check(CLI::ExistingFile);
  app.add_option("--save", c.save_dir, "save the fp32 models and trained fp16 twins here");
  app.add_flag("!--no-trained", c.trained, "skip the independently trained fp16 twin");
  app.add_option("--seed", c.seed, "seed of the initial weights and shuffling")
      ->capture_default_str();
  app.add_option("--threads", c.threads, "OpenMP threads (0 = the OpenMP default)");
  app.add_flag("--quiet", c.quiet, "no progress output on stderr");
  CLI11_PARSE(app, argc, argv);

  return examples::guarded_main([&] {
    examples::Options eo;
    eo.threads = c.threads;
    examples::apply_options(eo);
    if (c.plot && c.csv_dir.empty()) c.csv_dir = "precision_report";

    std::vector<Setup> setups;
    if (c.dataset == "mnist" || c.dataset == "both") {
      Setup s{"mnist", pure16::nn::zoo::mnist_mlp().description, pure16::data::Layout::Flat, 3, {}};
      s.train.batch = 128;
      s.train.lr = 0.05;
      s.train.optimizer = "momentum";
      s.train.momentum = 0.9;
      setups.push_back(s);
    }
    if (c.dataset == "cifar10" || c.dataset == "both") {
      Setup s{"cifar10",
              pure16::nn::zoo::cifar_small_cnn().description,
              pure16::data::Layout::NCHW,
              2,
              {}};
      s.train.batch = 64;
      s.train.lr = 0.02;
      s.train.optimizer = "momentum";
      s.train.momentum = 0.9;
      setups.push_back(s);
    }

    nlohmann::json js;
    std::size_t violations = 0;
    std::vector<std::string> csv_prefixes;
    for (const auto& s : setups) {
      for (const auto& r : run(s, c, js)) {
        if (!r.theorem_holds()) {
          std::cerr << "\n!!! " << r.violation_message() << "\n\n";
          violations += r.violations;
        }
      }
      csv_prefixes.push_back(s.name);
    }
    if (!c.json.empty()) examples::write_text_file(c.json, js.dump(2) + "\n");
    if (c.plot) {
      const std::string out = c.plot_dir.empty() ? c.csv_dir : c.plot_dir;
      for (const auto& p : csv_prefixes) {
        const std::string cmd = "/usr/bin/python3 '" + plot_script() + "' --csv-dir '" + c.csv_dir +
                                "' --dataset " + p + " --out-dir '" + out + "'";
        if (std::system(cmd.c_str()) != 0) {
          std::cerr << "warning: plotting failed: " << cmd << '\n';
        }
      }
    }
    if (violations) {
      std::cerr << "precision_report: " << violations << " THEOREM VIOLATION(S) — see above\n";
      return 2;
    }
    return 0;
  });
}
