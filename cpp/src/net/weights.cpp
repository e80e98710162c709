// A Net's weights on disk: lamina's safetensors files and Caffe's .caffemodel.
#include <set>

#include "lamina/autograd.hpp"
#include "lamina/caffe_binary.hpp"
#include "lamina/net.hpp"
#include "lamina/safetensors.hpp"

namespace lamina {

void Net::save(const std::string& path, const std::string& format) const {
  if (format == "caffemodel") {
    write_caffemodel(path, name_, caffe_layers());
    return;
  }
  LAMINA_CHECK(format == "safetensors", "Net.save: format '", format, "' is not one lamina writes (safetensors, caffemodel)");
  std::vector<std::pair<std::string, Tensor>> named;
  std::set<const void*> written;
  for (const auto& entry : layers_) {
    auto& blobs = entry.layer->blobs();
    for (size_t k = 0; k < blobs.size(); ++k) {
      if (!written.insert(blobs[k].storage().get()).second) continue;  // shared: once
      named.emplace_back(entry.layer->name() + "/" + std::to_string(k), blobs[k]);
    }
  }
  save_safetensors(path, named, {{"format", "lamina"}, {"net", name_}});
}

std::vector<CaffeLayerBlobs> Net::caffe_layers() const {
  std::vector<CaffeLayerBlobs> layers;
  for (const auto& entry : layers_) {
    const LayerSpec& spec = entry.layer->spec();
    CaffeLayerBlobs l{spec.name, spec.type, spec.bottoms, spec.tops, {}};
    for (const auto& b : entry.layer->blobs()) l.blobs.push_back({b, false});
    layers.push_back(std::move(l));
  }
  return layers;
}

std::vector<std::string> Net::load(const std::string& path) {
  if (is_safetensors_file(path)) {
    load_safetensors_weights(path);
    return {};
  }
  return load_caffemodel_weights(path);
}

void Net::load_safetensors_weights(const std::string& path) {
  const auto named = load_safetensors(path);
  std::vector<std::pair<Tensor, Tensor>> plan;  // destination, source: all checked first
  for (const auto& [name, value] : named) {
    const auto slash = name.rfind('/');
    bool found = false;
    if (slash != std::string::npos) {
      const std::string layer = name.substr(0, slash);
      const std::string index = name.substr(slash + 1);
      for (const auto& entry : layers_) {
        if (entry.layer->name() != layer) continue;
        const auto& blobs = entry.layer->blobs();
        size_t k = 0;
        try { k = std::stoul(index); } catch (const std::exception&) { break; }
        if (k >= blobs.size()) break;
        LAMINA_CHECK_AS(FormatError, blobs[k].shape() == value.shape(), "Net.load: ", path, ": '", name,
                        "' has shape ", shape_str(value.shape()), " but the net's blob is ", shape_str(blobs[k].shape()));
        plan.emplace_back(blobs[k], value);
        found = true;
      }
    }
    LAMINA_CHECK_AS(FormatError, found, "Net.load: ", path, ": the net has no blob '", name, "'");
  }
  NoGradGuard no_grad;
  for (auto& [dst, src] : plan) dst.copy_(src);
}

// Caffe's Net::CopyTrainedLayersFrom.
std::vector<std::string> Net::load_caffemodel_weights(const std::string& path) {
  return copy_layers(read_caffemodel(path), path);  // the whole file, checked
}

std::vector<std::string> Net::copy_layers(const std::vector<CaffeLayerBlobs>& layers, const std::string& path) {
  std::vector<std::pair<Tensor, Tensor>> plan;
  std::vector<std::string> skipped;
  for (const auto& source : layers) {
    const LayerEntry* target = nullptr;
    for (const auto& entry : layers_)
      if (entry.layer->name() == source.name) {
        target = &entry;
        break;
      }
    if (!target) {
      skipped.push_back(source.name);
      continue;
    }
    const auto& blobs = target->layer->blobs();
    LAMINA_CHECK_SHAPE(blobs.size() == source.blobs.size(), "Net.load: ", path, ": layer '", source.name, "' has ",
                       source.blobs.size(), " blobs in the file but ", blobs.size(), " in the net");
    for (size_t k = 0; k < blobs.size(); ++k) {
      const CaffeBlob& blob = source.blobs[k];
      LAMINA_CHECK_SHAPE(blob.fits(blobs[k].shape()), "Net.load: ", path, ": layer '", source.name, "' blob ", k,
                         ": the file's shape ", blob.value.shape(), " is not the net's ", blobs[k].shape());
      plan.emplace_back(blobs[k], blob.value.view(blobs[k].shape()));
    }
  }
  NoGradGuard no_grad;
  for (auto& [dst, src] : plan) dst.copy_(src);
  return skipped;
}

}  // namespace lamina
