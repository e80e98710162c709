// lamina._Net (wrapped by python/lamina/net.py), the schema, and layers written in Python.
#include <deque>

#include "bind.hpp"

namespace lamina::bind {

namespace {

py::object params_value(const schema::Params& p, const std::string& name);

// A layer whose forward is Python code on lamina tensors (the tape gives its backward).
// The object follows lamina.Layer: setup(bottoms) may call add_param, forward(bottoms)
// returns a Tensor or a sequence of them.
class PythonLayer : public Layer {
 public:
  PythonLayer(const LayerSpec& spec, py::object instance) : Layer(spec), obj_(std::move(instance)) {}
  ~PythonLayer() override {
    py::gil_scoped_acquire gil;
    obj_ = py::object();
  }
  void setup(const std::vector<Tensor>& bottoms, LayerContext& context) override {
    py::gil_scoped_acquire gil;
    size_t next = 0;
    auto add_param = py::cpp_function([this, &context, &next](py::object shape, const std::string& filler) {
      fillers_.push_back(prototxt::parse(filler, "<" + spec_.name + " filler>"));
      schema::validate(fillers_.back(), "FillerParameter", "<" + spec_.name + " filler>");
      Tensor t = context.param(next++, to_shape(shape, "add_param"),
                               schema::Params(&fillers_.back(), "FillerParameter", "<filler>"));
      blobs_.push_back(t);
      return t;
    });
    obj_.attr("_lamina_setup")(bottoms, add_param);
  }
  std::vector<Tensor> forward(const std::vector<Tensor>& bottoms) override {
    py::gil_scoped_acquire gil;
    py::object out = obj_.attr("forward")(bottoms);
    if (py::isinstance<Tensor>(out)) return {out.cast<Tensor>()};
    return out.cast<std::vector<Tensor>>();
  }

