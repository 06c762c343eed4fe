#include "results/report.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <vector>

#include "common/error.hpp"
#include "common/files.hpp"
#include "results/gnuplot.hpp"
#include "results/table.hpp"
#include "trial/attention_reader.hpp"

namespace locsweep {
namespace fs = std::filesystem;
using nlohmann::json;

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

namespace {

// One plot of the page: rendered (svg set) or skipped (notes say why).
struct Figure {
  Figure(std::string id_, std::string title_, std::string caption_)
      : id(std::move(id_)), title(std::move(title_)), caption(std::move(caption_)) {}
  std::string id;  // the HTML id, and the file plots/<id>.svg
  std::string title, caption;
  std::string svg;  // gnuplot's SVG document; empty when skipped
  std::vector<std::string> notes;
};

struct SweepInfo {
  std::string name, spec_yaml, spec_file, created_at, updated_at, description;
};

// A done trial of a configuration row.
struct TrialRef {
  std::string hash;
  int seed = 0;
};

constexpr int kPlotWidth = 820, kPlotHeight = 440;

// Shared look of every plot: Okabe-Ito colours (distinguishable for colour-blind readers; wine
// instead of its yellow, which is too light on white),
// light grid, key outside on the right.
const char* const kStyle = R"gp(
set grid lc rgb '#dddddd' lw 1
set border 3 lc rgb '#444444'
set tics nomirror
set key outside right top box lc rgb '#cccccc' spacing 1.2
set linetype 1 lc rgb '#0072b2' lw 2 pt 7 ps 0.8
set linetype 2 lc rgb '#d55e00' lw 2 pt 5 ps 0.8
set linetype 3 lc rgb '#009e73' lw 2 pt 9 ps 0.9
set linetype 4 lc rgb '#cc79a7' lw 2 pt 11 ps 0.9
set linetype 5 lc rgb '#e69f00' lw 2 pt 13 ps 0.9
set linetype 6 lc rgb '#56b4e9' lw 2 pt 7 ps 0.8
set linetype 7 lc rgb '#000000' lw 2 pt 5 ps 0.8
set linetype 8 lc rgb '#882255' lw 2 pt 9 ps 0.9
set linetype cycle 8
)gp";

std::string num(double v, int digits = 3) {
  return fmt::format("{:.{}f}", v, digits);
}

std::string opt_num(const std::optional<double>& v, int digits = 3) {
  return v ? num(*v, digits) : "–";
}

bool is_polynomial(const ConfigRow& row) {
  return row.beta.has_value() && row.mechanism != "none";
}

SweepInfo read_sweep_info(Database& db, const std::string& name) {
  auto stmt = db.prepare(
      "SELECT name, spec_yaml, spec_file, created_at, updated_at FROM sweeps WHERE name = ?");
  stmt.bind(1, name);
  if (!stmt.step()) throw InputError("no sweep named '" + name + "' in '" + db.path() + "'");
  SweepInfo info{stmt.text(0), stmt.text(1), stmt.text(2), stmt.text(3), stmt.text(4), ""};
  try {
    const YAML::Node spec = YAML::Load(info.spec_yaml);
    if (spec["description"] && spec["description"].IsScalar())
      info.description = spec["description"].as<std::string>();
  } catch (const YAML::Exception&) {
    // A spec that no longer parses still gets a report; it just has no description.
  }
  return info;
}

// The done trials of each table row (the same canonical configuration without its seed),
// lowest seed first.
std::vector<std::vector<TrialRef>> trials_of_rows(Database& db, const ResultsTable& table) {
  std::map<std::string, size_t> row_of;
  for (size_t i = 0; i < table.rows.size(); ++i) row_of[table.rows[i].canonical.dump()] = i;
  std::vector<std::vector<TrialRef>> out(table.rows.size());
  auto stmt = db.prepare(
      "SELECT t.hash, t.seed, t.canonical_json FROM sweep_trials st JOIN sweeps s ON s.id = "
      "st.sweep_id JOIN trials t ON t.hash = st.trial_hash WHERE s.name = ? AND t.status = "
      "'done' ORDER BY t.seed, st.position");
  stmt.bind(1, table.sweep);
  while (stmt.step()) {
    json canonical = json::parse(stmt.text(2));
    canonical.erase("seed");
    if (const auto it = row_of.find(canonical.dump()); it != row_of.end())
      out[it->second].push_back({stmt.text(0), static_cast<int>(stmt.integer(1))});
  }
  return out;
}

void render(Gnuplot& gp, Figure& figure, const std::string& script, int width = kPlotWidth,
            int height = kPlotHeight) {
  GnuplotOutput output = gp.render_svg(figure.id, std::string(kStyle) + script, width, height);
  figure.svg = std::move(output.svg);
  for (auto& w : output.warnings) figure.notes.push_back("gnuplot: " + w);
}

// "plot A, \\\n  B, ...": one gnuplot plot command of several elements.
std::string plot_command(const std::vector<std::string>& elements) {
  std::string line = "plot ";
  for (size_t i = 0; i < elements.size(); ++i) line += (i ? ", \\\n  " : "") + elements[i];
  return line + "\n";
}

// (a) PPL ratio vs beta for the polynomial schedules, with distributed (1) and localist as
// horizontal reference lines.
Figure plot_ratio_vs_beta(Gnuplot& gp, const ResultsTable& table) {
  Figure f{"plot-ratio-beta", "Perplexity ratio vs schedule steepness β",
           "Validation perplexity of each polynomial schedule divided by that of the distributed "
           "model with the same seed, data and model, mean over seeds with 95 % confidence "
           "intervals (Student t). The dashed line is the distributed baseline (ratio 1); dotted "
           "lines are the uniform localist models."};
  std::vector<std::pair<std::string, std::vector<const ConfigRow*>>> series;  // in table order
  for (const auto& row : table.rows) {
    if (!is_polynomial(row) || !row.ratio) continue;
    const std::string name = row.series;
    auto it =
        std::find_if(series.begin(), series.end(), [&](const auto& s) { return s.first == name; });
    if (it == series.end()) it = series.insert(series.end(), {name, {}});
    it->second.push_back(&row);
  }
  if (series.empty()) {
    f.notes.push_back(
        "Not drawn: the sweep has no polynomial schedule with a ratio (that needs a done "
        "polynomial trial and a done distributed trial of the same seed, data and model).");
    return f;
  }
  double max_beta = 1;
  std::vector<std::string> plots;
  for (size_t i = 0; i < series.size(); ++i) {
    auto& rows = series[i].second;
    std::sort(rows.begin(), rows.end(),
              [](const ConfigRow* a, const ConfigRow* b) { return *a->beta < *b->beta; });
    std::string data;
    for (const ConfigRow* r : rows) {
      data +=
          fmt::format("{:.9g} {:.9g} {:.9g}\n", *r->beta, *r->ratio, r->ratio_ci95.value_or(0.0));
      max_beta = std::max(max_beta, *r->beta);
    }
    plots.push_back(gp.data_file(fmt::format("ratio-{}.dat", i), data) +
                    fmt::format(" using 1:2:3 with yerrorlines lt {} title {}", i + 1,
                                gp_quote(series[i].first)));
  }
  plots.push_back("1 with lines dt 2 lw 1.5 lc rgb '#555555' title 'distributed (1)'");
  for (const auto& row : table.rows) {
    if (row.schedule != "localist" || !row.ratio) continue;
    const std::string name = row.series;
    auto it =
        std::find_if(series.begin(), series.end(), [&](const auto& s) { return s.first == name; });
    const std::string color =
        it == series.end() ? "lc rgb '#555555'" : fmt::format("lt {}", it - series.begin() + 1);
    plots.push_back(fmt::format("{:.9g} with lines dt 3 lw 1.5 {} title {}", *row.ratio, color,
                                gp_quote(fmt::format("{} localist ({:.3f})", name, *row.ratio))));
  }
  std::string script =
      "set title 'PPL ratio vs β'\n"
      "set xlabel 'β (λ_l = (l / (L−1))^β)'\n"
      "set ylabel 'PPL / PPL(distributed)'\n";
  script += fmt::format("set xrange [0:{:.9g}]\nset offsets 0, 0, graph 0.05, graph 0.05\n",
                        max_beta + 1);
  render(gp, f, script + plot_command(plots));
  return f;
}

// One line per configuration over the layers (values from `value`); used by (b), (c), (d).
template <class Value>
void plot_layer_lines(Gnuplot& gp, Figure& f, const std::vector<const ConfigRow*>& rows,
                      Value value, const std::string& labels) {
  std::vector<std::string> plots;
  int max_layer = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string data;
    for (const auto& l : rows[i]->layers) {
      data += fmt::format("{} {:.9g}\n", l.layer, value(l));
      max_layer = std::max(max_layer, l.layer);
    }
    plots.push_back(gp.data_file(fmt::format("{}-{}.dat", f.id, i), data) +
                    fmt::format(" using 1:2 with linespoints lt {} title {}", i + 1,
                                gp_quote(value.name(*rows[i]))));
  }
  std::string script = labels;
  script += fmt::format("set xrange [-0.25:{}]\n", max_layer + 0.25);
  script += max_layer <= 16 ? "set xtics 1\n" : "";
  script += "set offsets 0, 0, graph 0.05, graph 0.05\n";
  render(gp, f, script + plot_command(plots));
}

