#include "results/curves.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "results/stored_json.hpp"
#include "results/text_table.hpp"

namespace locsweep {
using nlohmann::json;

namespace {

struct CurveTrial {
  std::string hash, label;
  json assignment;  // the grid values of the trial
};

// The selected trials with their labels and grid values, in plan order.
std::vector<CurveTrial> curve_trials(Database& db, const SelectedTrials& selected) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < selected.hashes.size(); ++i) index[selected.hashes[i]] = i;
  std::vector<CurveTrial> trials(selected.hashes.size());
  auto stmt = db.prepare(
      "SELECT t.hash, t.label, st.assignment_json FROM sweep_trials st "
      "JOIN sweeps s ON s.id = st.sweep_id JOIN trials t ON t.hash = st.trial_hash "
      "WHERE s.name = ?");
  stmt.bind(1, selected.sweep);
  while (stmt.step()) {
    const auto it = index.find(stmt.text(0));
    if (it == index.end()) continue;
    CurveTrial& t = trials[it->second];
    t.hash = it->first;
    t.label = stmt.text(1);
    t.assignment = parse_stored_json(db, stmt.text(2), "sweep_trials.assignment_json");
  }
  return trials;
}

// The grid keys of the trials, in order of first appearance: the columns that vary.
std::vector<std::string> grid_keys(const std::vector<CurveTrial>& trials) {
  std::vector<std::string> keys;
  for (const auto& t : trials)
    if (t.assignment.is_object())
      for (const auto& item : t.assignment.items())
        if (std::find(keys.begin(), keys.end(), item.key()) == keys.end())
          keys.push_back(item.key());
  return keys;
}

// Writes records as CSV lines or as the elements of one JSON array.
class RecordWriter {
 public:
  RecordWriter(std::vector<std::string> columns, TableFormat format, std::FILE* out)
      : columns_(std::move(columns)), csv_(format == TableFormat::csv), out_(out) {
    if (csv_)
      fmt::print(out_, "{}", csv_line(columns_));
    else
      fmt::print(out_, "[");
  }
  void write(const std::vector<json>& cells) {
    if (csv_) {
      text_.clear();
      for (const auto& c : cells) text_.push_back(csv_cell(c));
      fmt::print(out_, "{}", csv_line(text_));
      return;
    }
    nlohmann::ordered_json record = nlohmann::ordered_json::object();
    for (size_t i = 0; i < columns_.size(); ++i) record[columns_[i]] = cells[i];
    fmt::print(out_, "{}\n  {}", first_ ? "" : ",", record.dump());
    first_ = false;
  }
  void finish() {
    if (!csv_) fmt::print(out_, "{}]\n", first_ ? "" : "\n");
    std::fflush(out_);
  }

 private:
  std::vector<std::string> columns_;
  bool csv_;
  std::FILE* out_;
  bool first_ = true;
  std::vector<std::string> text_;
};

}  // namespace

void write_curves(Database& db, const ResultsQuery& query, TableFormat format, std::FILE* out) {
  if (format != TableFormat::csv && format != TableFormat::json)
    throw InputError("--curves writes csv or json (--format csv|json), not a table");
  const SelectedTrials selected = select_trials(db, query);
  const std::vector<CurveTrial> trials = curve_trials(db, selected);
  const std::vector<std::string> keys = grid_keys(trials);
  std::vector<std::string> columns = {"sweep", "trial_hash", "label"};
  columns.insert(columns.end(), keys.begin(), keys.end());
  for (const char* c : {"step", "split", "metric", "value"}) columns.emplace_back(c);
  RecordWriter writer(columns, format, out);
  auto steps = db.prepare(
      "SELECT split, step, loss, lr, tokens_per_s, penalty FROM step_metrics "
      "WHERE trial_hash = ? ORDER BY split, step");
  static constexpr const char* kMetrics[] = {"loss", "lr", "tokens_per_s", "penalty"};
  std::vector<json> cells;
  for (const auto& t : trials) {
    std::vector<json> head = {selected.sweep, t.hash, t.label};
    for (const auto& k : keys)
      head.push_back(t.assignment.is_object() && t.assignment.contains(k) ? t.assignment[k]
                                                                          : json(nullptr));
    steps.bind(1, t.hash);
    while (steps.step()) {
      for (int m = 0; m < 4; ++m) {
        if (steps.is_null(2 + m)) continue;
        cells = head;
        cells.emplace_back(steps.integer(1));
        cells.emplace_back(steps.text(0));
        cells.emplace_back(kMetrics[m]);
        cells.emplace_back(steps.real(2 + m));
        writer.write(cells);
      }
    }
    steps.reset();
  }
  writer.finish();
}

}  // namespace locsweep
