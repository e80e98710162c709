// libFuzzer target: every binary reader of lamina's C++ core. The first byte picks the reader:
// safetensors, .caffemodel, .binaryproto, Datum, Caffe .solverstate, ONNX model (read, translated
// and built into a net).
#include <lamina/caffe_binary.hpp>
#include <lamina/onnx_import.hpp>
#include <lamina/safetensors.hpp>

#include "common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  lamina_fuzz::limit_memory();
  if (size == 0) return 0;
  const uint8_t which = data[0] % 6;
  const uint8_t* body = data + 1;
  const size_t n = size - 1;
  lamina_fuzz::guarded([&] {
    switch (which) {
      case 0: (void)lamina::load_safetensors(lamina_fuzz::scratch_file(body, n, ".safetensors")); break;
      case 1: (void)lamina::read_caffemodel(lamina_fuzz::scratch_file(body, n, ".caffemodel")); break;
      case 2: (void)lamina::decode_blob_proto(std::string(reinterpret_cast<const char*>(body), n), "fuzz"); break;
      case 3: (void)lamina::decode_datum(std::string(reinterpret_cast<const char*>(body), n), "fuzz"); break;
      case 4: (void)lamina::read_caffe_solver_state(lamina_fuzz::scratch_file(body, n, ".solverstate")); break;
      default: (void)lamina::import_onnx(lamina_fuzz::scratch_file(body, n, ".onnx")); break;
    }
  });
  return 0;
}
