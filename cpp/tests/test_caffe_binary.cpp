// Protobuf's wire format and Caffe's binary files: the reader's checks (each naming the
// byte and the field), packed and unpacked numbers, unknown fields skipped, and a net's
// weights through a .caffemodel and back. (Interop with the protobuf package itself is
// checked from Python, tests/test_caffe_binary.py.)
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "io/protobuf_wire.hpp"
#include "lamina/caffe_binary.hpp"
#include "lamina/net.hpp"
#include "messages.hpp"

namespace lamina {

namespace {

using wire::WireReader;
using wire::WireWriter;

const uint8_t* bytes_of(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::string float_bytes(std::vector<float> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

std::string temp_path(const std::string& name) { return ::testing::TempDir() + "lamina_caffe_binary_" + name; }

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

const char* kNet = R"(name: "tiny"
layer { name: "data" type: "Input" top: "data" input_param { shape { dim: 2 dim: 3 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
        inner_product_param { num_output: 4 weight_filler { type: "gaussian" std: 1 } bias_filler { type: "gaussian" std: 1 } } }
)";

}  // namespace

TEST(ProtobufWire, VarintsFixedAndLengthDelimitedRoundTrip) {
  WireWriter w;
  w.varint(1, 300);
  w.int64(2, -5);  // ten bytes, as protobuf writes a negative int64
  w.bytes(3, "abc");
  const float f[] = {1.5f, -2.0f};
  w.packed_floats(4, f, 2);
  w.packed_int64s(5, {1, 1000, -1});
  const std::string file = "mem";
  WireReader r(bytes_of(w.str()), w.str().size(), 0, file, "M");
  std::vector<float> floats;
  std::vector<int64_t> ints;
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.varint("a"), 300u);
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.int64("b"), -5);
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.bytes("c"), "abc");
  ASSERT_TRUE(r.next());
  r.floats("d", floats);
  ASSERT_TRUE(r.next());
  r.int64s("e", ints);
  EXPECT_FALSE(r.next());
  EXPECT_EQ(floats, (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(ints, (std::vector<int64_t>{1, 1000, -1}));
}

TEST(ProtobufWire, UnpackedRepeatedNumbersAppend) {
  std::string m;
  for (float v : {1.0f, 2.0f}) m += std::string("\x2d", 1) + float_bytes({v});  // field 5, wire 5
  m += std::string("\x2a\x04", 2) + float_bytes({3.0f});                        // then a packed run
  const std::string file = "mem";
  WireReader r(bytes_of(m), m.size(), 0, file, "BlobProto");
  std::vector<float> out;
  while (r.next()) r.floats("data", out);
  EXPECT_EQ(out, (std::vector<float>{1.0f, 2.0f, 3.0f}));
}

TEST(ProtobufWire, EachBadInputNamesTheByteAndField) {
  const std::string file = "f.bin";
  struct Case {
    std::string bytes;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {std::string("\x08") + std::string(10, '\x80') + "\x01", "f.bin: byte 0: M.a: a varint longer than 10 bytes"},
      {std::string("\x0a\x05" "ab", 4), "f.bin: byte 0: M.a: wire type length-delimited (2) where the field is varint (0)"},
      {std::string("\x08\x01\x12\x09xy", 6), "f.bin: byte 2: M.b: claims 9 bytes but 2 are left"},
      {std::string("\x08", 1), "f.bin: byte 0: M.a: truncated"},
      {std::string("\x08\x01\x0b", 3), "f.bin: byte 2: M.(key): field 1 has wire type 3"},
      {std::string("\x1a\x03" "a\xc0\x80", 5), "f.bin: byte 0: M.c: byte 1 of the string is not valid UTF-8"},
  };
  for (const auto& c : cases) {
    const std::string m = message_of<FormatError>([&] {
      WireReader r(bytes_of(c.bytes), c.bytes.size(), 0, file, "M");
      while (r.next()) {
        if (r.field() == 1) r.varint("a");
        else if (r.field() == 2) r.bytes("b");
        else if (r.field() == 3) r.string("c");
        else r.skip();
      }
    });
    EXPECT_EQ(m.rfind(c.expected, 0), 0u) << m;
  }
}

TEST(CaffeBinary, BlobProtoShapesCountsAndLegacyDims) {
  const Tensor t = Tensor::full({2, 3}, 0.25);
  const CaffeBlob back = decode_blob_proto(encode_blob_proto(t), "mem");
  EXPECT_EQ(back.value.shape(), (Shape{2, 3}));
  EXPECT_FALSE(back.legacy);
  EXPECT_EQ(back.value.data<float>()[5], 0.25f);
  // num 1, channels 1, height 2, width 3 (legacy), data unpacked after an unknown field.
  std::string legacy = std::string("\x08\x01\x10\x01\x18\x02\x20\x03\x78\x07", 10);
  for (int k = 0; k < 6; ++k) legacy += std::string("\x2d", 1) + float_bytes({float(k)});
  const CaffeBlob old = decode_blob_proto(legacy, "old");
  EXPECT_TRUE(old.legacy);
  EXPECT_EQ(old.value.shape(), (Shape{1, 1, 2, 3}));
  EXPECT_TRUE(old.fits({2, 3}));
  EXPECT_FALSE(old.fits({3, 2}));
  const std::string m = message_of<FormatError>([&] { decode_blob_proto(legacy.substr(0, legacy.size() - 5), "cut"); });
  EXPECT_EQ(m, "cut: byte 0: BlobProto.data: holds 5 values for shape [1, 1, 2, 3]");
}

TEST(CaffeBinary, NetWeightsThroughACaffemodel) {
  Net a = Net::from_text(kNet, {}, "a");
  Net b = Net::from_text(kNet, {}, "b");
  const std::string path = temp_path("tiny.caffemodel");
  a.save(path, "caffemodel");
  EXPECT_TRUE(b.load(path).empty());
  for (size_t k = 0; k < 2; ++k) {
    const Tensor& x = a.layers()[1].layer->blobs()[k];
    const Tensor& y = b.layers()[1].layer->blobs()[k];
    EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), sizeof(float) * size_t(x.numel())), 0);
  }
  const auto layers = read_caffemodel(path);
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[1].name, "ip");
  EXPECT_EQ(layers[1].type, "InnerProduct");
  EXPECT_EQ(layers[1].bottoms, std::vector<std::string>{"data"});
  EXPECT_EQ(layers[1].blobs[0].value.shape(), (Shape{4, 3}));
  std::remove(path.c_str());
}

