// Caffe's binary messages (see caffe_binary.hpp). Field numbers are caffe.proto's:
//
//   NetParameter        1 name, 2 layers (V1LayerParameter), 100 layer (LayerParameter)
//   LayerParameter      1 name, 2 type, 3 bottom, 4 top, 7 blobs
//   V1LayerParameter    1 layer (V0LayerParameter), 2 bottom, 3 top, 4 name, 5 type (enum), 6 blobs
//   V0LayerParameter    1 name, 2 type, 50 blobs
//   BlobProto           1 num, 2 channels, 3 height, 4 width, 5 data, 6 diff, 7 shape,
//                       8 double_data, 9 double_diff
//   BlobShape           1 dim (int64, packed)
//   SolverState         1 iter, 2 learned_net, 3 history, 4 current_step
//   Datum               1 channels, 2 height, 3 width, 4 data, 5 label, 6 float_data, 7 encoded
#include "lamina/caffe_binary.hpp"

#include <cstring>
#include <fstream>

#include "io/atomic_file.hpp"
#include "io/input_file.hpp"
#include "io/protobuf_wire.hpp"

namespace lamina {

namespace {

using wire::WireReader;
using wire::WireWriter;

constexpr size_t kMaxBlobAxes = 32;  // Caffe's limit

WireReader top_reader(const std::string& bytes, const std::string& what, const char* message) {
  return WireReader(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), 0, what, message);
}

template <class T>
Tensor tensor_of(const Shape& shape, const std::vector<T>& values, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  if (!values.empty()) std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  return t;
}

CaffeBlob decode_blob(WireReader r) {
  int64_t legacy[4] = {0, 0, 0, 0};
  bool has_legacy = false, has_shape = false;
  std::vector<int64_t> dims;
  std::vector<float> data;
  std::vector<double> double_data;
  static const char* kLegacy[4] = {"num", "channels", "height", "width"};
  while (r.next()) {
    switch (r.field()) {
      case 1: case 2: case 3: case 4:
        legacy[r.field() - 1] = r.int32(kLegacy[r.field() - 1]);
        has_legacy = true;
        break;
      case 5: r.floats("data", data); break;
      case 8: r.doubles("double_data", double_data); break;
      case 7: {
        WireReader s = r.message("shape", "BlobShape");
        has_shape = true;
        while (s.next()) {
          if (s.field() == 1) {
            s.int64s("dim", dims);
            if (dims.size() > kMaxBlobAxes) s.fail("dim", "more than " + std::to_string(kMaxBlobAxes) + " axes");
          } else {
            s.skip();
          }
        }
        break;
      }
      default: r.skip();  // diff, double_diff: gradients, not needed
    }
  }
  const Shape shape = has_shape ? Shape(dims.begin(), dims.end()) : Shape(legacy, legacy + 4);
  for (auto d : shape)
    if (d < 0) r.fail_at_start("shape", "negative dimension in " + shape_str(shape));
  if (!data.empty() && !double_data.empty())
    r.fail_at_start("data", "holds both data (" + std::to_string(data.size()) + " values) and double_data (" +
                                std::to_string(double_data.size()) + ")");
  const bool doubles = !double_data.empty();
  const size_t count = doubles ? double_data.size() : data.size();
  // The product of the dimensions, stopping as soon as it passes the values held.
  bool fits = true;
  uint64_t product = 1;
  for (auto d : shape) {
    if (d == 0) { product = 0; fits = true; break; }
    if (product > count / uint64_t(d)) fits = false;
    else product *= uint64_t(d);
  }
  if (!fits || product != count)
    r.fail_at_start(doubles ? "double_data" : "data", "holds " + std::to_string(count) + " values for shape " +
                                                          shape_str(shape));
  CaffeBlob blob;
  blob.legacy = !has_shape && has_legacy;
  blob.value = doubles ? tensor_of(shape, double_data, DType::f64) : tensor_of(shape, data, DType::f32);
  return blob;
}

void encode_blob(WireWriter& w, const Tensor& value) {
  const Tensor t = value.detach().contiguous();
  WireWriter shape;
  shape.packed_int64s(1, std::vector<int64_t>(t.shape().begin(), t.shape().end()));
  w.message(7, shape);
  if (t.dtype() == DType::f64) {
    w.packed_doubles(8, t.data<double>(), static_cast<size_t>(t.numel()));
  } else {
    const Tensor f = t.to(DType::f32).contiguous();
    w.packed_floats(5, f.data<float>(), static_cast<size_t>(f.numel()));
  }
}

void read_layer(WireReader r, CaffeLayerBlobs& layer) {
  while (r.next()) {
    switch (r.field()) {
      case 1: layer.name = r.string("name"); break;
      case 2: layer.type = r.string("type"); break;
      case 3: layer.bottoms.push_back(r.string("bottom")); break;
      case 4: layer.tops.push_back(r.string("top")); break;
      case 7: layer.blobs.push_back(decode_blob(r.message("blobs", "BlobProto"))); break;
      default: r.skip();
    }
  }
}

void read_v0_layer(WireReader r, CaffeLayerBlobs& layer) {
  while (r.next()) {
    switch (r.field()) {
      case 1: layer.name = r.string("name"); break;
      case 2: layer.type = r.string("type"); break;
      case 50: layer.blobs.push_back(decode_blob(r.message("blobs", "BlobProto"))); break;
      default: r.skip();
    }
  }
}

void read_v1_layer(WireReader r, CaffeLayerBlobs& layer) {
  while (r.next()) {
    switch (r.field()) {
      case 1: read_v0_layer(r.message("layer", "V0LayerParameter"), layer); break;
      case 2: layer.bottoms.push_back(r.string("bottom")); break;
      case 3: layer.tops.push_back(r.string("top")); break;
      case 4: layer.name = r.string("name"); break;
      case 5: r.varint("type"); break;  // the V1 enum; weights are matched by name
      case 6: layer.blobs.push_back(decode_blob(r.message("blobs", "BlobProto"))); break;
      default: r.skip();
    }
  }
}

}  // namespace

