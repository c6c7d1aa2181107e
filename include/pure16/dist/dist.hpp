// pure16/dist/dist.hpp — data-parallel training over MPI (link pure16::mpi).
//
// Contract: includes every header of the area — communicator.hpp (MPI lifetime, byte-counting
// communicator, abort-on-exception), allreduce.hpp (all-reduce of T rounded once, sharding,
// fused gradient all-reduce) and fit.hpp (state broadcast, data-parallel step and fit,
// resume on any number of ranks). Not part of <pure16/pure16.hpp>: only programs that link
// MPI include it.
#pragma once

#include <pure16/dist/allreduce.hpp>
#include <pure16/dist/communicator.hpp>
#include <pure16/dist/fit.hpp>
