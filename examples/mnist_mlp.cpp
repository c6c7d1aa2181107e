// mnist_mlp — a 784-512-512-10 ReLU MLP trained on MNIST (or Fashion-MNIST) in fp16 and
// fp32 side by side, from the same seed, with one comparison table at the end.
//
//   mnist_mlp                                   fp16 and fp32, the demo's settings
//   mnist_mlp --dataset fashion --epochs 10
//   mnist_mlp --precision fp16,bf16,fp32 --optimizer adam --lr 1e-3 --json out.json
#include <pure16/data/idx.hpp>
#include <pure16/nn/zoo.hpp>

#include "cli.hpp"
#include "twins.hpp"

int main(int argc, char** argv) {
  examples::Options o;
  // The demo's settings: 4 epochs of SGD with momentum 0.9, lr 0.1 decayed by a cosine
  // schedule, batch 128 — about 98 % test accuracy in fp16 and in fp32.
  o.epochs = 4;
  o.batch = 128;
  o.lr = 0.1;
  o.optimizer = "momentum";
  o.schedule = "cosine";
  std::string dataset = "mnist";
  CLI::App app{"pure16 mnist_mlp: a 784-512-512-10 ReLU MLP on MNIST, fp16 beside fp32"};
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

    const examples::Experiment ex{"mnist_mlp", name, pure16::nn::zoo::mnist_mlp(),
                                  pure16::data::Layout::Flat};
    examples::run_twins(ex, o, train, test);
    return 0;
  });
}
