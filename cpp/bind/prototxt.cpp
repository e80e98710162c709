// lamina.prototxt: the text-format parser's tree in Python.
#include "bind.hpp"

namespace lamina::bind {

void bind_prototxt(py::module_& m) {
  namespace pt = lamina::prototxt;
  py::module_ sub = m.def_submodule("prototxt", "Caffe's prototxt (protobuf text format): parse and print.");
  py::class_<pt::Message, std::shared_ptr<pt::Message>>(sub, "Message", "A parsed message: fields in source order.")
      .def_readonly("fields", &pt::Message::fields)
      .def_property_readonly("line", [](const pt::Message& x) { return x.position.line; })
      .def_property_readonly("column", [](const pt::Message& x) { return x.position.column; })
      .def("all", [](const pt::Message& x, const std::string& name) {
        std::vector<pt::Field> out;
        for (const pt::Field* f : x.all(name)) out.push_back(*f);
        return out;
      }, py::arg("name"), "Every field called name, in order.")
      .def("__len__", [](const pt::Message& x) { return x.fields.size(); })
      .def("__repr__", [](const pt::Message& x) {
        return "<prototxt.Message with " + std::to_string(x.fields.size()) + " fields>";
      });
  py::class_<pt::Field>(sub, "Field", "One field: name, value (str or Message), kind, line, column.")
      .def_readonly("name", &pt::Field::name)
      .def_property_readonly("value", [](const pt::Field& f) -> py::object {
        if (f.value.kind == pt::Value::Kind::message) return py::cast(f.value.message);
        if (f.value.kind == pt::Value::Kind::string) return py::bytes(f.value.text).attr("decode")("utf-8", "replace");
        return py::str(f.value.text);
      })
      .def_property_readonly("kind", [](const pt::Field& f) {
        switch (f.value.kind) {
          case pt::Value::Kind::identifier: return "identifier";
          case pt::Value::Kind::number: return "number";
          case pt::Value::Kind::string: return "string";
          case pt::Value::Kind::message: return "message";
        }
        return "?";
      })
      .def_property_readonly("line", [](const pt::Field& f) { return f.position.line; })
      .def_property_readonly("column", [](const pt::Field& f) { return f.position.column; })
      .def("__repr__", [](const pt::Field& f) { return "<prototxt.Field " + f.name + ">"; });
  sub.def("parse", [](const std::string& text, const std::string& file) {
    return std::make_shared<pt::Message>(pt::parse(text, file));
  }, py::arg("text"), py::arg("file") = "<string>", "Parses prototxt text; errors name file:line:column.");
  sub.def("parse_file", [](const std::string& path) { return std::make_shared<pt::Message>(pt::parse_file(path)); },
          py::arg("path"));
  sub.def("print", [](const pt::Message& x) { return pt::print(x); }, py::arg("message"),
          "Prototxt text that parses to the same tree.");
}

}  // namespace lamina::bind
