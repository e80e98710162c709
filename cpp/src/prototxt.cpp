// A tokenizer and a recursive-descent parser for the protobuf text format, and the
// printer that writes a tree back. See prototxt.hpp for the grammar.
#include "lamina/prototxt.hpp"

#include "io/utf8.hpp"
#include "io/input_file.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

namespace lamina::prototxt {

namespace {

constexpr int kMaxDepth = 100;  // nesting deeper than any real model: refuse, do not overflow the stack

struct Token {
  enum class Kind { identifier, number, string, punct, end };
  Kind kind = Kind::end;
  std::string text;  // strings: decoded
  Position position;
};

// A byte for a message: itself when printable ASCII, else \xNN (messages stay UTF-8 and
// readable whatever bytes the input holds).
std::string char_str(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x20 && u < 0x7f) return std::string(1, c);
  const char* hex = "0123456789abcdef";
  return std::string("\\x") + hex[u >> 4] + hex[u & 15];
}

using detail::utf8_error;

std::string describe(const Token& t) {
  switch (t.kind) {
    case Token::Kind::identifier: return "'" + t.text + "'";
    case Token::Kind::number: return "number " + t.text;
    case Token::Kind::string: return "a string";
    case Token::Kind::punct: return "'" + t.text + "'";
    case Token::Kind::end: return "end of input";
  }
  return "?";
}

bool ident_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool ident_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

class Lexer {
 public:
  Lexer(const std::string& text, const std::string& file) : s_(text), file_(file) {}

  [[noreturn]] void fail(Position p, const std::string& message) const {
    throw PrototxtError(file_, p.line, p.column, message);
  }

