// mnist_autoencoder — beyond classification: an MNIST autoencoder trained to reconstruct its
// input under mean squared error, in fp16, fp32, mixed precision and compensated fp16 side
// by side, from the same seed and the same batches.
//
// Network (pure16/nn/zoo.hpp mnist_autoencoder): 784-256-64-256-784, ReLU, sigmoid output;
// the target of each image is the image itself (pixels in [0, 1]). The loss is
// mean((x_hat - x)^2) over all 784 pixels of the batch, so a gradient element is at most
// 2 / (batch * 784) (2.0e-5 at batch 128): below fp16's smallest normal number (6.1e-5),
// which is the question this example asks of pure 16-bit training; --reduction sum minimizes
// the per-sample sum of squares instead (784x larger gradients, same minimizer). Adam, lr
// 1e-3 by default. The table reports the test set's reconstruction error (MSE) per run
// instead of an accuracy.
//
//   mnist_autoencoder
//   mnist_autoencoder --reduction sum --precision fp32,fp16,fp16+stochastic --epochs 10
#include <pure16/data/idx.hpp>
#include <pure16/nn/zoo.hpp>
#include <vector>

#include "cli.hpp"
#include "twins.hpp"

namespace {

/// Every image is its own target: the pixel values the model sees, in float.
void targets_are_inputs(pure16::data::Dataset& d) {
  const std::size_t n = d.size(), k = d.sample_size();
  std::vector<float> t(n * k);
  for (std::size_t s = 0; s < n; ++s) {
    for (std::size_t i = 0; i < k; ++i) t[s * k + i] = d.value(s, i);
  }
  d.set_targets(std::move(t), k);
}

}  // namespace

int main(int argc, char** argv) {
  examples::Options o;
  o.precisions = {"fp32", "fp16", "fp16+compensated", "mixed"};
  o.epochs = 10;
  o.batch = 128;
  o.lr = 0.001;
  o.optimizer = "adam";
  CLI::App app{"pure16 mnist_autoencoder: MSE reconstruction of MNIST, fp16 beside fp32"};
  std::string reduction = "mean";
  examples::add_options(app, o);
  app.add_option("--reduction", reduction,
                 "mean: minimize the mean over all pixels (gradients ~1e-5, subnormal in fp16); "
                 "sum: the sum over a sample's 784 pixels, mean over the batch (784x larger "
                 "gradients; the same minimizer; MSE is reported either way)")
      ->check(CLI::IsMember({"mean", "sum"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  return examples::guarded_main([&] {
    examples::apply_options(o);
    const std::string dir = o.data.empty() ? examples::default_data_dir("mnist") : o.data;
    pure16::data::Dataset train = pure16::data::load_mnist(dir, "train");
    pure16::data::Dataset test = pure16::data::load_mnist(dir, "t10k");
    examples::limit(train, test, o);  // pixels scaled to [0, 1]
    targets_are_inputs(train);
    targets_are_inputs(test);

    examples::Experiment ex{"mnist_autoencoder", "mnist", pure16::nn::zoo::mnist_autoencoder(),
                            pure16::data::Layout::Flat};
    ex.regression = true;
    if (reduction == "sum") ex.loss_weight = double(train.sample_size());
    examples::run_twins(ex, o, train, test);
    return 0;
  });
}
