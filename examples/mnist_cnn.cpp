// mnist_cnn — a LeNet-style CNN trained on MNIST (or Fashion-MNIST) in fp16 and fp32 side by
// side, from the same seed, with one comparison table at the end.
//
// Network (input 1x28x28): conv 5x5 1->6 pad 2, ReLU, maxpool 2 -> 6x14x14;
// conv 5x5 6->16, ReLU, maxpool 2 -> 16x5x5; flatten 400; dense 120, ReLU; dense 84, ReLU;
// dense 10.
//
//   mnist_cnn
//   mnist_cnn --dataset fashion --precision fp16,bf16,fp32 --epochs 5
#include "common.hpp"

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

    const examples::Experiment ex{"mnist_cnn", name, "LeNet-style CNN (6c5-p2-16c5-p2-120-84-10)",
                                  pure16::data::Layout::NCHW};
    auto build = []<class T>(pure16::nn::Sequential<T>& m) {
      using namespace pure16::nn;
      m.template add<Conv2D>(1, 6, 5, 1, 2);
      m.template add<ReLU>();
      m.template add<MaxPool2D>(2);
      m.template add<Conv2D>(6, 16, 5);
      m.template add<ReLU>();
      m.template add<MaxPool2D>(2);
      m.template add<Flatten>();
      m.template add<Dense>(400, 120);
      m.template add<ReLU>();
      m.template add<Dense>(120, 84);
      m.template add<ReLU>();
      m.template add<Dense>(84, 10);
    };
    examples::run_twins(ex, o, train, test, build);
    return 0;
  });
}