  Token next() {
    skip_space_and_comments();
    Token t;
    t.position = pos_;
    if (i_ >= s_.size()) return t;
    const char c = s_[i_];
    if (ident_start(c)) {
      t.kind = Token::Kind::identifier;
      while (i_ < s_.size() && ident_char(s_[i_])) t.text += advance();
      return t;
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '+' ||
        (c == '.' && i_ + 1 < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_ + 1])))) {
      return number(t);
    }
    if (c == '"' || c == '\'') return string(t);
    if (std::string(":{}<>[],;").find(c) != std::string::npos) {
      t.kind = Token::Kind::punct;
      t.text = std::string(1, advance());
      return t;
    }
    fail(pos_, "unexpected character '" + char_str(c) + "'");
  }

 private:
  char advance() {
    const char c = s_[i_++];
    if (c == '\n') {
      ++pos_.line;
      pos_.column = 1;
    } else {
      ++pos_.column;
    }
    return c;
  }

  void skip_space_and_comments() {
    while (i_ < s_.size()) {
      if (std::isspace(static_cast<unsigned char>(s_[i_]))) {
        advance();
      } else if (s_[i_] == '#') {
        while (i_ < s_.size() && s_[i_] != '\n') advance();
      } else {
        break;
      }
    }
  }

  Token number(Token& t) {
    t.kind = Token::Kind::number;
    if (s_[i_] == '-' || s_[i_] == '+') t.text += advance();
    if (i_ < s_.size() && ident_start(s_[i_])) {  // -inf, -nan, -infinity
      std::string word;
      while (i_ < s_.size() && ident_char(s_[i_])) word += advance();
      std::string lower;
      for (char ch : word) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower != "inf" && lower != "infinity" && lower != "nan")
        fail(t.position, "malformed number '" + t.text + word + "'");
      t.text += word;
      return t;
    }
    auto digits = [&](auto ok) {
      size_t n = 0;
      while (i_ < s_.size() && ok(s_[i_])) {
        t.text += advance();
        ++n;
      }
      return n;
    };
    auto dec = [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) != 0; };
    if (i_ + 1 < s_.size() && s_[i_] == '0' && (s_[i_ + 1] == 'x' || s_[i_ + 1] == 'X')) {
      t.text += advance();
      t.text += advance();
      if (digits([](char ch) { return std::isxdigit(static_cast<unsigned char>(ch)) != 0; }) == 0)
        fail(t.position, "malformed hexadecimal number '" + t.text + "'");
    } else {
      const size_t whole = digits(dec);
      size_t frac = 0;
      if (i_ < s_.size() && s_[i_] == '.') {
        t.text += advance();
        frac = digits(dec);
      }
      if (whole + frac == 0) fail(t.position, "malformed number '" + t.text + "'");
      if (i_ < s_.size() && (s_[i_] == 'e' || s_[i_] == 'E')) {
        t.text += advance();
        if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) t.text += advance();
        if (digits(dec) == 0) fail(t.position, "malformed exponent in '" + t.text + "'");
      }
      if (i_ < s_.size() && (s_[i_] == 'f' || s_[i_] == 'F')) t.text += advance();
    }
    if (i_ < s_.size() && (ident_char(s_[i_]) || s_[i_] == '.'))
      fail(t.position, "malformed number '" + t.text + s_[i_] + "...'");
    return t;
  }

  Token string(Token& t) {
    t.kind = Token::Kind::string;
    const char quote = advance();
    while (true) {
      if (i_ >= s_.size() || s_[i_] == '\n') fail(t.position, "unterminated string");
      const char c = advance();
      if (c == quote) break;
      if (c != '\\') {
        t.text += c;
        continue;
      }
      if (i_ >= s_.size()) fail(t.position, "unterminated string");
      const Position at = pos_;
      const char e = advance();
      switch (e) {
        case 'n': t.text += '\n'; break;
        case 't': t.text += '\t'; break;
        case 'r': t.text += '\r'; break;
        case 'a': t.text += '\a'; break;
        case 'b': t.text += '\b'; break;
        case 'f': t.text += '\f'; break;
        case 'v': t.text += '\v'; break;
        case '\\': case '\'': case '"': case '?': t.text += e; break;
        case 'x': {
          int v = 0, n = 0;
          while (n < 2 && i_ < s_.size() && std::isxdigit(static_cast<unsigned char>(s_[i_]))) {
            const char h = advance();
            v = v * 16 + (std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : std::tolower(h) - 'a' + 10);
            ++n;
          }
          if (n == 0) fail(at, "\\x escape without hexadecimal digits");
          t.text += static_cast<char>(v);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            int v = e - '0', n = 1;
            while (n < 3 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7') {
              v = v * 8 + (advance() - '0');
              ++n;
            }
            t.text += static_cast<char>(v);
          } else {
            fail(at, "unknown escape '\\" + char_str(e) + "' in string");
          }
      }
    }
    // Names, types and paths become Python str: a string must be UTF-8 (as protobuf's).
    const size_t bad = utf8_error(t.text);
    if (bad != std::string::npos)
      fail(t.position, "string is not valid UTF-8 (byte " + char_str(t.text[bad]) + " at offset " +
                           std::to_string(bad) + "); prototxt strings are UTF-8");
    return t;
  }

  const std::string& s_;
  const std::string& file_;
  size_t i_ = 0;
  Position pos_;
};

class Parser {
 public:
  Parser(const std::string& text, const std::string& file) : lex_(text, file) { tok_ = lex_.next(); }

  Message top() {
    Message m;
    fields(m, "", 0);
    return m;
  }

 private:
  bool is_punct(const char* p) const { return tok_.kind == Token::Kind::punct && tok_.text == p; }
  Token take() {
    Token t = tok_;
    tok_ = lex_.next();
    return t;
  }

  // Fields until `close` ("" = end of input).
  void fields(Message& m, const std::string& close, int depth) {
    if (depth > kMaxDepth) lex_.fail(tok_.position, "messages nested more than 100 deep");
    while (true) {
      if (close.empty() ? tok_.kind == Token::Kind::end : is_punct(close.c_str())) return;
      if (tok_.kind == Token::Kind::end) lex_.fail(tok_.position, "expected '" + close + "' before end of input");
      if (tok_.kind != Token::Kind::identifier)
        lex_.fail(tok_.position, "expected a field name, got " + describe(tok_));
      Token name = take();
      field(m, name, depth);
      if (is_punct(",") || is_punct(";")) take();
    }
  }

