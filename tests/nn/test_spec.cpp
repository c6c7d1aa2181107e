// nn::Spec descriptions: shape inference against hand-computed sizes, the reference networks
// against their hand-built layer lists, errors naming the layer, summary() figures.
#include <string>

#include "nn/nn_test_util.hpp"

using namespace pure16;
using namespace nn_test;

namespace {

std::size_t arg(const nn::LayerSpec& s, const char* k) {
  return static_cast<std::size_t>(s.get(k));
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const pure16::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("Spec: Dense sizes come from the previous layer") {
  using namespace pure16::nn;
  Spec net = {dense(512), relu(), dense(512), relu(), dense(10)};
  auto ls = resolve(net, {784});
  REQUIRE(ls.size() == 5);
  CHECK(arg(ls[0], "in") == 784);
  CHECK(arg(ls[0], "out") == 512);
  CHECK(arg(ls[2], "in") == 512);
  CHECK(arg(ls[4], "in") == 512);
  CHECK(arg(ls[4], "out") == 10);
  // Identical to the layers a hand-built model reports.
  Sequential<float> hand;
  hand.add<Dense>(784, 512);
  hand.add<ReLU>();
  hand.add<Dense>(512, 512);
  hand.add<ReLU>();
  hand.add<Dense>(512, 10);
  CHECK(hand.specs() == ls);
}

TEST_CASE("Spec: convolution, pooling and flatten shapes") {
  using namespace pure16::nn;
  // LeNet on 1x28x28: conv5 pad2 -> 6x28x28, pool2 -> 6x14x14, conv5 -> 16x10x10,
  // pool2 -> 16x5x5, flatten 400.
  const auto net = zoo::lenet();
  auto shapes = layer_shapes(net.spec, net.input_shape);
  CHECK(shapes[0] == Shape{6, 28, 28});
  CHECK(shapes[2] == Shape{6, 14, 14});
  CHECK(shapes[3] == Shape{16, 10, 10});
  CHECK(shapes[5] == Shape{16, 5, 5});
  CHECK(shapes[6] == Shape{400});
  CHECK(shapes.back() == Shape{10});
  auto ls = resolve(net.spec, net.input_shape);
  CHECK(arg(ls[0], "in_channels") == 1);
  CHECK(arg(ls[3], "in_channels") == 6);
  CHECK(arg(ls[7], "in") == 400);

  // AlexNet variant: 32 -conv s2-> 16 -pool2-> 8 -pool3/2-> 3 -pool3/2-> 1; 512 features.
  const auto alex = zoo::cifar_alexnet();
  auto as = layer_shapes(alex.spec, alex.input_shape);
  CHECK(as[0] == Shape{64, 16, 16});
  CHECK(as[2] == Shape{64, 8, 8});
  CHECK(as[5] == Shape{96, 3, 3});
  CHECK(as[12] == Shape{512, 1, 1});
  CHECK(as[13] == Shape{512});

  // Strided windows: (n + 2p - k) / s + 1 with floor.
  CHECK(
      output_shape(
          {"Conv2D",
           {{"in_channels", 3}, {"out_channels", 8}, {"kernel", 3}, {"stride", 2}, {"padding", 0}}},
          {3, 10, 7}) == Shape{8, 4, 3});
  CHECK(output_shape(max_pool2d(3, {.stride = 2}), {5, 9, 8}) == Shape{5, 4, 3});
  CHECK(output_shape(avg_pool2d(2), {5, 9, 8}) == Shape{5, 4, 4});
}

TEST_CASE("Spec: BatchNorm features come from the channels; BN variant of the small CNN") {
  using namespace pure16::nn;
  const auto net = zoo::cifar_small_cnn({.batch_norm = true});
  auto ls = resolve(net.spec, net.input_shape);
  std::vector<std::size_t> bn;
  for (auto& l : ls)
    if (l.type == "BatchNorm") bn.push_back(arg(l, "num_features"));
  CHECK(bn == std::vector<std::size_t>{32, 64, 64});
  CHECK(resolve(Spec{dense(7), batch_norm()}, {3})[1].get("num_features") == 7);
}

TEST_CASE("Spec: a model is the same network in every precision") {
  const auto net = nn::zoo::cifar_small_cnn();
  nn::Sequential<half> m16(net.spec, net.input_shape);
  nn::Sequential<float> m32(net.spec, net.input_shape);
  CHECK(m16.specs() == m32.specs());
  // 3*32*9+32 + 32*64*9+64 + 64*64*9+64 + 1024*128+128 + 128*10+10, counted by hand.
  const std::size_t expected = 896 + 18496 + 36928 + 131200 + 1290;
  CHECK(m16.parameter_count() == expected);
  CHECK(m32.parameter_count() == expected);
  CHECK(m16.model_bytes() == 2 * expected);
  CHECK(m32.model_bytes() == 4 * expected);
  m16.init(3);
  m32.init(3);
  Rng rng(5);
  auto x = randn<float>({2, 3, 32, 32}, rng);
  auto y16 = m16.forward(cast<half>(x));
  auto y32 = m32.forward(x);
  CHECK(y16.shape() == Shape{2, 10});
  CHECK(y32.shape() == Shape{2, 10});
}

TEST_CASE("Spec: an explicit size is checked against the inferred one") {
  using namespace pure16::nn;
  nn::LayerSpec d = dense(10);
  d.args["in"] = 100;
  CHECK(resolve(Spec{d}, {100})[0].get("in") == 100);
  const auto msg = message_of([&] { (void)resolve(Spec{relu(), d}, {50}); });
  CHECK(msg.find("layer 1 (Dense)") != std::string::npos);
  CHECK(msg.find("'in' is 100 but the input has 50") != std::string::npos);
}

TEST_CASE("Spec: mismatches name the layer, its type and the shapes") {
  using namespace pure16::nn;
  auto msg = message_of([] { (void)resolve(Spec{conv2d(4), relu(), dense(10)}, {1, 8, 8}); });
  CHECK(msg.find("layer 2 (Dense)") != std::string::npos);
  CHECK(msg.find("[4, 6, 6]") != std::string::npos);
  CHECK(msg.find("flatten()") != std::string::npos);
  msg = message_of([] { (void)resolve(Spec{conv2d(4, {.kernel = 5})}, {1, 3, 3}); });
  CHECK(msg.find("layer 0 (Conv2D)") != std::string::npos);
  CHECK(msg.find("kernel 5 is larger than the padded input 3") != std::string::npos);
  msg = message_of([] { (void)resolve(Spec{max_pool2d(2)}, {16}); });
  CHECK(msg.find("expects a [C, H, W] image") != std::string::npos);
  msg = message_of([] { (void)resolve(Spec{dense(0)}, {16}); });
  CHECK(msg.find("'out' = 0") != std::string::npos);
  CHECK_THROWS_AS((void)resolve(Spec{dense(3)}, {}), pure16::InvalidArgument);
  CHECK_THROWS_AS((void)resolve(Spec{{"NoSuchLayer", {}}}, {3}), pure16::InvalidArgument);
}

TEST_CASE("Sequential: errors inside forward and backward name the layer") {
  using namespace pure16::nn;
  Sequential<float> m(Spec{dense(4), relu(), dense(2)}, {3});
  m.init(1);
  const auto msg = message_of([&] { (void)m.forward(Tensor<float>({5, 7})); });
  CHECK(msg.find("layer 0 (Dense) forward: ") == 0);
  CHECK_THROWS_AS((void)m.forward(Tensor<float>({5, 7})), pure16::InvalidArgument);
  (void)m.forward(Tensor<float>({5, 3}), Mode::Train);
  const auto bmsg = message_of([&] { (void)m.backward(Tensor<float>({5, 3})); });
  CHECK(bmsg.find("layer 2 (Dense) backward: ") == 0);
}

TEST_CASE("Sequential::summary: rows with shapes, counts and bytes; totals") {
  using namespace pure16::nn;
  Sequential<half> m(Spec{conv2d(2, {.kernel = 3, .padding = 1}), batch_norm(), relu(),
                          max_pool2d(2), flatten(), dense(3)},
                     {1, 4, 4});
  const std::string s = m.summary();
  // conv: 2*1*9 + 2 = 20 params, 40 bytes; BN: 4 params + 4 buffer values = 16 bytes;
  // dense: 2*2*2 = 8 inputs -> 3: 27 params, 54 bytes. Total 51 params, 110 bytes.
  CHECK(s.find("Conv2D(1 -> 2, 3x3, pad 1)") != std::string::npos);
  CHECK(s.find("[2, 4, 4]") != std::string::npos);
  CHECK(s.find("[2, 2, 2]") != std::string::npos);
  CHECK(s.find("[8]") != std::string::npos);
  CHECK(s.find("Dense(8 -> 3)") != std::string::npos);
  CHECK(s.find("51 trainable parameters, 110 bytes of weights in fp16") != std::string::npos);
  CHECK(m.parameter_count() == 51);
  CHECK(m.model_bytes() == 110);
  // The fp32 twin: same counts, twice the bytes; its summary keeps the input shape.
  auto m32 = m.cast<float>();
  CHECK(m32.summary().find("51 trainable parameters, 220 bytes of weights in fp32") !=
        std::string::npos);
  // A hand-built model without an input shape prints '?' unless its first layer is Dense.
  Sequential<float> hand;
  hand.add<Conv2D>(1, 2, 3);
  CHECK(hand.summary().find("?") != std::string::npos);
  CHECK(hand.summary(Shape{1, 5, 5}).find("[2, 3, 3]") != std::string::npos);
}
