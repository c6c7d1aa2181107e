// train/: learning-rate schedules, CSV log, memory figures, and fit()/evaluate() on a small
// synthetic problem (learnability, non-finite guard policies, exact resume, CSV content).
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <numbers>
#include <pure16/data/dataset.hpp>
#include <pure16/nn/nn.hpp>
#include <pure16/optim/optim.hpp>
#include <pure16/train/checkpoint.hpp>
#include <pure16/train/train.hpp>
#include <sstream>
#include <string>
#include <vector>

using namespace pure16;
namespace fs = std::filesystem;

namespace {

// Three well separated Gaussian blobs in 4-d (as 1x2x2 "images"), labels 0..2. Sample
// `bad`, if given, holds an infinity.
data::Dataset blobs(std::size_t n, std::uint64_t seed, std::size_t bad = std::size_t(-1)) {
  Rng rng(seed);
  std::vector<float> x(n * 4);
  std::vector<std::int32_t> y(n);
  const double centers[3][4] = {{2, 0, 0, 1}, {-1, 2, 1, -1}, {0, -2, -1, 1}};
  for (std::size_t i = 0; i < n; ++i) {
    y[i] = std::int32_t(rng.below(3));
    for (int k = 0; k < 4; ++k) x[i * 4 + k] = float(centers[y[i]][k] + 0.5 * rng.normal());
  }
  if (bad < n) x[bad * 4 + 1] = INFINITY;
  return data::Dataset::from_float("blobs", {n, 1, 2, 2}, std::move(x), std::move(y), 3);
}

template <Scalar T>
nn::Sequential<T> small_mlp(std::uint64_t seed) {
  nn::Sequential<T> m;
  m.template add<nn::Dense>(4, 16);
  m.template add<nn::ReLU>();
  m.template add<nn::Dense>(16, 3);
  m.init(seed);
  return m;
}

std::vector<std::string> lines_of(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("pure16_train_" + std::to_string(::getpid()) + "_" + name))
      .string();
}

}  // namespace

TEST_CASE("learning-rate schedules against their formulas") {
  train::Schedule s;
  CHECK(s.lr(0.1, 5, 500, 1000) == 0.1);
  s.kind = train::Schedule::Kind::Step;
  s.step_epochs = 3;
  s.gamma = 0.5;
  CHECK(s.lr(0.1, 0, 0, 100) == doctest::Approx(0.1));
  CHECK(s.lr(0.1, 2, 0, 100) == doctest::Approx(0.1));
  CHECK(s.lr(0.1, 3, 0, 100) == doctest::Approx(0.05));
  CHECK(s.lr(0.1, 7, 0, 100) == doctest::Approx(0.025));
  s.kind = train::Schedule::Kind::Cosine;
  s.min_lr = 0.001;
  CHECK(s.lr(0.1, 0, 0, 100) == doctest::Approx(0.1));
  CHECK(s.lr(0.1, 0, 50, 100) == doctest::Approx(0.001 + 0.099 * 0.5));
  CHECK(s.lr(0.1, 0, 25, 100) ==
        doctest::Approx(0.001 + 0.099 * 0.5 * (1 + std::cos(std::numbers::pi / 4))));
  CHECK(s.lr(0.1, 0, 100, 100) == doctest::Approx(0.001));
  s.warmup_steps = 10;
  CHECK(s.lr(0.1, 0, 0, 100) == doctest::Approx(0.01));
  CHECK(train::Schedule::parse("cosine") == train::Schedule::Kind::Cosine);
  CHECK_THROWS_AS(train::Schedule::parse("linear"), pure16::InvalidArgument);
}

TEST_CASE("memory figures from /proc") {
  if (!fs::exists("/proc/self/status")) return;
  train::reset_peak_rss();  // may be unsupported; the checks below hold either way
  const std::size_t before = train::current_rss_bytes();
  CHECK(before > 0);
  CHECK(train::peak_rss_bytes() >= before);
  {
    // Touch 64 MiB: the peak must grow by about that much.
    std::vector<char> big(64u << 20);
    for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = char(i);
    CHECK(train::peak_rss_bytes() >= before + (60u << 20));
    CHECK(big[4096] == char(4096));
  }
  // After the reset the high-water mark drops back to the current RSS (when supported;
  // whether the freed 64 MiB left the RSS depends on the allocator, e.g. not under ASan).
  if (train::reset_peak_rss()) {
    CHECK(train::peak_rss_bytes() <= train::current_rss_bytes() + (4u << 20));
  }
}

