// DNS faults on every name SPF and DMARC ask, as one sweep: (faulted name, type) x fault
// {SERVFAIL, REFUSED, timeout, truncated then TCP failure} -> expected result. A lookup
// whose answer is not known is temperror, never none/fail/permerror (RFC 7208 §4.4, §5;
// RFC 9989 §5.3.6), except where RFC 7208 names another outcome (ptr §5.5, exp §6.2),
// documented at each such row. Then a few rows through the running daemon: with
// DNSErrorAction tempfail the client gets 451 4.4.3, with accept the message goes through
// with the temperror recorded in Authentication-Results.
//
// Every row first runs without the fault (baseline), so the fault is what changes the
// result, and checks that the faulted question was really asked.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <libmilter/mfdef.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "authmilter/dmarc/evaluator.h"
#include "authmilter/dns/ldns_resolver.h"
#include "authmilter/net/ip_address.h"
#include "authmilter/spf/spf.h"
#include "daemon_harness.h"
#include "milter_client.h"
#include "temp_dir.h"
#include "test_dns_server.h"

namespace authmilter {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using testsupport::TestDnsServer;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------
// The four faults, as TestDnsServer directives for one (name, type).

enum class Fault { ServFail, Refused, Timeout, TruncatedThenTcpFail };

const std::vector<Fault> kFaults = {Fault::ServFail, Fault::Refused, Fault::Timeout, Fault::TruncatedThenTcpFail};

std::string faultName(Fault f) {
  switch (f) {
    case Fault::ServFail: return "servfail";
    case Fault::Refused: return "refused";
    case Fault::Timeout: return "timeout";
    case Fault::TruncatedThenTcpFail: return "truncated_tcpfail";
  }
  return "?";
}
void PrintTo(Fault f, std::ostream* os) { *os << faultName(f); }

std::string directives(Fault f, const std::string& name, const std::string& type) {
  const std::string target = " " + name + " " + type + "\n";
  switch (f) {
    case Fault::ServFail: return "!servfail" + target;
    case Fault::Refused: return "!refused" + target;
    case Fault::Timeout: return "!drop" + target;  // never answered: DNSTimeout x tries
    case Fault::TruncatedThenTcpFail: return "!truncate" + target + "!tcpfail" + target;  // TC, then TCP closes
  }
  return {};
}

// A gtest-safe parameter name: letters and digits kept, everything else '_'.
std::string identifier(std::string s) {
  for (char& c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return s;
}

// Fast timeout rows: one try of 300 ms, nothing cached between rows.
std::shared_ptr<dns::Resolver> resolverFor(const TestDnsServer& server) {
  dns::ResolverOptions o;
  o.nameservers = {{"127.0.0.1", server.port()}};
  o.timeout = 300ms;
  o.tries = 1;
  return std::make_shared<dns::LdnsResolver>(o);
}

// Checks the faulted question reached the server (and, for truncation, its TCP retry too).
void expectAsked(const TestDnsServer& server, Fault f, const std::string& name, const std::string& type) {
  EXPECT_GE(server.queryCount(name, type), 1u) << name << " " << type << " was never asked";
  if (f == Fault::TruncatedThenTcpFail) {
    EXPECT_GE(server.tcpQueryCount(name, type), 1u) << name << " " << type << ": no TCP retry after TC";
  }
}

// ---------------------------------------------------------------------------------------
// SPF (RFC 7208): spf::Checker on the real DNS path. One checked domain per DNS-querying
// term, each reaching the name its row faults. The client is 192.0.2.10 (2001:db8::10 for
// the AAAA and ip6.arpa rows); without a fault every domain gives pass (exp.spf.test: fail).

const std::string kSpfZone = R"(
$TTL 300
test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
txt.spf.test.      TXT "v=spf1 ip4:192.0.2.10 -all"
inc.spf.test.      TXT "v=spf1 include:inc-t.spf.test -all"
inc-t.spf.test.    TXT "v=spf1 ip4:192.0.2.10 ip6:2001:db8::10 -all"
red.spf.test.      TXT "v=spf1 redirect=red-t.spf.test"
red-t.spf.test.    TXT "v=spf1 ip4:192.0.2.10 -all"
a.spf.test.        TXT "v=spf1 a:a-t.spf.test -all"
a-t.spf.test.      A 192.0.2.10
a-t.spf.test.      AAAA 2001:db8::10
mx.spf.test.       TXT "v=spf1 mx:mx-t.spf.test -all"
mx-t.spf.test.     MX 10 mxhost.spf.test.
mxhost.spf.test.   A 192.0.2.10
mxhost.spf.test.   AAAA 2001:db8::10
ptr.spf.test.      TXT "v=spf1 ptr:ptr.spf.test ?all"
host.ptr.spf.test. A 192.0.2.10
host.ptr.spf.test. AAAA 2001:db8::10
10.2.0.192.in-addr.arpa. PTR host.ptr.spf.test.
0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. PTR host.ptr.spf.test.
ex.spf.test.       TXT "v=spf1 exists:ex-t.spf.test -all"
ex-t.spf.test.     A 127.0.0.2
exp.spf.test.      TXT "v=spf1 -all exp=why.spf.test"
why.spf.test.      TXT "%{i} is not a sender of %{d}"
)";

struct SpfTarget {
  const char* what;      // the term whose lookup is faulted
  const char* domain;    // the domain check_host() starts at
  const char* client;
  const char* name;      // the faulted question
  const char* type;
  const char* baseline;  // the result without the fault
  const char* expected;  // the result with it
  const char* decidedBy = "";  // not temperror: the term that decided instead (RFC alternative)
};

void PrintTo(const SpfTarget& t, std::ostream* os) { *os << t.what << " (" << t.name << " " << t.type << ")"; }

constexpr const char* kV4 = "192.0.2.10";
constexpr const char* kV6 = "2001:db8::10";
constexpr const char* kReverse4 = "10.2.0.192.in-addr.arpa";
constexpr const char* kReverse6 = "0.1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa";

const std::vector<SpfTarget> kSpfTargets = {
    // §4.4: the record lookup itself, at the top and at each nested level (§5.2, §6.1).
    {"own_txt", "txt.spf.test", kV4, "txt.spf.test", "TXT", "pass", "temperror"},
    {"include_target_txt", "inc.spf.test", kV4, "inc-t.spf.test", "TXT", "pass", "temperror"},
    {"redirect_target_txt", "red.spf.test", kV4, "red-t.spf.test", "TXT", "pass", "temperror"},
    // §5: "if the DNS server returns an error ... or the query times out, the mechanism
    // stops and the topmost check_host() returns temperror": a (§5.3), mx (§5.4, the MX
    // lookup and the address lookup of each MX host), exists (§5.7, always A).
    {"a_target_a", "a.spf.test", kV4, "a-t.spf.test", "A", "pass", "temperror"},
    {"a_target_aaaa", "a.spf.test", kV6, "a-t.spf.test", "AAAA", "pass", "temperror"},
    {"mx_target_mx", "mx.spf.test", kV4, "mx-t.spf.test", "MX", "pass", "temperror"},
    {"mx_host_a", "mx.spf.test", kV4, "mxhost.spf.test", "A", "pass", "temperror"},
    {"mx_host_aaaa", "mx.spf.test", kV6, "mxhost.spf.test", "AAAA", "pass", "temperror"},
    {"exists_target_a", "ex.spf.test", kV4, "ex-t.spf.test", "A", "pass", "temperror"},
    {"exists_target_a_v6_client", "ex.spf.test", kV6, "ex-t.spf.test", "A", "pass", "temperror"},
    // §5.5: "If a DNS error occurs while doing the PTR RR lookup, then this mechanism fails
    // to match": the record's next term decides (?all: neutral).
    {"ptr_reverse_ptr", "ptr.spf.test", kV4, kReverse4, "PTR", "pass", "neutral", "?all"},
    {"ptr_reverse6_ptr", "ptr.spf.test", kV6, kReverse6, "PTR", "pass", "neutral", "?all"},
    // §5.5: "If a DNS error occurs while doing an A RR lookup, then that domain name is
    // skipped and the search continues": the only name is skipped, so ?all decides.
    {"ptr_name_a", "ptr.spf.test", kV4, "host.ptr.spf.test", "A", "pass", "neutral", "?all"},
    {"ptr_name_aaaa", "ptr.spf.test", kV6, "host.ptr.spf.test", "AAAA", "pass", "neutral", "?all"},
    // §6.2: on "any DNS processing errors" for the exp= TXT, "proceed as if no exp modifier
    // was given": still fail, only without an explanation.
    {"exp_target_txt", "exp.spf.test", kV4, "why.spf.test", "TXT", "fail", "fail", "-all"},
};

class SpfFaultSweep : public ::testing::TestWithParam<std::tuple<SpfTarget, Fault>> {
 protected:
  spf::CheckResult check(const SpfTarget& t) const {
    spf::CheckOptions o;
    o.fetchExplanation = true;  // so the exp= row asks its name
    o.receiver = "mx.receiver.test";
    const auto client = net::IpAddress::parse(t.client);
    return spf::Checker(resolverFor(server_), o)
        .checkHost(*client, t.domain, std::string("user@") + t.domain, "mail.helo.test");
  }

