#include "cli/version.hpp"

#include <H5public.h>
#include <fmt/format.h>
#include <mpi.h>
#include <sqlite3.h>

#include <filesystem>

#include "trial/child_protocol.hpp"

namespace locsweep::cli {
namespace {

// "Open MPI v4.1.4": the library's version string up to its first comma or line end.
std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "unknown";
  const std::string full(text, static_cast<size_t>(length));
  return full.substr(0, full.find_first_of(",\n"));
}

std::string hdf5_library_version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return fmt::format("{}.{}.{}", major, minor, release);
}

// What the trainer beside this binary says it runs with, or why it cannot say.
std::string trainer_lines() {
  const std::filesystem::path trainer = trainer_executable();
  if (!std::filesystem::exists(trainer))
    return fmt::format("LibTorch (trainer): {} not found; trials cannot run", trainer.string());
  try {
    const TrainerInfo info = probe_trainer(trainer);
    return fmt::format("LibTorch (trainer): {} ({} probe; {} CUDA device{})\nBLAS (trainer): {}",
                       info.versions.value("torch", "unknown"), trainer.string(), info.cuda_devices,
                       info.cuda_devices == 1 ? "" : "s", info.blas);
  } catch (const std::exception& e) {
    return fmt::format("LibTorch (trainer): {} does not start: {}", trainer.string(), e.what());
  }
}

}  // namespace

std::string locsweep_version_text() {
  return fmt::format(
      "{}\nLibTorch (build): {} (CMake's Torch_VERSION at configure time)\n{}\nSQLite: {}\n"
      "HDF5: {}\nMPI: {}",
      version_header("locsweep"), kTorchVersionAtBuild, trainer_lines(), sqlite3_libversion(),
      hdf5_library_version(), mpi_library_version());
}

}  // namespace locsweep::cli
