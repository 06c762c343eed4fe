// The one error style (common/error.hpp): every failure is an Error with its exit code, a
// command's chosen exit status included, and callers branch on structured fields, not on
// message text; plus the one parser of the dispatch order.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "common/error.hpp"
#include "schedules/schedule.hpp"
#include "sweeps/config_fields.hpp"
#include "sweeps/spec_error.hpp"
#include "sweeps/sweep_spec.hpp"
#include "sweeps/trial_config.hpp"

namespace locsweep {
namespace {

TEST(ErrorStyle, ExitCodeErrorCarriesItsStatusAndMayBeSilent) {
  const ExitCodeError silent(75);
  EXPECT_EQ(exit_code_for(silent), 75);
  EXPECT_STREQ(silent.what(), "");
  const ExitCodeError said(74, "paused");
  EXPECT_EQ(exit_code_for(said), 74);
  EXPECT_STREQ(said.what(), "paused");
}

TEST(ErrorStyle, EveryKindMapsToItsExitCode) {
  EXPECT_EQ(exit_code_for(Error("x")), 1);
  EXPECT_EQ(exit_code_for(InputError("x")), 2);
  EXPECT_EQ(exit_code_for(FieldError("x")), 2);
  EXPECT_EQ(exit_code_for(std::runtime_error("x")), 1);
  try {
    (void)Schedule::parse("poly:-1");
    FAIL() << "a negative exponent must be refused";
  } catch (const InputError& e) {  // a ScheduleError is bad input, like any other
    EXPECT_EQ(exit_code_for(e), 2);
    EXPECT_NE(std::string(e.what()).find("(valid: "), std::string::npos) << e.what();
  }
}

std::string apply_message(const std::string& path, const std::string& value) {
  TrialConfig config;
  try {
    apply_field(config, path, YAML::Load(value), "spec.yaml", YAML::Mark::null_mark());
  } catch (const SpecError& e) {
    return e.what();
  }
  return "";
}

size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++n;
  return n;
}

TEST(ErrorStyle, FieldErrorsThatListTheValidValuesGetNoDocAppended) {
  const std::string blocks = apply_message("locality.blocks", "fixed:0");
  EXPECT_EQ(count(blocks, "(valid: sentence"), 1u) << blocks;
  EXPECT_EQ(blocks.find(find_field("locality.blocks")->doc), std::string::npos) << blocks;
  const std::string schedule = apply_message("locality.schedule", "poly:-1");
  EXPECT_EQ(count(schedule, "(valid: "), 1u) << schedule;
  EXPECT_EQ(schedule.find(find_field("locality.schedule")->doc), std::string::npos) << schedule;
}

TEST(ErrorStyle, OtherFieldErrorsEndWithTheKeysDoc) {
  const std::string lr = apply_message("train.lr", "-1");
  EXPECT_NE(lr.find("(" + find_field("train.lr")->doc + ")"), std::string::npos) << lr;
  const std::string mechanism = apply_message("locality.mechanism", "banana");
  EXPECT_NE(mechanism.find("(" + find_field("locality.mechanism")->doc + ")"), std::string::npos)
      << mechanism;
}

TEST(ErrorStyle, FindProblemReturnsAPlacedValue) {
  TrialConfig config;
  EXPECT_FALSE(find_problem(config).has_value());
  config.model.n_embd = 65;
  config.model.n_head = 2;
  const auto problem = find_problem(config);
  ASSERT_TRUE(problem.has_value());
  EXPECT_EQ(problem->path, "model.n_embd");
  EXPECT_EQ(problem->text().rfind("model.n_embd: n_embd (65) must be divisible", 0), 0u)
      << problem->text();
}

TEST(DispatchOrder, OneParserForSpecAndCommandLine) {
  for (DispatchOrder order : {DispatchOrder::longest_first, DispatchOrder::fifo})
    EXPECT_EQ(dispatch_order_from_string(to_string(order)), order);
  EXPECT_FALSE(dispatch_order_from_string("longest_first").has_value());
  EXPECT_FALSE(dispatch_order_from_string("FIFO").has_value());
  EXPECT_FALSE(dispatch_order_from_string("").has_value());
  try {
    (void)parse_sweep("name: s\norder: lifo\n", "s.yaml", ".");
    FAIL() << "an unknown order must be refused";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("s.yaml:2:8: error: order must be " +
                                         std::string(kDispatchOrderChoices) + ", got 'lifo'"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace locsweep
