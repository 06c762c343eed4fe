#include "results/text_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace locsweep {
namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string quoted = "\"";
  for (char c : s) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::string csv_line(const std::vector<std::string>& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) out += (i ? "," : "") + csv_field(cells[i]);
  return out + "\n";
}

std::string exact_number(double value) {
  if (!std::isfinite(value)) return "";
  char buffer[32];
  const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  if (ec != std::errc()) return "";
  std::string text(buffer, end);
  // "1" would make a reader type the column integer: a float always shows it is one.
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

std::string render_text_table(const std::vector<std::string>& header,
                              const std::vector<std::vector<std::string>>& rows,
                              TextTableFormat format) {
  std::string out;
  if (format == TextTableFormat::csv) {
    out += csv_line(header);
    for (const auto& r : rows) out += csv_line(r);
    return out;
  }
  std::vector<size_t> width(header.size());
  for (size_t i = 0; i < header.size(); ++i) width[i] = header[i].size();
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], r[i].size());
  const bool md = format == TextTableFormat::markdown;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = md ? "|" : "";
    for (size_t i = 0; i < cells.size(); ++i) {
      const std::string cell = fmt::format("{:<{}}", cells[i], width[i]);
      s += md ? " " + cell + " |" : cell + (i + 1 < cells.size() ? "  " : "");
    }
    // Aligned rows end at their last cell, without padding.
    if (!md) s.erase(s.find_last_not_of(' ') + 1);
    return s + "\n";
  };
  out += line(header);
  std::string rule = md ? "|" : "";
  for (size_t i = 0; i < header.size(); ++i)
    rule += md ? std::string(width[i] + 2, '-') + "|"
               : std::string(width[i], '-') + (i + 1 < header.size() ? "  " : "");
  out += rule + "\n";
  for (const auto& r : rows) out += line(r);
  return out;
}

}  // namespace locsweep
