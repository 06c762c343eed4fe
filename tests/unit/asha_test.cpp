// ASHA's bookkeeping (search/asha.hpp): which trial is promoted (highest rung first, the best
// floor(n / reduction) of a rung), ties, replays told twice or out of order, next_stop, parked.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "search/asha.hpp"

namespace locsweep {
namespace {

Asha asha_of(std::vector<int> rungs = {100, 300}, int reduction = 3) {
  return Asha(AshaSpec{std::move(rungs), reduction});
}

// Every promotion promote() gives now, in order.
std::vector<std::string> promote_all(Asha& asha) {
  std::vector<std::string> out;
  while (auto id = asha.promote()) out.push_back(*id);
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  return ids;
}

struct Arrival {
  const char* id;
  size_t rung;
  double loss;
};

const struct PromotionCase {
  const char* name;
  int reduction;
  std::vector<Arrival> arrivals;
  std::vector<std::string> promoted;  // what promote() gives then, in order
} promotion_cases[] = {
    {"fewer than reduction: nobody", 3, {{"a", 0, 1.0}, {"b", 0, 2.0}}, {}},
    {"three at rung 0: the best", 3, {{"a", 0, 3.0}, {"b", 0, 1.0}, {"c", 0, 2.0}}, {"b"}},
    {"five at rung 0: still floor(5/3) = 1",
     3,
     {{"a", 0, 5}, {"b", 0, 4}, {"c", 0, 3}, {"d", 0, 2}, {"e", 0, 1}},
     {"e"}},
    {"six at rung 0: the best two, best first",
     3,
     {{"a", 0, 5}, {"b", 0, 4}, {"c", 0, 6}, {"d", 0, 2}, {"e", 0, 1}, {"f", 0, 3}},
     {"e", "d"}},
    {"reduction 2: the best half",
     2,
     {{"a", 0, 4}, {"b", 0, 3}, {"c", 0, 2}, {"d", 0, 1}},
     {"d", "c"}},
    {"highest rung first: rung 1's best, then rung 0's third best",
     2,
     {{"a", 0, 1},
      {"b", 0, 2},
      {"c", 0, 3},
      {"d", 0, 4},
      {"e", 0, 5},
      {"f", 0, 6},
      {"a", 1, 0.5},
      {"b", 1, 0.4}},
     {"b", "c"}},
    {"ties: the smaller id", 3, {{"z", 0, 1.0}, {"m", 0, 1.0}, {"a", 0, 1.0}}, {"a"}},
    {"a finished trial is not promoted again", 1, {{"a", 0, 1}, {"a", 1, 1}, {"a", 2, 1}}, {}},
};

TEST(Asha, PromotesPerTheRule) {
  for (const auto& c : promotion_cases) {
    auto asha = asha_of({100, 300}, c.reduction);
    for (const auto& a : c.arrivals) asha.reached(a.id, a.rung, a.loss);
    EXPECT_EQ(promote_all(asha), c.promoted) << c.name;
  }
}

TEST(Asha, HighestRungFirstThenTheRungBelow) {
  auto asha = asha_of({100, 300}, 2);
  for (const auto* id : {"a", "b", "c", "d"}) asha.reached(id, 0, id[0] - 'a');  // a best
  // a and b were promoted from rung 0 (the best half) and reached rung 1; b did better there.
  asha.reached("a", 1, 0.9);
  asha.reached("b", 1, 0.4);
  // rung 1: floor(2/2) = 1: b. rung 0: the top two (a, b) are both promoted already.
  EXPECT_EQ(asha.promote(), std::optional<std::string>("b"));
  EXPECT_EQ(asha.promote(), std::nullopt);
  // Two more reach rung 0, better than everyone: rung 0's top three now are e, f, a.
  asha.reached("e", 0, -2);
  asha.reached("f", 0, -1);
  EXPECT_EQ(promote_all(asha), (std::vector<std::string>{"e", "f"}));
}

TEST(Asha, APromotedTrialIsNotPromotedTwice) {
  auto asha = asha_of({100}, 3);
  for (const auto* id : {"a", "b", "c"}) asha.reached(id, 0, id[0] == 'b' ? 0.0 : 1.0);
  EXPECT_EQ(asha.promote(), std::optional<std::string>("b"));
  EXPECT_EQ(asha.promote(), std::nullopt);
  // Telling its rung again (a replay) changes nothing.
  asha.reached("b", 0, 0.0);
  EXPECT_EQ(asha.promote(), std::nullopt);
}

TEST(Asha, ReachingARungAgainKeepsTheFirstLoss) {
  auto asha = asha_of({100}, 3);
  asha.reached("a", 0, 1.0);
  asha.reached("b", 0, 2.0);
  asha.reached("c", 0, 3.0);
  asha.reached("c", 0, 0.0);  // ignored: c stays the worst
  EXPECT_EQ(asha.promote(), std::optional<std::string>("a"));
}

TEST(Asha, AReplayInAnyOrderRebuildsTheSameState) {
  // The run: six trials reach rung 0; the best two went on to rung 1, one of them finished.
  const std::vector<Arrival> run = {{"a", 0, 6},   {"b", 0, 1},   {"c", 0, 5},
                                    {"d", 0, 2},   {"e", 0, 4},   {"f", 0, 3},
                                    {"b", 1, 0.5}, {"d", 1, 0.7}, {"b", 2, 0.3}};
  auto in_order = asha_of({100, 300}, 3);
  for (const auto& a : run) in_order.reached(a.id, a.rung, a.loss);
  // The replay tells the higher rungs first, then rung 0 again (a second loss, ignored).
  auto replayed = asha_of({100, 300}, 3);
  std::vector<Arrival> reversed(run.rbegin(), run.rend());
  for (const auto& a : reversed) replayed.reached(a.id, a.rung, a.loss);
  for (const auto& a : run)
    if (a.rung == 0) replayed.reached(a.id, a.rung, -a.loss);
  EXPECT_EQ(sorted(replayed.parked()), sorted(in_order.parked()));
  EXPECT_EQ(sorted(in_order.parked()), (std::vector<std::string>{"a", "c", "d", "e", "f"}));
  for (const auto* id : {"a", "b", "c", "d", "e", "f"})
    EXPECT_EQ(replayed.next_stop(id), in_order.next_stop(id)) << id;
  // b and d, at rung 1 or beyond, are not promoted from rung 0 again; rung 1 has 2 < 3.
  EXPECT_EQ(promote_all(replayed), promote_all(in_order));
}

TEST(Asha, AReplayToldTheHigherRungFirstDoesNotPromoteFromBelowAgain) {
  auto asha = asha_of({100, 300}, 3);
  asha.reached("b", 1, 0.5);  // the replay tells b's rung 1 first
  asha.reached("a", 0, 3);
  asha.reached("b", 0, 1);
  asha.reached("c", 0, 2);
  // rung 0's best third is b, which went on already.
  EXPECT_EQ(asha.promote(), std::nullopt);
  // Parked: a and c at rung 0, b at rung 1 (not at rung 0 too).
  EXPECT_EQ(sorted(asha.parked()), (std::vector<std::string>{"a", "b", "c"}));
}

TEST(Asha, NextStopIsTheNextRungThenTrainSteps) {
  auto asha = asha_of({100, 300}, 3);
  EXPECT_EQ(asha.next_stop("new"), std::optional<int>(100));
  asha.reached("a", 0, 1.0);
  EXPECT_EQ(asha.next_stop("a"), std::optional<int>(300));
  asha.reached("a", 1, 0.5);
  EXPECT_EQ(asha.next_stop("a"), std::nullopt);  // past the last rung: train.steps
  asha.reached("a", 2, 0.4);                     // finished
  EXPECT_EQ(asha.next_stop("a"), std::nullopt);
  auto none = asha_of({}, 3);
  EXPECT_EQ(none.next_stop("a"), std::nullopt);
}

TEST(Asha, ParkedAreTheTrialsAtARungNotPromoted) {
  auto asha = asha_of({100, 300}, 3);
  for (const auto* id : {"a", "b", "c", "d"}) asha.reached(id, 0, id[0] - 'a');
  EXPECT_EQ(sorted(asha.parked()), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(asha.promote(), std::optional<std::string>("a"));
  EXPECT_EQ(sorted(asha.parked()), (std::vector<std::string>{"b", "c", "d"}));
  // a reaches rung 1 and parks there; a trial that finished is never parked.
  asha.reached("a", 1, 0.1);
  EXPECT_EQ(sorted(asha.parked()), (std::vector<std::string>{"a", "b", "c", "d"}));
  asha.reached("e", 0, 9);
  asha.reached("e", 1, 9);
  asha.reached("e", 2, 9);
  EXPECT_EQ(sorted(asha.parked()), (std::vector<std::string>{"a", "b", "c", "d"}));
}

}  // namespace
}  // namespace locsweep