TEST(CaffeBinary, AMismatchedCaffemodelChangesNothing) {
  Net net = Net::from_text(kNet, {}, "n");
  CaffeLayerBlobs ip{"ip", "InnerProduct", {}, {}, {{Tensor::zeros({4, 3}), false}, {Tensor::zeros({5}), false}}};
  CaffeLayerBlobs extra{"gone", "ReLU", {}, {}, {}};
  const std::string path = temp_path("bad.caffemodel");
  write_caffemodel(path, "n", {ip, extra});
  const float before = net.layers()[1].layer->blobs()[0].data<float>()[0];
  const std::string m = message_of<ShapeError>([&] { net.load(path); });
  EXPECT_NE(m.find("layer 'ip' blob 1: the file's shape [5] is not the net's [4]"), std::string::npos) << m;
  EXPECT_EQ(net.layers()[1].layer->blobs()[0].data<float>()[0], before);
  ip.blobs[1].value = Tensor::zeros({4});
  write_caffemodel(path, "n", {ip, extra});
  EXPECT_EQ(net.load(path), std::vector<std::string>{"gone"});
  EXPECT_EQ(net.layers()[1].layer->blobs()[0].data<float>()[0], 0.0f);
  std::remove(path.c_str());
}

TEST(CaffeBinary, SolverStateRoundTrip) {
  CaffeSolverState s;
  s.iter = 12;
  s.learned_net = "x.caffemodel";
  s.current_step = 2;
  s.history.push_back({Tensor::full({3}, 1.0, DType::f64), false});
  const std::string path = temp_path("s.solverstate");
  write_caffe_solver_state(path, s);
  const CaffeSolverState back = read_caffe_solver_state(path);
  EXPECT_EQ(back.iter, 12);
  EXPECT_EQ(back.learned_net, "x.caffemodel");
  EXPECT_EQ(back.current_step, 2);
  ASSERT_EQ(back.history.size(), 1u);
  EXPECT_EQ(back.history[0].value.dtype(), DType::f64);  // double_data
  write_file(path, "\x08");
  EXPECT_NE(message_of<FormatError>([&] { read_caffe_solver_state(path); }).find("SolverState.iter: truncated"),
            std::string::npos);
  std::remove(path.c_str());
}

}  // namespace lamina