TEST_CASE_TEMPLATE("fit learns a separable problem and logs every epoch", T, half, float) {
  const data::Dataset tr = blobs(600, 1), te = blobs(300, 2);
  auto model = small_mlp<T>(7);
  optim::SGDOptions so;
  so.lr = 0.1;
  so.momentum = 0.9;
  optim::SGD<T> opt(model.parameters(), so);
  train::FitOptions fo;
  fo.epochs = 4;
  fo.batch_size = 32;
  fo.lr = 0.1;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  fo.csv_path = temp_path(std::string(scalar_traits<T>::name) + ".csv");
  int calls = 0;
  fo.on_epoch_end = [&](const train::EpochEnd& e) {
    ++calls;
    CHECK(e.stats.epoch == calls);
    CHECK(e.step == std::int64_t(calls) * 19);  // ceil(600 / 32) batches per epoch
  };
  const auto before = train::evaluate(model, te, data::Layout::Flat);
  const auto r = train::fit(model, opt, tr, &te, fo);
  CHECK(calls == 4);
  REQUIRE(r.epochs.size() == 4);
  CHECK(r.steps == 76);
  CHECK(r.epochs.back().train_loss < r.epochs.front().train_loss);
  CHECK(r.epochs.back().train_loss < 0.2);
  CHECK(r.test.accuracy > 0.95);
  CHECK(before.accuracy < 0.8);
  CHECK(r.test.predictions.size() == 300);
  // evaluate() agrees with counting correct predictions by hand.
  std::size_t correct = 0;
  for (std::size_t i = 0; i < 300; ++i) correct += r.test.predictions[i] == te.labels()[i];
  CHECK(r.test.accuracy == doctest::Approx(double(correct) / 300.0));
  CHECK(opt.steps() == 76);

  const auto lines = lines_of(fo.csv_path);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] ==
        "epoch,train_loss,train_acc,test_acc,seconds,lr,skipped,test_loss,loss_scale,"
        "overflow_skipped,cpu_seconds");
  std::istringstream last(lines[4]);
  std::string field;
  std::vector<std::string> fields;
  while (std::getline(last, field, ',')) fields.push_back(field);
  REQUIRE(fields.size() == 11);
  CHECK(fields[0] == "4");
  CHECK(std::stod(fields[7]) == doctest::Approx(r.test.loss).epsilon(1e-6));
  CHECK(fields[8] == "1");  // a pure run has no loss scale
  CHECK(fields[9] == "0");
  CHECK(std::stod(fields[10]) >= 0.0);
  CHECK(std::stod(fields[1]) == doctest::Approx(r.epochs.back().train_loss).epsilon(1e-6));
  CHECK(std::stod(fields[3]) == doctest::Approx(r.test.accuracy).epsilon(1e-6));
  CHECK(std::stod(fields[5]) == doctest::Approx(0.1));
  fs::remove(fo.csv_path);
}

TEST_CASE("fit resumed after an epoch continues exactly like an uninterrupted run") {
  const data::Dataset tr = blobs(200, 3);
  train::FitOptions fo;
  fo.epochs = 3;
  fo.batch_size = 16;
  fo.lr = 0.05;
  fo.seed = 11;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  optim::SGDOptions so;
  so.lr = 0.05;
  so.momentum = 0.9;

  auto a = small_mlp<float>(5);
  optim::SGD<float> oa(a.parameters(), so);
  train::fit(a, oa, tr, nullptr, fo);

  auto b = small_mlp<float>(5);
  optim::SGD<float> ob(b.parameters(), so);
  train::FitOptions first = fo;
  first.epochs = 1;
  std::optional<train::EpochEnd> saved;
  Rng::State shuffle{};
  std::int64_t step = 0;
  first.on_epoch_end = [&](const train::EpochEnd& e) {
    shuffle = e.shuffle_state;
    step = e.step;
  };
  train::fit(b, ob, tr, nullptr, first);
  train::FitOptions rest = fo;
  rest.start_epoch = 1;
  rest.start_step = step;
  rest.shuffle_state = shuffle;
  const auto r = train::fit(b, ob, tr, nullptr, rest);
  CHECK(r.epochs.size() == 2);
  CHECK(r.epochs.front().epoch == 2);
  auto pa = a.parameters(), pb = b.parameters();
  REQUIRE(pa.size() == pb.size());
  for (std::size_t i = 0; i < pa.size(); ++i)
    for (std::size_t k = 0; k < pa[i]->value.size(); ++k) CHECK(pa[i]->value[k] == pb[i]->value[k]);
}