std::vector<const ConfigRow*> rows_with_layers(const ResultsTable& table) {
  std::vector<const ConfigRow*> out;
  for (const auto& row : table.rows)
    if (!row.layers.empty()) out.push_back(&row);
  return out;
}

const char* const kNoLayers =
    "Not drawn: no per-layer attention metrics recorded (no done trial has head_metrics rows).";

// (b) lambda per layer, one line per schedule in the sweep.
Figure plot_lambda(Gnuplot& gp, const ResultsTable& table) {
  Figure f{"plot-lambda", "Locality λ per layer",
           "The locality λ_l that each schedule of the sweep gives layer l (0 = plain attention, "
           "1 = fully local), as recorded in head_metrics.lambda."};
  std::vector<const ConfigRow*> rows;
  std::set<std::string> seen;
  for (const ConfigRow* row : rows_with_layers(table))
    if (seen.insert(row->schedule).second) rows.push_back(row);
  if (rows.empty()) {
    f.notes.push_back(kNoLayers);
    return f;
  }
  struct {
    double operator()(const LayerRow& l) const { return l.lambda; }
    std::string name(const ConfigRow& r) const { return r.schedule; }
  } value;
  plot_layer_lines(
      gp, f, rows, value,
      "set title 'λ per layer'\nset xlabel 'layer l'\nset ylabel 'λ_l'\nset yrange [0:1]\n");
  return f;
}

