#include "kernels/cpu/parallel.hpp"

#include <omp.h>

namespace kestrel::cpu {

namespace {
int default_threads() {
  static const int n = omp_get_num_procs();
  return n;
}
}  // namespace

void set_num_threads(int n) { omp_set_num_threads(n > 0 ? n : default_threads()); }

int num_threads() { return omp_get_max_threads(); }

}  // namespace kestrel::cpu
