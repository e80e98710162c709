// The schema of the Caffe messages lamina knows, and a typed, validated view of a parsed
// prototxt tree.
//
// The schema is written in a small declaration language (see caffe_schema.cpp for the
// built-in Caffe messages):
//   enum Phase TRAIN=0 TEST=1
//   message FillerParameter
//     string type = "constant" {constant uniform gaussian}   # a string with fixed choices
//     float value = 0
//     repeated int64 dim
//     required float min
//     VarianceNorm variance_norm = FAN_IN                    # an enum field
//     FillerParameter weight_filler                          # a nested message
//   extend LayerParameter                                    # add fields to a known message
//     MyParameter my_param
// Scalar types: double float int32 int64 uint32 uint64 bool string bytes.
//
// validate() checks a tree against a message type: unknown fields (with a did-you-mean),
// values of the wrong type or out of range, a singular field given twice, unknown enum
// values and string choices, missing required fields. Every error is a PrototxtError at
// the offending field's file:line:column. Params then reads fields with Caffe's defaults.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "lamina/prototxt.hpp"

namespace lamina::schema {

enum class Type { f64, f32, i32, i64, u32, u64, boolean, string, enumeration, message };

struct FieldSpec {
  std::string name;
  Type type = Type::f32;
  std::string type_name;  // the enum or message name for enumeration/message
  bool repeated = false;
  bool required = false;
  bool has_default = false;
  std::string default_text;          // as it would appear in prototxt (strings decoded)
  std::vector<std::string> choices;  // a string field's allowed values, empty = any
};

struct MessageSpec {
  std::string name;
  std::vector<FieldSpec> fields;
  const FieldSpec* field(const std::string& name) const;  // null if unknown
};

struct EnumSpec {
  std::string name;
  std::vector<std::pair<std::string, int64_t>> values;
};

// Adds declarations (the language above) to the global schema; `source` names the text in
// errors. Redeclaring a message replaces it; `extend` appends fields. Thread-compatible:
// define types before building nets on other threads.
void define(const std::string& declarations, const std::string& source = "<schema>");

const MessageSpec& message(const std::string& name);  // throws ValueError if unknown
const EnumSpec& enumeration(const std::string& name);
bool has_message(const std::string& name);

// Throws PrototxtError (named `file`) for the first problem found in m read as `type`.
void validate(const prototxt::Message& m, const std::string& type, const std::string& file);

// The closest of `candidates` to `word` by edit distance, or "" when none is close.
std::string closest(const std::string& word, const std::vector<std::string>& candidates);
// "; did you mean 'x'?" or "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates);

// A read-only view of a validated message (or of an absent one: every field at its
// default). Getters take Caffe's field names; asking for a field the schema does not
// declare throws ValueError (a bug in the caller, not in the prototxt).
class Params {
 public:
  Params() = default;
  Params(const prototxt::Message* m, const std::string& type, std::string file);

  const std::string& type() const { return spec_->name; }
  const std::string& file() const { return file_; }
  const prototxt::Message* tree() const { return m_; }
  bool present() const { return m_ != nullptr; }

  bool has(const std::string& name) const;       // given explicitly in the file
  int64_t count(const std::string& name) const;  // occurrences (0 or 1 for singular)

  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  std::string get_string(const std::string& name) const;  // strings, and enums by value name
  Params get_message(const std::string& name) const;      // absent: all defaults

  std::vector<int64_t> ints(const std::string& name) const;
  std::vector<double> floats(const std::string& name) const;
  std::vector<bool> bools(const std::string& name) const;
  std::vector<std::string> strings(const std::string& name) const;
  std::vector<Params> messages(const std::string& name) const;

  // Where the field is (its first occurrence), else where the message is.
  prototxt::Position position(const std::string& name = "") const;
  // Throws PrototxtError at position(field) with `reason`.
  [[noreturn]] void fail(const std::string& field, const std::string& reason) const;

 private:
  const FieldSpec& spec(const std::string& name) const;
  std::vector<const prototxt::Value*> values(const std::string& name) const;
  std::string scalar_text(const FieldSpec& f, const prototxt::Value* v) const;

  const prototxt::Message* m_ = nullptr;
  const MessageSpec* spec_ = nullptr;
  std::string file_;
};

// Numeric text as protobuf reads it: decimal, 0x hex, leading-0 octal, float with
// exponent and trailing f, inf/nan. Throws ValueError on anything else.
int64_t parse_integer(const std::string& text);
double parse_float(const std::string& text);

}  // namespace lamina::schema
