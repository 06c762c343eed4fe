#include "results/report_plots.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace locsweep::report {

namespace {

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

bool is_polynomial(const ConfigRow& row) {
  return row.beta.has_value() && row.mechanism != "none";
}

void render(Gnuplot& gp, Figure& figure, const std::string& script, int width = kPlotWidth,
            int height = kPlotHeight) {
  GnuplotOutput output = gp.render_svg(figure.id, std::string(kStyle) + script, width, height);
  figure.svg = std::move(output.svg);
  for (auto& w : output.warnings) figure.notes.push_back("gnuplot: " + w);
}

// Gives gnuplot a data file <figure id>-<part>.dat and keeps its contents with the figure
// (the report writes them to data/); returns the file as a gnuplot string literal.
std::string keep_data(Gnuplot& gp, Figure& f, const std::string& part, std::string contents) {
  std::string name = f.id + "-" + part + ".dat";
  std::string literal = gp.data_file(name, contents);
  f.data.emplace_back(std::move(name), std::move(contents));
  return literal;
}

// "plot A, \\\n  B, ...": one gnuplot plot command of several elements.
std::string plot_command(const std::vector<std::string>& elements) {
  std::string line = "plot ";
  for (size_t i = 0; i < elements.size(); ++i) line += (i ? ", \\\n  " : "") + elements[i];
  return line + "\n";
}

}  // namespace

// (a) PPL ratio vs beta for the polynomial schedules, with distributed (1) and localist as
// horizontal reference lines.
namespace {

// The polynomial rows with a ratio, by series (ConfigRow::series), series in table order.
using Series = std::vector<std::pair<std::string, std::vector<const ConfigRow*>>>;
Series polynomial_series(const ResultsTable& table) {
  Series series;
  for (const auto& row : table.rows) {
    if (!is_polynomial(row) || !row.ratio) continue;
    auto it = std::find_if(series.begin(), series.end(),
                           [&](const auto& s) { return s.first == row.series; });
    if (it == series.end()) it = series.insert(series.end(), {row.series, {}});
    it->second.push_back(&row);
  }
  return series;
}

}  // namespace

