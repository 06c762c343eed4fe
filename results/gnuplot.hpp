// Running gnuplot (Debian's gnuplot-nox) as a child process to draw SVG plots for the
// report: data files and scripts go into a private temporary folder, gnuplot runs on the
// script file, and its exit status and stderr are checked. Also the small text helpers a
// report needs around it (gnuplot string literals, inlining an SVG file into HTML).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace locsweep {

// A fresh folder under the system temporary directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct GnuplotOutput {
  std::string svg;  // the SVG document gnuplot wrote
  std::vector<std::string>
      warnings;  // stderr lines of a run that succeeded (bar empty-range notices)
};

class Gnuplot {
 public:
  // Checks that `program` runs (`program --version`); throws Error saying to install
  // gnuplot-nox when it does not.
  explicit Gnuplot(std::string program = "gnuplot");
  const std::string& version() const { return version_; }  // "gnuplot 5.4 patchlevel 4"

  // Writes a data file into the temporary folder; returns its path as a gnuplot string literal.
  std::string data_file(const std::string& name, const std::string& contents);

  // Runs `script` after a preamble that selects the SVG terminal (width x height pixels,
  // UTF-8, no enhanced-text markup) and an output file. Throws Error with gnuplot's stderr
  // if gnuplot exits non-zero or writes no SVG.
  GnuplotOutput render_svg(const std::string& name, const std::string& script, int width,
                           int height);

 private:
  std::string program_;
  std::string version_;
  TempDir dir_;
};

// `text` as a single-quoted gnuplot string literal ('' for a quote; control characters,
// which would end the script line, become spaces).
std::string gp_quote(std::string_view text);

// An SVG document made fit to paste into HTML: the XML prolog is dropped, and every id
// and reference to one (href="#x", url(#x)) inside tags gets `id_prefix`, so several
// plots on one page keep distinct ids. Text between tags is left as it is.
std::string inline_svg(std::string_view svg, std::string_view id_prefix);

}  // namespace locsweep