// (c) and (d): a per-layer attention metric, one line per configuration.
Figure plot_layer_metric(Gnuplot& gp, const ResultsTable& table, Figure f, double LayerRow::*member,
                         const std::string& labels) {
  const auto rows = rows_with_layers(table);
  if (rows.empty()) {
    f.notes.push_back(kNoLayers);
    return f;
  }
  struct {
    double LayerRow::*member;
    double operator()(const LayerRow& l) const { return l.*member; }
    std::string name(const ConfigRow& r) const { return r.config; }
  } value{member};
  plot_layer_lines(gp, f, rows, value, labels);
  return f;
}

// Mean loss per step over `trials` for one split.
std::map<int64_t, double> mean_curve(Database& db, const std::vector<TrialRef>& trials,
                                     const std::string& split) {
  std::map<int64_t, std::pair<double, int>> sums;
  auto stmt = db.prepare(
      "SELECT step, loss FROM step_metrics WHERE trial_hash = ? AND split = ? AND loss IS NOT "
      "NULL ORDER BY step");
  for (const auto& t : trials) {
    stmt.bind(1, t.hash).bind(2, split);
    while (stmt.step()) {
      auto& [sum, n] = sums[stmt.integer(0)];
      sum += stmt.real(1);
      ++n;
    }
    stmt.reset();
  }
  std::map<int64_t, double> out;
  for (const auto& [step, s] : sums) out[step] = s.first / s.second;
  return out;
}

