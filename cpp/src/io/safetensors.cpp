// safetensors reading and writing, with a small JSON reader for the header (the only JSON
// lamina reads: objects, arrays, strings, non-negative integers).
#include "lamina/safetensors.hpp"

#include "io/atomic_file.hpp"
#include "io/input_file.hpp"
#include "io/utf8.hpp"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

namespace lamina {

namespace {

constexpr uint64_t kMaxHeader = 100u << 20;  // a header larger than this is not a weights file

struct Json {
  enum class Kind { object, array, string, number } kind = Kind::number;
  std::string text;  // string or number
  std::vector<std::pair<std::string, Json>> members;  // object
  std::vector<Json> items;                            // array
};

class JsonReader {
 public:
  JsonReader(const std::string& s, const std::string& file) : s_(s), file_(file) {}
  Json document() {
    // JSON is UTF-8, and names and metadata become Python str.
    const size_t bad = detail::utf8_error(s_);
    if (bad != std::string::npos) {
      i_ = bad;
      fail("not valid UTF-8");
    }
    Json j = value(0);
    space();
    if (i_ != s_.size()) fail("trailing characters after the header object");
    return j;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    detail::raise<FormatError>(file_, ": not a safetensors file: bad header at byte ", i_ + 8, ": ", why);
  }
  void space() {
    while (i_ < s_.size() && std::strchr(" \t\r\n", s_[i_])) ++i_;
  }
  void expect(char c) {
    space();
    if (i_ >= s_.size() || s_[i_] != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string() {
    expect('"');
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (s_[i_] == '\\') {
        if (++i_ >= s_.size()) break;
        const char e = s_[i_];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;  // names never need \u escapes here
      } else {
        out += s_[i_];
      }
      ++i_;
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }
  Json value(int depth) {
    if (depth > 8) fail("nested too deeply");
    space();
    if (i_ >= s_.size()) fail("unexpected end");
    Json j;
    const char c = s_[i_];
    if (c == '{') {
      j.kind = Json::Kind::object;
      ++i_;
      space();
      if (i_ < s_.size() && s_[i_] == '}') { ++i_; return j; }
      for (;;) {
        std::string key = string();
        expect(':');
        j.members.emplace_back(std::move(key), value(depth + 1));
        space();
        if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
        expect('}');
        return j;
      }
    }
    if (c == '[') {
      j.kind = Json::Kind::array;
      ++i_;
      space();
      if (i_ < s_.size() && s_[i_] == ']') { ++i_; return j; }
      for (;;) {
        j.items.push_back(value(depth + 1));
        space();
        if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
        expect(']');
        return j;
      }
    }
    if (c == '"') {
      j.kind = Json::Kind::string;
      j.text = string();
      return j;
    }
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) j.text += s_[i_++];
    if (j.text.empty() || j.text.size() > 18) fail("expected a non-negative integer");
    return j;
  }

  const std::string& s_;
  std::string file_;
  size_t i_ = 0;
};

// safetensors' dtype names for lamina's dtypes.
struct DTypeTag {
  DType dtype;
  const char* tag;
};
constexpr DTypeTag kTags[] = {{DType::f32, "F32"}, {DType::f64, "F64"}, {DType::i32, "I32"},
                              {DType::i64, "I64"}, {DType::b8, "BOOL"}};

const char* dtype_tag(DType dtype) {
  for (const auto& t : kTags)
    if (t.dtype == dtype) return t.tag;
  return "?";
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

void save_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  std::ostringstream header;
  header << "{";
  bool first = true;
  if (!metadata.empty()) {
    header << "\"__metadata__\":{";
    for (const auto& [k, v] : metadata) {
      header << (first ? "" : ",") << json_string(k) << ":" << json_string(v);
      first = false;
    }
    header << "}";
  }
  uint64_t offset = 0;
  std::vector<Tensor> data;
  for (const auto& [name, t] : tensors) {
    Tensor c = t.detach().contiguous();
    const uint64_t bytes = uint64_t(c.numel()) * dtype_size(c.dtype());
    header << (metadata.empty() && data.empty() ? "" : ",") << json_string(name) << ":{\"dtype\":\""
           << dtype_tag(c.dtype()) << "\",\"shape\":[";
    for (size_t k = 0; k < c.shape().size(); ++k) header << (k ? "," : "") << c.shape()[k];
    header << "],\"data_offsets\":[" << offset << "," << offset + bytes << "]}";
    offset += bytes;
    data.push_back(c);
  }
  header << "}";
  std::string h = header.str();
  while (h.size() % 8) h += ' ';  // the data starts 8-byte aligned
  io::write_atomically(path, "save_safetensors", [&](std::ostream& out) {
    uint8_t size[8];
    for (int k = 0; k < 8; ++k) size[k] = uint8_t(uint64_t(h.size()) >> (8 * k));
    out.write(reinterpret_cast<const char*>(size), 8);
    out.write(h.data(), static_cast<std::streamsize>(h.size()));
    for (const auto& c : data)
      out.write(static_cast<const char*>(c.raw_data()),
                static_cast<std::streamsize>(uint64_t(c.numel()) * dtype_size(c.dtype())));
  });
}

bool is_safetensors_file(const std::string& path) {
  // The header length's high bytes are zero (no header nears 2^40 bytes); a protobuf file
  // starts with a key and a name there, never three zero bytes. A file cut inside the
  // length keeps counting as one when its last byte is zero, so its error says it is short.
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  char head[8];
  in.read(head, 8);
  const auto n = static_cast<size_t>(in.gcount());
  if (n == 8) return head[5] == 0 && head[6] == 0 && head[7] == 0;
  return n > 2 && head[n - 1] == 0;
}

std::vector<std::pair<std::string, Tensor>> load_safetensors(const std::string& path,
                                                             std::map<std::string, std::string>* metadata) {
  io::check_input_path(path, "load_safetensors");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) detail::raise<IOError>("load_safetensors: cannot open ", path);
  const uint64_t file_size = static_cast<uint64_t>(in.tellg());
  in.seekg(0);
  auto bad = [&](const auto&... why) { detail::raise<FormatError>(path, ": not a safetensors file: ", why...); };
  if (file_size < 8) bad("only ", file_size, " bytes");
  uint8_t size[8];
  in.read(reinterpret_cast<char*>(size), 8);
  uint64_t n = 0;
  for (int k = 0; k < 8; ++k) n |= uint64_t(size[k]) << (8 * k);
  if (n > kMaxHeader || n > file_size - 8) bad("header length ", n, " does not fit in ", file_size, " bytes");
  std::string text(n, '\0');
  in.read(&text[0], static_cast<std::streamsize>(n));
  const Json header = JsonReader(text, path).document();
  if (header.kind != Json::Kind::object) bad("the header is not an object");
  const uint64_t buffer = file_size - 8 - n;

