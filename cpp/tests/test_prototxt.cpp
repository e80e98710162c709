// The prototxt parser: every construct Caffe's files use, printing round trips, errors
// with file:line:column, and every real model file in ../shared/caffe-models.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "lamina/prototxt.hpp"

namespace lamina::prototxt {

static const Value& value(const Message& m, const std::string& name, size_t i = 0) {
  auto all = m.all(name);
  EXPECT_LT(i, all.size()) << name;
  return all.at(i)->value;
}

TEST(Prototxt, ParsesEveryConstruct) {
  const char* text = R"(# a comment
name: "LeNet"   # trailing comment
layer {
  name: 'conv1' type: "Convolution"
  bottom: "data" top: "conv1";
  param { lr_mult: 1 } param: { lr_mult: 2.0e0f },
  convolution_param <
    num_output: 0x14 kernel_size: 05 pad: -1
    weight_filler { type: "xavier" std: .5 max: 1e-3 min: -inf }
    dim: [1, 3, 224, 224]
  >
  phase: TRAIN
}
layer { name: "empty" }
tags: ["a", 'b' "c"]
flag: true
)";
  Message m = parse(text, "net.prototxt");
  EXPECT_EQ(value(m, "name").text, "LeNet");
  EXPECT_EQ(value(m, "name").kind, Value::Kind::string);
  ASSERT_EQ(m.all("layer").size(), 2u);
  const Message& conv = *value(m, "layer").message;
  EXPECT_EQ(value(conv, "name").text, "conv1");
  EXPECT_EQ(conv.all("param").size(), 2u);
  EXPECT_EQ(value(*value(conv, "param", 1).message, "lr_mult").text, "2.0e0f");
  const Message& cp = *value(conv, "convolution_param").message;
  EXPECT_EQ(value(cp, "num_output").text, "0x14");
  EXPECT_EQ(value(cp, "kernel_size").text, "05");
  EXPECT_EQ(value(cp, "pad").text, "-1");
  EXPECT_EQ(value(*value(cp, "weight_filler").message, "std").text, ".5");
  EXPECT_EQ(value(*value(cp, "weight_filler").message, "min").text, "-inf");
  ASSERT_EQ(cp.all("dim").size(), 4u);
  EXPECT_EQ(value(cp, "dim", 3).text, "224");
  EXPECT_EQ(value(conv, "phase").kind, Value::Kind::identifier);
  EXPECT_EQ(value(m, "tags", 1).text, "bc");  // adjacent strings concatenate
  EXPECT_EQ(value(m, "flag").text, "true");
  EXPECT_EQ(m.all("layer")[1]->position.line, 14);
  EXPECT_EQ(m.all("layer")[1]->position.column, 1);
}

TEST(Prototxt, StringEscapes) {
  Message m = parse(R"(s: "a\"b\\c\n\t\x41\101\'" t: 'it''s')");
  EXPECT_EQ(value(m, "s").text, "a\"b\\c\n\tAA'");
  EXPECT_EQ(value(m, "t").text, "its");
}

static bool same(const Message& a, const Message& b) {
  if (a.fields.size() != b.fields.size()) return false;
  for (size_t i = 0; i < a.fields.size(); ++i) {
    const Field &x = a.fields[i], &y = b.fields[i];
    if (x.name != y.name || x.value.kind != y.value.kind) return false;
    if (x.value.kind == Value::Kind::message ? !same(*x.value.message, *y.value.message) : x.value.text != y.value.text)
      return false;
  }
  return true;
}

TEST(Prototxt, PrintRoundTrips) {
  Message m = parse(R"(a: 1 b { c: "x\"\n\001y" d: [ENUM, OTHER] e < f: -2.5e-3f > } g: nan)");
  std::string printed = print(m);
  Message again = parse(printed);
  EXPECT_TRUE(same(m, again)) << printed;
  EXPECT_EQ(print(again), printed);
}

struct Bad {
  const char* text;
  int line, column;
  const char* message;
};

TEST(Prototxt, MalformedInputNamesFileLineColumn) {
  const std::vector<Bad> table = {
      {"layer {\n  name: \"x\"\n", 3, 1, "expected '}' before end of input"},
      {"layer {\n  name \"x\"\n}", 2, 8, "expected ':' or '{' after field name 'name'"},
      {"a: 1 }", 1, 6, "expected a field name, got '}'"},
      {"a: }", 1, 4, "expected a value for field 'a'"},
      {"a: \"abc\nb: 1", 1, 4, "unterminated string"},
      {"a: 12abc", 1, 4, "malformed number"},
      {"a: 1e+", 1, 4, "malformed exponent"},
      {"a: 0x", 1, 4, "malformed hexadecimal number"},
      {"a: -foo", 1, 4, "malformed number '-foo'"},
      {"a: [1, 2", 1, 9, "expected ',' or ']' in the list of 'a'"},
      {"a [1]", 1, 3, "expected ':' before the list of values of 'a'"},
      {"a: \"\\q\"", 1, 6, "unknown escape '\\q'"},
      {"a: 1\n  @", 2, 3, "unexpected character '@'"},
  };
  for (const Bad& b : table) {
    try {
      parse(b.text, "model.prototxt");
      ADD_FAILURE() << "no error for: " << b.text;
    } catch (const PrototxtError& e) {
      EXPECT_EQ(e.file(), "model.prototxt");
      EXPECT_EQ(e.line(), b.line) << b.text << " -> " << e.what();
      EXPECT_EQ(e.column(), b.column) << b.text << " -> " << e.what();
      EXPECT_NE(e.reason().find(b.message), std::string::npos) << e.what();
    }
  }
}

TEST(Prototxt, DeepNestingIsAnErrorNotAStackOverflow) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += "a {";
  EXPECT_THROW(parse(text), PrototxtError);
}

TEST(Prototxt, SingularFieldTwiceAndMissingFile) {
  Message m = parse("a: 1\nb: 2\na: 3\n");
  try {
    m.find("a", "f.prototxt");
    FAIL();
  } catch (const PrototxtError& e) {
    EXPECT_STREQ(e.what(), "f.prototxt:3:1: field 'a' given twice (first at line 1)");
  }
  EXPECT_EQ(m.find("c", "f.prototxt"), nullptr);
  EXPECT_THROW(parse_file("/nonexistent/model.prototxt"), IOError);
}

// Every real Caffe file shipped beside the repository parses and prints back to the
// same tree. (shared/ sits beside the checkout on every developer machine and in CI.)
TEST(Prototxt, EveryCaffeModelFileParsesAndRoundTrips) {
  const std::filesystem::path dir = LAMINA_CAFFE_MODELS_DIR;
  if (!std::filesystem::is_directory(dir)) GTEST_SKIP() << dir << " is not beside this checkout";
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".prototxt") continue;
    ++files;
    Message m = parse_file(entry.path().string());
    EXPECT_FALSE(m.fields.empty()) << entry.path();
    EXPECT_TRUE(same(m, parse(print(m)))) << entry.path();
  }
  EXPECT_EQ(files, 64);
}

}  // namespace lamina::prototxt
