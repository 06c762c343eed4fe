// The configuration names of the results table (results/table.hpp config_name): built from the
// canonical configuration and the grid assignment, never parsed out of a trial's label.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "results/table.hpp"

namespace locsweep {
namespace {

using nlohmann::json;

struct NameCase {
  const char* name;
  const char* canonical;
  const char* assignment;
  const char* full;
  const char* without_schedule;
};

const NameCase kNames[] = {
    {"plain", R"({"kind":"gpt2","locality":{"mechanism":"block","schedule":"quintic"},"seed":1})",
     R"({"locality.schedule":"quintic","seed":1})", "block quintic", "block"},
    {"other_axis",
     R"({"kind":"gpt2","locality":{"mechanism":"mask","schedule":"poly:2.5"},"seed":0})",
     R"({"locality.mechanism":"mask","train.lr":0.001,"seed":0})", "mask poly:2.5 lr=0.001",
     "mask lr=0.001"},
    {"string_axis",
     R"({"kind":"gpt2","locality":{"mechanism":"none","schedule":"distributed"},"seed":0})",
     R"({"data.corpus":"sotu"})", "none distributed corpus=sotu", "none corpus=sotu"},
    // The schedule's text inside the mechanism or an axis value is not cut out (the old
    // string search for " <schedule>" in the name could hit the wrong place).
    {"schedule_text_in_axis",
     R"({"kind":"gpt2","locality":{"mechanism":"block","schedule":"linear"},"seed":0})",
     R"({"note":"x linear"})", "block linear note=x linear", "block note=x linear"},
    {"noop", R"({"kind":"noop","noop":{"duration_s":0.5},"seed":3})",
     R"({"noop.duration_s":0.5,"seed":3})", "noop duration_s=0.5", "noop duration_s=0.5"},
};

TEST(ResultsTable, ConfigNameTable) {
  for (const auto& c : kNames) {
    const ConfigName n = config_name(json::parse(c.canonical), json::parse(c.assignment));
    EXPECT_EQ(n.full, c.full) << c.name;
    EXPECT_EQ(n.without_schedule, c.without_schedule) << c.name;
  }
}

}  // namespace
}  // namespace locsweep
