// The losses of lamina.ops (ops.hpp, "losses"): PyTorch's under torch.nn.functional's names
// and arguments (the deprecated size_average and reduce left out, so what follows them is
// keyword-only), and Caffe's softmax_cross_entropy and sigmoid_cross_entropy.
#include <string>

#include "bind.hpp"

namespace lamina::bind {

namespace {

LossNormalization normalization_arg(const char* op, const std::string& name) {
  if (name == "valid") return LossNormalization::valid;
  if (name == "full") return LossNormalization::full;
  if (name == "batch_size") return LossNormalization::batch_size;
  if (name == "none") return LossNormalization::none;
  throw ValueError(std::string(op) + ": normalization must be one of valid, full, batch_size, none; got '" + name +
                   "'");
}

}  // namespace

void bind_losses(py::module_& ops) {
  const auto reduction = [](const char* op, const std::string& name) { return reduction_from_name(op, name); };
  def_checked(ops, "nll_loss", [=](const Tensor& x, const Tensor& y, py::object w, int64_t ignore_index, const std::string& r) {
    const Tensor weight = optional_tensor(w);
    const Reduction red = reduction("nll_loss", r);
    py::gil_scoped_release release;
    return nll_loss(x, y, weight, ignore_index, red);
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::kw_only(), py::arg("ignore_index") = -100,
     py::arg("reduction") = "mean", "input [N, C, ...] log-probabilities, target [N, ...] class indices.");
  def_checked(ops, "cross_entropy", [=](const Tensor& x, const Tensor& y, py::object w, int64_t ignore_index,
                               const std::string& r, double label_smoothing) {
    const Tensor weight = optional_tensor(w);
    const Reduction red = reduction("cross_entropy", r);
    py::gil_scoped_release release;
    return cross_entropy(x, y, weight, ignore_index, red, label_smoothing);
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::kw_only(), py::arg("ignore_index") = -100,
     py::arg("reduction") = "mean", py::arg("label_smoothing") = 0.0,
     "input [N, C, ...] logits, target [N, ...] class indices.");
  def_checked(ops, "binary_cross_entropy", [=](const Tensor& p, const Tensor& t, py::object w, const std::string& r) {
    return binary_cross_entropy(p, t, optional_tensor(w), reduction("binary_cross_entropy", r));
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::kw_only(), py::arg("reduction") = "mean");
  def_checked(ops, "binary_cross_entropy_with_logits", [=](const Tensor& x, const Tensor& t, py::object w,
                                                  const std::string& r, py::object pos_weight) {
    return binary_cross_entropy_with_logits(x, t, optional_tensor(w), optional_tensor(pos_weight),
                                            reduction("binary_cross_entropy_with_logits", r));
  }, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(), py::kw_only(), py::arg("reduction") = "mean",
     py::arg("pos_weight") = py::none());
  for (auto [name, fn] : {std::pair{"mse_loss", &mse_loss}, std::pair{"l1_loss", &l1_loss}})
    ops.def(name, [=, name = name, fn = fn](const Tensor& x, const Tensor& t, const std::string& r) {
      return fn(x, t, reduction(name, r));
    }, py::arg("input"), py::arg("target"), py::kw_only(), py::arg("reduction") = "mean");
  def_checked(ops, "smooth_l1_loss", [=](const Tensor& x, const Tensor& t, const std::string& r, double beta) {
    return smooth_l1_loss(x, t, reduction("smooth_l1_loss", r), beta);
  }, py::arg("input"), py::arg("target"), py::kw_only(), py::arg("reduction") = "mean", py::arg("beta") = 1.0);
  def_checked(ops, "huber_loss", [=](const Tensor& x, const Tensor& t, const std::string& r, double delta) {
    return huber_loss(x, t, reduction("huber_loss", r), delta);
  }, py::arg("input"), py::arg("target"), py::arg("reduction") = "mean", py::arg("delta") = 1.0);
  def_checked(ops, "hinge_embedding_loss", [=](const Tensor& x, const Tensor& y, double margin, const std::string& r) {
    return hinge_embedding_loss(x, y, margin, reduction("hinge_embedding_loss", r));
  }, py::arg("input"), py::arg("target"), py::arg("margin") = 1.0, py::kw_only(), py::arg("reduction") = "mean");
  def_checked(ops, "margin_ranking_loss", [=](const Tensor& x1, const Tensor& x2, const Tensor& y, double margin,
                                     const std::string& r) {
    return margin_ranking_loss(x1, x2, y, margin, reduction("margin_ranking_loss", r));
  }, py::arg("input1"), py::arg("input2"), py::arg("target"), py::arg("margin") = 0.0, py::kw_only(),
     py::arg("reduction") = "mean");
  def_checked(ops, "triplet_margin_loss", [=](const Tensor& a, const Tensor& p, const Tensor& n, double margin, double norm,
                                     double eps, bool swap, const std::string& r) {
    return triplet_margin_loss(a, p, n, margin, norm, eps, swap, reduction("triplet_margin_loss", r));
  }, py::arg("anchor"), py::arg("positive"), py::arg("negative"), py::arg("margin") = 1.0, py::arg("p") = 2.0,
     py::arg("eps") = 1e-6, py::arg("swap") = false, py::kw_only(), py::arg("reduction") = "mean");
  def_checked(ops, "cosine_embedding_loss", [=](const Tensor& x1, const Tensor& x2, const Tensor& y, double margin,
                                       const std::string& r) {
    return cosine_embedding_loss(x1, x2, y, margin, reduction("cosine_embedding_loss", r));
  }, py::arg("input1"), py::arg("input2"), py::arg("target"), py::arg("margin") = 0.0, py::kw_only(),
     py::arg("reduction") = "mean");
  def_checked(ops, "kl_div", [=](const Tensor& x, const Tensor& t, const std::string& r, bool log_target) {
    return kl_div(x, t, reduction("kl_div", r), log_target);
  }, py::arg("input"), py::arg("target"), py::kw_only(), py::arg("reduction") = "mean", py::arg("log_target") = false);

  // Caffe's normalisations.
  def_checked(ops, "softmax_cross_entropy", [](const Tensor& logits, const Tensor& labels, int64_t axis,
                                      py::object ignore_label, const std::string& normalization) {
    CrossEntropyOptions o;
    o.axis = axis;
    o.has_ignore_label = !ignore_label.is_none();
    if (o.has_ignore_label) o.ignore_label = to_int64(ignore_label, "softmax_cross_entropy", "ignore_label");
    o.normalization = normalization_arg("softmax_cross_entropy", normalization);
    py::gil_scoped_release release;
    return softmax_cross_entropy(logits, labels, o);
  }, py::arg("logits"), py::arg("labels"), py::arg("axis") = 1, py::arg("ignore_label") = py::none(),
     py::arg("normalization") = "valid",
     "Mean (by normalization) of -log softmax(logits)[label]; labels are class indices stored as floats.");
  def_checked(ops, "sigmoid_cross_entropy", [](const Tensor& x, const Tensor& t, const std::string& normalization) {
    return sigmoid_cross_entropy(x, t, normalization_arg("sigmoid_cross_entropy", normalization));
  }, py::arg("logits"), py::arg("targets"), py::arg("normalization") = "valid");
}

}  // namespace lamina::bind
