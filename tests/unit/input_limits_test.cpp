// Input limits: every numeric trial key accepts exactly its documented range (the range is
// stated once, in the key table, and printed in the key's doc), and a sweep is refused before
// it is expanded when it would hold more than kMaxTrialsPerSweep trials, with the count
// computed without overflow.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <string>

#include "common/error.hpp"
#include "sweeps/config_fields.hpp"
#include "sweeps/plan.hpp"
#include "sweeps/spec_error.hpp"

namespace locsweep {
namespace {

// A sweep setting one key, e.g. "train:\n  lr: 0.5\n". The noop kind skips the cross-field
// checks of GPT-2 trials, so only the key's own range decides.
std::string spec_setting(const std::string& path, const std::string& value) {
  const size_t dot = path.find('.');
  std::string yaml = "name: x\nkind: noop\n";
  if (path == "kind") return "name: x\nkind: " + value + "\n";
  if (dot == std::string::npos) return yaml + path + ": " + value + "\n";
  return yaml + path.substr(0, dot) + ":\n  " + path.substr(dot + 1) + ": " + value + "\n";
}

std::string number_text(double value, bool integer) {
  if (integer) return std::to_string(static_cast<long long>(value));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", value);
  return buf;
}

// Empty when accepted, else the message.
std::string try_value(const Field& field, const std::string& value) {
  try {
    (void)parse_sweep(spec_setting(field.path, value), "s.yaml", "/");
    return "";
  } catch (const SpecError& e) {
    EXPECT_EQ(exit_code_for(e), 2);
    return e.what();
  }
}

TEST(FieldRanges, EveryNumericKeyHasARangeThatItsDocStates) {
  const TrialConfig defaults;
  int numeric = 0;
  for (const Field& field : trial_fields()) {
    if (!field.get(defaults).is_number()) {
      EXPECT_FALSE(field.range.has_value()) << field.path;
      continue;
    }
    ++numeric;
    ASSERT_TRUE(field.range.has_value()) << field.path << " is numeric but has no range";
    EXPECT_TRUE(field.doc.ends_with(field.range->text())) << field.path << ": " << field.doc;
    EXPECT_EQ(field.range->integer, field.get(defaults).is_number_integer()) << field.path;
    EXPECT_TRUE(field.range->contains(field.get(defaults).get<double>()))
        << field.path << ": the default is outside the range";
  }
  EXPECT_GE(numeric, 30);
}

// Walks every numeric key: its bounds are accepted or refused as the range's brackets say,
// values just beyond are refused with the range in the message, and a value inside passes.
TEST(FieldRanges, EveryNumericKeyAcceptsItsRangeAndRefusesBeyondIt) {
  for (const Field& field : trial_fields()) {
    if (!field.range) continue;
    const NumericRange& r = *field.range;
    ASSERT_TRUE(std::isfinite(r.lo) && std::isfinite(r.hi)) << field.path;
    const double step = r.integer ? 1.0 : 1e-6 * (1.0 + std::max(std::abs(r.lo), std::abs(r.hi)));
    struct Probe {
      double value;
      bool accepted;
    };
    const Probe probes[] = {
        {r.lo, !r.lo_open},
        {r.hi, !r.hi_open},
        {r.lo - step, false},
        {r.hi + step, false},
        {(r.lo + r.hi) / 2, true},
        {r.lo + step, r.lo + step < r.hi},
        {r.hi - step, r.hi - step > r.lo},
    };
    for (const Probe& p : probes) {
      if (r.integer && p.value != std::floor(p.value)) continue;  // the midpoint of odd ranges
      const std::string text = number_text(p.value, r.integer);
      const std::string message = try_value(field, text);
      if (p.accepted) {
        EXPECT_EQ(message, "") << field.path << " = " << text << " should be accepted";
      } else {
        EXPECT_NE(message.find(field.path + ": must be"), std::string::npos)
            << field.path << " = " << text << ": " << message;
        EXPECT_NE(message.find(r.text()), std::string::npos) << message;
      }
    }
    if (!r.integer) {
      for (const char* bad : {".inf", "-.inf", ".nan"})
        EXPECT_NE(try_value(field, bad).find("finite"), std::string::npos) << field.path << bad;
    }
  }
}

TEST(FieldRanges, TheDocumentedOpenBoundsOfTheIssue) {
  for (const char* path : {"model.dropout", "train.beta1", "train.beta2"}) {
    const Field* field = find_field(path);
    ASSERT_NE(field, nullptr);
    EXPECT_EQ(field->range->text(), "[0, 1)") << path;
    EXPECT_NE(try_value(*field, "1.0"), "") << path << ": 1.0 leads to NaN and must be refused";
    EXPECT_EQ(try_value(*field, "0.999"), "") << path;
  }
}

TEST(SeedLimits, TheLastSeedIsTheLargestIntAndNoSeedIsNegative) {
  const Plan plan = plan_sweep(
      parse_sweep("name: x\nkind: noop\nseeds: {start: 2147483645, count: 3}\n", "s.yaml", "/"));
  ASSERT_EQ(plan.trials.size(), 3u);
  for (const auto& t : plan.trials) EXPECT_GE(t.config.seed, 2147483645);
  EXPECT_EQ(plan.trials.back().config.seed, 2147483647);
  EXPECT_THROW(
      parse_sweep("name: x\nkind: noop\nseeds: {start: 2147483645, count: 4}\n", "s.yaml", "/"),
      SpecError);
}

struct SizeCase {
  const char* name;
  const char* yaml;
  std::uint64_t count;
  const char* says;  // empty: accepted
};

class SweepSize : public testing::TestWithParam<SizeCase> {};

// "[0, 1, ..., n-1]"
std::string list_of(int n) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) out += (i ? ", " : "") + std::to_string(i);
  return out + "]";
}