// (e) training curves: train loss per step (mean over seeds), validation points.
Figure plot_training(Gnuplot& gp, Database& db, const ResultsTable& table,
                     const std::vector<std::vector<TrialRef>>& members) {
  Figure f{"plot-training", "Training curves",
           "Training loss (mean next-token NLL of each step's batch, in nats) against the "
           "optimiser step, averaged over the seeds of each configuration; filled circles are "
           "validation losses at the evaluation steps."};
  std::vector<std::string> plots;
  bool any_val = false;
  for (size_t i = 0; i < table.rows.size(); ++i) {
    const auto train = mean_curve(db, members[i], "train");
    const auto val = mean_curve(db, members[i], "val");
    const std::string title = gp_quote(table.rows[i].config);
    if (!train.empty()) {
      std::string data;
      for (const auto& [step, loss] : train) data += fmt::format("{} {:.9g}\n", step, loss);
      plots.push_back(gp.data_file(fmt::format("train-{}.dat", i), data) +
                      fmt::format(" using 1:2 with lines lt {} lw 1.5 title {}", i + 1, title));
    }
    if (!val.empty()) {
      std::string data;
      for (const auto& [step, loss] : val) data += fmt::format("{} {:.9g}\n", step, loss);
      plots.push_back(gp.data_file(fmt::format("val-{}.dat", i), data) +
                      fmt::format(" using 1:2 with points lt {} pt 7 ps 1.1 {}", i + 1,
                                  train.empty() ? "title " + title : std::string("notitle")));
      any_val = true;
    }
  }
  if (plots.empty()) {
    f.notes.push_back("Not drawn: no step metrics recorded for the done trials.");
    return f;
  }
  if (any_val) plots.push_back("keyentry with points lc rgb '#444444' pt 7 title 'validation'");
  std::string script =
      "set title 'Training loss'\nset xlabel 'step'\nset ylabel 'loss (nats per token)'\n";
  render(gp, f, script + plot_command(plots));
  return f;
}

// The configurations whose attention is drawn: distributed, localist, steepest polynomial.
std::vector<size_t> heatmap_rows(const ResultsTable& table) {
  std::vector<size_t> out;
  auto add = [&](std::optional<size_t> i) {
    if (i && std::find(out.begin(), out.end(), *i) == out.end()) out.push_back(*i);
  };
  std::optional<size_t> distributed, localist, steepest;
  for (size_t i = 0; i < table.rows.size(); ++i) {
    const auto& r = table.rows[i];
    if (r.mechanism == "none" && !distributed) distributed = i;
    if (r.schedule == "localist" && !localist) localist = i;
    if (is_polynomial(r) && (!steepest || *r.beta > *table.rows[*steepest].beta)) steepest = i;
  }
  add(distributed);
  add(localist);
  add(steepest);
  if (out.empty() && !table.rows.empty()) out.push_back(0);
  return out;
}

struct AttentionSlice {
  int64_t n_layer = 0, block_size = 0;
  std::vector<double> lambdas;
  std::vector<int> blocks;                 // B(i) of window 0
  std::vector<std::vector<float>> layers;  // [first, last] layer: T*T weights of head 0, window 0
  std::vector<int64_t> layer_index;
};

// Reads window 0, head 0 of the first and last layer (float16 on disk, converted by HDF5),
// through the validating reader (trial/attention_reader.hpp).
AttentionSlice read_attention_slice(const fs::path& path) {
  const AttentionFileReader file(path);
  AttentionSlice s;
  s.n_layer = file.shape().layers;
  s.block_size = file.shape().block_size;
  s.lambdas = file.lambdas();
  const std::vector<int32_t> blocks = file.blocks(0);
  s.blocks.assign(blocks.begin(), blocks.end());
  s.layer_index = {0};
  if (s.n_layer > 1) s.layer_index.push_back(s.n_layer - 1);
  for (const int64_t l : s.layer_index) s.layers.push_back(file.matrix(0, l, 0));
  return s;
}

