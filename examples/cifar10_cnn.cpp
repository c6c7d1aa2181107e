// cifar10_cnn — CNNs on CIFAR-10 trained in fp16 and fp32 side by side, from the same seed,
// with one comparison table at the end.
//
// --model alexnet: the CIFAR-10 AlexNet variant of the published pure 16-bit training code
//   (3x3 convolutions with 'same' padding and ReLU):
//   conv 64 stride 2, maxpool 2/2, conv 96, maxpool 3/2, conv 256, conv 256, conv 512,
//   maxpool 3/2, flatten, dense 4096 tanh, dropout 0.5, dense 4096 tanh, dropout 0.5,
//   dense 10 (softmax in the loss). Inputs normalized by the training set's global mean and
//   standard deviation; SGD lr 0.01, momentum 0.9, batch 256 (the authors report 76.0 +- 0.3 %
//   in fp16 vs 75.8 +- 0.3 % in fp32 after 100 epochs). Pooling is 'valid' (no padding):
//   32 -> conv/2 16 -> pool 8 -> pool 3 -> pool 1, so the flattened size is 512.
// --model small (default): a smaller, faster CNN for quick runs: three blocks of 3x3 conv
//   (32, 64, 64 channels, 'same' padding) + ReLU + maxpool 2, then dense 128 ReLU, dense 10;
//   inputs normalized per channel with the training set's mean and standard deviation.
//   --batch-norm adds BatchNorm after each convolution (statistics and state in T).
//
//   cifar10_cnn --epochs 5
//   cifar10_cnn --model alexnet --epochs 100
#include <pure16/data/cifar10.hpp>
#include <pure16/nn/zoo.hpp>

#include "cli.hpp"
#include "twins.hpp"

int main(int argc, char** argv) {
  examples::Options o;
  o.epochs = 5;
  o.batch = 64;
  o.lr = 0.02;
  o.optimizer = "momentum";
  std::string model = "small";
  bool batch_norm = false;
  CLI::App app{"pure16 cifar10_cnn: CNNs on CIFAR-10, fp16 beside fp32"};
  examples::add_options(app, o);
  app.add_option("--model", model, "small | alexnet")
      ->check(CLI::IsMember({"small", "alexnet"}))
      ->capture_default_str();
  app.add_flag("--batch-norm", batch_norm,
               "small CNN with BatchNorm after each convolution (pure 16-bit batch norm)");
  app.parse_complete_callback([&] {
    // The AlexNet variant's published settings, unless given on the command line.
    if (model != "alexnet") return;
    if (app.count("--batch") == 0) o.batch = 256;
    if (app.count("--lr") == 0) o.lr = 0.01;
  });
  CLI11_PARSE(app, argc, argv);

  return examples::guarded_main([&] {
    examples::apply_options(o);
    const std::string dir = o.data.empty() ? examples::default_data_dir("cifar-10") : o.data;
    // Only the images --train-limit / --test-limit keep are read.
    pure16::data::Dataset train = pure16::data::load_cifar10(dir, "train", o.train_limit);
    pure16::data::Dataset test = pure16::data::load_cifar10(dir, "test", o.test_limit);
    examples::limit(train, test, o);
    // Statistics of the (possibly limited) training set, applied to both splits.
    const pure16::data::Normalization norm =
        model == "alexnet" ? pure16::data::global_stats(train) : pure16::data::channel_stats(train);
    train.set_normalization(norm);
    test.set_normalization(norm);

    namespace zoo = pure16::nn::zoo;
    const examples::Experiment ex{"cifar10_cnn", "cifar-10",
                                  model == "alexnet"
                                      ? zoo::cifar_alexnet()
                                      : zoo::cifar_small_cnn({.batch_norm = batch_norm}),
                                  pure16::data::Layout::NCHW};
    examples::run_twins(ex, o, train, test);
    return 0;
  });
}
