#include "trial/hdf5_io.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <optional>
#include <utility>

#include "common/files.hpp"

namespace locsweep::h5 {
namespace fs = std::filesystem;

void write_string_attr(H5::H5Object& obj, const std::string& name, const std::string& value) {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  H5::Attribute attr = obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attr.write(type, value);
}

void write_int_attr(H5::H5Object& obj, const std::string& name, int64_t value) {
  H5::Attribute attr =
      obj.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_INT64, &value);
}

void write_double_attr(H5::H5Object& obj, const std::string& name, double value) {
  H5::Attribute attr =
      obj.createAttribute(name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_DOUBLE, &value);
}

H5::DataSet write_dataset(H5::Group& group, const std::string& name, const H5::DataType& type,
                          const std::vector<hsize_t>& dims, const void* data) {
  H5::DataSpace space = dims.empty() ? H5::DataSpace(H5S_SCALAR)
                                     : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
  H5::DataSet dataset = group.createDataSet(name, type, space);
  dataset.write(data, type);
  return dataset;
}

H5::FloatType float16_type() {
  H5::FloatType type(H5::PredType::IEEE_F32LE);
  type.setFields(15, 10, 5, 0, 10);  // sign bit, exponent at 10 (5 bits), mantissa at 0 (10 bits)
  type.setSize(2);
  type.setEbias(15);
  return type;
}

void write_atomic(const fs::path& path, const std::string& what,
                  const std::function<void(H5::H5File&)>& fill) {
  const fs::path tmp = temporary_sibling(path);
  silence_errors();
  try {
    try {
      H5::H5File file(tmp.string(), H5F_ACC_TRUNC);
      fill(file);
      file.flush(H5F_SCOPE_GLOBAL);
      file.close();
    } catch (const H5::Exception& e) {
      throw Error("cannot write " + what + " '" + path.string() + "': " + e.getDetailMsg());
    }
    fsync_file(tmp);
    fs::rename(tmp, path);
  } catch (...) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw;
  }
  fsync_parent(path);
}

void silence_errors() {
  H5::Exception::dontPrint();
}

// --- validated reading -----------------------------------------------------------------

namespace {

struct ElementInfo {
  H5T_class_t type_class;
  const char* name;
  size_t size;
};

ElementInfo info(Element e) {
  switch (e) {
    case Element::uint8:
      return {H5T_INTEGER, "an integer", 1};
    case Element::int32:
      return {H5T_INTEGER, "an integer", 4};
    case Element::int64:
      return {H5T_INTEGER, "an integer", 8};
    case Element::float32:
      return {H5T_FLOAT, "a floating-point", 4};
    case Element::float64:
      return {H5T_FLOAT, "a floating-point", 8};
  }
  return {H5T_NO_CLASS, "?", 1};
}

const H5::PredType& memory_type(Element e) {
  switch (e) {
    case Element::uint8:
      return H5::PredType::NATIVE_UINT8;
    case Element::int32:
      return H5::PredType::NATIVE_INT32;
    case Element::int64:
      return H5::PredType::NATIVE_INT64;
    case Element::float32:
      return H5::PredType::NATIVE_FLOAT;
    case Element::float64:
      break;
  }
  return H5::PredType::NATIVE_DOUBLE;
}

std::string class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER:
      return "integer";
    case H5T_FLOAT:
      return "floating-point";
    case H5T_STRING:
      return "string";
    case H5T_COMPOUND:
      return "compound";
    case H5T_ENUM:
      return "enum";
    case H5T_ARRAY:
      return "array";
    case H5T_VLEN:
      return "variable-length";
    case H5T_REFERENCE:
      return "reference";
    case H5T_OPAQUE:
      return "opaque";
    case H5T_BITFIELD:
      return "bitfield";
    case H5T_TIME:
      return "time";
    default:
      return "unknown";
  }
}

// Number of elements of `dims`, or nullopt past kMaxElements.
std::optional<hsize_t> element_count(const std::vector<hsize_t>& dims) {
  hsize_t n = 1;
  for (hsize_t d : dims)
    if (__builtin_mul_overflow(n, d, &n) || n > kMaxElements) return std::nullopt;
  return n;
}

std::vector<hsize_t> extent(const H5::DataSpace& space) {
  std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
  if (!dims.empty()) space.getSimpleExtentDims(dims.data());
  return dims;
}

// "attribute 'step' has shape [3], expected a scalar" for anything but a scalar dataspace.
std::string scalar_problem(const H5::DataSpace& space) {
  const H5S_class_t c = H5Sget_simple_extent_type(space.getId());
  if (c == H5S_SCALAR) return {};
  if (c == H5S_NULL) return "is empty (a null dataspace), expected a scalar";
  return "has shape " + shape_text(extent(space)) + ", expected a scalar";
}

std::string bytes_text(double bytes) {
  return std::to_string(static_cast<unsigned long long>(bytes)) + " bytes";
}

std::string read_fixed_string(const H5::Attribute& attr, const H5::StrType& type) {
  std::string value;
  attr.read(type, value);
  return value;
}

}  // namespace

