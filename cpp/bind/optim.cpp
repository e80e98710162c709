// lamina._Optimizer and the learning-rate policies (wrapped by python/lamina/optim.py,
// which maps PyTorch's argument names onto lamina/optim.hpp's fields).
#include "bind.hpp"

namespace lamina::bind {

namespace {

// Group options travel as dicts of optim::GroupOptions' field names.
struct Field {
  const char* name;
  double optim::GroupOptions::*member;
};
constexpr Field kFields[] = {
    {"lr", &optim::GroupOptions::lr},
    {"lr_mult", &optim::GroupOptions::lr_mult},
    {"weight_decay", &optim::GroupOptions::weight_decay},
    {"decay_mult", &optim::GroupOptions::decay_mult},
    {"momentum", &optim::GroupOptions::momentum},
    {"momentum2", &optim::GroupOptions::momentum2},
    {"delta", &optim::GroupOptions::delta},
    {"rms_decay", &optim::GroupOptions::rms_decay},
};

optim::GroupOptions group_options(const py::dict& d) {
  optim::GroupOptions o;
  for (const auto& [key, value] : d) {
    const std::string name = py::str(key);
    if (name == "l1") {
      o.l1 = value.cast<bool>();
      continue;
    }
    const Field* f = nullptr;
    for (const Field& k : kFields)
      if (name == k.name) f = &k;
    if (!f) throw ValueError("Optimizer: unknown group option '" + name + "'");
    o.*(f->member) = to_double(value, "Optimizer", f->name);
  }
  return o;
}

py::dict group_dict(const optim::GroupOptions& o) {
  py::dict d;
  for (const Field& k : kFields) d[k.name] = o.*(k.member);
  d["l1"] = o.l1;
  return d;
}

optim::LrPolicy lr_policy(const py::dict& d) {
  optim::LrPolicy p;
  for (const auto& [key, value] : d) {
    const std::string name = py::str(key);
    if (name == "policy") p.policy = value.cast<std::string>();
    else if (name == "base_lr") p.base_lr = to_double(value, "lr policy", "base_lr");
    else if (name == "gamma") p.gamma = to_double(value, "lr policy", "gamma");
    else if (name == "power") p.power = to_double(value, "lr policy", "power");
    else if (name == "stepsize") p.stepsize = to_int64(value, "lr policy", "stepsize");
    else if (name == "max_iter") p.max_iter = to_int64(value, "lr policy", "max_iter");
    else if (name == "warmup_iter") p.warmup_iter = to_int64(value, "lr policy", "warmup_iter");
    else if (name == "stepvalue") p.stepvalue = to_int64s(value, "lr policy", "stepvalue");
    else throw ValueError("lr policy: unknown field '" + name + "'");
  }
  return p;
}

py::dict policy_dict(const optim::LrPolicy& p) {
  py::dict d;
  d["policy"] = p.policy;
  d["gamma"] = p.gamma;
  d["power"] = p.power;
  d["stepsize"] = p.stepsize;
  d["max_iter"] = p.max_iter;
  d["warmup_iter"] = p.warmup_iter;
  d["stepvalue"] = p.stepvalue;
  return d;
}

using StateList = std::vector<std::pair<int64_t, std::vector<Tensor>>>;

}  // namespace

void bind_optim(py::module_& m) {
  // A solver.prototxt's update settings as the Solver reads them (solver/settings.hpp), for
  // lamina.optim.from_solver: (type, group options, clip_gradients, clip_weights, lr policy).
  m.def("_solver_settings", [](const std::string& source, bool is_text) {
    const prototxt::Message tree = is_text ? prototxt::parse(source) : prototxt::parse_file(source);
    const SolverUpdate u = solver_update(tree, is_text ? "<string>" : source);
    return py::make_tuple(u.type, group_dict(u.group), u.options.clip_gradients, u.options.clip_weights,
                          policy_dict(u.policy));
  }, py::arg("source"), py::arg("is_text"));
  py::class_<optim::Optimizer> opt(m, "_Optimizer");
  opt.def(py::init([](const std::string& rule, bool torch_momentum, bool torch_eps, py::handle clip_gradients,
                       py::handle clip_weights, bool missing_grad_as_zero) {
             optim::Options o;
             o.rule = optim::rule_from_name(rule);
             o.torch_momentum = torch_momentum;
             o.torch_eps = torch_eps;
             o.clip_gradients = to_double(clip_gradients, "Optimizer", "clip_gradients");
             o.clip_weights = to_double(clip_weights, "Optimizer", "clip_weights");
             o.missing_grad_as_zero = missing_grad_as_zero;
             return optim::Optimizer({}, o);
           }),
           py::arg("rule"), py::arg("torch_momentum"), py::arg("torch_eps"), py::arg("clip_gradients"),
           py::arg("clip_weights"), py::arg("missing_grad_as_zero"))
      .def("add_param_group", [](optim::Optimizer& o, const std::vector<Tensor>& params, const py::dict& options) {
        o.add_param_group({params, group_options(options)});
      })
      .def("zero_grad", &optim::Optimizer::zero_grad, py::arg("set_to_none") = true)
      .def_property_readonly("history_names", [](const optim::Optimizer& o) { return optim::history_names(o.options().rule); })
      .def("state", [](const optim::Optimizer& o) {
        StateList out;
        for (const auto& s : o.state()) out.emplace_back(s.step, s.history);
        return out;
      }, "Each parameter's (step, history tensors): the live tensors.")
      .def("load_state", [](optim::Optimizer& o, const StateList& state) {
        std::vector<optim::ParamState> in;
        for (const auto& [step, history] : state) in.push_back({step, history});
        o.load_state(in);
      });
  def_checked(opt, "set_group_options", [](optim::Optimizer& o, size_t i, const py::dict& options) {
    o.set_group_options(i, group_options(options));
  }, py::arg("index"), py::arg("options"));
  def_checked(opt, "group_options", [](const optim::Optimizer& o, size_t i) {
    LAMINA_CHECK_INDEX(i < o.groups().size(), "Optimizer: no group ", i);
    return group_dict(o.groups()[i].options);
  }, py::arg("index"));
  def_checked(opt, "step", [](optim::Optimizer& o, int64_t iter_size) {
    const auto info = o.step(iter_size);
    return py::make_tuple(info.grad_norm, info.clip_scale);
  }, py::arg("iter_size") = 1);

  def_checked(m, "_lr_rate", [](const py::dict& policy, int64_t iter, int step) {
    const double rate = optim::policy_rate(lr_policy(policy), iter, step);
    return py::make_tuple(rate, step);
  }, py::arg("policy"), py::arg("iter"), py::arg("step"),
     "(rate, step): Caffe's lr policy at iteration iter, multistep's position advanced.");
  m.def("_lr_policy_problem", [](const py::dict& policy) {
    std::string field;
    const std::string problem = optim::policy_problem(lr_policy(policy), &field);
    return py::make_tuple(problem, field);
  }, py::arg("policy"));
}

}  // namespace lamina::bind
