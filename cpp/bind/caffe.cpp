// Caffe's binary files (lamina/caffe_binary.hpp) for Python: lamina.caffe_proto and the
// tests call these; blobs come back as NumPy arrays over the tensors read.
#include "bind.hpp"

namespace lamina::bind {

namespace {

py::array blob_array(const CaffeBlob& blob) {
  py::object owner = py::cast(blob.value);
  return to_numpy(blob.value, owner);
}

Tensor as_tensor(py::handle value) {
  if (py::isinstance<Tensor>(value)) return value.cast<Tensor>();
  return from_numpy(py::array::ensure(value));
}

py::bytes bytes_of(const std::string& s) { return py::bytes(s.data(), s.size()); }

}  // namespace

void bind_caffe(py::module_& m) {
  m.def("decode_blob_proto", [](const py::bytes& data, const std::string& what) {
    return blob_array(decode_blob_proto(std::string(data), what));
  }, py::arg("data"), py::arg("what") = "<bytes>",
     "A BlobProto's bytes as an array of its shape (float32, or float64 from double_data); "
     "lamina.FileFormatError names the byte and field of anything malformed.");
  m.def("encode_blob_proto", [](py::handle value) { return bytes_of(encode_blob_proto(as_tensor(value))); },
        py::arg("value"), "A BlobProto (shape, packed data; float64 as double_data) of an array or tensor.");
  m.def("read_blob_proto", [](const std::string& path) { return blob_array(read_blob_proto(path)); },
        py::arg("path"), "A .binaryproto file's blob as an array.");
  m.def("write_blob_proto", [](const std::string& path, py::handle value) { write_blob_proto(path, as_tensor(value)); },
        py::arg("path"), py::arg("value"), "Writes a .binaryproto file, atomically.");
  m.def("decode_datum", [](const py::bytes& data, const std::string& what) {
    const CaffeDatum d = decode_datum(std::string(data), what);
    return py::make_tuple(d.channels, d.height, d.width, bytes_of(d.data), d.label, d.float_data, d.encoded);
  }, py::arg("data"), py::arg("what") = "<bytes>",
     "A Datum's bytes as (channels, height, width, data, label, float_data, encoded).");
  def_checked(m, "encode_datum", [](int32_t channels, int32_t height, int32_t width, const py::bytes& data, int32_t label,
                           const std::vector<float>& float_data, bool encoded) {
    return bytes_of(encode_datum({channels, height, width, std::string(data), label, float_data, encoded}));
  }, py::arg("channels"), py::arg("height"), py::arg("width"), py::arg("data"), py::arg("label"),
     py::arg("float_data"), py::arg("encoded"), "A Datum's bytes.");
  m.def("read_caffemodel", [](const std::string& path) {
    std::vector<CaffeLayerBlobs> layers;
    {
      py::gil_scoped_release release;
      layers = read_caffemodel(path);
    }
    py::list out;
    for (const auto& l : layers) {
      py::list blobs;
      for (const auto& b : l.blobs) blobs.append(blob_array(b));
      py::dict d;
      d["name"] = l.name;
      d["type"] = l.type;
      d["bottoms"] = l.bottoms;
      d["tops"] = l.tops;
      d["blobs"] = blobs;
      out.append(d);
    }
    return out;
  }, py::arg("path"), "A .caffemodel's layers in file order: dicts of name, type, bottoms, tops, blobs (arrays).");
  m.def("read_caffe_solver_state", [](const std::string& path) {
    const CaffeSolverState s = read_caffe_solver_state(path);
    py::list history;
    for (const auto& h : s.history) history.append(blob_array(h));
    py::dict d;
    d["iter"] = s.iter;
    d["learned_net"] = s.learned_net;
    d["history"] = history;
    d["current_step"] = s.current_step;
    return d;
  }, py::arg("path"), "A Caffe .solverstate as a dict of iter, learned_net, history (arrays), current_step.");
}

}  // namespace lamina::bind
