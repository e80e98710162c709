#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/kernels.hpp"
#include "lamina/lamina.hpp"

namespace lamina {

TEST(Errors, CheckMacrosThrowTheirTypeWithTheMessage) {
  try {
    LAMINA_CHECK_SHAPE(false, "op: got ", Shape{2, 3}, " and ", 4);
    FAIL() << "no throw";
  } catch (const ShapeError& e) {
    EXPECT_STREQ(e.what(), "op: got [2, 3] and 4");
  }
  EXPECT_THROW(LAMINA_CHECK(false, "x"), ValueError);
  EXPECT_THROW(LAMINA_CHECK_DTYPE(false, "x"), DTypeError);
  EXPECT_THROW(LAMINA_CHECK_INDEX(false, "x"), IndexError);
  EXPECT_NO_THROW(LAMINA_CHECK(true, "x"));
}

TEST(Errors, HierarchyCatchesAsBase) {
  EXPECT_THROW(throw FormatError("bad"), IOError);
  EXPECT_THROW(throw ShapeError("bad"), Error);
  EXPECT_THROW(throw Error("bad"), std::runtime_error);
}

TEST(Errors, PrototxtErrorKeepsPosition) {
  PrototxtError e("net.prototxt", 12, 7, "unknown field 'nmu_output'");
  EXPECT_STREQ(e.what(), "net.prototxt:12:7: unknown field 'nmu_output'");
  EXPECT_EQ(e.file(), "net.prototxt");
  EXPECT_EQ(e.line(), 12);
  EXPECT_EQ(e.column(), 7);
  EXPECT_EQ(e.reason(), "unknown field 'nmu_output'");
}

TEST(Errors, ThreadCountIsValidated) {
  EXPECT_THROW(set_num_threads(0), ValueError);
  int before = num_threads();
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(before);
  EXPECT_EQ(num_threads(), before);
}

// A tensor on a device with no kernels (CUDA's memory faked by wrapping host memory: no
// CUDA in this build) reaches the ops' one dispatch, which names the op and the device.
TEST(Errors, AnOpOnADeviceWithoutKernelsThrowsDeviceError) {
  std::vector<float> host(6, 1.0f);
  auto storage = Storage::wrap(host.data(), host.size() * sizeof(float), Device::cuda, [] {});
  Tensor x = Tensor::from_storage(storage, {2, 3}, {3, 1}, 0, DType::f32);
  for (auto op : {+[](const Tensor& t) { return relu(t); }, +[](const Tensor& t) { return add(t, t); },
                  +[](const Tensor& t) { return softmax(t, 1); }, +[](const Tensor& t) { return matmul(t, t.t()); }}) {
    try {
      op(x);
      ADD_FAILURE() << "no DeviceError";
    } catch (const DeviceError& e) {
      EXPECT_NE(std::string(e.what()).find("cuda"), std::string::npos) << e.what();
    }
  }
  try {
    relu(x);
  } catch (const DeviceError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("relu: ", 0), 0u) << e.what();
  }
}

TEST(Errors, IsaLevelsAreCheckedAndForceable) {
  const Isa before = active_isa();
  EXPECT_THROW(parse_isa("avx3"), ValueError);
  for (Isa level : available_isas()) {
    set_isa(level);
    EXPECT_EQ(active_isa(), level);
    EXPECT_EQ(std::string(kernels::cpu::table().device), std::string("cpu (") + isa_name(level) + ")");
  }
  EXPECT_EQ(available_isas().back(), Isa::generic);
  // A level above this CPU's, or of another architecture, is refused.
  for (Isa level : {Isa::avx512, Isa::avx2, Isa::neon}) {
    bool runs = false;
    for (Isa a : available_isas()) runs = runs || a == level;
    if (!runs) {
      EXPECT_THROW(set_isa(level), ValueError) << isa_name(level);
    }
  }
  set_isa(before);
}

}  // namespace lamina
