// interop_tool — the pure16 side of the PyTorch interchange tests (tests/interop/*.py).
//
//   interop_tool run  WEIGHTS PRECISION INPUTS OUTPUTS
//       Rebuild the model WEIGHTS describes (its "architecture" metadata) in PRECISION
//       (fp16, bf16, fp32, fp64), load its weights (rounded to nearest-even), run the
//       tensor "input" of the safetensors file INPUTS through it in Mode::Eval and write the
//       result as the F64 tensor "output" of OUTPUTS (exact for every precision).
//   interop_tool make ARCH_JSON SEED INPUTS WEIGHTS [DTYPE]
//       Build the layers of ARCH_JSON (pure16's architecture JSON) in fp32, initialize them
//       from SEED, run one Mode::Train forward on INPUTS (so batch-norm running statistics
//       move away from their initial values), and save the model to WEIGHTS in DTYPE
//       (F32 by default).
// Exit status 0 on success, 1 with a message on stderr otherwise.
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <iostream>
#include <iterator>
#include <pure16/io/io.hpp>
#include <pure16/nn/nn.hpp>
#include <string>

namespace {

using namespace pure16;

template <Scalar T>
void run(const std::string& weights, const std::string& inputs, const std::string& outputs) {
  auto model = io::load_model<T>(weights);
  const auto in = io::SafetensorsReader::open(inputs).read<T>("input");
  const Tensor<T> y = model.forward(in, nn::Mode::Eval);
  io::SafetensorsWriter w;
  w.set_metadata("scalar_type", std::string(scalar_traits<T>::name));
  w.add("output", cast<double>(y));
  w.save(outputs);
}

template <class F>
void with_precision(const std::string& p, F&& f) {
  if (p == "fp16") return f(half{});
  if (p == "bf16") return f(bfloat16{});
  if (p == "fp32") return f(float{});
  if (p == "fp64") return f(double{});
  throw pure16::InvalidArgument("unknown precision '" + p + "' (fp16, bf16, fp32, fp64)");
}

int usage() {
  std::cerr << "usage: interop_tool run WEIGHTS PRECISION INPUTS OUTPUTS\n"
               "       interop_tool make ARCH_JSON SEED INPUTS WEIGHTS [DTYPE]\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    if (argc < 2) return usage();
    const std::string cmd = argv[1];
    if (cmd == "run" && argc == 6) {
      with_precision(argv[3], [&]<class T>(T) { run<T>(argv[2], argv[4], argv[5]); });
      return 0;
    }
    if (cmd == "make" && (argc == 6 || argc == 7)) {
      std::ifstream in(argv[2]);
      if (!in) throw pure16::Error(std::string("cannot open '") + argv[2] + "'");
      const std::string text((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
      auto model = nn::Sequential<float>::from_specs(io::architecture_from_json(text, argv[2]));
      model.init(std::strtoull(argv[3], nullptr, 10));
      const auto x = io::SafetensorsReader::open(argv[4]).read<float>("input");
      (void)model.forward(x, nn::Mode::Train);
      const auto dtype = io::parse_dtype(argc == 7 ? argv[6] : "F32");
      if (!dtype) throw pure16::InvalidArgument(std::string("unknown dtype '") + argv[6] + "'");
      io::save_safetensors(argv[5], model, {}, *dtype);
      return 0;
    }
    return usage();
  } catch (const std::exception& e) {
    std::cerr << "interop_tool: " << e.what() << '\n';
    return 1;
  }
}