  static std::string describe(const spf::CheckResult& r) {
    std::string s = std::string(spf::toString(r.result)) + " by '" + r.mechanism + "' (" + r.problem + "); asked:";
    for (const auto& l : r.lookups) {
      s += " " + l.name + "/" + dns::rrTypeName(l.type) + "=" + std::string(dns::statusName(l.status));
    }
    return s;
  }

  TestDnsServer server_{kSpfZone};
};

TEST_P(SpfFaultSweep, TemperrorOrTheRfcAlternative) {
  const auto& [t, fault] = GetParam();
  const auto baseline = check(t);
  ASSERT_EQ(std::string(spf::toString(baseline.result)), t.baseline) << "without a fault: " << describe(baseline);
  if (baseline.result == spf::Result::Fail) {
    EXPECT_FALSE(baseline.explanation.empty()) << describe(baseline);
  }

  server_.setZone(kSpfZone + directives(fault, t.name, t.type));
  server_.resetCounts();
  const auto r = check(t);
  expectAsked(server_, fault, t.name, t.type);
  EXPECT_EQ(std::string(spf::toString(r.result)), t.expected) << describe(r);
  EXPECT_TRUE(r.explanation.empty()) << "no explanation from a faulted or skipped lookup: " << r.explanation;
  if (std::string(t.decidedBy).empty()) {
    // No documented alternative: a DNS fault is never a verdict.
    EXPECT_NE(r.result, spf::Result::None) << describe(r);
    EXPECT_NE(r.result, spf::Result::Fail) << describe(r);
    EXPECT_NE(r.result, spf::Result::PermError) << describe(r);
    EXPECT_THAT(r.problem, HasSubstr(t.name)) << "temperror should say which lookup failed";
  } else {
    EXPECT_EQ(r.mechanism, t.decidedBy) << "the term after the faulted one decides: " << describe(r);
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, SpfFaultSweep,
                         ::testing::Combine(::testing::ValuesIn(kSpfTargets), ::testing::ValuesIn(kFaults)),
                         [](const auto& info) {
                           return identifier(std::string(std::get<0>(info.param).what) + "_" +
                                             faultName(std::get<1>(info.param)));
                         });

// ---------------------------------------------------------------------------------------
// DMARC (RFC 9989): dmarc::Evaluator on the real DNS path. The author domains walk up to
// walk.test (p=reject, np=reject); own.walk.test has its own record; ghost.walk.test
// exists (a TXT record) but has no A, AAAA or MX, so the np probe (§3.2.13) asks all three.

const std::string kDmarcZone = R"(
$TTL 300
test. 3600 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
_dmarc.walk.test.     TXT "v=DMARC1; p=reject; np=reject"
_dmarc.own.walk.test. TXT "v=DMARC1; p=reject"
ghost.walk.test.      TXT "exists, with no A, AAAA or MX"
)";

struct DmarcTarget {
  const char* what;
  const char* author;      // RFC5322.From domain
  const char* spfPass;     // SPF pass for this MAIL FROM domain ("" none)
  const char* dkimPass;    // a passing signature with this d= ("" none)
  const char* name;        // the faulted question
  const char* type;
  dmarc::Result baseline;  // without the fault
};

void PrintTo(const DmarcTarget& t, std::ostream* os) { *os << t.what << " (" << t.name << " " << t.type << ")"; }

const std::vector<DmarcTarget> kDmarcTargets = {
    // §4.10 policy discovery: the author domain's own _dmarc name, a parent on the tree
    // walk, and the Organizational Domain's record that finally applies.
    {"author_dmarc", "a.b.walk.test", "elsewhere.example", "", "_dmarc.a.b.walk.test", "TXT", dmarc::Result::Fail},
    {"walk_parent_dmarc", "a.b.walk.test", "elsewhere.example", "", "_dmarc.b.walk.test", "TXT", dmarc::Result::Fail},
    {"org_domain_dmarc", "a.b.walk.test", "elsewhere.example", "", "_dmarc.walk.test", "TXT", dmarc::Result::Fail},
    // §4.10.2 Organizational Domains for relaxed alignment (§4.4): the identifier's walk,
    // and the top of the author domain's walk.
    {"spf_identifier_walk", "own.walk.test", "bounce.own.walk.test", "", "_dmarc.bounce.own.walk.test", "TXT",
     dmarc::Result::Pass},
    {"author_org_walk_top", "own.walk.test", "", "mail.own.walk.test", "_dmarc.test", "TXT", dmarc::Result::Pass},
    // §3.2.13: whether the author domain exists (np), asked as A, AAAA, MX.
    {"np_probe_a", "ghost.walk.test", "elsewhere.example", "", "ghost.walk.test", "A", dmarc::Result::Fail},
    {"np_probe_aaaa", "ghost.walk.test", "elsewhere.example", "", "ghost.walk.test", "AAAA", dmarc::Result::Fail},
    {"np_probe_mx", "ghost.walk.test", "elsewhere.example", "", "ghost.walk.test", "MX", dmarc::Result::Fail},
};

class DmarcFaultSweep : public ::testing::TestWithParam<std::tuple<DmarcTarget, Fault>> {
 protected:
  dmarc::Outcome evaluate(const DmarcTarget& t) const {
    dmarc::Input in{t.author, {}, {}};
    if (*t.spfPass) in.spf = {"pass", t.spfPass};
    if (*t.dkimPass) in.dkim.push_back({"pass", t.dkimPass, "s1", true});
    return dmarc::Evaluator(resolverFor(server_), dmarc::EvaluatorOptions{}).evaluate(in);
  }