  struct Entry { std::string name; DType dtype; Shape shape; uint64_t begin, end; };
  std::vector<Entry> entries;
  for (const auto& [name, j] : header.members) {
    if (name == "__metadata__") {
      if (metadata)
        for (const auto& [k, v] : j.members) (*metadata)[k] = v.text;
      continue;
    }
    if (j.kind != Json::Kind::object) bad("'", name, "' is not an object");
    Entry e{name, DType::f32, {}, 0, 0};
    bool has_dtype = false, has_shape = false, has_offsets = false;
    for (const auto& [key, v] : j.members) {
      if (key == "dtype") {
        for (const auto& t : kTags)
          if (v.text == t.tag) {
            e.dtype = t.dtype;
            has_dtype = true;
          }
        if (!has_dtype) bad("'", name, "' has dtype ", v.text, " (lamina reads F32, F64, I32, I64 and BOOL)");
      } else if (key == "shape") {
        if (v.kind != Json::Kind::array || v.items.size() > 16) bad("'", name, "' has a bad shape");
        for (const auto& d : v.items) {
          if (d.kind != Json::Kind::number) bad("'", name, "' has a bad shape");
          e.shape.push_back(std::stoll(d.text));
        }
        has_shape = true;
      } else if (key == "data_offsets") {
        if (v.kind != Json::Kind::array || v.items.size() != 2 || v.items[0].kind != Json::Kind::number ||
            v.items[1].kind != Json::Kind::number)
          bad("'", name, "' has bad data_offsets");
        e.begin = std::stoull(v.items[0].text);
        e.end = std::stoull(v.items[1].text);
        has_offsets = true;
      }
    }
    if (!has_dtype || !has_shape || !has_offsets) bad("'", name, "' lacks dtype, shape or data_offsets");
    uint64_t count = 1;
    for (auto d : e.shape) {
      if (d != 0 && count > (uint64_t(1) << 40) / uint64_t(d)) bad("'", name, "' is too large");
      count *= uint64_t(d);
    }
    const uint64_t bytes = count * dtype_size(e.dtype);
    if (e.begin > e.end || e.end > buffer || e.end - e.begin != bytes)
      bad("'", name, "' claims bytes [", e.begin, ", ", e.end, ") for ", shape_str(e.shape), " but the data holds ",
          buffer, " bytes");
    entries.push_back(e);
  }
  std::vector<std::pair<std::string, Tensor>> out;
  for (const auto& e : entries) {
    Tensor t = Tensor::empty(e.shape, e.dtype);
    in.seekg(static_cast<std::streamoff>(8 + n + e.begin));
    in.read(static_cast<char*>(t.raw_data()), static_cast<std::streamsize>(e.end - e.begin));
    if (!in) bad("reading '", e.name, "' failed");
    if (e.dtype == DType::b8) {  // a bool is one byte holding 0 or 1; another writer's nonzero byte means true
      auto* b = static_cast<unsigned char*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i) b[i] = b[i] != 0;
    }
    out.emplace_back(e.name, t);
  }
  return out;
}

}  // namespace lamina
