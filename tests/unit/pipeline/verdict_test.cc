// The precedence ladder: each disposition beats every one below it, and ties keep the first.
#include "authmilter/pipeline/verdict.h"

#include <gtest/gtest.h>

#include "authmilter/pipeline/pipeline.h"

namespace authmilter::pipeline {
namespace {

Verdict of(Disposition d, std::string reason) { return {d, {}, std::move(reason)}; }

TEST(VerdictTest, Ladder) {
  const Disposition ladder[] = {Disposition::Tempfail, Disposition::Reject, Disposition::Discard,
                                Disposition::Quarantine, Disposition::Continue};
  for (size_t hi = 0; hi < std::size(ladder); ++hi) {
    for (size_t lo = hi + 1; lo < std::size(ladder); ++lo) {
      const auto a = of(ladder[hi], "high");
      const auto b = of(ladder[lo], "low");
      EXPECT_EQ(stronger(a, b).reason, "high") << toString(ladder[hi]) << " vs " << toString(ladder[lo]);
      EXPECT_EQ(stronger(b, a).reason, "high") << toString(ladder[lo]) << " vs " << toString(ladder[hi]);
    }
  }
  EXPECT_EQ(stronger(of(Disposition::Reject, "first"), of(Disposition::Reject, "second")).reason, "first");
}

TEST(VerdictTest, WhichVerdictsStopAnEvent) {
  EXPECT_FALSE(Verdict::proceed().stops());
  EXPECT_FALSE(Verdict::quarantine("q").stops());
  EXPECT_TRUE(Verdict::discard("d").stops());
  EXPECT_TRUE(Verdict::reject("550", "5.7.1", "no", "r").stops());
  EXPECT_TRUE(Verdict::tempfail("451", "4.7.1", "later", "t").stops());
  EXPECT_EQ(Verdict::reject("550", "5.7.1", "no", "r").reply.toString(), "550 5.7.1 no");
}

// A stage that returns a fixed verdict at MAIL FROM and counts its calls.
class FixedStage : public Stage {
 public:
  FixedStage(Verdict v, int* calls) : v_(std::move(v)), calls_(calls) {}
  Verdict onMailFrom(const Connection&, Message&) override {
    ++*calls_;
    return v_;
  }

 private:
  Verdict v_;
  int* calls_;
};

class FixedFactory : public StageFactory {
 public:
  FixedFactory(Verdict v, int* calls) : v_(std::move(v)), calls_(calls) {}
  std::string_view name() const override { return "fixed"; }
  uint32_t hooks() const override { return kHookMail; }
  std::unique_ptr<Stage> create() const override { return std::make_unique<FixedStage>(v_, calls_); }

 private:
  Verdict v_;
  int* calls_;
};

TEST(PipelineTest, FirstStoppingVerdictWinsAndLaterStagesAreSkipped) {
  int calls[3] = {};
  Pipeline p({std::make_shared<FixedFactory>(Verdict::quarantine("q"), &calls[0]),
              std::make_shared<FixedFactory>(Verdict::reject("550", "5.7.1", "no", "first reject"), &calls[1]),
              std::make_shared<FixedFactory>(Verdict::tempfail("451", "4.0.0", "later", "never"), &calls[2])});
  Connection c;
  Message m;
  const Verdict v = p.run([&](Stage& s) { return s.onMailFrom(c, m); });
  EXPECT_EQ(v.reason, "first reject");
  EXPECT_EQ(calls[0], 1);
  EXPECT_EQ(calls[1], 1);
  EXPECT_EQ(calls[2], 0);
}

TEST(PipelineTest, QuarantineIsRecordedAndLaterStagesRun) {
  int calls[2] = {};
  Pipeline p({std::make_shared<FixedFactory>(Verdict::quarantine("suspicious"), &calls[0]),
              std::make_shared<FixedFactory>(Verdict::proceed(), &calls[1])});
  Connection c;
  Message m;
  const Verdict v = p.run([&](Stage& s) { return s.onMailFrom(c, m); });
  EXPECT_EQ(v.disposition, Disposition::Quarantine);
  EXPECT_EQ(v.reason, "suspicious");
  EXPECT_EQ(calls[1], 1);
}

}  // namespace
}  // namespace authmilter::pipeline
