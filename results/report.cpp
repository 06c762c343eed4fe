// write_report: reads what the report needs (report_queries, report_attention), draws the
// plots (report_plots), renders the page (report_html) and writes the files.
#include "results/report.hpp"

#include <optional>
#include <set>
#include <vector>

#include "common/files.hpp"
#include "results/gnuplot.hpp"
#include "results/report_attention.hpp"
#include "results/report_html.hpp"
#include "results/report_plots.hpp"
#include "results/report_queries.hpp"
#include "results/search_display.hpp"
#include "results/table.hpp"

namespace locsweep {
namespace fs = std::filesystem;

namespace {
using namespace report;

// Every figure of the page, in order: (a)-(e), then one heatmap per chosen configuration.
std::vector<Figure> draw_figures(Gnuplot& gp, Database& db, const ResultsTable& table) {
  const auto members = trials_of_rows(db, table);
  std::vector<Figure> figures;
  figures.push_back(plot_ratio_vs_beta(gp, table));
  figures.push_back(plot_lambda(gp, table));
  figures.push_back(plot_entropy(gp, table));
  figures.push_back(plot_in_block_mass(gp, table));
  std::vector<TrainingCurves> curves;
  for (const auto& trials : members)
    curves.push_back({mean_curve(db, trials, "train"), mean_curve(db, trials, "val")});
  figures.push_back(plot_training(gp, table, curves));
  size_t number = 0;
  for (const size_t i : heatmap_rows(table))
    figures.push_back(plot_attention(gp, table.rows[i], load_attention(db, members[i]), ++number));
  return figures;
}

// The sweep's search and its plot; nothing (and no note) for a sweep without one, a note
// when its recorded spec cannot be replayed.
struct SearchDrawn {
  std::optional<SearchView> view;
  Figure figure{"plot-search", "", ""};
  std::string note;
};
SearchDrawn draw_search(Gnuplot& gp, Database& db, const std::string& sweep) {
  SearchDrawn drawn;
  try {
    const std::optional<SearchProgress> progress = recorded_search(db, sweep);
    if (!progress) return drawn;
    drawn.view = search_view(*progress);
  } catch (const InputError& e) {
    drawn.note = e.what();
    return drawn;
  }
  drawn.figure = plot_search(gp, *drawn.view);
  return drawn;
}

// Writes `files` (name, contents) into `folder` and removes the files of an earlier report
// there that start with "plot-" and end in `extension` and that this one did not write (they
// would mislead).
void write_files(const fs::path& folder,
                 const std::vector<std::pair<std::string, std::string>>& files,
                 const std::string& extension) {
  fs::create_directories(folder);
  std::set<std::string> written;
  for (const auto& [name, contents] : files) {
    write_file_atomic(folder / name, contents);
    written.insert(name);
  }
  for (const auto& entry : fs::directory_iterator(folder)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("plot-", 0) == 0 && entry.path().extension() == extension &&
        !written.count(name))
      fs::remove(entry.path());
  }
}

// plots/<id>.svg of each drawn figure, and data/<id>-*.dat, the data gnuplot drew it from.
void write_plot_files(const fs::path& out_dir, const std::vector<Figure>& figures) {
  std::vector<std::pair<std::string, std::string>> svgs, data;
  for (const auto& f : figures) {
    if (f.svg.empty()) continue;
    svgs.emplace_back(f.id + ".svg", f.svg);
    data.insert(data.end(), f.data.begin(), f.data.end());
  }
  write_files(out_dir / "plots", svgs, ".svg");
  write_files(out_dir / "data", data, ".dat");
}

}  // namespace

fs::path write_report(Database& db, const std::string& sweep, const fs::path& out_dir) {
  ResultsQuery query;
  query.sweep = sweep;
  const ResultsTable table = build_results_table(db, query);  // InputError for an unknown sweep
  const SweepInfo info = read_sweep_info(db, table.sweep);
  Gnuplot gp;  // Error (install gnuplot-nox) when gnuplot cannot run
  const std::vector<Figure> figures = draw_figures(gp, db, table);
  const SearchDrawn search = draw_search(gp, db, table.sweep);
  std::vector<Figure> files = figures;
  if (search.view) files.push_back(search.figure);
  write_plot_files(out_dir, files);
  const auto runs = read_runs(db, info.name);
  SearchSection section;
  if (search.view) {
    section.view = &*search.view;
    section.figure = &search.figure;
  }
  section.note = search.note;
  const fs::path index = out_dir / "index.html";
  write_file_atomic(
      index,
      render_page({info, table, figures, runs, db.path(), gp.version(), utc_now()}, section));
  return index;
}

}  // namespace locsweep
