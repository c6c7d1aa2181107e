// mnist_cnn — a LeNet-style CNN trained on MNIST (or Fashion-MNIST) in fp16 and fp32 side by
// side, from the same seed, with one comparison table at the end.
//
// Network (input 1x28x28): conv 5x5 1->6 pad 2, ReLU, maxpool 2 -> 6x14x14;
// conv 5x5 6->16, ReLU, maxpool 2 -> 16x5x5; flatten 400; dense 120, ReLU; dense 84, ReLU;
// dense 10.
//
//   mnist_cnn
//   mnist_cnn --dataset fashion --precision fp16,bf16,fp32 --epochs 5
#include <pure16/data/idx.hpp>
#include <pure16/nn/zoo.hpp>

#include "cli.hpp"
#include "twins.hpp"

int main(int argc, char** argv) {
  examples::Options o;
  o.epochs = 3;
  o.batch = 64;
  o.lr = 0.05;
  o.optimizer = "momentum";
  std::string dataset = "mnist";
  CLI::App app{"pure16 mnist_cnn: a LeNet-style CNN on MNIST, fp16 beside fp32"};
  examples::add_options(app, o);
  app.add_option("--dataset", dataset, "mnist | fashion")
      ->check(CLI::IsMember({"mnist", "fashion"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  return examples::guarded_main([&] {
    examples::apply_options(o);
    const std::string name = dataset == "fashion" ? "fashion-mnist" : "mnist";
    const std::string dir = o.data.empty() ? examples::default_data_dir(name) : o.data;
    pure16::data::Dataset train = pure16::data::load_mnist(dir, "train");
    pure16::data::Dataset test = pure16::data::load_mnist(dir, "t10k");
    examples::limit(train, test, o);  // pixels scaled to [0, 1]

    const examples::Experiment ex{"mnist_cnn", name, pure16::nn::zoo::lenet(),
                                  pure16::data::Layout::NCHW};
    examples::run_twins(ex, o, train, test);
    return 0;
  });
}