  static std::string describe(const dmarc::Outcome& o) {
    std::string s = std::string(dmarc::toString(o.result)) + " (" + o.reason + ") policy " + o.policyTag + "; asked:";
    for (const auto& l : o.lookups) s += " [" + l + "]";
    return s;
  }

  TestDnsServer server_{kDmarcZone};
};

// RFC 9989 §5.3.6: a DMARC answer that could not be had leaves the result open.
TEST_P(DmarcFaultSweep, Temperror) {
  const auto& [t, fault] = GetParam();
  const auto baseline = evaluate(t);
  ASSERT_EQ(baseline.result, t.baseline) << "without a fault: " << describe(baseline);

  server_.setZone(kDmarcZone + directives(fault, t.name, t.type));
  server_.resetCounts();
  const auto o = evaluate(t);
  expectAsked(server_, fault, t.name, t.type);
  EXPECT_EQ(o.result, dmarc::Result::TempError) << describe(o);
  EXPECT_FALSE(o.reason.empty()) << describe(o);
}

INSTANTIATE_TEST_SUITE_P(Sweep, DmarcFaultSweep,
                         ::testing::Combine(::testing::ValuesIn(kDmarcTargets), ::testing::ValuesIn(kFaults)),
                         [](const auto& info) {
                           return identifier(std::string(std::get<0>(info.param).what) + "_" +
                                             faultName(std::get<1>(info.param)));
                         });

// ---------------------------------------------------------------------------------------
// Through the daemon: one row per check kind and lookup kind. SPF answers at MAIL FROM
// (the check runs there), DMARC at end of message. Client 203.0.113.9 is outside
// TrustedNetworks, so every check runs.

struct DaemonRow {
  const char* what;
  const char* records;
  const char* name;      // the faulted question
  const char* type;
  Fault fault;
  const char* mailFrom;
  const char* fromDomain;
  const char* check;     // "spf" or "dmarc": which result must be temperror
  char tempfailAt;       // where DNSErrorAction tempfail answers: 'M' MAIL FROM, 'E' end of message
};

const std::vector<DaemonRow> kDaemonRows = {
    {"spf_txt_servfail", "sf.spf.example. TXT \"v=spf1 -all\"\n", "sf.spf.example", "TXT", Fault::ServFail,
     "<a@sf.spf.example>", "sf.spf.example", "spf", 'M'},
    {"spf_include_timeout",
     "inc.spf.example. TXT \"v=spf1 include:t.inc.spf.example -all\"\nt.inc.spf.example. TXT \"v=spf1 +all\"\n",
     "t.inc.spf.example", "TXT", Fault::Timeout, "<a@inc.spf.example>", "inc.spf.example", "spf", 'M'},
    {"dmarc_record_refused", "_dmarc.ref.dmarc.example. TXT \"v=DMARC1; p=reject\"\n", "_dmarc.ref.dmarc.example",
     "TXT", Fault::Refused, "<bounce@elsewhere.example>", "ref.dmarc.example", "dmarc", 'E'},
    {"dmarc_np_probe_truncated_tcpfail",
     "_dmarc.np.example. TXT \"v=DMARC1; p=reject; np=reject\"\nghost.np.example. TXT \"no address\"\n",
     "ghost.np.example", "AAAA", Fault::TruncatedThenTcpFail, "<bounce@elsewhere.example>", "ghost.np.example",
     "dmarc", 'E'},
};

class DaemonFaultSweep : public ::testing::TestWithParam<std::string> {  // the DNSErrorAction
 protected:
  void SetUp() override {
    dir_.write("domains", "example.org\n");
    dir_.write("trusted", "192.0.2.0/24\n");
    daemon_ = std::make_unique<testsupport::DaemonHarness>(
        dir_, "AuthservID mx.test.example\nLocalDomains domains\nTrustedNetworks trusted\nShutdownTimeout 5\n"
              "DNSTimeout 300ms\nDNSRetries 1\nDNSErrorAction " +
                  GetParam() + "\nSocket unix:" + dir_.file("s.sock") + "\n");
  }

