// The HTML report of a sweep (`locsweep report`, and the end of `locsweep demo`): the
// sweep's name, description, spec and trial counts, the paper-style table
// (build_results_table), and plots drawn by gnuplot: PPL ratio vs beta, lambda, attention
// entropy and in-block mass per layer, training curves, and attention heatmaps read from the
// recorded attention.h5 files; for a sweep with a search, a Search section (its points, the
// best marked, and the objective over the key: results/search_display.hpp). One self-contained
// index.html (every plot inlined as SVG, no scripts, no network) plus each plot as plots/<id>.svg,
// and the gnuplot data it was drawn from as data/<id>-<part>.dat.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "results/sqlite.hpp"

namespace locsweep {

// Writes out_dir/index.html, out_dir/plots/*.svg and out_dir/data/*.dat and returns the index.html
// path. Reads `db` only. An empty `sweep` means the database's only sweep. Throws InputError for an
// unknown sweep, and Error (saying to install gnuplot-nox) when gnuplot cannot run.
std::filesystem::path write_report(Database& db, const std::string& sweep,
                                   const std::filesystem::path& out_dir);

// `text` with & < > " ' replaced by entities: safe in HTML text and quoted attribute values.
std::string html_escape(std::string_view text);

}  // namespace locsweep
