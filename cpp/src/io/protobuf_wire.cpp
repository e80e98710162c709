// Protobuf's wire format: bounds-checked reading, and writing (see protobuf_wire.hpp).
#include "io/protobuf_wire.hpp"

#include <cstring>

#include "io/utf8.hpp"
#include "lamina/error.hpp"

namespace lamina::wire {

namespace {

const char* wire_name(int wire) {
  switch (wire) {
    case kVarint: return "varint (0)";
    case kFixed64: return "64-bit (1)";
    case kLengthDelimited: return "length-delimited (2)";
    case kFixed32: return "32-bit (5)";
    default: return "unknown";
  }
}

}  // namespace

WireReader::WireReader(const uint8_t* data, size_t size, size_t base, const std::string& file, std::string message)
    : data_(data), size_(size), base_(base), file_(file), message_(std::move(message)) {}

void WireReader::fail(const char* name, const std::string& why) const {
  detail::raise<FormatError>(file_, ": byte ", base_ + key_pos_, ": ", message_, ".", name, ": ", why);
}

void WireReader::fail_at_start(const char* name, const std::string& why) const {
  detail::raise<FormatError>(file_, ": byte ", base_, ": ", message_, ".", name, ": ", why);
}

uint64_t WireReader::raw_varint(const char* name) {
  uint64_t value = 0;
  for (int k = 0; k < 10; ++k) {
    if (pos_ >= size_) fail(name, "truncated: the varint runs past the end of the message");
    const uint8_t b = data_[pos_++];
    value |= uint64_t(b & 0x7F) << (7 * k);
    if (!(b & 0x80)) return value;
  }
  fail(name, "a varint longer than 10 bytes");
}

bool WireReader::next() {
  if (pos_ >= size_) return false;
  key_pos_ = pos_;
  const uint64_t key = raw_varint("(key)");
  field_ = static_cast<int>(key >> 3);
  wire_ = static_cast<int>(key & 7);
  if ((key >> 3) == 0 || (key >> 3) > 536870911u) fail("(key)", "field number " + std::to_string(key >> 3) + " is out of range");
  if (wire_ != kVarint && wire_ != kFixed64 && wire_ != kLengthDelimited && wire_ != kFixed32)
    fail("(key)", "field " + std::to_string(field_) + " has wire type " + std::to_string(wire_) +
                      ", which Caffe's messages never use");
  return true;
}

void WireReader::expect(const char* name, int wire) {
  if (wire_ != wire)
    fail(name, std::string("wire type ") + wire_name(wire_) + " where the field is " + wire_name(wire));
}

uint64_t WireReader::varint(const char* name) {
  expect(name, kVarint);
  return raw_varint(name);
}

std::pair<size_t, size_t> WireReader::span(const char* name) {
  expect(name, kLengthDelimited);
  const uint64_t n = raw_varint(name);
  if (n > size_ - pos_)
    fail(name, "claims " + std::to_string(n) + " bytes but " + std::to_string(size_ - pos_) + " are left in the " +
                   (base_ == 0 ? "file" : "enclosing message"));
  const size_t begin = pos_;
  pos_ += static_cast<size_t>(n);
  return {begin, pos_};
}

std::string WireReader::bytes(const char* name) {
  const auto [b, e] = span(name);
  return std::string(reinterpret_cast<const char*>(data_ + b), e - b);
}

std::string WireReader::string(const char* name) {
  const size_t at = key_pos_;
  std::string s = bytes(name);
  const size_t bad = detail::utf8_error(s);
  if (bad != std::string::npos) {
    key_pos_ = at;
    fail(name, "byte " + std::to_string(bad) + " of the string is not valid UTF-8");
  }
  return s;
}

WireReader WireReader::message(const char* name, const char* type) {
  const auto [b, e] = span(name);
  return WireReader(data_ + b, e - b, base_ + b, file_, type);
}

template <class T, int Wire>
void WireReader::fixed_numbers(const char* name, std::vector<T>& out) {
  constexpr size_t kSize = sizeof(T);
  if (wire_ == Wire) {  // one unpacked value
    if (size_ - pos_ < kSize) fail(name, "truncated: a " + std::to_string(kSize) + "-byte value runs past the end");
    T v;
    std::memcpy(&v, data_ + pos_, kSize);
    pos_ += kSize;
    out.push_back(v);
    return;
  }
  if (wire_ != kLengthDelimited)
    fail(name, std::string("wire type ") + wire_name(wire_) + " where the field is " + wire_name(Wire) + " or packed");
  const auto [b, e] = span(name);
  if ((e - b) % kSize)
    fail(name, "packed run of " + std::to_string(e - b) + " bytes is not a whole number of " + std::to_string(kSize) +
                   "-byte values");
  const size_t old = out.size();
  out.resize(old + (e - b) / kSize);  // bounded by the bytes just checked
  if (e > b) std::memcpy(out.data() + old, data_ + b, e - b);  // little-endian on every platform lamina builds for
}

void WireReader::floats(const char* name, std::vector<float>& out) { fixed_numbers<float, kFixed32>(name, out); }
void WireReader::doubles(const char* name, std::vector<double>& out) { fixed_numbers<double, kFixed64>(name, out); }

void WireReader::int64s(const char* name, std::vector<int64_t>& out) {
  if (wire_ == kVarint) {
    out.push_back(static_cast<int64_t>(raw_varint(name)));
    return;
  }
  if (wire_ != kLengthDelimited)
    fail(name, std::string("wire type ") + wire_name(wire_) + " where the field is varint (0) or packed");
  const auto [b, e] = span(name);
  WireReader run(data_ + b, e - b, base_ + b, file_, message_);
  run.key_pos_ = 0;
  while (run.pos_ < run.size_) out.push_back(static_cast<int64_t>(run.raw_varint(name)));
}

void WireReader::skip() {
  switch (wire_) {
    case kVarint: raw_varint("(unknown field)"); break;
    case kFixed64:
    case kFixed32: {
      const size_t n = wire_ == kFixed64 ? 8 : 4;
      if (size_ - pos_ < n) fail("(unknown field)", "truncated: a fixed-size value runs past the end");
      pos_ += n;
      break;
    }
    default: span("(unknown field)");
  }
}

void WireWriter::raw_varint(uint64_t value) {
  while (value >= 0x80) {
    out_ += static_cast<char>((value & 0x7F) | 0x80);
    value >>= 7;
  }
  out_ += static_cast<char>(value);
}

void WireWriter::key(int field, int wire) { raw_varint(uint64_t(field) << 3 | uint64_t(wire)); }

void WireWriter::varint(int field, uint64_t value) {
  key(field, kVarint);
  raw_varint(value);
}

void WireWriter::bytes(int field, const std::string& value) {
  key(field, kLengthDelimited);
  raw_varint(value.size());
  out_ += value;
}

void WireWriter::fixed32(int field, uint32_t bits) {
  key(field, kFixed32);
  for (int k = 0; k < 4; ++k) out_ += static_cast<char>((bits >> (8 * k)) & 0xFF);
}

void WireWriter::packed_floats(int field, const float* values, size_t n) {
  key(field, kLengthDelimited);
  raw_varint(n * sizeof(float));
  out_.append(reinterpret_cast<const char*>(values), n * sizeof(float));
}

void WireWriter::packed_doubles(int field, const double* values, size_t n) {
  key(field, kLengthDelimited);
  raw_varint(n * sizeof(double));
  out_.append(reinterpret_cast<const char*>(values), n * sizeof(double));
}

void WireWriter::packed_int64s(int field, const std::vector<int64_t>& values) {
  WireWriter run;
  for (int64_t v : values) run.raw_varint(static_cast<uint64_t>(v));
  bytes(field, run.out_);
}

}  // namespace lamina::wire
