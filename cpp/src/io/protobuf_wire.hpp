// Protobuf's wire format, read and written by lamina itself (no protobuf library): each
// field is a varint key (field number << 3 | wire type) and its value. Wire types: 0 a
// varint (at most 10 bytes), 1 eight little-endian bytes, 2 a varint length and that many
// bytes (strings, nested messages, packed repeated numbers), 5 four little-endian bytes.
//
// WireReader walks one message inside a byte range of a file it does not own. Every
// problem is a FormatError reading "<file>: byte <offset>: <Message>.<field>: <why>",
// with the offset counted from the start of the file; nothing it returns is larger than
// the bytes it reads from, so a claimed size never allocates beyond the file.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lamina::wire {

enum WireType : int { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

class WireReader {
 public:
  // The message `message` (a type name, for errors) in [data, data + size), which begins at
  // byte `base` of `file`.
  WireReader(const uint8_t* data, size_t size, size_t base, const std::string& file, std::string message);

  // Reads the next key; false at the end of the message. A key with field number 0 or a
  // wire type protobuf does not define (3, 4, 6, 7: groups are not used by Caffe) throws.
  bool next();
  int field() const { return field_; }
  int wire_type() const { return wire_; }

  // The current field's value; `name` is the field's name in the message, for errors. Each
  // checks that the field has the wire type its declaration gives.
  uint64_t varint(const char* name);
  int32_t int32(const char* name) { return static_cast<int32_t>(varint(name)); }
  int64_t int64(const char* name) { return static_cast<int64_t>(varint(name)); }
  bool boolean(const char* name) { return varint(name) != 0; }
  std::string bytes(const char* name);
  // A `string` field: bytes that must be valid UTF-8, as protobuf requires.
  std::string string(const char* name);
  // A nested message of type `type`.
  WireReader message(const char* name, const char* type);
  // Repeated numbers, packed (one length-delimited run) or not (one value per key):
  // appended to `out`.
  void floats(const char* name, std::vector<float>& out);
  void doubles(const char* name, std::vector<double>& out);
  void int64s(const char* name, std::vector<int64_t>& out);
  // Skips a field this reader does not know.
  void skip();

  // Throws FormatError at the current field's key: "<file>: byte N: Message.name: why".
  [[noreturn]] void fail(const char* name, const std::string& why) const;
  // The same at the message's first byte, for a check over the whole message (a blob's
  // value count against its shape).
  [[noreturn]] void fail_at_start(const char* name, const std::string& why) const;
  const std::string& file() const { return file_; }
  size_t offset() const { return base_ + pos_; }

 private:
  uint64_t raw_varint(const char* name);
  void expect(const char* name, int wire);
  // The current length-delimited field's [begin, end), after checking it fits the message.
  std::pair<size_t, size_t> span(const char* name);
  template <class T, int Wire>
  void fixed_numbers(const char* name, std::vector<T>& out);

  const uint8_t* data_;
  size_t size_;
  size_t base_;
  const std::string& file_;
  std::string message_;
  size_t pos_ = 0;
  size_t key_pos_ = 0;  // where the current field's key starts
  int field_ = 0;
  int wire_ = 0;
};

// Appends fields to a byte string, in the order written.
class WireWriter {
 public:
  void varint(int field, uint64_t value);
  // int32 and int64 negatives are ten-byte varints, as protobuf writes them.
  void int64(int field, int64_t value) { varint(field, static_cast<uint64_t>(value)); }
  void bytes(int field, const std::string& value);
  // A fixed32 field (a float's bits, little-endian).
  void fixed32(int field, uint32_t bits);
  void message(int field, const WireWriter& inner) { bytes(field, inner.out_); }
  void packed_floats(int field, const float* values, size_t n);
  void packed_doubles(int field, const double* values, size_t n);
  void packed_int64s(int field, const std::vector<int64_t>& values);
  const std::string& str() const { return out_; }

 private:
  void key(int field, int wire);
  void raw_varint(uint64_t value);
  std::string out_;
};

}  // namespace lamina::wire
