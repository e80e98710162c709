// Uses lamina from C++: tensors, a matmul, and an error caught as an exception.
#include <cmath>
#include <cstdio>

#include <lamina/lamina.hpp>

int main() {
  using lamina::Tensor;
  Tensor a = Tensor::full({2, 3}, 1.5);
  Tensor b = Tensor::full({3, 4}, 2.0);
  Tensor c = lamina::matmul(a, b);  // every entry is 3 * 1.5 * 2 = 9
  std::printf("lamina %s: %s, c[1, 3] = %g\n", LAMINA_VERSION_STRING, c.repr().c_str(), c.at({1, 3}));
  if (std::fabs(c.at({1, 3}) - 9.0) > 1e-6) return 1;
  try {
    lamina::matmul(a, a);
    return 1;  // must not get here: shapes [2, 3] @ [2, 3] do not fit
  } catch (const lamina::ShapeError& e) {
    std::printf("caught ShapeError: %s\n", e.what());
  }
  return 0;
}
