// Devices to kernels: the only place an op's device is switched on.
#include "kernels/kernels.hpp"
#include "ops/common.hpp"

namespace lamina::ops_detail {

const kernels::Table& device_kernels(const char* op, Device device) {
  switch (device) {
    case Device::cpu:
      kernels::asked_by(op, "cpu");
      return kernels::cpu::table();
    default:
      break;  // CUDA: no kernels in this build
  }
  detail::raise<DeviceError>(op, ": no kernels for device ", device_name(device), " in this build");
}

}  // namespace lamina::ops_detail
