// pure16/io/dtype.hpp — the element types of the safetensors format and the pure16 scalar
// type each of the four floating-point ones maps to.
//
// Contract:
//  * DType is what pure16 reads and writes: F16 (half), BF16 (bfloat16), F32, F64.
//  * dtype_size(name) knows every dtype of the format (BOOL, U8, ..., F64) so that files
//    holding other dtypes still parse; it is 0 for an unknown name.
//  * visit_dtype(d, f) calls f(T{}) with the scalar type of d; detail::to_little_endian
//    swaps bytes on big-endian hosts only.
//  No nn/ dependency; no JSON.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <map>
#include <optional>
#include <pure16/scalar.hpp>
#include <string_view>
#include <type_traits>

namespace pure16::io {

/// The dtypes pure16 reads and writes.
enum class DType { F16, BF16, F32, F64 };

inline std::string_view dtype_name(DType d) {
  switch (d) {
    case DType::F16:
      return "F16";
    case DType::BF16:
      return "BF16";
    case DType::F32:
      return "F32";
    case DType::F64:
      return "F64";
  }
  return "?";
}

/// The DType called `name`, or nullopt for every other string.
inline std::optional<DType> parse_dtype(std::string_view name) {
  if (name == "F16") return DType::F16;
  if (name == "BF16") return DType::BF16;
  if (name == "F32") return DType::F32;
  if (name == "F64") return DType::F64;
  return std::nullopt;
}

/// Bytes per element of any dtype of the safetensors format; 0 for an unknown name.
inline std::size_t dtype_size(std::string_view name) {
  static const std::map<std::string_view, std::size_t> sizes = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
      {"U32", 4},  {"F32", 4}, {"I64", 8}, {"U64", 8},     {"F64", 8}};
  auto it = sizes.find(name);
  return it == sizes.end() ? 0 : it->second;
}

/// The DType that stores T exactly.
template <Scalar T>
constexpr DType dtype_of() {
  if constexpr (std::is_same_v<T, half>) return DType::F16;
  if constexpr (std::is_same_v<T, bfloat16>) return DType::BF16;
  if constexpr (std::is_same_v<T, float>) return DType::F32;
  if constexpr (std::is_same_v<T, double>) return DType::F64;
}

/// Calls f(T{}) with the scalar type T of dtype d.
template <class F>
decltype(auto) visit_dtype(DType d, F&& f) {
  switch (d) {
    case DType::F16:
      return f(half{});
    case DType::BF16:
      return f(bfloat16{});
    case DType::F32:
      return f(float{});
    case DType::F64:
      break;
  }
  return f(double{});
}

namespace detail {

/// Reverse the bytes of each of n elements of `size` bytes (big-endian hosts only).
inline void swap_bytes(void* p, std::size_t n, std::size_t size) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) std::reverse(b + i * size, b + (i + 1) * size);
}
inline void to_little_endian(void* p, std::size_t n, std::size_t size) {
  if constexpr (std::endian::native == std::endian::big) swap_bytes(p, n, size);
}

}  // namespace detail

}  // namespace pure16::io