bool CaffeBlob::fits(const Shape& target) const {
  if (!legacy) return value.shape() == target;
  if (target.size() > 4) return false;
  Shape padded(4 - target.size(), 1);
  padded.insert(padded.end(), target.begin(), target.end());
  return value.shape() == padded;
}

CaffeBlob decode_blob_proto(const std::string& bytes, const std::string& what) {
  return decode_blob(top_reader(bytes, what, "BlobProto"));
}

std::string encode_blob_proto(const Tensor& value) {
  WireWriter w;
  encode_blob(w, value);
  return w.str();
}

CaffeBlob read_blob_proto(const std::string& path) {
  return decode_blob_proto(io::read_whole(path, "read_blob_proto"), path);
}

void write_blob_proto(const std::string& path, const Tensor& value) {
  const std::string bytes = encode_blob_proto(value);
  io::write_atomically(path, "write_blob_proto", bytes);
}

std::vector<CaffeLayerBlobs> read_caffemodel(const std::string& path) {
  const std::string bytes = io::read_whole(path, "read_caffemodel");
  WireReader r = top_reader(bytes, path, "NetParameter");
  std::vector<CaffeLayerBlobs> layers;
  while (r.next()) {
    if (r.field() == 100) {
      layers.emplace_back();
      read_layer(r.message("layer", "LayerParameter"), layers.back());
    } else if (r.field() == 2) {
      layers.emplace_back();
      read_v1_layer(r.message("layers", "V1LayerParameter"), layers.back());
    } else if (r.field() == 1) {
      r.string("name");
    } else {
      r.skip();
    }
  }
  return layers;
}

void write_caffemodel(const std::string& path, const std::string& net_name, const std::vector<CaffeLayerBlobs>& layers) {
  WireWriter net;
  net.bytes(1, net_name);
  for (const auto& layer : layers) {
    WireWriter l;
    l.bytes(1, layer.name);
    l.bytes(2, layer.type);
    for (const auto& b : layer.bottoms) l.bytes(3, b);
    for (const auto& t : layer.tops) l.bytes(4, t);
    for (const auto& blob : layer.blobs) {
      WireWriter b;
      encode_blob(b, blob.value);
      l.message(7, b);
    }
    net.message(100, l);
  }
  const std::string& bytes = net.str();
  io::write_atomically(path, "write_caffemodel", bytes);
}

CaffeDatum decode_datum(const std::string& bytes, const std::string& what) {
  WireReader r = top_reader(bytes, what, "Datum");
  CaffeDatum d;
  while (r.next()) {
    switch (r.field()) {
      case 1: d.channels = r.int32("channels"); break;
      case 2: d.height = r.int32("height"); break;
      case 3: d.width = r.int32("width"); break;
      case 4: d.data = r.bytes("data"); break;
      case 5: d.label = r.int32("label"); break;
      case 6: r.floats("float_data", d.float_data); break;
      case 7: d.encoded = r.boolean("encoded"); break;
      default: r.skip();
    }
  }
  if (d.channels < 0 || d.height < 0 || d.width < 0)
    r.fail_at_start("channels", "negative dimensions " + std::to_string(d.channels) + "x" + std::to_string(d.height) +
                                    "x" + std::to_string(d.width));
  return d;
}

std::string encode_datum(const CaffeDatum& d) {
  WireWriter w;
  w.int64(1, d.channels);
  w.int64(2, d.height);
  w.int64(3, d.width);
  if (!d.data.empty()) w.bytes(4, d.data);
  w.int64(5, d.label);
  if (!d.float_data.empty()) w.packed_floats(6, d.float_data.data(), d.float_data.size());
  if (d.encoded) w.varint(7, 1);
  return w.str();
}

CaffeSolverState read_caffe_solver_state(const std::string& path) {
  const std::string bytes = io::read_whole(path, "read_caffe_solver_state");
  WireReader r = top_reader(bytes, path, "SolverState");
  CaffeSolverState s;
  while (r.next()) {
    switch (r.field()) {
      case 1: s.iter = r.int32("iter"); break;
      case 2: s.learned_net = r.string("learned_net"); break;
      case 3: s.history.push_back(decode_blob(r.message("history", "BlobProto"))); break;
      case 4: s.current_step = r.int32("current_step"); break;
      default: r.skip();
    }
  }
  if (s.iter < 0) r.fail_at_start("iter", "negative iteration " + std::to_string(s.iter));
  if (s.current_step < 0) r.fail_at_start("current_step", "negative step " + std::to_string(s.current_step));
  return s;
}

void write_caffe_solver_state(const std::string& path, const CaffeSolverState& state) {
  WireWriter w;
  w.int64(1, state.iter);
  w.bytes(2, state.learned_net);
  for (const auto& h : state.history) {
    WireWriter b;
    encode_blob(b, h.value);
    w.message(3, b);
  }
  w.int64(4, state.current_step);
  const std::string& bytes = w.str();
  io::write_atomically(path, "write_caffe_solver_state", bytes);
}

}  // namespace lamina
