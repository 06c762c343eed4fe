// What this process computes with, for start-up lines and reproducibility manifests: the
// BLAS libtorch calls (a fallback to the slow reference BLAS must be visible), its kernels,
// and library versions.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace locsweep {

// "OpenBLAS 0.3.21 ... (core Cooperlake)" or "reference BLAS (slow: see scripts/setup.sh)".
std::string blas_description();
// {"torch": "1.13.1", "blas": ..., "hdf5": ..., "sqlite": ..., "mpi": ..., "compiler": ...}
nlohmann::json library_versions();
// GPUs visible to libtorch (0 with a CPU-only libtorch such as Debian's).
int cuda_device_count();

}  // namespace locsweep
