// Rows of text cells rendered as an aligned table, CSV (RFC 4180 quoting) or a markdown table:
// the one renderer behind `locsweep results` and `locsweep results --sql`; and the cells of
// the pandas-ready exports (`results --format csv`, `--curves`).
#pragma once

#include <string>
#include <vector>

namespace locsweep {

enum class TextTableFormat { aligned, csv, markdown };

std::string render_text_table(const std::vector<std::string>& header,
                              const std::vector<std::vector<std::string>>& rows,
                              TextTableFormat format);

// One CSV record (RFC 4180 quoting where a cell needs it), ending in "\n".
std::string csv_line(const std::vector<std::string>& cells);

// The shortest text that reads back as exactly `value` (std::to_chars: "0.1", "26.47170319",
// "1e-05"), always with a point or an exponent ("1.0"), so that readers type its column float;
// empty for NaN and infinities, which CSV readers then see as missing.
std::string exact_number(double value);

}  // namespace locsweep