 private:
  py::object obj_;
  std::deque<prototxt::Message> fillers_;
};

// Whether the net being built on this thread may import Python code for `type: "Python"`
// layers (python_param names any module and callable: loading a model file must not run
// code unless the caller said so). Set for the duration of one _Net or _Solver construction.
thread_local bool t_python_layers = false;

struct PythonLayersAllowed {
  explicit PythonLayersAllowed(bool allow) : before(t_python_layers) { t_python_layers = allow; }
  ~PythonLayersAllowed() { t_python_layers = before; }
  bool before;
};

std::unique_ptr<Layer> make_python_layer(const LayerSpec& spec, py::object cls) {
  py::gil_scoped_acquire gil;
  py::object instance = cls();
  instance.attr("name") = spec.name;
  instance.attr("type") = spec.type;
  instance.attr("phase") = spec.phase == Phase::train ? "train" : "test";
  instance.attr("param") = spec.param;
  if (spec.type == "Python") instance.attr("param_str") = spec.param_message("python_param").get_string("param_str");
  return std::make_unique<PythonLayer>(spec, instance);
}

py::object params_value(const schema::Params& p, const std::string& name) {
  const schema::FieldSpec* f = schema::message(p.type()).field(name);
  if (!f) throw IndexError(p.type() + " has no field '" + name + "'");
  using schema::Type;
  auto one = [&](auto&& values) -> py::object {
    if (f->repeated) return py::cast(values);
    return values.empty() ? py::none() : py::cast(values.front());
  };
  switch (f->type) {
    case Type::message: {
      if (f->repeated) return py::cast(p.messages(name));
      return py::cast(p.get_message(name));
    }
    case Type::string: case Type::enumeration:
      return f->repeated ? py::cast(p.strings(name)) : py::cast(p.get_string(name));
    case Type::boolean:
      return f->repeated ? one(p.bools(name)) : py::cast(p.get_bool(name));
    case Type::f32: case Type::f64:
      return f->repeated ? one(p.floats(name)) : py::cast(p.get_float(name));
    default:
      return f->repeated ? one(p.ints(name)) : py::cast(p.get_int(name));
  }
}

NetOptions options_from(const std::string& phase, const std::vector<std::string>& stages, py::handle level,
                        const py::dict& input_shapes, py::handle dtype) {
  NetOptions o;
  o.dtype = to_dtype(dtype, "Net");
  if (phase != "train" && phase != "test" && phase != "TRAIN" && phase != "TEST")
    throw ValueError("Net: phase must be 'train' or 'test', got '" + phase + "'");
  o.phase = (phase == "train" || phase == "TRAIN") ? Phase::train : Phase::test;
  o.stages = stages;
  o.level = to_int<int>(level, "Net", "level");
  for (auto item : input_shapes) o.input_shapes[item.first.cast<std::string>()] = to_shape(item.second, "input_shapes");
  return o;
}

// [(layer name, [blob Tensor, ...]), ...] from Python: Caffe's layers as an HDF5 file holds them.
std::vector<CaffeLayerBlobs> caffe_layers_from(const py::handle& layers) {
  std::vector<CaffeLayerBlobs> out;
  for (py::handle item : layers) {
    auto pair = item.cast<py::sequence>();
    CaffeLayerBlobs l;
    l.name = pair[0].cast<std::string>();
    for (py::handle b : pair[1]) l.blobs.push_back({b.cast<Tensor>(), false});
    out.push_back(std::move(l));
  }
  return out;
}

}  // namespace

void bind_solver(py::module_& m);

void bind_net(py::module_& m) {
  py::module_ sm = m.def_submodule("schema", "The Caffe message schema prototxt files are checked against.");
  py::class_<schema::Params>(sm, "Params", "A validated message: params['field'] gives the value or Caffe's default.")
      .def("__getitem__", &params_value, py::arg("field"))
      .def("has", &schema::Params::has, py::arg("field"), "Whether the field is given in the file.")
      .def_property_readonly("type", &schema::Params::type)
      .def("__repr__", [](const schema::Params& p) { return "<schema.Params " + p.type() + ">"; });
  sm.def("params", [](std::shared_ptr<prototxt::Message> message, const std::string& type, const std::string& file) {
    schema::validate(*message, type, file);
    return schema::Params(message.get(), type, file);
  }, py::arg("message"), py::arg("type"), py::arg("file") = "<string>", py::keep_alive<0, 1>(),
     "A validated message read with the schema's defaults: params['field'].");
  sm.def("define", &schema::define, py::arg("declarations"), py::arg("source") = "<schema>",
         "Adds message, enum and `extend LayerParameter` declarations (see lamina/schema.hpp).");
  sm.def("validate", [](const prototxt::Message& msg, const std::string& type, const std::string& file) {
    schema::validate(msg, type, file);
  }, py::arg("message"), py::arg("type"), py::arg("file") = "<string>");
  sm.def("fields", [](const std::string& message) {
    // (name, kind, type name, repeated) per field: kind is "message", "enum", "string",
    // "bool", "int" or "float".
    py::list out;
    for (const auto& f : schema::message(message).fields) {
      using schema::Type;
      const char* kind = f.type == Type::message       ? "message"
                         : f.type == Type::enumeration ? "enum"
                         : f.type == Type::string      ? "string"
                         : f.type == Type::boolean     ? "bool"
                         : (f.type == Type::f32 || f.type == Type::f64) ? "float"
                                                                        : "int";
      out.append(py::make_tuple(f.name, kind, f.type_name, f.repeated));
    }
    return out;
  }, py::arg("message"), "The fields of a schema message: (name, kind, type name, repeated).");
  sm.def("enum_values", [](const std::string& name) {
    std::vector<std::string> out;
    for (const auto& v : schema::enumeration(name).values) out.push_back(v.first);
    return out;
  }, py::arg("name"));

  def_checked(m, "_register_layer", [](const std::string& type, py::object cls, int min_bottoms, int max_bottoms,
                                       int min_tops, int max_tops, bool loss) {
    py::object keep = cls;
    LayerRegistry::global().add(LayerInfo{type, min_bottoms, max_bottoms, min_tops, max_tops, loss, false,
                                          [keep](const LayerSpec& spec) { return make_python_layer(spec, keep); }});
  }, py::arg("type"), py::arg("cls"), py::arg("min_bottoms"), py::arg("max_bottoms"), py::arg("min_tops"),
     py::arg("max_tops"), py::arg("loss"));
  m.def("_install_python_layer", [](py::object resolve) {
    // resolve(module, layer) -> class; imports happen with the GIL held.
    py::object keep = resolve;
    LayerRegistry::global().add(LayerInfo{"Python", 0, -1, 0, -1, false, false, [keep](const LayerSpec& spec) {
      py::gil_scoped_acquire gil;
      const auto p = spec.param_message("python_param");
      if (p.get_string("module").empty() || p.get_string("layer").empty())
        spec.fail("needs python_param { module: \"...\" layer: \"...\" }", "python_param");
      if (!t_python_layers)
        spec.fail("would import and run Python code (module '" + p.get_string("module") + "', layer '" +
                      p.get_string("layer") +
                      "'); allow it with lamina.Net(..., python_layers=True), lamina.Solver(..., "
                      "python_layers=True) or lamina train --allow-python-layers",
                  "python_param");
      py::object cls = keep(p.get_string("module"), p.get_string("layer"));
      return make_python_layer(spec, cls);
    }});
  });
  m.def("layer_types", [] { return LayerRegistry::global().types(); }, "Every registered layer type.");

  py::class_<Net> net(m, "_Net");
  net.def(py::init([](const std::string& source, bool is_text, const std::string& file, const std::string& phase,
                       const std::vector<std::string>& stages, py::handle level, const py::dict& input_shapes,
                       py::object dtype, bool python_layers) {
             NetOptions o = options_from(phase, stages, level, input_shapes, dtype);
             prototxt::Message tree = is_text ? prototxt::parse(source, file) : prototxt::parse_file(source);
             PythonLayersAllowed allow(python_layers);
             py::gil_scoped_release release;
             return std::make_unique<Net>(tree, is_text ? file : source, o);
           }),
           py::arg("source"), py::arg("is_text"), py::arg("file"), py::arg("phase"), py::arg("stages"),
           py::arg("level"), py::arg("input_shapes"), py::arg("dtype"), py::arg("python_layers") = false)
      .def("forward", [](Net& net, const std::map<std::string, Tensor>& inputs) {
        py::gil_scoped_release release;
        return net.forward(inputs);
      })
      .def("backward", [](Net& net) {
        py::gil_scoped_release release;
        net.backward();
      })
      .def("blob_diff", &Net::blob_diff)
      .def("clear_param_diffs", &Net::clear_param_diffs)
      .def("blob", &Net::blob)
      .def("blob_grad", &Net::blob_grad)
      .def("set_input", &Net::set_input)
      .def_property_readonly("name", &Net::name)
      .def_property_readonly("phase", [](const Net& n) { return n.phase() == Phase::train ? "train" : "test"; })
      .def_property_readonly("blob_names", &Net::blob_names)
      .def_property_readonly("inputs", &Net::inputs)
      .def_property_readonly("outputs", &Net::outputs)
      .def("layers", [](const Net& net) {
        py::list out;
        for (const auto& e : net.layers()) {
          py::dict d;
          d["name"] = e.layer->name();
          d["type"] = e.layer->spec().type;
          d["bottoms"] = e.layer->spec().bottoms;
          d["tops"] = e.layer->spec().tops;
          d["blobs"] = e.layer->blobs();
          d["lr_mult"] = e.lr_mult;
          d["decay_mult"] = e.decay_mult;
          d["loss_weights"] = e.loss_weights;
          d["line"] = e.position.line;
          d["fused"] = e.fused;
          d["param"] = e.layer->spec().param;
          out.append(d);
        }
        return out;
      })
      .def("learnable_params", [](const Net& net) {
        py::list out;
        for (const auto& p : net.learnable_params()) out.append(py::make_tuple(p.name, p.value, p.lr_mult, p.decay_mult));
        return out;
      })
      .def("save", [](const Net& net, const std::string& path, const std::string& format) {
        py::gil_scoped_release release;
        net.save(path, format);
      }, py::arg("path"), py::arg("format") = "safetensors")
      .def("load", [](Net& net, const std::string& path) {
        py::gil_scoped_release release;
        return net.load(path);
      })
      .def("caffe_layers", [](const Net& net) {
        py::list out;
        for (const auto& l : net.caffe_layers()) {
          py::list blobs;
          for (const auto& b : l.blobs) blobs.append(b.value);
          out.append(py::make_tuple(l.name, l.type, blobs));
        }
        return out;
      })
      .def("copy_layers", [](Net& net, const py::list& layers, const std::string& source) {
        return net.copy_layers(caffe_layers_from(layers), source);
      })
      .def("to_prototxt", &Net::to_prototxt)
      .def("share_weights_from", &Net::share_weights_from)
      .def_static("from_onnx", [](const std::string& path, const std::string& phase, const py::dict& input_shapes,
                                  py::object dtype) {
        NetOptions o = options_from(phase, {}, py::int_(0), input_shapes, dtype);
        py::gil_scoped_release release;
        return std::make_unique<Net>(import_onnx(path, o));
      }, py::arg("path"), py::arg("phase"), py::arg("input_shapes"), py::arg("dtype"));
  def_checked(net, "forward_range", [](Net& n, size_t start, size_t end) { return n.forward_range(start, end); },
              py::arg("start"), py::arg("end"), Release());
  def_checked(net, "backward_range", [](Net& n, size_t start, size_t end) { n.backward_range(start, end); },
              py::arg("start"), py::arg("end"), Release());
  def_checked(net, "to_onnx", [](const Net& n, const std::string& path, int opset) { export_onnx(n, path, opset); },
              py::arg("path"), py::arg("opset") = 17);
  def_checked(net, "onnx_model", [](const Net& n, int opset) {
    const std::string bytes = onnx_model(n, opset);
    return py::bytes(bytes.data(), bytes.size());
  }, py::arg("opset") = 17);
  def_checked(net, "time_layers", [](Net& n, int iterations) {
    std::vector<Net::Timing> t;
    {
      py::gil_scoped_release release;
      t = n.time_layers(iterations);
    }
    py::list out;
    for (const auto& x : t) out.append(py::make_tuple(x.layer, x.type, x.forward_ms, x.backward_ms));
    return out;
  }, py::arg("iterations"));
  bind_solver(m);
}

void bind_solver(py::module_& m) {
  py::class_<Solver> solver(m, "_Solver");
  solver.def(py::init([](const std::string& source, bool is_text, const std::string& net, const py::dict& input_shapes,
                       const py::dict& test_input_shapes, bool quiet, bool python_layers) {
             Solver::Options o;
             o.net = net;
             o.quiet = quiet;
             for (auto item : input_shapes)
               o.input_shapes[item.first.cast<std::string>()] = to_shape(item.second, "input_shapes");
             for (auto item : test_input_shapes)
               o.test_input_shapes[item.first.cast<std::string>()] = to_shape(item.second, "test_input_shapes");
             prototxt::Message tree = is_text ? prototxt::parse(source, "<string>") : prototxt::parse_file(source);
             PythonLayersAllowed allow(python_layers);
             py::gil_scoped_release release;
             return std::make_unique<Solver>(tree, is_text ? "<string>" : source, o);
           }),
           py::arg("source"), py::arg("is_text"), py::arg("net"), py::arg("input_shapes"), py::arg("test_input_shapes"),
           py::arg("quiet"), py::arg("python_layers") = false)
      .def("set_feeder", [](Solver& s, py::object fn) {
        // fn(net_index, phase) -> {name: Tensor}; net_index -1 is the train net.
        Solver* self = &s;
        s.set_feeder([self, fn](Net& net, Phase phase) {
          py::gil_scoped_acquire gil;
          int index = -1;
          for (size_t i = 0; i < self->test_nets().size(); ++i)
            if (&self->test_nets()[i] == &net) index = static_cast<int>(i);
          py::object out = fn(index, phase == Phase::train ? "train" : "test");
          return out.is_none() ? std::map<std::string, Tensor>{} : out.cast<std::map<std::string, Tensor>>();
        });
      })
      .def("add_callback", [](Solver& s, py::object fn) {
        s.add_callback([fn](Solver&) {
          py::gil_scoped_acquire gil;
          fn();
        });
      })
      .def("solve", [](Solver& s) {
        py::gil_scoped_release release;
        s.solve();
      })
      .def("snapshot", [](Solver& s) {
        py::gil_scoped_release release;
        return s.snapshot();
      })
      .def("restore", [](Solver& s, const std::string& path) {
        py::gil_scoped_release release;
        s.restore(path);
      })
      .def("set_hdf5_writer", [](Solver& s, py::object fn) {
        // fn(base, iter, learned_net, current_step, [history Tensor]) -> the state file's path.
        s.set_hdf5_writer([fn](const std::string& base, const CaffeSolverState& state) {
          py::gil_scoped_acquire gil;
          py::list history;
          for (const auto& b : state.history) history.append(b.value);
          return fn(base, state.iter, state.learned_net, state.current_step, history).cast<std::string>();
        });
      })
      .def("last_test", &Solver::last_test)
      .def_property_readonly("last_test_iter", &Solver::last_test_iter)
      .def_property_readonly("iter", &Solver::iter)
      .def_property_readonly("max_iter", &Solver::max_iter)
      .def_property_readonly("learning_rate", &Solver::learning_rate)
      .def_property_readonly("smoothed_loss", &Solver::smoothed_loss)
      .def_property_readonly("allreduce_wait_seconds", &Solver::allreduce_wait_seconds)
      .def_property_readonly("allreduce_method", &Solver::allreduce_method)
      .def_property_readonly("type", &Solver::type)
      .def_property_readonly("param", &Solver::param)
      .def_property_readonly("net", [](Solver& s) -> Net& { return s.net(); }, py::return_value_policy::reference_internal)
      .def_property_readonly("num_test_nets", [](Solver& s) { return s.test_nets().size(); });
  def_checked(solver, "step", [](Solver& s, int n) { return s.step(n); }, py::arg("iterations"), Release());
  def_checked(solver, "test", [](Solver& s, size_t i) { return s.test(i); }, py::arg("index"), Release());
  def_checked(solver, "test_net", [](Solver& s, size_t i) -> Net& { return s.test_nets().at(i); }, py::arg("index"),
              py::return_value_policy::reference_internal);
  def_checked(solver, "restore_caffe", [](Solver& s, int32_t iter, const std::string& learned_net, int32_t current_step,
                                       const std::vector<Tensor>& history, const std::string& path, py::object layers) {
    CaffeSolverState state;
    state.iter = iter;
    state.learned_net = learned_net;
    state.current_step = current_step;
    for (const auto& t : history) state.history.push_back({t, false});
    const bool with_weights = !layers.is_none();
    std::vector<CaffeLayerBlobs> learned;
    if (with_weights) learned = caffe_layers_from(layers);
    py::gil_scoped_release release;
    s.restore_caffe(state, path, with_weights ? &learned : nullptr);
  }, py::arg("iter"), py::arg("learned_net"), py::arg("current_step"), py::arg("history"), py::arg("path"),
     py::arg("layers"));
}

}  // namespace lamina::bind
