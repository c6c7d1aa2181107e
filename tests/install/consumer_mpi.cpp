// Built (not run) against an installed pure16 with the mpi component: the data-parallel
// headers compile and link against MPI through the imported pure16::mpi target.
#include <pure16/dist/dist.hpp>

int main(int argc, char** argv) {
  return pure16::dist::run(argc, argv, [](pure16::dist::Communicator& comm) {
    std::vector<pure16::half> v(4, pure16::half(1.0f));
    pure16::dist::allreduce<pure16::half>(comm, std::span<pure16::half>(v));
    return float(v[0]) == float(comm.size()) ? 0 : 1;
  });
}