// A variable-length string through the C API: HDF5's C++ wrapper calls strlen() on what it
// read, which is a null pointer for a null string in a damaged file (found by fuzz_attention).
std::string Reader::read_variable_string(const H5::Attribute& attr, const H5::StrType& type,
                                         const std::string& object) const {
  char* text = nullptr;
  if (H5Aread(attr.getId(), type.getId(), &text) < 0) fail(object + " cannot be read");
  const std::unique_ptr<char, herr_t (*)(void*)> owned(text, H5free_memory);
  if (text == nullptr) fail(object + " is a null string");
  return std::string(text, strnlen(text, kMaxStringBytes + 1));
}

size_t element_size(Element e) {
  return info(e).size;
}

std::string shape_text(const std::vector<hsize_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

template <class Fn>
auto Reader::guarded(const std::string& object, Fn fn) const {
  try {
    return fn();
  } catch (const H5::Exception& e) {
    fail(object + " cannot be read (" + e.getDetailMsg() + ")");
  }
}

Reader::Reader(const fs::path& path, std::string kind) : path_(path), kind_(std::move(kind)) {
  silence_errors();
  std::error_code ec;
  if (!fs::exists(path, ec)) throw InputError("no such file: '" + path.string() + "'");
  if (!fs::is_regular_file(path, ec)) fail("not a regular file");
  guarded("the file", [&] {
    if (H5Fis_hdf5(path.c_str()) <= 0) fail("not an HDF5 file");
    file_.openFile(path.string(), H5F_ACC_RDONLY);
    return 0;
  });
}

void Reader::fail(const std::string& what) const {
  throw CorruptFileError("file '" + path_.string() + "': " + what + "; the file is not a " + kind_ +
                         " or is damaged");
}

bool Reader::has_attr(const std::string& name) const {
  return guarded("attribute '" + name + "'", [&] { return file_.attrExists(name); });
}

std::string Reader::string_attr(const std::string& name) const {
  const std::string object = "attribute '" + name + "'";
  if (!has_attr(name)) fail("the " + object + " is missing");
  return guarded(object, [&] {
    H5::Attribute attr = file_.openAttribute(name);
    const H5T_class_t c = attr.getTypeClass();
    if (c != H5T_STRING) fail(object + " is " + class_name(c) + ", expected a string");
    if (const std::string p = scalar_problem(attr.getSpace()); !p.empty()) fail(object + " " + p);
    H5::StrType type = attr.getStrType();
    if (!type.isVariableStr() && type.getSize() > kMaxStringBytes)
      fail(object + " is " + std::to_string(type.getSize()) + " bytes long (limit " +
           std::to_string(kMaxStringBytes) + ")");
    std::string value = type.isVariableStr() ? read_variable_string(attr, type, object)
                                             : read_fixed_string(attr, type);
    if (value.size() > kMaxStringBytes)
      fail(object + " is " + std::to_string(value.size()) + " bytes long (limit " +
           std::to_string(kMaxStringBytes) + ")");
    return value;
  });
}

int64_t Reader::int_attr(const std::string& name) const {
  const std::string object = "attribute '" + name + "'";
  if (!has_attr(name)) fail("the " + object + " is missing");
  return guarded(object, [&] {
    H5::Attribute attr = file_.openAttribute(name);
    const H5T_class_t c = attr.getTypeClass();
    if (c != H5T_INTEGER) fail(object + " is " + class_name(c) + ", expected an integer");
    if (const std::string p = scalar_problem(attr.getSpace()); !p.empty()) fail(object + " " + p);
    int64_t value = 0;
    attr.read(H5::PredType::NATIVE_INT64, &value);
    return value;
  });
}

bool Reader::has_object(const std::string& path) const {
  if (path.empty() || path.front() != '/') return false;
  return guarded("'" + path + "'", [&] {
    // Walk the path one link at a time: each must exist and be a hard link.
    for (size_t slash = path.find('/', 1);; slash = path.find('/', slash + 1)) {
      const std::string prefix = path.substr(0, slash);
      if (prefix.size() <= 1) return false;
      if (H5Lexists(file_.getId(), prefix.c_str(), H5P_DEFAULT) <= 0) return false;
      H5L_info_t link{};
      if (H5Lget_info(file_.getId(), prefix.c_str(), &link, H5P_DEFAULT) < 0)
        fail("the link '" + prefix + "' cannot be read");
      if (link.type != H5L_TYPE_HARD)
        fail("'" + prefix + "' is a soft or external link (locsweep files hold none)");
      if (slash == std::string::npos) return true;
    }
  });
}

H5::DataSet Reader::open_dataset(const std::string& path) const {
  if (!has_object(path)) fail("the dataset '" + path + "' is missing");
  // childObjType: the same call in HDF5 1.10 and 1.14 (H5Oget_info_by_name* differ there).
  H5O_type_t type = H5O_TYPE_UNKNOWN;
  try {
    type = file_.childObjType(path);
  } catch (const H5::Exception&) {
    fail("the object '" + path + "' cannot be read");
  }
  if (type != H5O_TYPE_DATASET) fail("'" + path + "' is not a dataset");
  return file_.openDataSet(path);
}

std::vector<hsize_t> Reader::dims(const std::string& path, Element type, size_t rank,
                                  hsize_t max_dim) const {
  const std::string object = "dataset '" + path + "'";
  return guarded(object, [&] {
    H5::DataSet ds = open_dataset(path);
    const ElementInfo want = info(type);
    const H5T_class_t c = ds.getTypeClass();
    if (c != want.type_class)
      fail(object + " is " + class_name(c) + ", expected " + want.name + " dataset");
    const size_t type_size = ds.getDataType().getSize();
    if (type_size != 1 && type_size != 2 && type_size != 4 && type_size != 8)
      fail(object + " has " + std::to_string(type_size) + "-byte elements");
    H5::DataSpace space = ds.getSpace();
    if (H5Sget_simple_extent_type(space.getId()) != H5S_SIMPLE)
      fail(object + " has no shape (a scalar or null dataspace), expected rank " +
           std::to_string(rank));
    const std::vector<hsize_t> d = extent(space);
    if (d.size() != rank)
      fail(object + " has shape " + shape_text(d) + " (rank " + std::to_string(d.size()) +
           "), expected rank " + std::to_string(rank));
    for (size_t i = 0; i < d.size(); ++i)
      if (d[i] > max_dim)
        fail(object + " has shape " + shape_text(d) + ": dimension " + std::to_string(i) +
             " exceeds " + std::to_string(max_dim));
    const auto n = element_count(d);
    if (!n) fail(object + " has shape " + shape_text(d) + ", more elements than any locsweep file");

    // Storage: in this file (no external raw data, no virtual dataset) and consistent with
    // the shape, so that reading cannot conjure up data the file does not hold.
    H5::DSetCreatPropList props = ds.getCreatePlist();
    if (H5Pget_external_count(props.getId()) != 0) fail(object + " keeps its data in another file");
    const H5D_layout_t layout = H5Pget_layout(props.getId());
    if (layout != H5D_CONTIGUOUS && layout != H5D_CHUNKED && layout != H5D_COMPACT)
      fail(object + " has a virtual or unknown storage layout");
    const double raw = static_cast<double>(*n) * static_cast<double>(type_size);
    const auto stored = static_cast<double>(ds.getStorageSize());
    if (stored > static_cast<double>(fs::file_size(path_)))
      fail(object + " claims " + bytes_text(stored) + " of storage, more than the whole file");
    const bool consistent =
        layout == H5D_CHUNKED ? raw <= stored * kMaxCompressionRatio + 4096.0 : raw == stored;
    if (!consistent)
      fail(object + " has shape " + shape_text(d) + " (" + bytes_text(raw) + ") but stores " +
           bytes_text(stored));
    return d;
  });
}

void Reader::expect_dims(const std::string& path, const std::vector<hsize_t>& actual,
                         const std::vector<hsize_t>& expected) const {
  if (actual != expected)
    fail("dataset '" + path + "' has shape " + shape_text(actual) + ", expected " +
         shape_text(expected));
}

void Reader::read(const std::string& path, Element type, const std::vector<hsize_t>& expected,
                  void* out, size_t out_bytes) const {
  const std::vector<hsize_t> offset(expected.size(), 0);
  read_block(path, type, expected, offset, expected, out, out_bytes);
}

void Reader::read_block(const std::string& path, Element type, const std::vector<hsize_t>& expected,
                        const std::vector<hsize_t>& offset, const std::vector<hsize_t>& count,
                        void* out, size_t out_bytes) const {
  const std::string object = "dataset '" + path + "'";
  hsize_t max_dim = 0;
  for (hsize_t d : expected) max_dim = std::max(max_dim, d);
  const std::vector<hsize_t> actual = dims(path, type, expected.size(), max_dim);
  expect_dims(path, actual, expected);
  if (offset.size() != expected.size() || count.size() != expected.size())
    throw Error("h5::Reader::read_block: offset/count rank does not match " + object);
  for (size_t i = 0; i < expected.size(); ++i)
    if (offset[i] > expected[i] || count[i] > expected[i] - offset[i])
      throw Error("h5::Reader::read_block: block outside " + object);
  const auto n = element_count(count);
  if (!n || *n * element_size(type) != out_bytes)
    throw Error("h5::Reader::read_block: buffer size does not match the block of " + object);
  if (out_bytes > kMaxReadBytes)
    fail(object + ": reading " + std::to_string(out_bytes) + " bytes at once exceeds the limit");
  if (*n == 0) return;
  guarded(object, [&] {
    H5::DataSet ds = open_dataset(path);
    H5::DataSpace file_space = ds.getSpace();
    if (!count.empty()) file_space.selectHyperslab(H5S_SELECT_SET, count.data(), offset.data());
    H5::DataSpace memory = count.empty()
                               ? H5::DataSpace(H5S_SCALAR)
                               : H5::DataSpace(static_cast<int>(count.size()), count.data());
    ds.read(out, memory_type(type), memory, file_space);
    return 0;
  });
}

}  // namespace locsweep::h5
