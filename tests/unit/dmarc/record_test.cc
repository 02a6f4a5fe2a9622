// The DMARC policy record parser (RFC 9989 §4.7, §4.8): what is a record at all, each
// tag's grammar, defaults for bad values, and what makes p/sp/np invalid.
#include <gtest/gtest.h>

#include "authmilter/dmarc/dmarc.h"

namespace authmilter::dmarc {
namespace {

TEST(DmarcRecordTest, OnlyARecordStartingWithVDmarc1IsOne) {
  EXPECT_TRUE(parseRecord("v=DMARC1").has_value());
  EXPECT_TRUE(parseRecord("v = DMARC1 ;p=none").has_value());
  EXPECT_TRUE(parseRecord("V=DMARC1; p=none").has_value()) << "tag names are case-insensitive";
  EXPECT_FALSE(parseRecord("v=dmarc1; p=none").has_value()) << "the value is case-sensitive";
  EXPECT_FALSE(parseRecord("p=none; v=DMARC1").has_value());
  EXPECT_FALSE(parseRecord("v=DMARC2; p=none").has_value());
  EXPECT_FALSE(parseRecord("v=spf1 -all").has_value());
  EXPECT_FALSE(parseRecord("").has_value());
  EXPECT_FALSE(parseRecord("v=DMARC1x").has_value());
}

TEST(DmarcRecordTest, TagsAndDefaults) {
  const auto r = parseRecord("v=DMARC1; p=Reject; sp=quarantine; np=none; adkim=s; aspf=S; t=y; psd=n; pct=20;"
                             " rua=mailto:a@example.com, mailto:b@example.com!10m; fo=1; future=x;");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->p, Policy::Reject);
  EXPECT_EQ(r->sp, Policy::Quarantine);
  EXPECT_EQ(r->np, Policy::None);
  EXPECT_TRUE(r->strictDkim);
  EXPECT_TRUE(r->strictSpf);
  EXPECT_TRUE(r->testing);
  EXPECT_EQ(r->psd, 'n');
  EXPECT_EQ(r->pct, 20);
  EXPECT_TRUE(r->ruaValid);
  EXPECT_EQ(r->rua.size(), 2u);
  EXPECT_TRUE(r->problems.empty()) << r->problems.front();

  const auto d = parseRecord("v=DMARC1");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->p, Policy::Unset);
  EXPECT_FALSE(d->strictDkim);
  EXPECT_FALSE(d->testing);
  EXPECT_EQ(d->psd, 'u');
  EXPECT_EQ(d->pct, 100);
  EXPECT_FALSE(d->policyInvalid());
}

TEST(DmarcRecordTest, BadValuesKeepDefaultsOrInvalidateThePolicy) {
  const auto r = parseRecord("v=DMARC1; p=none; adkim=x; t=maybe; psd=q; pct=101; garbage");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->policyInvalid());
  EXPECT_FALSE(r->strictDkim);
  EXPECT_FALSE(r->testing);
  EXPECT_EQ(r->psd, 'u');
  EXPECT_EQ(r->pct, 100);
  EXPECT_EQ(r->problems.size(), 5u);

  EXPECT_TRUE(parseRecord("v=DMARC1; p=rejected")->pInvalid);
  EXPECT_TRUE(parseRecord("v=DMARC1; p=reject; sp=")->spInvalid);
  EXPECT_TRUE(parseRecord("v=DMARC1; p=reject; np=all")->npInvalid);
  EXPECT_TRUE(parseRecord("v=DMARC1; p=none; p=reject")->pInvalid) << "a duplicate tag";
  EXPECT_EQ(parseRecord("v=DMARC1; p=none; p=reject")->p, Policy::None);
}

// Found by tests/fuzz/fuzz_dmarc_record (regressions/fuzz_dmarc_record/): a duplicate tag's
// name went into the problem text unsanitized, control characters and all (log lines).
TEST(DmarcRecordTest, ProblemsNameDuplicateTagsPrintably) {
  const auto r = parseRecord("v=DMARC1; x\ny=1; x\ny=2; \x01=a; \x01=b");
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->problems.size(), 2u);
  EXPECT_EQ(r->problems[0], "duplicate tag x?y=");
  EXPECT_EQ(r->problems[1], "duplicate tag ?=");
}

TEST(DmarcRecordTest, RuaNeedsOneSyntacticallyValidUri) {
  EXPECT_FALSE(parseRecord("v=DMARC1; rua=")->ruaValid);
  EXPECT_FALSE(parseRecord("v=DMARC1; rua=dmarc@example.com")->ruaValid) << "no scheme";
  EXPECT_FALSE(parseRecord("v=DMARC1; rua=mailto:")->ruaValid);
  EXPECT_FALSE(parseRecord("v=DMARC1; rua=1x:y")->ruaValid);
  EXPECT_TRUE(parseRecord("v=DMARC1; rua=bogus, https://example.com/r")->ruaValid);
}

}  // namespace
}  // namespace authmilter::dmarc

namespace authmilter::dmarc {
namespace {

// Failure reporting (RFC 9991 §3.2): ruf= URIs as published, fo= options (0 when absent or
// when none of its options is valid).
TEST(DmarcRecordTest, RufAndFoForFailureReports) {
  auto r = parseRecord("v=DMARC1; p=reject; ruf=mailto:a@example.com , mailto:b@example.net!1m; fo=1:d");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->ruf, (std::vector<std::string>{"mailto:a@example.com", "mailto:b@example.net!1m"}));
  EXPECT_EQ(r->fo, "1d");
  EXPECT_TRUE(r->problems.empty());
  EXPECT_EQ(parseRecord("v=DMARC1; p=none")->fo, "0");
  r = parseRecord("v=DMARC1; p=none; fo=x:s");
  EXPECT_EQ(r->fo, "s");
  ASSERT_EQ(r->problems.size(), 1u);
  EXPECT_EQ(r->problems[0], "fo=x:s: 'x' is not 0, 1, d or s");
  EXPECT_EQ(parseRecord("v=DMARC1; p=none; fo=yes")->fo, "0");
}

}  // namespace
}  // namespace authmilter::dmarc
