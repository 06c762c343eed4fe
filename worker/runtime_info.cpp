#include "worker/runtime_info.hpp"

#include <H5Cpp.h>
#include <dlfcn.h>
#include <torch/cuda.h>
#include <torch/version.h>

namespace locsweep {

std::string blas_description() {
  using NameFn = char* (*)();
  auto* config = reinterpret_cast<NameFn>(dlsym(RTLD_DEFAULT, "openblas_get_config"));
  auto* core = reinterpret_cast<NameFn>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
  if (config && core) return std::string(config()) + " (core " + core() + ")";
  if (dlsym(RTLD_DEFAULT, "bli_info_get_version_str")) return "BLIS";
  if (dlsym(RTLD_DEFAULT, "mkl_get_version")) return "Intel MKL";
  return "reference BLAS or unknown (slow: run scripts/setup.sh to select OpenBLAS)";
}

nlohmann::json library_versions() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return {
      {"torch", TORCH_VERSION},
      {"blas", blas_description()},
      {"hdf5", std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release)},
      {"compiler", __VERSION__}};
}

int cuda_device_count() {
  return static_cast<int>(torch::cuda::device_count());
}

}  // namespace locsweep
