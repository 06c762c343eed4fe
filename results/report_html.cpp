#include "results/report_html.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include "results/gnuplot.hpp"
#include "results/report.hpp"
#include "results/search_display.hpp"

namespace locsweep {

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace report {
namespace {

std::string num(double v, int digits = 3) {
  return fmt::format("{:.{}f}", v, digits);
}

std::string opt_num(const std::optional<double>& v, int digits = 3) {
  return v ? num(*v, digits) : "–";
}

// One table row; `cells` are escaped here.
std::string tr(const std::vector<std::string>& cells, const char* row_class = nullptr) {
  std::string h = row_class ? fmt::format("<tr class=\"{}\">", row_class) : std::string("<tr>");
  for (const auto& c : cells) h += "<td>" + html_escape(c) + "</td>";
  return h + "</tr>\n";
}

std::string thead(const std::vector<std::string>& names) {
  std::string h = "<thead><tr>";
  for (const auto& n : names) h += "<th>" + html_escape(n) + "</th>";
  return h + "</tr></thead>\n";
}

std::string results_table_html(const ResultsTable& t) {
  std::string h = "<table class=\"results\">\n" +
                  thead({"configuration", "mechanism", "schedule", "β", "λ", "seeds",
                         "PPL ± 95 % CI", "PPL std", "ratio ± 95 % CI", "gap closed",
                         "entropy first", "entropy last", "in-block mass"}) +
                  "<tbody>\n";
  for (const auto& r : t.rows)
    h += tr({r.config, r.mechanism, r.schedule, r.beta ? fmt::format("{:g}", *r.beta) : "–",
             fmt::format("{:.2g}–{:.2g}", r.lambda_min, r.lambda_max), std::to_string(r.seeds),
             num(r.ppl_mean) + " ± " + num(r.ppl_ci95), num(r.ppl_std),
             r.ratio ? num(*r.ratio) + " ± " + opt_num(r.ratio_ci95) : "–",
             r.gap_closed ? num(*r.gap_closed, 1) + " %" : "–", num(r.entropy_first),
             num(r.entropy_last), num(r.in_block_mass)},
            "config-row");
  return h + "</tbody>\n</table>\n";
}

std::string layer_table_html(const ResultsTable& t) {
  std::string h = "<table class=\"layers\">\n" +
                  thead({"configuration", "layer", "λ", "entropy (bits)", "entropy / log₂(i+1)",
                         "in-block mass", "mean distance"}) +
                  "<tbody>\n";
  for (const auto& r : t.rows)
    for (const auto& l : r.layers)
      h += tr({r.config, std::to_string(l.layer), num(l.lambda, 4), num(l.entropy_bits),
               num(l.entropy_norm), num(l.in_block_mass), num(l.mean_distance, 2)},
              "layer-row");
  return h + "</tbody>\n</table>\n";
}

std::string runs_html(const std::vector<std::vector<std::string>>& runs) {
  std::string rows;
  for (const auto& run : runs) rows += tr(run);
  if (rows.empty()) return "<p>No runs recorded.</p>\n";
  return "<table class=\"runs\">\n" +
         thead({"run", "host", "ranks", "Slurm job", "started (UTC)", "ended (UTC)", "status"}) +
         "<tbody>\n" + rows + "</tbody>\n</table>\n";
}

std::string figure_html(const Figure& f, int number) {
  std::string h =
      fmt::format("<figure class=\"plot{}\" id=\"{}\">\n", f.svg.empty() ? " skipped" : "", f.id);
  h += fmt::format("<h3>Figure {}. {}</h3>\n", number, html_escape(f.title));
  if (!f.svg.empty()) h += inline_svg(f.svg, f.id + "-") + "\n";
  for (const auto& note : f.notes) h += "<p class=\"note\">" + html_escape(note) + "</p>\n";
  if (!f.svg.empty() && !f.data.empty()) {
    h += "<p class=\"data\">Data (gnuplot, in data/):";
    for (const auto& file : f.data)
      h += " <code>" + html_escape(file.first) +
           "</code>";  // no link: the page stays self-contained
    h += "</p>\n";
  }
  h += "<figcaption>" + html_escape(f.caption) + "</figcaption>\n</figure>\n";
  return h;
}

const char* const kCss = R"css(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a;
       max-width: 1180px; margin: 2em auto; padding: 0 1.2em; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 0 0 0.5em; }
.meta, figcaption, footer { color: #555; }
.counts span { display: inline-block; margin-right: 1.2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.8em 0; }
th, td { padding: 0.3em 0.6em; border-bottom: 1px solid #e4e4e4; text-align: right; white-space: nowrap; }
th { background: #f3f5f8; font-weight: 600; white-space: normal; vertical-align: bottom; }
td:first-child, th:first-child { text-align: left; }
tbody tr:nth-child(even) { background: #fafbfc; }
.table-scroll { overflow-x: auto; }
figure.plot { margin: 1.6em 0; padding: 1em; border: 1px solid #e4e4e4; border-radius: 6px; }
figure.plot svg { width: 100%; max-width: 900px; height: auto; display: block; }
figure.skipped { background: #fcfcf4; }
p.note { color: #8a5a00; font-size: 0.92em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
footer { margin-top: 3em; font-size: 0.85em; }
tr.best { background: #e8f5ee !important; font-weight: 600; }
)css";

// <head> (title, inline CSS) and the <header>: name, description, counts, provenance; <nav>.
std::string head_and_header(const Page& page, bool search) {
  const SweepInfo& info = page.info;
  const ResultsTable& table = page.table;
  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>locsweep report: " + html_escape(info.name) + "</title>\n<style>" + kCss +
       "</style>\n</head>\n<body>\n";
  h += "<header>\n<h1>Sweep <span id=\"sweep-name\">" + html_escape(info.name) + "</span></h1>\n";
  if (!info.description.empty())
    h += "<p class=\"description\">" + html_escape(info.description) + "</p>\n";
  h += fmt::format(
      "<p class=\"counts\"><span>{} trials</span><span>{} done</span><span>{} "
      "failed</span><span>{} running</span><span>{} pending</span>{}<span>{} "
      "configurations</span></p>\n",
      table.trials, table.done, table.failed, table.running, table.pending,
      table.stopped > 0 ? fmt::format("<span>{} stopped early</span>", table.stopped) : "",
      table.rows.size());
  h += "<p class=\"meta\">Spec file " +
       html_escape(info.spec_file.empty() ? "(none)" : info.spec_file) + " · sweep created " +
       html_escape(info.created_at) + " · updated " + html_escape(info.updated_at) +
       " · database " + html_escape(page.db_path) + "</p>\n</header>\n";
  h += "<nav><a href=\"#results\">Results</a>";
  if (search) h += "<a href=\"#search\">Search</a>";
  h += "<a href=\"#plots\">Plots</a><a href=\"#spec\">Specification</a></nav>\n";
  return h;
}

// <section id="results">: the results table, what its columns mean, the per-layer table.
std::string results_section(const ResultsTable& table) {
  std::string h = "<section id=\"results\">\n<h2>Results</h2>\n";
  if (table.unmeasured > 0)
    h += fmt::format(
        "<p class=\"note\" id=\"unmeasured\">{} done trial{} without a validation perplexity "
        "(kind: noop measures none) {} in no row of the table.</p>\n",
        table.unmeasured, table.unmeasured == 1 ? "" : "s", table.unmeasured == 1 ? "is" : "are");
  else if (table.rows.empty())
    h += "<p class=\"note\">No done trials yet: nothing to tabulate.</p>\n";
  h += "<div class=\"table-scroll\">\n" + results_table_html(table) + "</div>\n";
  h += "<p class=\"meta\">One row per configuration (its done trials over seeds). PPL: "
       "validation perplexity, mean over seeds, with the half-width of its 95 % confidence "
       "interval and the standard deviation. Ratio: PPL over the distributed trial of the same "
       "seed, data and model, mean over seeds. Gap closed: (R_localist − R) / (R_localist − 1), "
       "shown only where the localist model is significantly worse than the distributed one (its "
       "ratio's 95 % CI lies above 1; with one seed there is no CI), otherwise “–”: a gap within "
       "noise has nothing to close. Rows that differ only in training steps (0: the base "
       "evaluated zero-shot with locality imposed) or initialisation each have their own "
       "distributed baseline. "
       "Entropy of the first and last layer in bits; in-block mass: mean over layers.</p>\n";
  h += "<details>\n<summary>Per-layer metrics</summary>\n<div class=\"table-scroll\">\n" +
       layer_table_html(table) + "</div>\n</details>\n</section>\n";
  return h;
}

// <section id="search">: the search as specified, where it stands, its points (sorted by the
// key, the best marked) and the objective's curve (Figure 1).
std::string search_section(const SearchSection& search) {
  std::string h = "<section id=\"search\">\n<h2>Search</h2>\n";
  if (!search.view)
    return h + "<p class=\"note\">" + html_escape(search.note) + "</p>\n</section>\n";
  const SearchView& view = *search.view;
  h +=
      "<p class=\"search-spec\">" + html_escape(search_spec_text(view.spec, view.seeds)) + "</p>\n";
  const std::string state = search_state_text(view);
  for (std::string_view rest = state; !rest.empty();) {  // one <p> a line
    const size_t end = std::min(rest.find('\n'), rest.size());
    h += "<p class=\"search-state\">" + html_escape(rest.substr(0, end)) + "</p>\n";
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
  if (view.rows.empty()) {
    h += "<p class=\"note\">No point asked yet.</p>\n";
  } else {
    const SearchTable table = search_points_table(view);
    h += "<div class=\"table-scroll\">\n<table class=\"search-points\">\n" + thead(table.header) +
         "<tbody>\n";
    for (size_t i = 0; i < table.cells.size(); ++i)
      h += tr(table.cells[i], view.rows[i].best ? "search-point best" : "search-point");
    h += "</tbody>\n</table>\n</div>\n<p class=\"meta\">One row per point the search asked "
         "for, sorted by the key; * marks the best, # is the order they were asked in. Figures "
         "are means over the point's done seeds.</p>\n";
  }
  if (search.figure) h += figure_html(*search.figure, 1);
  return h + "</section>\n";
}

// <section id="plots">: the figures, numbered from `first`.
std::string plots_section(const std::vector<Figure>& figures, int first) {
  std::string h = "<section id=\"plots\">\n<h2>Plots</h2>\n";
  for (size_t i = 0; i < figures.size(); ++i)
    h += figure_html(figures[i], first + static_cast<int>(i));
  return h + "</section>\n";
}

// <section id="spec">: the spec as recorded, and the runs.
std::string spec_section(const Page& page) {
  return "<section id=\"spec\">\n<h2>Specification</h2>\n<pre class=\"spec\">" +
         html_escape(page.info.spec_yaml) + "</pre>\n<h3>Runs</h3>\n" + runs_html(page.runs) +
         "</section>\n";
}

}  // namespace

std::string render_page(const Page& page, const SearchSection& search) {
  const bool shown = search.view || !search.note.empty();
  return head_and_header(page, shown) + results_section(page.table) +
         (shown ? search_section(search) : "") +
         plots_section(page.figures, search.figure ? 2 : 1) + spec_section(page) +
         "<footer>Generated by locsweep at " + html_escape(page.generated_at) +
         "; plots drawn by " + html_escape(page.gnuplot_version) +
         " (each also in plots/, the data it was drawn from in "
         "data/).</footer>\n</body>\n</html>\n";
}

}  // namespace report
}  // namespace locsweep
