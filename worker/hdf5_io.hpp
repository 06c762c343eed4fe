// Thin helpers over HDF5's C++ API for the files locsweep writes: string and integer
// attributes, float/int datasets from contiguous buffers, and the error translation.
// H5::H5File, H5::Group and H5::DataSet are already RAII handles; these only shorten calls.
#pragma once

#include <H5Cpp.h>

#include <cstdint>
#include <string>
#include <vector>

namespace locsweep::h5 {

void write_string_attr(H5::H5Object& obj, const std::string& name, const std::string& value);
std::string read_string_attr(const H5::H5Object& obj, const std::string& name);
void write_int_attr(H5::H5Object& obj, const std::string& name, int64_t value);
int64_t read_int_attr(const H5::H5Object& obj, const std::string& name);
void write_double_attr(H5::H5Object& obj, const std::string& name, double value);
bool has_attr(const H5::H5Object& obj, const std::string& name);

// Contiguous dataset of `dims` from `data` (type: the file and memory type, e.g. NATIVE_FLOAT).
H5::DataSet write_dataset(H5::Group& group, const std::string& name, const H5::DataType& type,
                          const std::vector<hsize_t>& dims, const void* data);
std::vector<hsize_t> dataset_dims(const H5::DataSet& dataset);

// IEEE binary16, which HDF5 has no predefined type for; h5py reads it as numpy float16.
H5::FloatType float16_type();

// Makes HDF5 quiet (errors arrive as exceptions, and we print them once).
void silence_errors();

}  // namespace locsweep::h5
