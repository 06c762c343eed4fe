// The HTML of the report (results/report.hpp): the page skeleton, its CSS, the results,
// per-layer and runs tables, a search's points table, and each figure with its caption and notes.
// Pure text rendering from data already read; every piece of text from the database or a spec is
// escaped (html_escape, declared in results/report.hpp).
#pragma once

#include <string>
#include <vector>

#include "results/report_plots.hpp"
#include "results/report_queries.hpp"
#include "results/table.hpp"

namespace locsweep::report {

// Everything the page shows.
struct Page {
  const SweepInfo& info;
  const ResultsTable& table;
  const std::vector<Figure>& figures;
  const std::vector<std::vector<std::string>>& runs;  // read_runs
  std::string db_path, gnuplot_version, generated_at;
};

// The Search section of a sweep with a search (results/search_display.hpp): its view and
// plot (plot_search), or a note saying why it cannot be shown (its recorded spec cannot be
// replayed). Neither: the sweep has no search, and the page no Search section.
struct SearchSection {
  const SearchView* view = nullptr;
  const Figure* figure = nullptr;
  std::string note;
};

// The whole index.html: self-contained (CSS inline, every plot inlined as SVG, no scripts).
std::string render_page(const Page& page, const SearchSection& search = {});

}  // namespace locsweep::report
