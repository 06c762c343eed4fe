#include "worker/hdf5_io.hpp"

namespace locsweep::h5 {

void write_string_attr(H5::H5Object& obj, const std::string& name, const std::string& value) {
  H5::StrType type(H5::PredType::C_S1, H5T_VARIABLE);
  type.setCset(H5T_CSET_UTF8);
  H5::Attribute attr = obj.createAttribute(name, type, H5::DataSpace(H5S_SCALAR));
  attr.write(type, value);
}

std::string read_string_attr(const H5::H5Object& obj, const std::string& name) {
  H5::Attribute attr = obj.openAttribute(name);
  std::string value;
  attr.read(attr.getStrType(), value);
  return value;
}

void write_int_attr(H5::H5Object& obj, const std::string& name, int64_t value) {
  H5::Attribute attr =
      obj.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_INT64, &value);
}

int64_t read_int_attr(const H5::H5Object& obj, const std::string& name) {
  int64_t value = 0;
  obj.openAttribute(name).read(H5::PredType::NATIVE_INT64, &value);
  return value;
}

void write_double_attr(H5::H5Object& obj, const std::string& name, double value) {
  H5::Attribute attr =
      obj.createAttribute(name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR));
  attr.write(H5::PredType::NATIVE_DOUBLE, &value);
}

bool has_attr(const H5::H5Object& obj, const std::string& name) {
  return obj.attrExists(name);
}

H5::DataSet write_dataset(H5::Group& group, const std::string& name, const H5::DataType& type,
                          const std::vector<hsize_t>& dims, const void* data) {
  H5::DataSpace space = dims.empty() ? H5::DataSpace(H5S_SCALAR)
                                     : H5::DataSpace(static_cast<int>(dims.size()), dims.data());
  H5::DataSet dataset = group.createDataSet(name, type, space);
  dataset.write(data, type);
  return dataset;
}

std::vector<hsize_t> dataset_dims(const H5::DataSet& dataset) {
  H5::DataSpace space = dataset.getSpace();
  std::vector<hsize_t> dims(static_cast<size_t>(space.getSimpleExtentNdims()));
  if (!dims.empty()) space.getSimpleExtentDims(dims.data());
  return dims;
}

H5::FloatType float16_type() {
  H5::FloatType type(H5::PredType::IEEE_F32LE);
  type.setFields(15, 10, 5, 0, 10);  // sign bit, exponent at 10 (5 bits), mantissa at 0 (10 bits)
  type.setSize(2);
  type.setEbias(15);
  return type;
}

void silence_errors() {
  H5::Exception::dontPrint();
}

}  // namespace locsweep::h5
