// pure16/error.hpp — the exception types every pure16 error derives from.
//
// Contract:
//  * pure16::Error (a std::runtime_error) is the one base: `catch (const pure16::Error&)`
//    catches everything pure16 throws on purpose (std::bad_alloc excepted).
//  * InvalidArgument: a value, option, hyper-parameter or shape the caller passed is
//    unusable. LogicError: the API was used out of order (e.g. backward before forward).
//    OutOfRange: an index or name that does not exist. Areas add their own subclasses
//    (data::DataError, io::safetensors::Error, nn::NonFiniteError, ...), all below Error.
//  * Messages name what was wrong and where: the file, tensor, layer, option or step.
#pragma once

#include <stdexcept>

namespace pure16 {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InvalidArgument : public Error {
 public:
  using Error::Error;
};

class LogicError : public Error {
 public:
  using Error::Error;
};

class OutOfRange : public Error {
 public:
  using Error::Error;
};

}  // namespace pure16