std::string expand(const char* yaml) {
  std::string text = yaml;
  for (size_t at; (at = text.find("LIST")) != std::string::npos;) {
    const size_t end = text.find(')', at);
    const int n = std::stoi(text.substr(at + 5, end - at - 5));
    text.replace(at, end - at + 1, list_of(n));
  }
  return text;
}

TEST_P(SweepSize, IsCountedWithoutExpandingAndRefusedPastTheCap) {
  const SizeCase& c = GetParam();
  const auto started = std::chrono::steady_clock::now();
  try {
    const SweepSpec spec = parse_sweep(expand(c.yaml), "s.yaml", "/");
    EXPECT_EQ(std::string(c.says), "") << c.name << ": accepted";
    EXPECT_EQ(combination_count(spec), c.count) << c.name;
  } catch (const SpecError& e) {
    const std::string what = e.what();
    EXPECT_NE(std::string(c.says), "") << c.name << ": " << what;
    EXPECT_NE(what.find(c.says), std::string::npos) << what;
    EXPECT_NE(what.find("limit of 1000000 trials per sweep"), std::string::npos) << what;
    EXPECT_EQ(exit_code_for(e), 2);
  }
  // Refused before expansion: the 10^12 and 10^20 cases take no longer than the small ones.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Table, SweepSize,
    testing::Values(
        SizeCase{"base_only", "name: x\nkind: noop\n", 1, ""},
        SizeCase{"points_only", "name: x\nkind: noop\npoints:\n  - {seed: 1}\n  - {seed: 2}\n", 2,
                 ""},
        SizeCase{"grid_zip_points_seeds",
                 "name: x\nkind: noop\ngrid: {noop.duration_s: [0, 1, 2]}\n"
                 "zip: {noop.fail_attempts: [0, 1], noop.fail: [none, crash]}\n"
                 "points:\n  - {seed: 9}\nseeds: [0, 1]\n",
                 (3 * 2 + 1) * 2, ""},
        SizeCase{"exactly_the_cap",
                 "name: x\nkind: noop\ngrid: {noop.duration_s: LIST(1000)}\nseeds: {count: 1000}\n",
                 1000000, ""},
        SizeCase{"one_past_the_cap",
                 "name: x\nkind: noop\ngrid: {noop.duration_s: LIST(1000)}\n"
                 "points:\n  - {seed: 5}\nseeds: {count: 1000}\n",
                 0, "expands into 1001000 trials (1000 (grid) + 1 points, x 1000 seeds)"},
        SizeCase{"ten_to_the_twelve",
                 "name: x\nkind: noop\ngrid:\n  noop.duration_s: LIST(1000)\n"
                 "  noop.fail_attempts: LIST(1000)\n  train.steps: LIST(1000)\n"
                 "  eval.every: LIST(1000)\n",
                 0, "expands into 1000000000000 trials (1000 x 1000 x 1000 x 1000 (grid))"},
        SizeCase{"overflows_uint64",
                 "name: x\nkind: noop\ngrid:\n  noop.duration_s: LIST(300)\n"
                 "  noop.fail_attempts: LIST(300)\n  train.steps: LIST(300)\n"
                 "  eval.every: LIST(300)\n  eval.windows: LIST(300)\n  train.warmup_steps: "
                 "LIST(300)\n  model.n_embd: LIST(300)\n  record.attention_windows: LIST(300)\n",
                 0, "expands into more than 1.8e19 trials"}));

}  // namespace
}  // namespace locsweep
