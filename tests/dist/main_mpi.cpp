// doctest entry point of the MPI test executable: every rank runs every test case (the
// collectives line up), rank 0 prints the report, and the exit code is the worst over all
// ranks, so a check failing on any rank fails the test.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <mpi.h>

#include <pure16/dist/communicator.hpp>

int main(int argc, char** argv) {
  pure16::dist::Environment env(argc, argv);
  auto world = pure16::dist::Communicator::world();
  doctest::Context ctx(argc, argv);
  if (!world.is_root()) {  // other ranks: failures only
    ctx.setOption("no-intro", true);
    ctx.setOption("no-version", true);
    ctx.setOption("minimal", true);
  }
  int rc = ctx.run();
  int worst = 0;
  MPI_Allreduce(&rc, &worst, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (world.is_root() && worst != 0 && rc == 0)
    std::fprintf(stderr, "a check failed on another rank\n");
  return worst;
}