  // One SMTP transaction as Postfix drives it, stopping at the first answer that is not
  // "continue"; `stage` says where that was ('M' MAIL FROM, 'R' RCPT TO, 'E' end of message).
  testsupport::Response transaction(const DaemonRow& row, const std::string& qid, char* stage) {
    auto c = testsupport::MilterClient::connectUnix(daemon_->unixPath());
    c.negotiate();
    c.macros(SMFIC_CONNECT, {{"{daemon_name}", "MTA"}, {"j", "mx.test.example"}});
    c.connect("mail.client.example", '4', 40000, "203.0.113.9");
    c.helo("mail.client.example");
    c.macros(SMFIC_MAIL, {{"i", qid}});
    testsupport::Response r = c.mailFrom({row.mailFrom});
    *stage = 'M';
    if (r.action == 'c') {
      r = c.rcpt({"<bob@example.org>"});
      *stage = 'R';
    }
    if (r.action == 'c') {
      const std::string from = std::string("alice@") + row.fromDomain;
      r = c.sendMessage({{"From", " <" + from + ">"}, {"To", " bob@example.org"}, {"Subject", " hello"},
                         {"Message-ID", " <" + qid + "@" + row.fromDomain + ">"}},
                        "hello\r\n", {{"i", qid}});
      *stage = 'E';
    }
    c.quit();
    return r;
  }