// (f) attention heatmap of one configuration's recorded attention.h5 (its lowest-seed trial).
Figure plot_attention(Gnuplot& gp, Database& db, const ConfigRow& row,
                      const std::vector<TrialRef>& trials, size_t number) {
  Figure f{fmt::format("plot-attention-{}", number), "Attention weights: " + row.config,
           "Attention weights a_ij of head 0 in the first and last layer for the first recorded "
           "validation window (query position i down, key position j across; log colour scale, "
           "blank where a_ij = 0, i.e. above the diagonal). Orange lines outline the blocks B(i) "
           "(same-block keys lie inside the triangles they close with the diagonal)."};
  if (trials.empty()) {
    f.notes.push_back("Not drawn: no done trial of this configuration.");
    return f;
  }
  auto stmt =
      db.prepare("SELECT path, sha256 FROM artifacts WHERE trial_hash = ? AND kind = 'attention'");
  stmt.bind(1, trials.front().hash);
  if (!stmt.step()) {
    f.notes.push_back(
        "Not drawn: this trial recorded no attention (record.attention_windows is 0).");
    return f;
  }
  const fs::path path = stmt.text(0);
  const std::string sha256 = stmt.text(1);
  f.caption += fmt::format(" Trial {} (seed {}), file {}.", trials.front().hash.substr(0, 12),
                           trials.front().seed, path.string());
  if (!fs::exists(path)) {
    f.notes.push_back("Not drawn: the attention file " + path.string() + " is missing.");
    return f;
  }
  if (file_sha256(path) != sha256) {
    f.notes.push_back(
        "Not drawn: the attention file " + path.string() +
        " does not match its SHA-256 in the artifacts table (changed or damaged since it was "
        "recorded).");
    return f;
  }
  AttentionSlice s;
  try {
    s = read_attention_slice(path);
  } catch (const Error& e) {
    f.notes.push_back("Not drawn: cannot read " + path.string() + ": " + e.what());
    return f;
  }
  const int64_t T = s.block_size;
  // Block outlines: for each run of equal block ids, the left and bottom edges of its square
  // on the diagonal (the causal part of the block: the triangle they close with the diagonal).
  std::string outline;
  int blocks = 0;
  for (int64_t start = 0; start < T; ++blocks) {
    int64_t end = start;
    while (end + 1 < T && s.blocks[end + 1] == s.blocks[start]) ++end;
    const double a = start - 0.5, b = end + 0.5;
    outline += fmt::format("{0} {0}\n{0} {1}\n{1} {1}\n\n", a, b);
    start = end + 1;
  }
  if (blocks == 1) f.caption += " This window is a single block (no block boundary in it).";
  const std::string outline_file = gp.data_file(f.id + "-blocks.dat", outline);
  std::string script = fmt::format(
      "set multiplot layout 1,{} title {}\n"
      "unset key\nunset grid\nset border 15\nset size ratio -1\n"
      "set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n"  // query 0 at the top
      "set logscale cb\nset cbrange [1e-3:1]\nset format cb '%g'\n"
      "set palette defined (0 '#f7fbff', 0.35 '#9ecae1', 0.7 '#2171b5', 1 '#08306b')\n"
      "set xlabel 'key position j'\nset ylabel 'query position i'\n",
      s.layers.size(), gp_quote(row.config + ": head 0, window 0"), T - 0.5, T - 0.5);
  for (size_t k = 0; k < s.layers.size(); ++k) {
    std::string matrix;
    for (int64_t i = 0; i < T; ++i) {
      for (int64_t j = 0; j < T; ++j) {
        const float a = s.layers[k][static_cast<size_t>(i * T + j)];
        matrix += fmt::format("{:.6g}", a);
        matrix += j + 1 < T ? ' ' : '\n';
      }
    }
    const int64_t layer = s.layer_index[k];
    script += fmt::format(
        "set title {}\n"
        "plot {} matrix using 1:2:($3 > 0 ? $3 : NaN) with image, "  // zeros: blank on a log scale
        "{} with lines lc rgb '#d55e00' lw 1\n",
        gp_quote(
            fmt::format("layer {} (λ = {:.3f})", layer, s.lambdas[static_cast<size_t>(layer)])),
        gp.data_file(fmt::format("{}-layer{}.dat", f.id, layer), matrix), outline_file);
  }
  script += "unset multiplot\n";
  render(gp, f, script, 980, 500);
  return f;
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

std::string runs_html(Database& db, const std::string& sweep) {
  auto stmt = db.prepare(
      "SELECT r.id, r.host, r.ranks, r.slurm_job_id, r.started_at, r.ended_at, r.status FROM "
      "runs r JOIN sweeps s ON s.id = r.sweep_id WHERE s.name = ? ORDER BY r.id");
  stmt.bind(1, sweep);
  std::string rows;
  while (stmt.step())
    rows += tr({std::to_string(stmt.integer(0)), stmt.text(1), std::to_string(stmt.integer(2)),
                stmt.text(3), stmt.text(4), stmt.text(5), stmt.text(6)});
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
)css";

}  // namespace

