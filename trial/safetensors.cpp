#include "trial/safetensors.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/files.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {

// Hugging Face's limit on the JSON header; anything larger is a corrupt length field.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
constexpr std::string_view kMetadataKey = "__metadata__";

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  size_t size;
};

const std::array<DTypeEntry, 10>& dtype_table() {
  static const std::array<DTypeEntry, 10> table{{{DType::f32, "F32", 4},
                                                 {DType::f16, "F16", 2},
                                                 {DType::bf16, "BF16", 2},
                                                 {DType::f64, "F64", 8},
                                                 {DType::i64, "I64", 8},
                                                 {DType::i32, "I32", 4},
                                                 {DType::i16, "I16", 2},
                                                 {DType::i8, "I8", 1},
                                                 {DType::u8, "U8", 1},
                                                 {DType::boolean, "BOOL", 1}}};
  return table;
}

const DTypeEntry& entry_for(DType dtype) {
  for (const auto& e : dtype_table())
    if (e.dtype == dtype) return e;
  throw Error("unknown DType value " + std::to_string(static_cast<int>(dtype)));
}

std::optional<DType> dtype_from_string(std::string_view text) {
  for (const auto& e : dtype_table())
    if (e.name == text) return e.dtype;
  return std::nullopt;
}

std::string known_dtypes() {
  std::string out;
  for (const auto& e : dtype_table()) {
    if (!out.empty()) out += ", ";
    out += e.name;
  }
  return out;
}

std::string shape_text(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

// dtype_size * product(shape) for non-negative dims; nullopt when it overflows size_t.
std::optional<size_t> byte_count(DType dtype, const std::vector<int64_t>& shape) {
  size_t n = dtype_size(dtype);
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, static_cast<size_t>(d), &n)) return std::nullopt;
  return n;
}

[[noreturn]] void io_fail(const std::string& what, const fs::path& path) {
  throw Error(what + " '" + path.string() + "': " + std::strerror(errno));
}

// --- reading ---------------------------------------------------------------------------

// Builds "safetensors file 'PATH': ..." errors.
class Complainer {
 public:
  explicit Complainer(const fs::path& path) : prefix_("safetensors file '" + path.string() + "'") {}
  [[noreturn]] void fail(const std::string& what) const {
    throw InputError(prefix_ + ": " + what + kHint);
  }
  [[noreturn]] void fail(const std::string& tensor, const std::string& what) const {
    throw InputError(prefix_ + ", tensor '" + tensor + "': " + what + kHint);
  }
  // A well-formed file that uses a feature locsweep does not support.
  [[noreturn]] void unsupported(const std::string& tensor, const std::string& what) const {
    throw InputError(prefix_ + ", tensor '" + tensor + "': " + what +
                     " (convert the tensor to a supported dtype)");
  }

 private:
  static constexpr const char* kHint =
      " (the file is corrupt, truncated or not a safetensors file; re-create it)";
  std::string prefix_;
};

