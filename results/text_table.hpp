// Rows of text cells rendered as an aligned table, CSV (RFC 4180 quoting) or a markdown table:
// the one renderer behind `locsweep results` and `locsweep results --sql`.
#pragma once

#include <string>
#include <vector>

namespace locsweep {

enum class TextTableFormat { aligned, csv, markdown };

std::string render_text_table(const std::vector<std::string>& header,
                              const std::vector<std::vector<std::string>>& rows,
                              TextTableFormat format);

}  // namespace locsweep
