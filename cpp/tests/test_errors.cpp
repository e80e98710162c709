#include <gtest/gtest.h>

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

}  // namespace lamina
