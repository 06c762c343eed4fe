// Hugging Face safetensors files, without torch: a strictly validated, memory-mapped reader
// and an atomic writer. The format: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON
// header ({name: {"dtype", "shape", "data_offsets": [begin, end]}, optional "__metadata__":
// {string: string}}), then the byte buffer the offsets point into. Tensors are C-ordered,
// little-endian, and tile the buffer exactly (no gaps, no overlaps, no trailing bytes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace locsweep {

// Element types of the safetensors format that locsweep reads and writes.
enum class DType { f32, f16, bf16, f64, i64, i32, i16, i8, u8, boolean };
std::string_view to_string(DType dtype);  // the format's spelling: "F32", "BOOL", ...
size_t dtype_size(DType dtype);           // bytes per element

// One tensor of an open file. `offset` is relative to the start of the byte buffer (the
// format's data_offsets[0]); `nbytes` = dtype_size * product(shape) (1 element for shape []).
struct TensorInfo {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  size_t offset = 0;
  size_t nbytes = 0;
};

// A read-only, memory-mapped safetensors file (RAII: unmaps on destruction; movable, not
// copyable). Spans from data() live as long as this object. They are not necessarily aligned
// for their element type; copy out (memcpy) rather than reinterpret when alignment matters.
class SafetensorsFile {
 public:
  // Maps `path` and validates the whole header against the file; throws InputError naming
  // the file (and the tensor) on anything malformed.
  static SafetensorsFile open(const std::filesystem::path& path);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in file (offset) order
  const TensorInfo* find(std::string_view name) const;                 // nullptr if absent
  // The bytes of `t`, a tensor of this file (throws Error when `t` lies outside the buffer).
  std::span<const std::byte> data(const TensorInfo& t) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  SafetensorsFile() = default;
  void unmap() noexcept;

  std::filesystem::path path_;
  void* map_ = nullptr;  // the whole file, PROT_READ
  size_t map_size_ = 0;
  size_t buffer_start_ = 0;  // 8 + header length
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;  // name -> position in tensors_
  std::map<std::string, std::string> metadata_;
};

// One tensor to write; `bytes` must hold exactly dtype_size * product(shape) bytes.
struct TensorToWrite {
  std::string name;
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::span<const std::byte> bytes;
};

// Writes a safetensors file atomically (temporary file beside `path`, fsync, rename, fsync of
// the folder), tensors in the given order, header padded with spaces to a multiple of 8 bytes
// as Hugging Face's writer does; "__metadata__" is written only when `metadata` is non-empty.
// Throws InputError on a byte count that does not match dtype and shape, a negative
// dimension, a duplicate or reserved ("__metadata__") name; Error on I/O failure.
void write_safetensors(const std::filesystem::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata = {});

}  // namespace locsweep
