#include "engine/nn/layer.hpp"

namespace kestrel::nn {

std::string qualified_name(std::string_view scope, std::string_view local) {
  if (scope.empty()) return std::string(local);
  std::string out(scope);
  out += '.';
  out += local;
  return out;
}

}  // namespace kestrel::nn