  void field(Message& m, const Token& name, int depth) {
    const bool colon = is_punct(":");
    if (colon) take();
    if (is_punct("{") || is_punct("<")) {
      m.fields.push_back({name.text, message(depth), name.position});
      return;
    }
    if (is_punct("[")) {
      const Position open = take().position;
      if (is_punct("]")) {
        take();
        return;  // an empty list adds nothing
      }
      while (true) {
        if (is_punct("{") || is_punct("<")) m.fields.push_back({name.text, message(depth), name.position});
        else if (colon) m.fields.push_back({name.text, scalar(name), name.position});
        else lex_.fail(open, "expected ':' before the list of values of '" + name.text + "'");
        if (is_punct(",")) {
          take();
          continue;
        }
        if (is_punct("]")) {
          take();
          return;
        }
        lex_.fail(tok_.position, "expected ',' or ']' in the list of '" + name.text + "', got " + describe(tok_));
      }
    }
    if (!colon)
      lex_.fail(tok_.position, "expected ':' or '{' after field name '" + name.text + "', got " + describe(tok_));
    m.fields.push_back({name.text, scalar(name), name.position});
  }

  Value message(int depth) {
    Value v;
    v.kind = Value::Kind::message;
    v.position = tok_.position;
    const std::string close = tok_.text == "{" ? "}" : ">";
    take();
    v.message = std::make_shared<Message>();
    v.message->position = v.position;
    fields(*v.message, close, depth + 1);
    take();  // the closing brace
    return v;
  }

  Value scalar(const Token& name) {
    Value v;
    v.position = tok_.position;
    switch (tok_.kind) {
      case Token::Kind::identifier: v.kind = Value::Kind::identifier; v.text = take().text; return v;
      case Token::Kind::number: v.kind = Value::Kind::number; v.text = take().text; return v;
      case Token::Kind::string:
        v.kind = Value::Kind::string;
        while (tok_.kind == Token::Kind::string) v.text += take().text;  // "a" "b" == "ab"
        return v;
      default:
        lex_.fail(tok_.position, "expected a value for field '" + name.text + "', got " + describe(tok_));
    }
  }

  Lexer lex_;
  Token tok_;
};

void print_message(const Message& m, int indent, std::ostringstream& out) {
  const std::string pad(static_cast<size_t>(indent) * 2, ' ');
  for (const Field& f : m.fields) {
    out << pad << f.name;
    if (f.value.kind == Value::Kind::message) {
      out << " {\n";
      print_message(*f.value.message, indent + 1, out);
      out << pad << "}\n";
      continue;
    }
    out << ": ";
    if (f.value.kind != Value::Kind::string) {
      out << f.value.text << "\n";
      continue;
    }
    out << '"';
    for (unsigned char c : f.value.text) {
      if (c == '"' || c == '\\') out << '\\' << c;
      else if (c == '\n') out << "\\n";
      else if (c < 0x20 || c >= 0x7f) out << '\\' << char('0' + (c >> 6)) << char('0' + ((c >> 3) & 7)) << char('0' + (c & 7));
      else out << c;
    }
    out << "\"\n";
  }
}

}  // namespace

std::vector<const Field*> Message::all(const std::string& name) const {
  std::vector<const Field*> out;
  for (const Field& f : fields)
    if (f.name == name) out.push_back(&f);
  return out;
}

const Field* Message::find(const std::string& name, const std::string& file) const {
  const Field* found = nullptr;
  for (const Field& f : fields) {
    if (f.name != name) continue;
    if (found)
      throw PrototxtError(file, f.position.line, f.position.column,
                          "field '" + name + "' given twice (first at line " + std::to_string(found->position.line) + ")");
    found = &f;
  }
  return found;
}

Message parse(const std::string& text, const std::string& file) { return Parser(text, file).top(); }

Message parse_file(const std::string& path) {
  io::check_input_path(path, "prototxt");
  std::ifstream in(path, std::ios::binary);
  LAMINA_CHECK_AS(IOError, in.good(), "cannot open prototxt file '", path, "'");
  std::ostringstream buf;
  buf << in.rdbuf();
  LAMINA_CHECK_AS(IOError, !in.bad(), "cannot read prototxt file '", path, "'");
  return parse(buf.str(), path);
}

std::string print(const Message& message) {
  std::ostringstream out;
  print_message(message, 0, out);
  return out.str();
}

}  // namespace lamina::prototxt
