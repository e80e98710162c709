// The protobuf text format as Caffe's .prototxt files use it, parsed into a generic tree
// with source positions. No protobuf library and no generated code: the schema that
// gives fields their types and checks them is a separate layer (the nets issue).
//
// Grammar accepted (what Caffe's files use):
//   message := field* ; each field optionally followed by ',' or ';'
//   field   := name ':' scalar
//            | name ':'? '{' message '}'      (also '<' message '>')
//            | name ':' '[' (item (',' item)*)? ']'   item: a scalar or '{' message '}'
//   scalar  := identifier (enum values, true/false, inf, nan)
//            | number (decimal, 0x hex, 0 octal, float with exponent, trailing f, leading '-')
//            | string ('...' or "..." with C escapes; adjacent strings are concatenated)
//   '#' starts a comment that runs to the end of the line.
// Errors throw PrototxtError naming file:line:column and what was expected.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lamina/error.hpp"

namespace lamina::prototxt {

// Where something is in the source text (1-based).
struct Position {
  int line = 1;
  int column = 1;
};

struct Message;

// One value: a scalar (kind and text; strings hold their decoded bytes, numbers and
// identifiers their source spelling, e.g. "-1e-3f", "0x10", "MAX") or a nested message.
struct Value {
  enum class Kind { identifier, number, string, message };
  Kind kind = Kind::identifier;
  std::string text;
  std::shared_ptr<Message> message;  // kind == message
  Position position;
};

// One field occurrence; a repeated field is several Field entries with the same name
// (list syntax `name: [a, b]` is expanded into them).
struct Field {
  std::string name;
  Value value;
  Position position;  // of the name
};

struct Message {
  std::vector<Field> fields;
  Position position;  // of the opening brace (1:1 for the top level)

  // Every field called `name`, in order.
  std::vector<const Field*> all(const std::string& name) const;
  // The only field called `name`, or null; throws PrototxtError if it appears twice.
  const Field* find(const std::string& name, const std::string& file) const;
};

// Parses text; `file` names the source in error messages.
Message parse(const std::string& text, const std::string& file = "<string>");
// Reads and parses a file; a missing or unreadable file throws IOError naming it.
Message parse_file(const std::string& path);
// Prints a tree back as prototxt that parses to the same tree (two-space indentation).
std::string print(const Message& message);

}  // namespace lamina::prototxt
