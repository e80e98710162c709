// What lamina.nn needs from C++ beyond lamina.ops: the recurrent layers, adaptive pooling,
// conv1d, Caffe's fillers for any tensor, and safetensors files of named tensors.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "bind.hpp"

namespace lamina::bind {

namespace {

py::object or_none(const Tensor& t) { return t.defined() ? py::cast(t) : py::none(); }

RecurrentWeights weights(const Tensor& w_x, py::handle b_x, const Tensor& w_h, py::handle b_h) {
  return RecurrentWeights{w_x, optional_tensor(b_x), w_h, optional_tensor(b_h)};
}

py::tuple result(const RecurrentResult& r) { return py::make_tuple(r.y, r.h, or_none(r.c)); }

}  // namespace

void bind_nn(py::module_& m) {
  py::module_ ops = m.attr("ops").cast<py::module_>();
  ops.def("lstm", [](const Tensor& x, const Tensor& w_x, py::object b_x, const Tensor& w_h, py::object b_h,
                     py::object h0, py::object c0, py::object cont, const std::string& gates) {
    LAMINA_CHECK(gates == "caffe" || gates == "pytorch", "lstm: gates must be 'caffe' or 'pytorch', got '", gates, "'");
    const RecurrentWeights w = weights(w_x, b_x, w_h, b_h);
    const Tensor h = optional_tensor(h0), c = optional_tensor(c0), k = optional_tensor(cont);
    RecurrentResult r;
    {
      py::gil_scoped_release release;
      r = lstm(x, w, h, c, k, gates == "caffe" ? LstmGates::caffe : LstmGates::pytorch);
    }
    return result(r);
  }, py::arg("x"), py::arg("w_x"), py::arg("b_x"), py::arg("w_h"), py::arg("b_h") = py::none(),
     py::arg("h0") = py::none(), py::arg("c0") = py::none(), py::arg("cont") = py::none(),
     py::arg("gates") = "pytorch",
     "LSTM over x [T, N, D] -> (y [T, N, H], h_T, c_T); gate rows in PyTorch's order (i, f, g, o) or Caffe's "
     "(i, f, o, g).");
  ops.def("gru", [](const Tensor& x, const Tensor& w_x, py::object b_x, const Tensor& w_h, py::object b_h,
                    py::object h0, py::object cont) {
    const RecurrentWeights w = weights(w_x, b_x, w_h, b_h);
    const Tensor h = optional_tensor(h0), k = optional_tensor(cont);
    RecurrentResult r;
    {
      py::gil_scoped_release release;
      r = gru(x, w, h, k);
    }
    return result(r);
  }, py::arg("x"), py::arg("w_x"), py::arg("b_x"), py::arg("w_h"), py::arg("b_h") = py::none(),
     py::arg("h0") = py::none(), py::arg("cont") = py::none(), "PyTorch's GRU over x [T, N, D] -> (y, h_T, None).");
  ops.def("rnn", [](const Tensor& x, const Tensor& w_x, py::object b_x, const Tensor& w_h, py::object b_h,
                    py::object h0, py::object cont, const std::string& nonlinearity) {
    LAMINA_CHECK(nonlinearity == "tanh" || nonlinearity == "relu", "rnn: nonlinearity must be 'tanh' or 'relu', got '",
                 nonlinearity, "'");
    const RecurrentWeights w = weights(w_x, b_x, w_h, b_h);
    const Tensor h = optional_tensor(h0), k = optional_tensor(cont);
    RecurrentResult r;
    {
      py::gil_scoped_release release;
      r = rnn(x, w, h, k, nonlinearity == "relu");
    }
    return result(r);
  }, py::arg("x"), py::arg("w_x"), py::arg("b_x"), py::arg("w_h"), py::arg("b_h") = py::none(),
     py::arg("h0") = py::none(), py::arg("cont") = py::none(), py::arg("nonlinearity") = "tanh",
     "Elman RNN over x [T, N, D] -> (y, h_T, None).");
  ops.def("adaptive_avg_pool2d", [](const Tensor& x, py::object size) {
    const std::vector<int64_t> s = to_int64s(size, "adaptive_avg_pool2d", "output_size");
    LAMINA_CHECK(s.size() == 2 || is_int_like(size), "adaptive_avg_pool2d: output_size must be an int or an (h, w) "
                 "pair, got ", py::repr(size).cast<std::string>());
    py::gil_scoped_release release;
    return adaptive_avg_pool2d(x, s.front(), s.back());
  }, py::arg("x"), py::arg("output_size"));
  def_checked(ops, "conv1d", [](const Tensor& x, const Tensor& w, py::object b, int64_t stride, int64_t pad, int64_t dilation,
                       int64_t groups) {
    const Tensor bias = optional_tensor(b);
    py::gil_scoped_release release;
    return conv1d(x, w, bias, stride, pad, dilation, groups);
  }, py::arg("x"), py::arg("weight"), py::arg("bias") = py::none(), py::arg("stride") = 1, py::arg("pad") = 0,
     py::arg("dilation") = 1, py::arg("groups") = 1, "x [N, C, L], weight [O, C/groups, K] -> [N, O, OL].");

  m.def("_fill", [](Tensor& t, const std::string& filler_text) {
    auto message = std::make_shared<prototxt::Message>(prototxt::parse(filler_text, "<filler>"));
    schema::validate(*message, "FillerParameter", "<filler>");
    const schema::Params p(message.get(), "FillerParameter", "<filler>");
    NoGradGuard guard;
    fill(t, p);
  }, py::arg("tensor"), py::arg("filler"), "Fills a tensor in place by a FillerParameter given as prototxt text.");
  m.def("save_safetensors", [](const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                               const std::map<std::string, std::string>& metadata) {
    py::gil_scoped_release release;
    save_safetensors(path, tensors, metadata);
  }, py::arg("path"), py::arg("tensors"), py::arg("metadata") = std::map<std::string, std::string>{},
     "Writes (name, tensor) pairs to a safetensors file atomically.");
  m.def("load_safetensors", [](const std::string& path) {
    std::map<std::string, std::string> metadata;
    std::vector<std::pair<std::string, Tensor>> tensors;
    {
      py::gil_scoped_release release;
      tensors = load_safetensors(path, &metadata);
    }
    return py::make_tuple(tensors, metadata);
  }, py::arg("path"), "Reads a safetensors file: ([(name, tensor)], metadata); the whole file is checked first.");
}

}  // namespace lamina::bind
