// HDF5 for the files locsweep writes: writing helpers, and the one validated way to read.
//
// Writing: string and integer attributes, datasets from contiguous buffers. H5::H5File,
// H5::Group and H5::DataSet are already RAII handles; these only shorten calls.
//
// Reading (h5::Reader): every reader of an HDF5 file (checkpoints, attention files, the
// report) goes through it, because a file on disk may be damaged or hostile. Before any
// attribute or dataset is read, its type class, rank, every dimension and its total size
// are checked against what the caller expects, its storage against its shape (so a dataset
// that claims 10^15 elements in a 1 kB file is refused before anything is read), and only
// hard links to plain datasets in the same file are followed (no external or soft links,
// no external or virtual storage). A failed check throws CorruptFileError naming the file
// and the object: "file 'a.h5': dataset 'lambda' has shape [7], expected [2]; the file is
// not a locsweep attention file or is damaged". HDF5's own errors become the same error.
#pragma once

#include <H5Cpp.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace locsweep {

// A file that exists but cannot be trusted (truncated, not HDF5, not the expected layout,
// checksum mismatch): bad input, exit 2.
class CorruptFileError : public InputError {
 public:
  using InputError::InputError;
};

}  // namespace locsweep

namespace locsweep::h5 {

void write_string_attr(H5::H5Object& obj, const std::string& name, const std::string& value);
void write_int_attr(H5::H5Object& obj, const std::string& name, int64_t value);
void write_double_attr(H5::H5Object& obj, const std::string& name, double value);

// Contiguous dataset of `dims` from `data` (type: the file and memory type, e.g. NATIVE_FLOAT).
H5::DataSet write_dataset(H5::Group& group, const std::string& name, const H5::DataType& type,
                          const std::vector<hsize_t>& dims, const void* data);

// IEEE binary16, which HDF5 has no predefined type for; h5py reads it as numpy float16.
H5::FloatType float16_type();

// Makes HDF5 quiet (errors arrive as exceptions, and we print them once).
void silence_errors();

// Writes the HDF5 file `path` atomically, the one way locsweep writes its HDF5 files
// (checkpoints, attention records): `fill` writes into a fresh file at a temporary sibling
// (common/files.hpp), which is then flushed, closed, fsynced and renamed over `path`, and the
// folder fsynced. A crash leaves either the old or the new file. When anything fails the
// temporary is removed and `path` is untouched; HDF5's errors become Error("cannot write
// <what> 'PATH': ..."), others propagate as they are.
void write_atomic(const std::filesystem::path& path, const std::string& what,
                  const std::function<void(H5::H5File&)>& fill);

// Element types datasets are read as (HDF5 converts from the file's type of the same class).
enum class Element { uint8, int32, int64, float32, float64 };
size_t element_size(Element e);

// "[2, 3]"
std::string shape_text(const std::vector<hsize_t>& dims);

// Limits no locsweep file comes near; anything beyond is damage.
inline constexpr hsize_t kMaxElements = hsize_t{1} << 40;    // in one dataset
inline constexpr size_t kMaxStringBytes = size_t{64} << 20;  // one string attribute
inline constexpr size_t kMaxReadBytes = size_t{16} << 30;    // one read into memory
inline constexpr double kMaxCompressionRatio = 1100.0;       // deflate's limit is ~1032

// One HDF5 file opened read-only for validated reading. Paths of datasets are absolute
// ("/model/wte.weight"); attributes are those of the root group.
class Reader {
 public:
  // `kind` names the format in messages ("locsweep checkpoint"). Throws InputError when the
  // file does not exist, CorruptFileError when it is not an HDF5 file.
  Reader(const std::filesystem::path& path, std::string kind);

  const std::filesystem::path& path() const { return path_; }

  bool has_attr(const std::string& name) const;
  // A scalar string attribute (fixed or variable length, at most kMaxStringBytes).
  std::string string_attr(const std::string& name) const;
  // A scalar integer attribute.
  int64_t int_attr(const std::string& name) const;

  // Whether `path` names an object reachable by hard links only (no checks of what it is).
  bool has_object(const std::string& path) const;
  // The dimensions of dataset `path` after checking that it is a dataset of `type`'s class
  // with `rank` dimensions, none above `max_dim`, at most kMaxElements in all, stored in
  // this file and consistently with its shape.
  std::vector<hsize_t> dims(const std::string& path, Element type, size_t rank,
                            hsize_t max_dim) const;
  // Throws unless `actual` (dims of `path`) equals `expected`.
  void expect_dims(const std::string& path, const std::vector<hsize_t>& actual,
                   const std::vector<hsize_t>& expected) const;
  // Reads all of dataset `path`, which must have exactly `expected` dims, into `out`
  // (exactly product(expected) * element_size(type) bytes).
  void read(const std::string& path, Element type, const std::vector<hsize_t>& expected, void* out,
            size_t out_bytes) const;
  // Reads the block [offset, offset + count) of dataset `path` (dims `expected`) into `out`
  // (exactly product(count) * element_size(type) bytes).
  void read_block(const std::string& path, Element type, const std::vector<hsize_t>& expected,
                  const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count, void* out,
                  size_t out_bytes) const;

  // Throws CorruptFileError "file 'P': <what>; the file is not a <kind> or is damaged".
  [[noreturn]] void fail(const std::string& what) const;

 private:
  H5::DataSet open_dataset(const std::string& path) const;
  std::string read_variable_string(const H5::Attribute& attr, const H5::StrType& type,
                                   const std::string& object) const;
  template <class Fn>
  auto guarded(const std::string& object, Fn fn) const;

  std::filesystem::path path_;
  std::string kind_;
  H5::H5File file_;
};

}  // namespace locsweep::h5
