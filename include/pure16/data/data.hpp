// pure16/data/data.hpp — umbrella header of pure16's data layer: IDX (MNIST family) and
// CIFAR-10 readers, the Dataset type, normalization and mini-batch loading.
#pragma once

#include <pure16/data/cifar10.hpp>
#include <pure16/data/dataset.hpp>
#include <pure16/data/file.hpp>
#include <pure16/data/gzip.hpp>
#include <pure16/data/idx.hpp>