TEST_CASE("non-finite guard: stop names the step, skip drops the batch") {
  // Sample 5 holds an infinity; without shuffling it is in batch 0 of every epoch.
  const data::Dataset tr = blobs(64, 4, 5);
  train::FitOptions fo;
  fo.epochs = 3;
  fo.batch_size = 16;
  fo.lr = 0.05;
  fo.shuffle = false;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  optim::SGDOptions so;
  so.lr = 0.05;

  SUBCASE("stop") {
    auto m = small_mlp<half>(1);
    optim::SGD<half> opt(m.parameters(), so);
    fo.on_non_finite = train::NonFinitePolicy::Stop;
    try {
      train::fit(m, opt, tr, nullptr, fo);
      FAIL("no NonFiniteError");
    } catch (const nn::NonFiniteError& e) {
      const std::string what = e.what();
      CHECK(what.find("epoch 1, batch 0 (step 0)") != std::string::npos);
      CHECK(what.find("fp16") != std::string::npos);
    }
    CHECK(opt.steps() == 0);
  }
  SUBCASE("skip") {
    auto m = small_mlp<half>(1);
    optim::SGD<half> opt(m.parameters(), so);
    fo.on_non_finite = train::NonFinitePolicy::Skip;
    const auto r = train::fit(m, opt, tr, nullptr, fo);
    CHECK(r.skipped == 3);
    for (const auto& e : r.epochs) CHECK(e.skipped == 1);
    CHECK(opt.steps() == 9);  // 4 batches per epoch, 1 skipped
    for (auto* p : m.parameters())
      for (std::size_t k = 0; k < p->value.size(); ++k) CHECK(std::isfinite(float(p->value[k])));
    CHECK(std::isfinite(r.final_train_loss()));
  }
}

TEST_CASE_TEMPLATE("the guard's fast finiteness scan", T, half, bfloat16, float, double) {
  Tensor<T> t({1000});
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = T(float(i) - 500.0f);
  t[3] = scalar_traits<T>::max();
  t[4] = T(-double(scalar_traits<T>::max()));
  t[5] = scalar_traits<T>::min_subnormal();
  CHECK(train::detail::all_finite(t));
  for (double bad : {double(INFINITY), -double(INFINITY), double(NAN)}) {
    for (std::size_t at : {std::size_t(0), std::size_t(517), std::size_t(999)}) {
      Tensor<T> u = t.clone();
      u[at] = T(bad);
      CHECK_FALSE(train::detail::all_finite(u));
    }
  }
  CHECK(train::detail::all_finite(Tensor<T>()));
}

TEST_CASE_TEMPLATE("fit with checkpoints: resuming from the file is bit-identical", T, half,
                   float) {
  const data::Dataset tr = blobs(160, 9);
  train::FitOptions fo;
  fo.epochs = 3;
  fo.batch_size = 16;
  fo.lr = 0.05;
  fo.seed = 3;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  optim::SGDOptions so;
  so.lr = 0.05;
  so.momentum = 0.9;
  const std::string path = temp_path(std::string(scalar_traits<T>::name) + ".ckpt");

  auto a = small_mlp<T>(5);
  optim::SGD<T> oa(a.parameters(), so);
  train::fit(a, oa, tr, nullptr, fo);

  {
    // A run killed after its first epoch, with a checkpoint written at each epoch's end.
    auto b = small_mlp<T>(5);
    optim::SGD<T> ob(b.parameters(), so);
    train::FitOptions first = fo;
    first.epochs = 1;
    first.on_epoch_end = train::checkpoint_each_epoch(path, b, ob);
    train::fit(b, ob, tr, nullptr, first);
  }
  auto c = small_mlp<T>(99);  // other initial weights: all replaced by the checkpoint
  optim::SGD<T> oc(c.parameters(), so);
  train::FitOptions rest = fo;
  const auto st = train::resume_from_checkpoint(path, c, oc, rest);
  CHECK(st.epoch == 1);
  CHECK(st.step == 10);
  CHECK(rest.start_epoch == 1);
  CHECK(oc.steps() == 10);
  train::fit(c, oc, tr, nullptr, rest);
  auto pa = a.parameters(), pc = c.parameters();
  for (std::size_t i = 0; i < pa.size(); ++i)
    for (std::size_t k = 0; k < pa[i]->value.size(); ++k)
      CHECK(float(pa[i]->value[k]) == float(pc[i]->value[k]));
  fs::remove(path);
}

