#include "results/gnuplot.hpp"

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/error.hpp"
#include "common/files.hpp"
#include "common/process.hpp"

namespace locsweep {
namespace fs = std::filesystem;

TempDir::TempDir(const std::string& prefix) {
  std::string pattern = (fs::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!::mkdtemp(pattern.data()))
    throw Error("cannot create a temporary folder '" + pattern + "': " + std::strerror(errno));
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  fs::remove_all(path_, ignored);
}

Gnuplot::Gnuplot(std::string program) : program_(std::move(program)), dir_("locsweep-gnuplot") {
  const ProgramResult r = run_program({program_, "--version"}, 60.0);
  if (!r.ok())
    throw Error("cannot run '" + program_ + "' (" +
                (r.ending == ProgramResult::Ending::not_found ? std::string("not found")
                                                              : trim(r.out + r.err)) +
                "); the report draws its plots with gnuplot: install it with "
                "`apt-get install gnuplot-nox` (scripts/setup.sh does)");
  version_ = trim(r.out);
}

std::string Gnuplot::data_file(const std::string& name, const std::string& contents) {
  const fs::path path = dir_.path() / name;
  std::ofstream out(path, std::ios::binary);
  out << contents;
  if (!out.flush()) throw Error("cannot write gnuplot data '" + path.string() + "'");
  return gp_quote(path.string());
}

GnuplotOutput Gnuplot::render_svg(const std::string& name, const std::string& script, int width,
                                  int height) {
  const fs::path svg = dir_.path() / (name + ".svg");
  const fs::path script_path = dir_.path() / (name + ".gp");
  std::ostringstream full;
  full << "set encoding utf8\n"
       << "set terminal svg size " << width << "," << height
       << " dynamic font 'sans,12' noenhanced background rgb 'white'\n"
       << "set output " << gp_quote(svg.string()) << "\n"
       << script << "\nunset output\n";
  {
    std::ofstream out(script_path, std::ios::binary);
    out << full.str();
    if (!out.flush()) throw Error("cannot write gnuplot script '" + script_path.string() + "'");
  }
  // --default-settings: no ~/.gnuplot or system gnuplotrc, so every machine draws the same plot.
  const ProgramResult r =
      run_program({program_, "--default-settings", script_path.string()}, 300.0);
  if (!r.ok())
    throw Error("gnuplot failed on the '" + name + "' plot (" +
                (r.ending == ProgramResult::Ending::timed_out
                     ? std::string("timed out")
                     : "exit code " + std::to_string(r.status)) +
                "): " + trim(r.err) + "\nscript:\n" + full.str());
  GnuplotOutput output;
  if (fs::exists(svg)) output.svg = read_file(svg);
  if (output.svg.find("<svg") == std::string::npos)
    throw Error("gnuplot wrote no SVG for the '" + name + "' plot: " + trim(r.err));
  std::istringstream lines(r.err);
  for (std::string line; std::getline(lines, line);) {
    line = trim(line);
    // "Warning: empty y range [3:3], adjusting to [2.97:3.03]": gnuplot handled it; not news.
    const bool adjusted_range =
        line.rfind("Warning: empty", 0) == 0 && line.find("adjusting") != std::string::npos;
    if (!line.empty() && !adjusted_range) output.warnings.push_back(line);
  }
  return output;
}

std::string gp_quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'')
      out += "''";
    else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
      out += ' ';
    else
      out += c;
  }
  return out + "'";
}

std::string inline_svg(std::string_view svg, std::string_view id_prefix) {
  const size_t start = svg.find("<svg");
  if (start == std::string_view::npos) return "";
  svg.remove_prefix(start);
  // Inside a tag, these introduce an id or a reference to one.
  static const std::string_view kMarkers[] = {"id='", "id=\"", "href='#", "href=\"#", "url(#"};
  std::string out;
  out.reserve(svg.size() + svg.size() / 16);
  bool in_tag = false;
  for (size_t i = 0; i < svg.size();) {
    const char c = svg[i];
    if (c == '<') in_tag = true;
    if (c == '>') in_tag = false;
    if (in_tag) {
      bool matched = false;
      for (const std::string_view marker : kMarkers) {
        // `id=` must start an attribute name (not end "grid=" or "xml:id=" ... of another).
        const bool attr_start =
            marker[0] != 'i' || (i > 0 && std::isspace(static_cast<unsigned char>(svg[i - 1])));
        if (attr_start && svg.substr(i, marker.size()) == marker) {
          out += marker;
          out += id_prefix;
          i += marker.size();
          matched = true;
          break;
        }
      }
      if (matched) continue;
    }
    out += c;
    ++i;
  }
  return out;
}

}  // namespace locsweep
