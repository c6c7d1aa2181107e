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
//
//   cifar10_cnn --epochs 5
//   cifar10_cnn --model alexnet --epochs 100
#include "common.hpp"
#include "models.hpp"

int main(int argc, char** argv) {
  examples::Options o;
  o.epochs = 5;
  o.batch = 64;
  o.lr = 0.02;
  o.optimizer = "momentum";
  std::string model = "small";
  CLI::App app{"pure16 cifar10_cnn: CNNs on CIFAR-10, fp16 beside fp32"};
  examples::add_options(app, o);
  app.add_option("--model", model, "small | alexnet")
      ->check(CLI::IsMember({"small", "alexnet"}))
      ->capture_default_str();
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
    pure16::data::Dataset train = pure16::data::load_cifar10(dir, "train");
    pure16::data::Dataset test = pure16::data::load_cifar10(dir, "test");
    examples::limit(train, test, o);
    // Statistics of the (possibly limited) training set, applied to both splits.
    const pure16::data::Normalization norm =
        model == "alexnet" ? pure16::data::global_stats(train) : pure16::data::channel_stats(train);
    train.set_normalization(norm);
    test.set_normalization(norm);

    if (model == "alexnet") {
      const examples::Experiment ex{"cifar10_cnn", "cifar-10",
                                    "AlexNet variant (c64s2-p2-c96-p3s2-c256-c256-c512-p3s2-"
                                    "4096t-4096t-10, dropout 0.5)",
                                    pure16::data::Layout::NCHW};
      auto build = []<class T>(pure16::nn::Sequential<T>& m) {
        using namespace pure16::nn;
        m.template add<Conv2D>(3, 64, 3, 2, 1);
        m.template add<ReLU>();
        m.template add<MaxPool2D>(2, 2);
        m.template add<Conv2D>(64, 96, 3, 1, 1);
        m.template add<ReLU>();
        m.template add<MaxPool2D>(3, 2);
        m.template add<Conv2D>(96, 256, 3, 1, 1);
        m.template add<ReLU>();
        m.template add<Conv2D>(256, 256, 3, 1, 1);
        m.template add<ReLU>();
        m.template add<Conv2D>(256, 512, 3, 1, 1);
        m.template add<ReLU>();
        m.template add<MaxPool2D>(3, 2);
        m.template add<Flatten>();
        m.template add<Dense>(512, 4096);
        m.template add<Tanh>();
        m.template add<Dropout>(0.5);
        m.template add<Dense>(4096, 4096);
        m.template add<Tanh>();
        m.template add<Dropout>(0.5);
        m.template add<Dense>(4096, 10);
      };
      examples::run_twins(ex, o, train, test, build);
    } else {
      const examples::Experiment ex{"cifar10_cnn", "cifar-10",
                                    "small CNN (c32-p2-c64-p2-c64-p2-128-10)",
                                    pure16::data::Layout::NCHW};
      auto build = []<class T>(pure16::nn::Sequential<T>& m) {
        examples::build_cifar_small_cnn(m);
      };
      examples::run_twins(ex, o, train, test, build);
    }
    return 0;
  });
}
