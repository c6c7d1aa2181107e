// Run by tests/dist/run_abort_test.cmake under mpiexec: the last rank throws while the others
// wait for it in an all-reduce. dist::run must bring the whole job down with the thrower's
// message and a non-zero exit code; without it the other ranks would wait forever.
#include <pure16/dist/allreduce.hpp>
#include <stdexcept>
#include <vector>

int main(int argc, char** argv) {
  return pure16::dist::run(argc, argv, [](pure16::dist::Communicator& comm) {
    std::vector<float> v(16, 1.0f);
    pure16::dist::allreduce<float>(comm, v);  // all ranks take part once
    if (comm.rank() == comm.size() - 1) throw std::runtime_error("deliberate failure in step 7");
    pure16::dist::allreduce<float>(comm, v);  // the others block here
    return 0;
  });
}