// Parses the header, rejecting duplicate keys in any object (nlohmann keeps the last one
// silently, which would hide a second tensor of the same name).
nlohmann::ordered_json parse_header(std::string_view text, const Complainer& complain) {
  std::vector<std::set<std::string>> open_objects;
  std::optional<std::pair<std::string, size_t>> duplicate;  // key, object depth (1 = top)
  const auto callback = [&](int /*depth*/, nlohmann::ordered_json::parse_event_t event,
                            nlohmann::ordered_json& parsed) {
    using Event = nlohmann::ordered_json::parse_event_t;
    if (event == Event::object_start) {
      open_objects.emplace_back();
    } else if (event == Event::object_end) {
      if (!open_objects.empty()) open_objects.pop_back();
    } else if (event == Event::key && !open_objects.empty() && !duplicate) {
      const std::string key = parsed.get<std::string>();
      if (!open_objects.back().insert(key).second) duplicate.emplace(key, open_objects.size());
    }
    return true;
  };
  nlohmann::ordered_json header;
  try {
    header = nlohmann::ordered_json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::exception& e) {
    complain.fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (duplicate) {
    if (duplicate->second == 1)
      complain.fail(duplicate->first, "the header names this tensor more than once (duplicate)");
    complain.fail("the header has a duplicate key '" + duplicate->first + "' in a nested object");
  }
  if (!header.is_object()) complain.fail("the header is not a JSON object");
  if (text.empty() || text.front() != '{')
    complain.fail("the header must begin with '{' (Hugging Face rejects anything else)");
  return header;
}

// A JSON number that is a non-negative integer, as uint64.
std::optional<uint64_t> as_unsigned(const nlohmann::ordered_json& v) {
  if (v.is_number_unsigned()) return v.get<uint64_t>();
  if (v.is_number_integer() && v.get<int64_t>() >= 0)
    return static_cast<uint64_t>(v.get<int64_t>());
  return std::nullopt;
}

TensorInfo parse_tensor(const std::string& name, const nlohmann::ordered_json& entry,
                        size_t buffer_size, const Complainer& complain) {
  if (!entry.is_object())
    complain.fail(name, "expected an object {\"dtype\", \"shape\", \"data_offsets\"}, found " +
                            std::string(entry.type_name()));
  for (const auto& [key, value] : entry.items())
    if (key != "dtype" && key != "shape" && key != "data_offsets")
      complain.fail(name, "unknown key '" + key + "' (expected dtype, shape, data_offsets)");
  for (const char* key : {"dtype", "shape", "data_offsets"})
    if (!entry.contains(key)) complain.fail(name, std::string("missing key '") + key + "'");

  TensorInfo info;
  info.name = name;
  const auto& dtype = entry["dtype"];
  if (!dtype.is_string()) complain.fail(name, "dtype must be a string such as \"F32\"");
  const auto parsed = dtype_from_string(dtype.get<std::string>());
  if (!parsed)
    complain.unsupported(name, "unknown dtype '" + dtype.get<std::string>() +
                                   "' (supported: " + known_dtypes() + ")");
  info.dtype = *parsed;

  const auto& shape = entry["shape"];
  if (!shape.is_array()) complain.fail(name, "shape must be an array of non-negative integers");
  for (size_t i = 0; i < shape.size(); ++i) {
    const auto& dim = shape[i];
    if (dim.is_number_integer() && !dim.is_number_unsigned() && dim.get<int64_t>() < 0)
      complain.fail(name, "shape has a negative dimension " + std::to_string(dim.get<int64_t>()) +
                              " at index " + std::to_string(i));
    const auto value = as_unsigned(dim);
    if (!value || *value > static_cast<uint64_t>(INT64_MAX))
      complain.fail(name, "shape[" + std::to_string(i) + "] = " + dim.dump() +
                              " is not a non-negative integer");
    info.shape.push_back(static_cast<int64_t>(*value));
  }
  const auto expected = byte_count(info.dtype, info.shape);
  if (!expected)
    complain.fail(name, "shape " + shape_text(info.shape) + " overflows the byte count");

  const auto& offsets = entry["data_offsets"];
  std::optional<uint64_t> begin, end;
  if (offsets.is_array() && offsets.size() == 2) {
    begin = as_unsigned(offsets[0]);
    end = as_unsigned(offsets[1]);
  }
  if (!begin || !end)
    complain.fail(name, "data_offsets must be [begin, end] with non-negative integers, found " +
                            offsets.dump());
  if (*begin > *end)
    complain.fail(name, "data_offsets " + offsets.dump() + " are out of order (begin > end)");
  if (*end > buffer_size)
    complain.fail(name, "data_offsets " + offsets.dump() + " reach past the end of the " +
                            std::to_string(buffer_size) + "-byte data buffer");
  info.offset = static_cast<size_t>(*begin);
  info.nbytes = static_cast<size_t>(*end - *begin);
  if (info.nbytes != *expected)
    complain.fail(name, "data_offsets " + offsets.dump() + " span " + std::to_string(info.nbytes) +
                            " bytes, but dtype " + std::string(to_string(info.dtype)) +
                            " and shape " + shape_text(info.shape) + " need " +
                            std::to_string(*expected));
  return info;
}

std::map<std::string, std::string> parse_metadata(const nlohmann::ordered_json& value,
                                                  const Complainer& complain) {
  if (!value.is_object())
    complain.fail("__metadata__ must be an object of string to string, found " +
                  std::string(value.type_name()));
  std::map<std::string, std::string> out;
  for (const auto& [key, v] : value.items()) {
    if (!v.is_string())
      complain.fail("__metadata__ value for key '" + key + "' is not a string (found " +
                    std::string(v.type_name()) + ")");
    out.emplace(key, v.get<std::string>());
  }
  return out;
}

// Tensors sorted by offset must tile [0, buffer_size) exactly, as Hugging Face requires.
void check_tiling(const std::vector<TensorInfo>& tensors, size_t buffer_size,
                  const Complainer& complain) {
  size_t covered = 0;
  const TensorInfo* previous = nullptr;
  for (const auto& t : tensors) {
    if (t.offset < covered)
      complain.fail(t.name, "bytes [" + std::to_string(t.offset) + ", " +
                                std::to_string(t.offset + t.nbytes) + ") overlap tensor '" +
                                previous->name + "', which ends at " + std::to_string(covered));
    if (t.offset > covered)
      complain.fail(t.name, "starts at byte " + std::to_string(t.offset) + ", leaving a gap of " +
                                std::to_string(t.offset - covered) +
                                " bytes not covered by any tensor after byte " +
                                std::to_string(covered));
    covered = t.offset + t.nbytes;
    previous = &t;
  }
  if (covered != buffer_size)
    complain.fail("the data buffer has " + std::to_string(buffer_size - covered) +
                  " trailing bytes not covered by any tensor (tensors end at byte " +
                  std::to_string(covered) + " of " + std::to_string(buffer_size) + ")");
}

// --- writing ---------------------------------------------------------------------------

void write_all(int fd, const void* data, size_t size, const fs::path& path) {
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot write", path);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// Removes a temporary file unless the write got as far as renaming it.
class TemporaryFile {
 public:
  explicit TemporaryFile(fs::path path) : path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
};

}  // namespace

std::string_view to_string(DType dtype) {
  return entry_for(dtype).name;
}
size_t dtype_size(DType dtype) {
  return entry_for(dtype).size;
}

SafetensorsFile SafetensorsFile::open(const fs::path& path) {
  const Complainer complain(path);
  SafetensorsFile file;
  file.path_ = path;
  {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0)
      throw InputError("cannot open safetensors file '" + path.string() +
                       "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) io_fail("cannot stat", path);
    if (!S_ISREG(st.st_mode)) complain.fail("not a regular file");
    const auto size = static_cast<size_t>(st.st_size);
    if (size < 8)
      complain.fail("the file is " + std::to_string(size) +
                    " bytes long, shorter than the 8-byte header length");
    void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (map == MAP_FAILED) io_fail("cannot map", path);
    file.map_ = map;
    file.map_size_ = size;
  }  // the mapping keeps the file alive; the descriptor is no longer needed

  const auto* bytes = static_cast<const unsigned char*>(file.map_);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  if (header_len > kMaxHeaderBytes)
    complain.fail("header length " + std::to_string(header_len) + " is absurd (limit " +
                  std::to_string(kMaxHeaderBytes) + " bytes)");
  if (header_len > file.map_size_ - 8)
    complain.fail("header length " + std::to_string(header_len) + " is larger than the " +
                  std::to_string(file.map_size_ - 8) + " bytes that follow it");
  file.buffer_start_ = 8 + static_cast<size_t>(header_len);
  const size_t buffer_size = file.map_size_ - file.buffer_start_;

  const std::string_view text(reinterpret_cast<const char*>(bytes + 8), header_len);
  const auto header = parse_header(text, complain);
  for (const auto& [key, value] : header.items()) {
    if (key == kMetadataKey)
      file.metadata_ = parse_metadata(value, complain);
    else
      file.tensors_.push_back(parse_tensor(key, value, buffer_size, complain));
  }
  // Header order breaks ties between zero-size tensors at the same offset.
  std::stable_sort(file.tensors_.begin(), file.tensors_.end(),
                   [](const TensorInfo& a, const TensorInfo& b) {
                     return std::pair(a.offset, a.nbytes) < std::pair(b.offset, b.nbytes);
                   });
  check_tiling(file.tensors_, buffer_size, complain);
  for (size_t i = 0; i < file.tensors_.size(); ++i) file.index_.emplace(file.tensors_[i].name, i);
  return file;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& other) noexcept
    : path_(std::move(other.path_)),
      map_(std::exchange(other.map_, nullptr)),
      map_size_(std::exchange(other.map_size_, 0)),
      buffer_start_(std::exchange(other.buffer_start_, 0)),
      tensors_(std::move(other.tensors_)),
      index_(std::move(other.index_)),
      metadata_(std::move(other.metadata_)) {}

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& other) noexcept {
  if (this != &other) {
    unmap();
    path_ = std::move(other.path_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    buffer_start_ = std::exchange(other.buffer_start_, 0);
    tensors_ = std::move(other.tensors_);
    index_ = std::move(other.index_);
    metadata_ = std::move(other.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() {
  unmap();
}

void SafetensorsFile::unmap() noexcept {
  if (map_ != nullptr) ::munmap(map_, map_size_);
  map_ = nullptr;
  map_size_ = 0;
}

const TensorInfo* SafetensorsFile::find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

std::span<const std::byte> SafetensorsFile::data(const TensorInfo& t) const {
  const size_t buffer_size = map_size_ - buffer_start_;
  if (map_ == nullptr || t.offset > buffer_size || t.nbytes > buffer_size - t.offset)
    throw Error("tensor '" + t.name + "' lies outside the data buffer of '" + path_.string() + "'");
  return {static_cast<const std::byte*>(map_) + buffer_start_ + t.offset, t.nbytes};
}

void write_safetensors(const fs::path& path, const std::vector<TensorToWrite>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  const std::string where = "cannot write safetensors file '" + path.string() + "'";
  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!metadata.empty()) header[std::string(kMetadataKey)] = metadata;
  size_t offset = 0;
  for (const auto& t : tensors) {
    const std::string at = where + ", tensor '" + t.name + "': ";
    if (t.name == kMetadataKey) throw InputError(at + "the name is reserved for metadata");
    if (header.contains(t.name)) throw InputError(at + "duplicate tensor name");
    for (int64_t d : t.shape)
      if (d < 0)
        throw InputError(at + "shape " + shape_text(t.shape) + " has a negative dimension");
    const auto expected = byte_count(t.dtype, t.shape);
    if (!expected || *expected != t.bytes.size())
      throw InputError(at + "got " + std::to_string(t.bytes.size()) + " bytes, but dtype " +
                       std::string(to_string(t.dtype)) + " and shape " + shape_text(t.shape) +
                       " need " + (expected ? std::to_string(*expected) : "an overflowing count"));
    header[t.name] = {{"dtype", std::string(to_string(t.dtype))},
                      {"shape", t.shape},
                      {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw InputError(where + ": a tensor name or metadata string is not valid UTF-8 (" + e.what() +
                     ")");
  }
  text.append((8 - text.size() % 8) % 8, ' ');
  std::array<unsigned char, 8> length{};
  for (size_t i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(text.size() >> (8 * i));

  TemporaryFile tmp(temporary_sibling(path));
  {
    Fd fd(::open(tmp.path().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) io_fail("cannot create", tmp.path());
    write_all(fd.get(), length.data(), length.size(), tmp.path());
    write_all(fd.get(), text.data(), text.size(), tmp.path());
    for (const auto& t : tensors) write_all(fd.get(), t.bytes.data(), t.bytes.size(), tmp.path());
    if (::fsync(fd.get()) != 0) io_fail("cannot fsync", tmp.path());
  }
  if (::rename(tmp.path().c_str(), path.c_str()) != 0) io_fail("cannot rename into", path);
  tmp.release();
  fsync_parent(path);
}

}  // namespace locsweep