fs::path write_report(Database& db, const std::string& sweep, const fs::path& out_dir) {
  ResultsQuery query;
  query.sweep = sweep;
  const ResultsTable table = build_results_table(db, query);  // InputError for an unknown sweep
  const SweepInfo info = read_sweep_info(db, table.sweep);
  Gnuplot gp;  // Error (install gnuplot-nox) when gnuplot cannot run

  const auto members = trials_of_rows(db, table);
  std::vector<Figure> figures;
  figures.push_back(plot_ratio_vs_beta(gp, table));
  figures.push_back(plot_lambda(gp, table));
  figures.push_back(
      plot_layer_metric(gp, table,
                        {"plot-entropy", "Attention entropy per layer",
                         "Mean attention entropy H_i = −Σ_j a_ij log₂ a_ij (bits) per layer, "
                         "averaged over heads, queries, validation windows and seeds; lower "
                         "means more concentrated attention."},
                        &LayerRow::entropy_bits,
                        "set title 'Attention entropy per layer'\nset xlabel 'layer l'\n"
                        "set ylabel 'entropy (bits)'\n"));
  figures.push_back(
      plot_layer_metric(gp, table,
                        {"plot-mass", "In-block attention mass per layer",
                         "Mean share of each query's attention that stays inside its own block "
                         "B(i) (the pointer fidelity), per layer, averaged over heads, queries, "
                         "validation windows and seeds."},
                        &LayerRow::in_block_mass,
                        "set title 'In-block mass per layer'\nset xlabel 'layer l'\n"
                        "set ylabel 'in-block mass'\nset yrange [0:1]\n"));
  figures.push_back(plot_training(gp, db, table, members));
  size_t number = 0;
  for (const size_t i : heatmap_rows(table))
    figures.push_back(plot_attention(gp, db, table.rows[i], members[i], ++number));

  const fs::path plots = out_dir / "plots";
  fs::create_directories(plots);
  std::set<std::string> written;
  for (const auto& f : figures)
    if (!f.svg.empty()) {
      write_file_atomic(plots / (f.id + ".svg"), f.svg);
      written.insert(f.id + ".svg");
    }
  // A plot of an earlier report into this folder that this one did not draw would mislead.
  for (const auto& entry : fs::directory_iterator(plots)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("plot-", 0) == 0 && entry.path().extension() == ".svg" && !written.count(name))
      fs::remove(entry.path());
  }

  std::string h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<title>locsweep report: " + html_escape(info.name) + "</title>\n<style>" + kCss +
       "</style>\n</head>\n<body>\n";
  h += "<header>\n<h1>Sweep <span id=\"sweep-name\">" + html_escape(info.name) + "</span></h1>\n";
  if (!info.description.empty())
    h += "<p class=\"description\">" + html_escape(info.description) + "</p>\n";
  h += fmt::format(
      "<p class=\"counts\"><span>{} trials</span><span>{} done</span><span>{} "
      "failed</span><span>{} pending or running</span><span>{} configurations</span></p>\n",
      table.trials, table.done, table.failed, table.pending, table.rows.size());
  h += "<p class=\"meta\">Spec file " +
       html_escape(info.spec_file.empty() ? "(none)" : info.spec_file) + " · sweep created " +
       html_escape(info.created_at) + " · updated " + html_escape(info.updated_at) +
       " · database " + html_escape(db.path()) + "</p>\n</header>\n";
  h += "<nav><a href=\"#results\">Results</a><a href=\"#plots\">Plots</a><a "
       "href=\"#spec\">Specification</a></nav>\n";

  h += "<section id=\"results\">\n<h2>Results</h2>\n";
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
       "shown only where the localist model is worse than the distributed one (otherwise there is "
       "no gap to close). "
       "Entropy of the first and last layer in bits; in-block mass: mean over layers.</p>\n";
  h += "<details>\n<summary>Per-layer metrics</summary>\n<div class=\"table-scroll\">\n" +
       layer_table_html(table) + "</div>\n</details>\n</section>\n";

  h += "<section id=\"plots\">\n<h2>Plots</h2>\n";
  for (size_t i = 0; i < figures.size(); ++i) h += figure_html(figures[i], static_cast<int>(i + 1));
  h += "</section>\n";

  h += "<section id=\"spec\">\n<h2>Specification</h2>\n<pre class=\"spec\">" +
       html_escape(info.spec_yaml) + "</pre>\n<h3>Runs</h3>\n" + runs_html(db, info.name) +
       "</section>\n";
  h += "<footer>Generated by locsweep at " + html_escape(utc_now()) + "; plots drawn by " +
       html_escape(gp.version()) + " (each also in plots/).</footer>\n</body>\n</html>\n";

  const fs::path index = out_dir / "index.html";
  write_file_atomic(index, h);
  return index;
}

}  // namespace locsweep
