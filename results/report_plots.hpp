// The plots of the HTML report, as gnuplot scripts over data the report has already read
// (the results table, loss curves, attention slices): (a) PPL ratio vs beta, (b) lambda per
// layer, (c) attention entropy and (d) in-block mass per layer, (e) training curves, (f)
// attention heatmaps; and a search's objective over its key. Each function returns a Figure: drawn
// (svg set) or skipped (notes say why). No SQL and no file reading here; gnuplot runs through
// results/gnuplot.hpp.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "results/gnuplot.hpp"
#include "results/report_attention.hpp"
#include "results/report_queries.hpp"
#include "results/search_display.hpp"
#include "results/table.hpp"

namespace locsweep::report {

// One plot of the page: rendered (svg set) or skipped (notes say why).
struct Figure {
  Figure(std::string id_, std::string title_, std::string caption_)
      : id(std::move(id_)), title(std::move(title_)), caption(std::move(caption_)) {}
  std::string id;  // the HTML id, and the file plots/<id>.svg
  std::string title, caption;
  std::string svg;  // gnuplot's SVG document; empty when skipped
  std::vector<std::string> notes;
  // The gnuplot data it was drawn from, as (file name, contents): the report keeps them as
  // data/<name>, named after the plot (<id>-<part>.dat; whitespace-separated columns, '#'
  // lines say what they are).
  std::vector<std::pair<std::string, std::string>> data;
};

// (a) PPL ratio vs beta for the polynomial schedules, with distributed (1) and localist as
// horizontal reference lines.
Figure plot_ratio_vs_beta(Gnuplot& gp, const ResultsTable& table);
// (b) lambda per layer, one line per schedule in the sweep.
Figure plot_lambda(Gnuplot& gp, const ResultsTable& table);
// (c) attention entropy per layer, one line per configuration.
Figure plot_entropy(Gnuplot& gp, const ResultsTable& table);
// (d) in-block attention mass per layer, one line per configuration.
Figure plot_in_block_mass(Gnuplot& gp, const ResultsTable& table);

// The mean loss curves of one table row (mean_curve of its done trials).
struct TrainingCurves {
  LossCurve train, val;
};
// (e) training curves: train loss per step, validation points; `curves[i]` is table.rows[i]'s.
Figure plot_training(Gnuplot& gp, const ResultsTable& table,
                     const std::vector<TrainingCurves>& curves);

// The search's objective over its key (results/search_display.hpp): every point with a
// metric, the best marked, infeasible points (over a ratio constraint) apart.
Figure plot_search(Gnuplot& gp, const SearchView& view);

// The rows whose attention is drawn: distributed, localist, steepest polynomial.
std::vector<size_t> heatmap_rows(const ResultsTable& table);
// (f) attention heatmap of one configuration; `number` makes the id plot-attention-<number>.
Figure plot_attention(Gnuplot& gp, const ConfigRow& row, const AttentionSource& source,
                      size_t number);

}  // namespace locsweep::report
