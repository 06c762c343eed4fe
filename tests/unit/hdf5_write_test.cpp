// h5::write_atomic (trial/hdf5_io.hpp), the one way checkpoints and attention records are
// written: the new file appears complete under its name, and a failure in the middle leaves
// the old file as it was and no temporary behind.
#include <gtest/gtest.h>

#include <H5Cpp.h>

#include <filesystem>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"
#include "trial/hdf5_io.hpp"

namespace locsweep {
namespace {
namespace fs = std::filesystem;
using test_support::TempDir;

size_t entries(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}

int64_t version_of(const fs::path& path) {
  return h5::Reader(path, "test file").int_attr("version");
}

void write_version(const fs::path& path, int64_t version) {
  h5::write_atomic(path, "test file",
                   [&](H5::H5File& f) { h5::write_int_attr(f, "version", version); });
}

TEST(Hdf5WriteAtomic, WritesAndReplacesTheFile) {
  TempDir dir;
  const fs::path path = dir.path() / "a.h5";
  write_version(path, 1);
  EXPECT_EQ(version_of(path), 1);
  write_version(path, 2);
  EXPECT_EQ(version_of(path), 2);
  EXPECT_EQ(entries(dir.path()), 1u) << "no temporary left beside the file";
}

TEST(Hdf5WriteAtomic, AFailingFillLeavesTheOldFileAndNoTemporary) {
  TempDir dir;
  const fs::path path = dir.path() / "a.h5";
  write_version(path, 1);
  EXPECT_THROW(h5::write_atomic(path, "test file",
                                [](H5::H5File& f) {
                                  h5::write_int_attr(f, "version", 9);
                                  throw std::runtime_error("the caller failed");
                                }),
               std::runtime_error);
  EXPECT_EQ(version_of(path), 1);
  EXPECT_EQ(entries(dir.path()), 1u);
}

TEST(Hdf5WriteAtomic, AnHdf5ErrorBecomesErrorNamingTheFile) {
  TempDir dir;
  const fs::path path = dir.path() / "a.h5";
  try {
    h5::write_atomic(path, "test file", [](H5::H5File& f) {
      h5::write_int_attr(f, "version", 1);
      h5::write_int_attr(f, "version", 2);  // an attribute that exists already
    });
    FAIL() << "no error";
  } catch (const InputError&) {
    FAIL() << "a failed write is not bad input";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot write test file '" + path.string() + "'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(path));
  EXPECT_EQ(entries(dir.path()), 0u);
}

}  // namespace
}  // namespace locsweep
