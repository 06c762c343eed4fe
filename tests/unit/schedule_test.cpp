// Schedules against hand-computed values, parsing, canonical strings and invalid input.
#include <gtest/gtest.h>

#include <cmath>

#include "schedules/schedule.hpp"

namespace locsweep {
namespace {

double round4(double x) {
  return std::round(x * 1e4) / 1e4;
}

TEST(Schedule, QuinticOverTwelveLayersMatchesHandComputedValues) {
  // (l / 11)^5 rounded to 4 places, computed by hand.
  const std::vector<double> expected = {0,     0,     .0002, .0015, .0064, .0194,
                                        .0483, .1044, .2035, .3666, .6209, 1};
  const auto lambdas = Schedule::parse("quintic").lambdas(12);
  ASSERT_EQ(lambdas.size(), expected.size());
  for (size_t l = 0; l < expected.size(); ++l)
    EXPECT_DOUBLE_EQ(round4(lambdas[l]), expected[l]) << l;
}

struct ValueCase {
  const char* spec;
  int layers;
  std::vector<double> expected;
};

class ScheduleValues : public testing::TestWithParam<ValueCase> {};

TEST_P(ScheduleValues, GiveExpectedLambdas) {
  const auto& c = GetParam();
  const auto got = Schedule::parse(c.spec).lambdas(c.layers);
  ASSERT_EQ(got.size(), c.expected.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], c.expected[i], 1e-12) << c.spec << " layer " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Table, ScheduleValues,
    testing::Values(ValueCase{"distributed", 3, {0, 0, 0}}, ValueCase{"localist", 3, {1, 1, 1}},
                    ValueCase{"uniform:0.25", 2, {0.25, 0.25}},
                    ValueCase{"linear", 5, {0, 0.25, 0.5, 0.75, 1}},
                    ValueCase{"quadratic", 3, {0, 0.25, 1}}, ValueCase{"cubic", 3, {0, 0.125, 1}},
                    ValueCase{"decic", 3, {0, std::pow(0.5, 10), 1}},
                    ValueCase{"poly:7.5", 3, {0, std::pow(0.5, 7.5), 1}},
                    ValueCase{"poly:1:0.2:0.6", 3, {0.2, 0.4, 0.6}},
                    ValueCase{"reverse:linear", 3, {1, 0.5, 0}},
                    ValueCase{"reverse:poly:2:0.5:1", 3, {1, 0.625, 0.5}},
                    ValueCase{"[0, 0.1, 0.9]", 3, {0, 0.1, 0.9}},
                    // One layer is the last layer: lambda_max.
                    ValueCase{"quintic", 1, {1}}, ValueCase{"poly:2:0.1:0.3", 1, {0.3}}));

struct CanonicalCase {
  const char* spec;
  const char* canonical;
};

class ScheduleCanonical : public testing::TestWithParam<CanonicalCase> {};

TEST_P(ScheduleCanonical, PrintsOneSpellingPerSchedule) {
  const auto& c = GetParam();
  const Schedule s = Schedule::parse(c.spec);
  EXPECT_EQ(s.canonical(), c.canonical);
  EXPECT_EQ(Schedule::parse(s.canonical()).canonical(), c.canonical) << "round trip";
}

INSTANTIATE_TEST_SUITE_P(
    Table, ScheduleCanonical,
    testing::Values(CanonicalCase{"quintic", "quintic"}, CanonicalCase{"poly:5", "quintic"},
                    CanonicalCase{"poly:5.0", "quintic"}, CanonicalCase{"polynomial:5", "quintic"},
                    CanonicalCase{"poly:5:0:1", "quintic"}, CanonicalCase{"poly:10", "decic"},
                    CanonicalCase{"poly:7.50", "poly:7.5"}, CanonicalCase{"poly:11", "poly:11"},
                    CanonicalCase{"poly:2:0.1:0.9", "poly:2:0.1:0.9"},
                    CanonicalCase{"uniform:0", "distributed"},
                    CanonicalCase{"uniform:1.0", "localist"},
                    CanonicalCase{"uniform:0.50", "uniform:0.5"},
                    CanonicalCase{"reverse:reverse:cubic", "cubic"},
                    CanonicalCase{"reverse:localist", "localist"},
                    CanonicalCase{" [0, 0.50, 1.0] ", "[0,0.5,1]"},
                    CanonicalCase{"poly:+1e-1", "poly:0.1"}));

class ScheduleInvalid : public testing::TestWithParam<const char*> {};

TEST_P(ScheduleInvalid, IsRejectedWithAHint) {
  try {
    (void)Schedule::parse(GetParam()).lambdas(3);
    FAIL() << GetParam() << " was accepted";
  } catch (const ScheduleError& e) {
    EXPECT_NE(std::string(e.what()).find("valid:"), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Table, ScheduleInvalid,
                         testing::Values("", "quintik", "poly:0", "poly:-1", "poly:nan", "poly:inf",
                                         "poly:x", "poly:2:0.5", "poly:2:0.9:0.1", "poly:2:-0.1:1",
                                         "uniform:1.5", "uniform:-0.1",
                                         "uniform:", "reverse:", "[0, 2]", "[0, x]", "[0, 1", "[]",
                                         // explicit lists must match the layer count
                                         "[0, 0.5]", "[0, 0.2, 0.5, 1]"));

TEST(Schedule, FormatNumberIsShortestRoundTrip) {
  EXPECT_EQ(format_number(5.0), "5");
  EXPECT_EQ(format_number(0.1), "0.1");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(1e-5), "1e-05");
  EXPECT_EQ(std::stod(format_number(1.0 / 3.0)), 1.0 / 3.0);
}

}  // namespace
// The exponent names (kExponentNames) are the one table the parser, the canonical form and the
// syntax help use.
TEST(Schedule, EveryNamedExponentParsesPrintsAndIsListed) {
  const std::string help = schedule_syntax_help();
  for (size_t i = 0; i < kExponentNames.size(); ++i) {
    const std::string name(kExponentNames[i]);
    const double beta = static_cast<double>(i + 1);
    EXPECT_EQ(named_exponent(name), beta) << name;
    EXPECT_EQ(exponent_name(beta), name);
    EXPECT_EQ(Schedule::parse(name), Schedule::polynomial(beta)) << name;
    EXPECT_EQ(Schedule::polynomial(beta).canonical(), name);
    EXPECT_NE(help.find(name), std::string::npos) << help;
  }
  EXPECT_EQ(named_exponent("poly:5"), std::nullopt);
  EXPECT_EQ(named_exponent("undecic"), std::nullopt);
  EXPECT_EQ(exponent_name(11), "");
  EXPECT_EQ(exponent_name(2.5), "");
}

}  // namespace locsweep
