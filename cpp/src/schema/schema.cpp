// The schema registry: the declaration-language reader, the validator and Params.
#include "lamina/schema.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <sstream>

namespace lamina::schema {

extern const char* const kCaffeSchema;

namespace {

struct Registry {
  std::map<std::string, MessageSpec> messages;
  std::map<std::string, EnumSpec> enums;
};

void define_into(Registry& r, const std::string& text, const std::string& source);

Registry& registry() {
  static Registry* r = [] {
    auto* fresh = new Registry;
    define_into(*fresh, kCaffeSchema, "caffe_schema");
    return fresh;
  }();
  return *r;
}

bool scalar_type(const std::string& word, Type& type) {
  static const std::map<std::string, Type> kTypes = {
      {"double", Type::f64}, {"float", Type::f32},      {"int32", Type::i32},  {"int64", Type::i64},
      {"uint32", Type::u32}, {"uint64", Type::u64},     {"bool", Type::boolean}, {"string", Type::string},
      {"bytes", Type::string}};
  auto it = kTypes.find(word);
  if (it == kTypes.end()) return false;
  type = it->second;
  return true;
}

// Splits a declaration line into words; a "quoted string" and a {choice list} are single words.
std::vector<std::string> words(const std::string& line) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < line.size()) {
    const char c = line[i];
    if (c == '#') break;
    if (std::isspace(static_cast<unsigned char>(c))) { ++i; continue; }
    size_t j = i + 1;
    if (c == '"') {
      while (j < line.size() && line[j] != '"') ++j;
      ++j;
    } else if (c == '{') {
      while (j < line.size() && line[j] != '}') ++j;
      ++j;
    } else {
      while (j < line.size() && !std::isspace(static_cast<unsigned char>(line[j]))) ++j;
    }
    out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

void define_into(Registry& r, const std::string& text, const std::string& source) {
  std::istringstream in(text);
  std::string line;
  int number = 0;
  MessageSpec* current = nullptr;
  auto fail = [&](const std::string& why) {
    throw PrototxtError(source, number, 1, "schema: " + why);
  };
  // Field types are resolved after the whole text is read (messages may refer forward).
  std::vector<std::pair<std::string, int>> unresolved;  // message.field, line
  while (std::getline(in, line)) {
    ++number;
    const auto w = words(line);
    if (w.empty()) continue;
    const bool indented = std::isspace(static_cast<unsigned char>(line[0]));
    if (!indented) {
      current = nullptr;
      if (w[0] == "enum") {
        if (w.size() < 3) fail("an enum needs a name and values");
        EnumSpec e{w[1], {}};
        for (size_t k = 2; k < w.size(); ++k) {
          const auto eq = w[k].find('=');
          if (eq == std::string::npos) fail("enum value '" + w[k] + "' needs =number");
          e.values.emplace_back(w[k].substr(0, eq), std::stoll(w[k].substr(eq + 1)));
        }
        r.enums[e.name] = e;
      } else if (w[0] == "message" && w.size() == 2) {
        r.messages[w[1]] = MessageSpec{w[1], {}};
        current = &r.messages[w[1]];
      } else if (w[0] == "extend" && w.size() == 2) {
        auto it = r.messages.find(w[1]);
        if (it == r.messages.end()) fail("extend of unknown message '" + w[1] + "'");
        current = &it->second;
      } else {
        fail("expected 'enum', 'message' or 'extend', got '" + w[0] + "'");
      }
      continue;
    }
    if (!current) fail("a field outside a message");
    FieldSpec f;
    size_t k = 0;
    if (w[k] == "repeated" || w[k] == "required") {
      (w[k] == "repeated" ? f.repeated : f.required) = true;
      ++k;
    }
    if (k + 2 > w.size()) fail("a field needs a type and a name");
    if (!scalar_type(w[k], f.type)) {
      f.type = Type::message;  // or enumeration; resolved below
      f.type_name = w[k];
      unresolved.emplace_back(current->name + "." + w[k + 1], number);
    }
    f.name = w[k + 1];
    k += 2;
    if (k < w.size() && w[k] == "=") {
      if (k + 1 >= w.size()) fail("'=' needs a default");
      f.has_default = true;
      f.default_text = w[k + 1];
      if (f.default_text.size() >= 2 && f.default_text.front() == '"')
        f.default_text = f.default_text.substr(1, f.default_text.size() - 2);
      k += 2;
    }
    if (k < w.size() && w[k].front() == '{') {
      for (const auto& c : words(w[k].substr(1, w[k].size() - 2))) f.choices.push_back(c);
      ++k;
    }
    if (k != w.size()) fail("unexpected '" + w[k] + "'");
    if (current->field(f.name)) fail("field '" + f.name + "' declared twice in " + current->name);
    current->fields.push_back(f);
  }
  for (const auto& [qualified, line_no] : unresolved) {
    const auto dot = qualified.find('.');
    MessageSpec& m = r.messages[qualified.substr(0, dot)];
    for (auto& f : m.fields) {
      if (f.name != qualified.substr(dot + 1)) continue;
      if (r.enums.count(f.type_name)) {
        f.type = Type::enumeration;
      } else if (!r.messages.count(f.type_name)) {
        number = line_no;
        fail("unknown type '" + f.type_name + "'");
      }
    }
  }
}

std::vector<std::string> field_names(const MessageSpec& m) {
  std::vector<std::string> names;
  for (const auto& f : m.fields) names.push_back(f.name);
  return names;
}

std::vector<std::string> enum_names(const EnumSpec& e) {
  std::vector<std::string> names;
  for (const auto& v : e.values) names.push_back(v.first);
  return names;
}

const char* expected(Type t) {
  switch (t) {
    case Type::f64: case Type::f32: return "a number";
    case Type::i32: case Type::i64: return "an integer";
    case Type::u32: case Type::u64: return "a non-negative integer";
    case Type::boolean: return "true or false";
    case Type::string: return "a quoted string";
    case Type::enumeration: return "an enum value";
    case Type::message: return "a message in { }";
  }
  return "?";
}

bool is_bool_text(const std::string& s, bool& value) {
  if (s == "true" || s == "True" || s == "t" || s == "1") { value = true; return true; }
  if (s == "false" || s == "False" || s == "f" || s == "0") { value = false; return true; }
  return false;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool float_identifier(const std::string& s) {
  const auto l = lower(s);
  return l == "inf" || l == "infinity" || l == "nan" || l == "-inf" || l == "-infinity";
}

void check_value(const prototxt::Field& field, const FieldSpec& f, const std::string& owner,
                 const std::string& file) {
  const prototxt::Value& v = field.value;
  auto fail = [&](const std::string& why) {
    throw PrototxtError(file, v.position.line, v.position.column,
                        "field '" + f.name + "' of " + owner + " " + why);
  };
  const std::string got = v.kind == prototxt::Value::Kind::message  ? "a message"
                          : v.kind == prototxt::Value::Kind::string ? "the string \"" + v.text + "\""
                                                                    : "'" + v.text + "'";
  const std::string wrong = std::string("expects ") + expected(f.type) + ", got " + got;
  using K = prototxt::Value::Kind;
  switch (f.type) {
    case Type::message:
      if (v.kind != K::message) fail(wrong);
      validate(*v.message, f.type_name, file);
      return;
    case Type::string:
      if (v.kind != K::string) fail(wrong);
      if (!f.choices.empty() && std::find(f.choices.begin(), f.choices.end(), v.text) == f.choices.end()) {
        std::string list;
        for (const auto& c : f.choices) list += (list.empty() ? "" : ", ") + c;
        fail("has unknown value \"" + v.text + "\"" + did_you_mean(v.text, f.choices) + " (one of " + list + ")");
      }
      return;
    case Type::boolean: {
      bool b;
      if ((v.kind != K::identifier && v.kind != K::number) || !is_bool_text(v.text, b)) fail(wrong);
      return;
    }
    case Type::enumeration: {
      const EnumSpec& e = enumeration(f.type_name);
      if (v.kind == K::identifier) {
        for (const auto& [name, number] : e.values)
          if (name == v.text) return;
        std::string list;
        for (const auto& [name, number] : e.values) list += (list.empty() ? "" : ", ") + name;
        fail("has unknown " + e.name + " value '" + v.text + "'" + did_you_mean(v.text, enum_names(e)) +
             " (one of " + list + ")");
      }
      if (v.kind == K::number) {
        int64_t n = 0;
        try { n = parse_integer(v.text); } catch (const Error&) { fail(wrong); }
        for (const auto& value : e.values)
          if (value.second == n) return;
        fail("has no " + e.name + " value numbered " + v.text);
      }
      fail(wrong);
      return;
    }
    case Type::f32: case Type::f64:
      if (v.kind == K::identifier && float_identifier(v.text)) return;
      if (v.kind != K::number) fail(wrong);
      return;
    case Type::i32: case Type::i64: case Type::u32: case Type::u64: {
      if (v.kind != K::number) fail(wrong);
      int64_t n = 0;
      try { n = parse_integer(v.text); } catch (const Error&) { fail(wrong); }
      const bool is_unsigned = f.type == Type::u32 || f.type == Type::u64;
      const bool is_32 = f.type == Type::i32 || f.type == Type::u32;
      if (is_unsigned && n < 0) fail(wrong);
      if (is_32 && (n > (is_unsigned ? int64_t(UINT32_MAX) : int64_t(INT32_MAX)) || n < int64_t(INT32_MIN)))
        fail("value " + v.text + " is out of range for a 32-bit integer");
      return;
    }
  }
}

}  // namespace

const FieldSpec* MessageSpec::field(const std::string& name) const {
  for (const auto& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

void define(const std::string& declarations, const std::string& source) {
  static std::mutex mutex;
  std::lock_guard<std::mutex> lock(mutex);
  Registry copy = registry();  // all or nothing: a bad declaration leaves the schema as it was
  define_into(copy, declarations, source);
  registry() = std::move(copy);
}

const MessageSpec& message(const std::string& name) {
  auto& r = registry();
  auto it = r.messages.find(name);
  if (it == r.messages.end()) detail::raise<ValueError>("schema: unknown message type '", name, "'");
  return it->second;
}

const EnumSpec& enumeration(const std::string& name) {
  auto& r = registry();
  auto it = r.enums.find(name);
  if (it == r.enums.end()) detail::raise<ValueError>("schema: unknown enum '", name, "'");
  return it->second;
}

bool has_message(const std::string& name) { return registry().messages.count(name) > 0; }

void validate(const prototxt::Message& m, const std::string& type, const std::string& file) {
  const MessageSpec& spec = message(type);
  std::map<std::string, const prototxt::Field*> seen;
  for (const auto& field : m.fields) {
    const FieldSpec* f = spec.field(field.name);
    if (!f)
      throw PrototxtError(file, field.position.line, field.position.column,
                          "unknown field '" + field.name + "' in " + type +
                              did_you_mean(field.name, field_names(spec)));
    if (!f->repeated) {
      auto [it, fresh] = seen.emplace(field.name, &field);
      if (!fresh)
        throw PrototxtError(file, field.position.line, field.position.column,
                            "field '" + field.name + "' of " + type + " given twice (first at line " +
                                std::to_string(it->second->position.line) + "); it is not repeated");
    }
    check_value(field, *f, type, file);
  }
  for (const auto& f : spec.fields)
    if (f.required && m.all(f.name).empty())
      throw PrototxtError(file, m.position.line, m.position.column,
                          type + " is missing its required field '" + f.name + "'");
}

std::string closest(const std::string& word, const std::vector<std::string>& candidates) {
  // Levenshtein distance, case-insensitive; close means at most a third of the word.
  const auto a = lower(word);
  std::string best;
  size_t best_distance = std::max<size_t>(1, a.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    const auto b = lower(candidate);
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      size_t diagonal = row[0];
      row[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t up = row[j];
        row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
        diagonal = up;
      }
    }
    if (row[b.size()] < best_distance) {
      best_distance = row[b.size()];
      best = candidate;
    }
  }
  return best;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const auto c = closest(word, candidates);
  return c.empty() ? "" : "; did you mean '" + c + "'?";
}

int64_t parse_integer(const std::string& text) {
  const char* s = text.c_str();
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(s, &end, 0);  // base 0: decimal, 0x hex, 0 octal
  if (text.empty() || *end != '\0' || errno == ERANGE) detail::raise<ValueError>("not an integer: ", text);
  return n;
}

double parse_float(const std::string& text) {
  const auto l = lower(text);
  if (l == "inf" || l == "infinity") return std::numeric_limits<double>::infinity();
  if (l == "-inf" || l == "-infinity") return -std::numeric_limits<double>::infinity();
  if (l == "nan") return std::numeric_limits<double>::quiet_NaN();
  std::string t = text;
  if (!t.empty() && (t.back() == 'f' || t.back() == 'F') && t.find("0x") == std::string::npos) t.pop_back();
  char* end = nullptr;
  const double d = std::strtod(t.c_str(), &end);
  if (t.empty() || *end != '\0') detail::raise<ValueError>("not a number: ", text);
  return d;
}

// ---- Params --------------------------------------------------------------------------------

Params::Params(const prototxt::Message* m, const std::string& type, std::string file)
    : m_(m), spec_(&message(type)), file_(std::move(file)) {}

const FieldSpec& Params::spec(const std::string& name) const {
  const FieldSpec* f = spec_->field(name);
  if (!f) detail::raise<ValueError>("schema: ", spec_->name, " has no field '", name, "'");
  return *f;
}

std::vector<const prototxt::Value*> Params::values(const std::string& name) const {
  spec(name);
  std::vector<const prototxt::Value*> out;
  if (m_)
    for (const auto* f : m_->all(name)) out.push_back(&f->value);
  return out;
}

bool Params::has(const std::string& name) const { return !values(name).empty(); }
int64_t Params::count(const std::string& name) const { return static_cast<int64_t>(values(name).size()); }

std::string Params::scalar_text(const FieldSpec& f, const prototxt::Value* v) const {
  if (v) return v->text;
  if (f.has_default) return f.default_text;
  switch (f.type) {  // protobuf's implicit defaults
    case Type::string: return "";
    case Type::boolean: return "false";
    case Type::enumeration: return enumeration(f.type_name).values.front().first;
    default: return "0";
  }
}

int64_t Params::get_int(const std::string& name) const {
  const auto& f = spec(name);
  const auto v = values(name);
  return parse_integer(scalar_text(f, v.empty() ? nullptr : v.front()));
}

double Params::get_float(const std::string& name) const {
  const auto& f = spec(name);
  const auto v = values(name);
  return parse_float(scalar_text(f, v.empty() ? nullptr : v.front()));
}

bool Params::get_bool(const std::string& name) const {
  const auto& f = spec(name);
  const auto v = values(name);
  bool b = false;
  is_bool_text(scalar_text(f, v.empty() ? nullptr : v.front()), b);
  return b;
}

std::string Params::get_string(const std::string& name) const {
  const auto& f = spec(name);
  const auto v = values(name);
  std::string text = scalar_text(f, v.empty() ? nullptr : v.front());
  if (f.type == Type::enumeration && !text.empty() &&
      (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-')) {
    const int64_t n = parse_integer(text);
    for (const auto& [value_name, number] : enumeration(f.type_name).values)
      if (number == n) return value_name;
  }
  return text;
}

Params Params::get_message(const std::string& name) const {
  const auto& f = spec(name);
  const auto v = values(name);
  return Params(v.empty() ? nullptr : v.front()->message.get(), f.type_name, file_);
}

std::vector<int64_t> Params::ints(const std::string& name) const {
  std::vector<int64_t> out;
  for (const auto* v : values(name)) out.push_back(parse_integer(v->text));
  return out;
}

std::vector<double> Params::floats(const std::string& name) const {
  std::vector<double> out;
  for (const auto* v : values(name)) out.push_back(parse_float(v->text));
  return out;
}

std::vector<bool> Params::bools(const std::string& name) const {
  std::vector<bool> out;
  for (const auto* v : values(name)) {
    bool b = false;
    is_bool_text(v->text, b);
    out.push_back(b);
  }
  return out;
}

std::vector<std::string> Params::strings(const std::string& name) const {
  std::vector<std::string> out;
  for (const auto* v : values(name)) out.push_back(v->text);
  return out;
}

std::vector<Params> Params::messages(const std::string& name) const {
  const auto& f = spec(name);
  std::vector<Params> out;
  for (const auto* v : values(name)) out.emplace_back(v->message.get(), f.type_name, file_);
  return out;
}

prototxt::Position Params::position(const std::string& name) const {
  if (!name.empty() && m_)
    for (const auto& f : m_->fields)
      if (f.name == name) return f.position;
  return m_ ? m_->position : prototxt::Position{};
}

void Params::fail(const std::string& field, const std::string& reason) const {
  const auto p = position(field);
  throw PrototxtError(file_, p.line, p.column, reason);
}

}  // namespace lamina::schema