Figure plot_ratio_vs_beta(Gnuplot& gp, const ResultsTable& table) {
  Figure f{"plot-ratio-beta", "Perplexity ratio vs schedule steepness β",
           "Validation perplexity of each polynomial schedule divided by that of the distributed "
           "model with the same seed, data and model, mean over seeds with 95 % confidence "
           "intervals (Student t). The dashed line is the distributed baseline (ratio 1); dotted "
           "lines are the uniform localist models."};
  auto series = polynomial_series(table);
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
    std::string data = "# series: " + series[i].first + "\n# beta ratio ratio_ci95\n";
    for (const ConfigRow* r : rows) {
      data +=
          fmt::format("{:.9g} {:.9g} {:.9g}\n", *r->beta, *r->ratio, r->ratio_ci95.value_or(0.0));
      max_beta = std::max(max_beta, *r->beta);
    }
    plots.push_back(keep_data(gp, f, std::to_string(i), data) +
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

namespace {

// One line per configuration over the layers (values from `value`); used by (b), (c), (d).
template <class Value>
void plot_layer_lines(Gnuplot& gp, Figure& f, const std::vector<const ConfigRow*>& rows,
                      Value value, const std::string& labels) {
  std::vector<std::string> plots;
  int max_layer = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string data = "# " + value.name(*rows[i]) + "\n# layer value\n";
    for (const auto& l : rows[i]->layers) {
      data += fmt::format("{} {:.9g}\n", l.layer, value(l));
      max_layer = std::max(max_layer, l.layer);
    }
    plots.push_back(keep_data(gp, f, std::to_string(i), data) +
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

}  // namespace

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

namespace {

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

}  // namespace

Figure plot_entropy(Gnuplot& gp, const ResultsTable& table) {
  return plot_layer_metric(gp, table,
                           {"plot-entropy", "Attention entropy per layer",
                            "Mean attention entropy H_i = −Σ_j a_ij log₂ a_ij (bits) per layer, "
                            "averaged over heads, queries, validation windows and seeds; lower "
                            "means more concentrated attention."},
                           &LayerRow::entropy_bits,
                           "set title 'Attention entropy per layer'\nset xlabel 'layer l'\n"
                           "set ylabel 'entropy (bits)'\n");
}

Figure plot_in_block_mass(Gnuplot& gp, const ResultsTable& table) {
  return plot_layer_metric(gp, table,
                           {"plot-mass", "In-block attention mass per layer",
                            "Mean share of each query's attention that stays inside its own block "
                            "B(i) (the pointer fidelity), per layer, averaged over heads, queries, "
                            "validation windows and seeds."},
                           &LayerRow::in_block_mass,
                           "set title 'In-block mass per layer'\nset xlabel 'layer l'\n"
                           "set ylabel 'in-block mass'\nset yrange [0:1]\n");
}

Figure plot_training(Gnuplot& gp, const ResultsTable& table,
                     const std::vector<TrainingCurves>& curves) {
  Figure f{"plot-training", "Training curves",
           "Training loss (mean next-token NLL of each step's batch, in nats) against the "
           "optimiser step, averaged over the seeds of each configuration; filled circles are "
           "validation losses at the evaluation steps."};
  std::vector<std::string> plots;
  bool any_val = false;
  for (size_t i = 0; i < table.rows.size(); ++i) {
    const LossCurve& train = curves[i].train;
    const LossCurve& val = curves[i].val;
    const std::string title = gp_quote(table.rows[i].config);
    if (!train.empty()) {
      std::string data = "# " + table.rows[i].config + ": mean train loss\n# step loss\n";
      for (const auto& [step, loss] : train) data += fmt::format("{} {:.9g}\n", step, loss);
      plots.push_back(keep_data(gp, f, fmt::format("train-{}", i), data) +
                      fmt::format(" using 1:2 with lines lt {} lw 1.5 title {}", i + 1, title));
    }
    if (!val.empty()) {
      std::string data = "# " + table.rows[i].config + ": mean validation loss\n# step loss\n";
      for (const auto& [step, loss] : val) data += fmt::format("{} {:.9g}\n", step, loss);
      plots.push_back(keep_data(gp, f, fmt::format("val-{}", i), data) +
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

namespace {

// Block outlines: for each run of equal block ids, the left and bottom edges of its square
// on the diagonal (the causal part of the block: the triangle they close with the diagonal),
// as gnuplot data; and how many blocks there are.
struct BlockOutlines {
  std::string data;
  int blocks = 0;
};
BlockOutlines block_outlines(const AttentionSlice& s) {
  const int64_t T = s.block_size;
  BlockOutlines out;
  for (int64_t start = 0; start < T; ++out.blocks) {
    int64_t end = start;
    while (end + 1 < T && s.blocks[end + 1] == s.blocks[start]) ++end;
    const double a = start - 0.5, b = end + 0.5;
    out.data += fmt::format("{0} {0}\n{0} {1}\n{1} {1}\n\n", a, b);
    start = end + 1;
  }
  return out;
}

// A T x T matrix of weights as gnuplot `matrix` data: one row per line.
std::string matrix_data(const std::vector<float>& weights, int64_t T) {
  std::string matrix;
  for (int64_t i = 0; i < T; ++i) {
    for (int64_t j = 0; j < T; ++j) {
      matrix += fmt::format("{:.6g}", weights[static_cast<size_t>(i * T + j)]);
      matrix += j + 1 < T ? ' ' : '\n';
    }
  }
  return matrix;
}

}  // namespace

Figure plot_attention(Gnuplot& gp, const ConfigRow& row, const AttentionSource& source,
                      size_t number) {
  Figure f{fmt::format("plot-attention-{}", number), "Attention weights: " + row.config,
           "Attention weights a_ij of head 0 in the first and last layer for the first recorded "
           "validation window (query position i down, key position j across; log colour scale, "
           "blank where a_ij = 0, i.e. above the diagonal). Orange lines outline the blocks B(i) "
           "(same-block keys lie inside the triangles they close with the diagonal)."};
  if (source.trial && source.path)
    f.caption += fmt::format(" Trial {} (seed {}), file {}.", source.trial->hash.substr(0, 12),
                             source.trial->seed, source.path->string());
  if (!source.slice) {
    f.notes.push_back(source.problem);
    return f;
  }
  const AttentionSlice& s = *source.slice;
  const int64_t T = s.block_size;
  const BlockOutlines outlines = block_outlines(s);
  if (outlines.blocks == 1)
    f.caption += " This window is a single block (no block boundary in it).";
  const std::string outline_file = keep_data(gp, f, "blocks", outlines.data);
  std::string script = fmt::format(
      "set multiplot layout 1,{} title {}\n"
      "unset key\nunset grid\nset border 15\nset size ratio -1\n"
      "set xrange [-0.5:{}]\nset yrange [{}:-0.5]\n"  // query 0 at the top
      "set logscale cb\nset cbrange [1e-3:1]\nset format cb '%g'\n"
      "set palette defined (0 '#f7fbff', 0.35 '#9ecae1', 0.7 '#2171b5', 1 '#08306b')\n"
      "set xlabel 'key position j'\nset ylabel 'query position i'\n",
      s.layers.size(), gp_quote(row.config + ": head 0, window 0"), T - 0.5, T - 0.5);
  for (size_t k = 0; k < s.layers.size(); ++k) {
    const std::string matrix = matrix_data(s.layers[k], T);
    const int64_t layer = s.layer_index[k];
    script += fmt::format(
        "set title {}\n"
        "plot {} matrix using 1:2:($3 > 0 ? $3 : NaN) with image, "  // zeros: blank on a log scale
        "{} with lines lc rgb '#d55e00' lw 1\n",
        gp_quote(
            fmt::format("layer {} (λ = {:.3f})", layer, s.lambdas[static_cast<size_t>(layer)])),
        keep_data(gp, f, fmt::format("layer{}", layer), matrix), outline_file);
  }
  script += "unset multiplot\n";
  render(gp, f, script, 980, 500);
  return f;
}

Figure plot_search(Gnuplot& gp, const SearchView& view) {
  const std::string metric(to_string(view.spec.objective.metric));
  Figure f{"plot-search", fmt::format("Search: {} over {}", metric, view.spec.key),
           fmt::format("Each point the search evaluated: {} (mean over the point's seeds) at "
                       "{} = x, over the searched interval [{:g}, {:g}]; the large point is the "
                       "best ({}).{}",
                       metric, view.spec.key, view.spec.lo, view.spec.hi,
                       objective_text(view.spec.objective),
                       view.spec.objective.max_ratio
                           ? " Crosses: points whose ratio exceeds the constraint."
                           : "")};
  std::string feasible = "# " + view.spec.key + " " + metric + "\n", infeasible = feasible,
              best = feasible;
  size_t drawn = 0, over = 0;
  for (const SearchRow& row : view.rows) {
    if (!row.metric || !std::isfinite(*row.metric)) continue;
    const std::string line = fmt::format("{:.9g} {:.9g}\n", row.x, *row.metric);
    (row.infeasible ? infeasible : feasible) += line;
    if (row.best) best += line;
    ++drawn;
    over += row.infeasible;
  }
  if (drawn == 0) {
    f.notes.push_back("Not drawn: no point of the search has a value yet.");
    return f;
  }
  std::vector<std::string> plots;
  if (drawn > over)
    plots.push_back(keep_data(gp, f, "points", feasible) +
                    " using 1:2 with linespoints lt 1 title 'evaluated points'");
  if (over > 0)
    plots.push_back(keep_data(gp, f, "infeasible", infeasible) +
                    " using 1:2 with points pt 2 ps 1.4 lc rgb '#d55e00' title 'over the ratio "
                    "bound'");
  if (view.best && view.rows[*view.best].metric)
    plots.push_back(keep_data(gp, f, "best", best) +
                    fmt::format(" using 1:2 with points pt 7 ps 2.2 lc rgb '#009e73' title {}",
                                gp_quote(fmt::format("best: {:g}", view.rows[*view.best].x))));
  const std::string script = fmt::format(
      "set xlabel {}\nset ylabel {}\nset xrange [{:.9g}:{:.9g}]\n"
      "set offsets 0, 0, graph 0.05, graph 0.05\n",
      gp_quote(view.spec.key), gp_quote(metric), view.spec.lo, view.spec.hi);
  render(gp, f, script + plot_command(plots));
  return f;
}

}  // namespace locsweep::report