  testsupport::TempDir dir_;
  std::unique_ptr<testsupport::DaemonHarness> daemon_;
};

TEST_P(DaemonFaultSweep, FollowsDnsErrorAction) {
  const bool tempfail = GetParam() == "tempfail";
  for (size_t i = 0; i < kDaemonRows.size(); ++i) {
    const DaemonRow& row = kDaemonRows[i];
    SCOPED_TRACE(row.what);
    daemon_->dns()->setZone(row.records + directives(row.fault, row.name, row.type));
    daemon_->dns()->resetCounts();
    const std::string qid = "F" + std::to_string(i);
    char stage = 0;
    const auto r = transaction(row, qid, &stage);
    expectAsked(*daemon_->dns(), row.fault, row.name, row.type);
    const std::string log = daemon_->messageLogLine(qid);
    EXPECT_THAT(log, HasSubstr(std::string(row.check) + "=temperror")) << log;
    if (tempfail) {
      // Nothing is delivered: the transaction ends with a temporary failure, where the
      // check runs, and no later stage is reached.
      EXPECT_EQ(stage, row.tempfailAt);
      EXPECT_EQ(r.action, 'y');
      EXPECT_THAT(r.reply, StartsWith("451 4.4.3 ")) << r.reply;
      EXPECT_FALSE(r.quarantine.has_value());
      EXPECT_THAT(log, HasSubstr("action=tempfail")) << log;
    } else {
      // Delivered, with the temperror recorded for the downstream (RFC 8601 §2.7.1/§2.7.2).
      EXPECT_EQ(stage, 'E');
      EXPECT_EQ(r.action, 'c') << r.reply;
      const auto ar = testsupport::insertedAuthResults(r);
      ASSERT_TRUE(ar.has_value());
      EXPECT_THAT(*ar, HasSubstr(std::string(row.check) + "=temperror")) << *ar;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sweep, DaemonFaultSweep, ::testing::Values("tempfail", "accept"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace authmilter