TEST_CASE("non-finite guard after the update: names the parameter and the step that broke it") {
  // Inputs of magnitude ~100 and lr 1e4 in fp16: the loss and gradients of step 0 are
  // finite, but the update w -= lr * g overflows weights to infinity (fp16 max 65504). The
  // guard used to notice only at the next step, through the loss. The reference is a replay
  // of the same batches by hand, checking every value with std::isfinite after each step.
  const data::Dataset small = blobs(64, 9);
  std::vector<float> big(small.values().begin(), small.values().end());
  for (auto& v : big) v *= 50.0f;
  const data::Dataset tr = data::Dataset::from_float(
      "big", {64, 1, 2, 2}, std::move(big),
      std::vector<std::int32_t>(small.labels().begin(), small.labels().end()), 3);
  train::FitOptions fo;
  fo.epochs = 3;
  fo.batch_size = 16;
  fo.lr = 1e4;
  fo.shuffle = false;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  optim::SGDOptions so;
  so.lr = fo.lr;

  std::int64_t want_step = -1;
  std::string want_tensor;
  {
    auto m = small_mlp<half>(3);
    optim::SGD<half> opt(m.parameters(), so);
    data::Loader loader(tr, fo.batch_size, false, fo.seed);
    std::int64_t step = 0;
    for (int e = 0; e < fo.epochs && want_step < 0; ++e) {
      loader.start_epoch();
      for (std::size_t b = 0; b < loader.num_batches() && want_step < 0; ++b, ++step) {
        const auto x = loader.inputs<half>(b, fo.layout);
        const auto y = loader.labels(b);
        const auto logits = m.forward(x, nn::Mode::Train);
        const auto out = nn::softmax_cross_entropy<half>(logits, std::span<const std::int32_t>(y),
                                                         fo.loss_accumulate);
        REQUIRE(std::isfinite(out.loss));  // the loss is fine: the update breaks the weights
        m.backward(out.grad);
        opt.step();
        for (std::size_t li = 0; li < m.size() && want_step < 0; ++li)
          for (auto* p : m[li].parameters())
            for (std::size_t k = 0; k < p->value.size() && want_step < 0; ++k)
              if (!std::isfinite(float(p->value[k]))) {
                want_step = step;
                want_tensor = std::to_string(li) + "." + p->name;
              }
      }
    }
  }
  REQUIRE(want_step >= 0);  // the replay does overflow

  for (auto policy : {train::NonFinitePolicy::Stop, train::NonFinitePolicy::Skip}) {
    auto m = small_mlp<half>(3);
    optim::SGD<half> opt(m.parameters(), so);
    fo.on_non_finite = policy;
    try {
      train::fit(m, opt, tr, nullptr, fo);
      FAIL("no NonFiniteError");
    } catch (const nn::NonFiniteError& e) {
      CHECK(e.step() == want_step);
      CHECK(e.tensor() == want_tensor);
      const std::string what = e.what();
      CHECK_MESSAGE(what.find("the optimizer update made " + want_tensor) != std::string::npos,
                    what);
    }
    CHECK(opt.steps() == want_step + 1);
  }
}

TEST_CASE("skip policy: a run whose every batch was skipped ends in an error") {
  // Every value infinite: every batch's loss is non-finite, every batch skipped.
  std::vector<float> x(32 * 4, INFINITY);
  std::vector<std::int32_t> y(32, 1);
  const auto tr = data::Dataset::from_float("inf", {32, 1, 2, 2}, std::move(x), std::move(y), 3);
  auto m = small_mlp<float>(1);
  optim::SGD<float> opt(m.parameters(), {});
  train::FitOptions fo;
  fo.epochs = 1;
  fo.batch_size = 16;
  fo.layout = data::Layout::Flat;
  fo.quiet = true;
  fo.on_non_finite = train::NonFinitePolicy::Skip;
  CHECK_THROWS_WITH_AS(train::fit(m, opt, tr, nullptr, fo),
                       doctest::Contains("every one of the 2 batches was skipped"),
                       nn::NonFiniteError);
  CHECK(opt.steps() == 0);
}
