#pragma once
// kestrel::Error and the check macros. They live at the bottom layer so that kernels, engine,
// models and apps all raise the same exception type. A failed check throws; it never exits,
// so tests report it and the CLI prints it as one line.
#include <stdexcept>
#include <string>
#include <string_view>

namespace kestrel {

class Error : public std::runtime_error {
 public:
  Error(std::string_view file, int line, std::string_view expression, std::string_view message);
  explicit Error(const std::string& message) : std::runtime_error(message), message_(message) {}

  const std::string& message() const { return message_; }
  const std::string& location() const { return location_; }

 private:
  std::string message_;
  std::string location_;
};

namespace detail {
[[noreturn]] void throw_error(const char* file, int line, const char* expression,
                              const std::string& message);
}  // namespace detail

}  // namespace kestrel

// The formatting macros are for host code compiled by the C++ compiler. nvcc cannot compile
// fmt's consteval format strings, so .cu files report errors through the non-template
// functions of kernels/cuda/check.hpp instead.
#if !defined(__CUDACC__)
#include <fmt/format.h>

// KESTREL_CHECK(cond, "fmt string", args...): throws kestrel::Error naming file, line, the
// failed expression and the formatted message.
#define KESTREL_CHECK(cond, ...)                                                             \
  do {                                                                                       \
    if (!(cond)) [[unlikely]] {                                                              \
      ::kestrel::detail::throw_error(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__)); \
    }                                                                                        \
  } while (0)

// KESTREL_FAIL("fmt string", args...): unconditional error with the same format.
#define KESTREL_FAIL(...) \
  ::kestrel::detail::throw_error(__FILE__, __LINE__, "", ::fmt::format(__VA_ARGS__))
#endif  // !__CUDACC__
