#include "kernels/common/error.hpp"

namespace kestrel {
namespace {

std::string_view basename(std::string_view path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::string compose(std::string_view location, std::string_view expression,
                    std::string_view message) {
  if (expression.empty()) return fmt::format("{} [{}]", message, location);
  return fmt::format("{} [{}: check '{}' failed]", message, location, expression);
}

}  // namespace

Error::Error(std::string_view file, int line, std::string_view expression,
             std::string_view message)
    : std::runtime_error(compose(fmt::format("{}:{}", basename(file), line), expression, message)),
      message_(message),
      location_(fmt::format("{}:{}", basename(file), line)) {}

namespace detail {
void throw_error(const char* file, int line, const char* expression, const std::string& message) {
  throw Error(file, line, expression, message);
}
}  // namespace detail

}  // namespace kestrel
