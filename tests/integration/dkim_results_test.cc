// README's "DKIM results" table, row by row: every condition libopendkim or our own checks
// can report, produced through the real DNS path (the test DNS server misbehaving on
// purpose where a row needs it), with the Authentication-Results result and reason README
// promises, for the verifier the daemon runs and for `authmilter-check dkim`. The test reads
// the table from README.md and fails when a README row has no case here or the other way
// round, or when a result or reason differs.
#include <gtest/gtest.h>

#include <cctype>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "authmilter/dkim/verifier.h"
#include "authmilter/dns/ldns_resolver.h"
#include "daemon_harness.h"
#include "fixture_files.h"
#include "temp_dir.h"
#include "test_dns_server.h"

namespace authmilter::dkim {
namespace {

using testsupport::TempDir;
using testsupport::TestDnsServer;

using testsupport::readFile;

std::string fixture(const std::string& name) { return testsupport::dkimFixture(name); }

// `text` with its first `from` (which must stand in the header section) replaced by `to`.
std::string edited(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::runtime_error("fixture lacks " + from);
  return text.replace(at, from.size(), to);
}

const std::string kKeyName = "rsa2048._domainkey.example.com";

// The zone of keys.zone with the rsa2048 record replaced by `line` (empty: removed).
std::string zoneWithKey(const std::string& line) {
  std::string zone = fixture("keys.zone");
  const auto start = zone.find(kKeyName + ". IN TXT");
  const auto end = zone.find('\n', start);
  return zone.replace(start, end - start, line);
}

std::string rsa2048Record() {
  const std::string zone = fixture("keys.zone");
  const auto start = zone.find(kKeyName + ". IN TXT");
  return zone.substr(start, zone.find('\n', start) - start);
}

struct Case {
  Case() = default;
  Case(std::string m, std::string z, Result r, std::string why, std::string extraConf = "")
      : message(std::move(m)), zone(std::move(z)), result(r), reason(std::move(why)), conf(std::move(extraConf)) {}
  std::string message;
  std::string zone;  // what the test DNS server serves
  Result result = Result::None;
  std::string reason;  // the reason starts with this ("" = no reason)
  std::string conf;    // extra conf lines for this case (authmilter-check)
  VerifyOptions options{};
};

// Every row of README's table, by its condition text.
std::map<std::string, Case> cases() {
  const std::string keys = fixture("keys.zone");
  const std::string good = fixture("rsa-relaxed-relaxed.eml");
  const std::string sha1 = fixture("rsa-sha1.eml");
  const std::string keyFailed = "key lookup failed: " + kKeyName;
  std::map<std::string, Case> c;
  c["pass"] = {good, keys, Result::Pass, ""};
  c["body hash mismatch"] = {fixture("tampered-body.eml"), keys, Result::Fail, "body hash did not verify"};
  c["signature mismatch"] = {fixture("tampered-header.eml"), keys, Result::Fail, "signature did not verify"};
  c["rsa-sha1"] = {sha1, keys, Result::Policy, "rsa-sha1 is not acceptable (RFC 8301 3.1)"};
  c["rsa-sha1, body altered"] = {edited(sha1, "Tuesday", "Thursday"), keys, Result::Policy,
                                 "rsa-sha1 is not acceptable (RFC 8301 3.1); body hash did not verify"};
  c["rsa-sha1, key SERVFAIL"] = {sha1, keys + "\n!servfail " + kKeyName + "\n", Result::Policy,
                                 "rsa-sha1 is not acceptable (RFC 8301 3.1); key lookup failed"};
  c["RSA key under MinimumKeyBits"] = {fixture("rsa512.eml"), keys, Result::Policy,
                                       "512-bit key is shorter than MinimumKeyBits (RFC 8301 3.2)"};
  c["RSA key under MinimumKeyBits, body altered"] = {edited(fixture("rsa512.eml"), "Tuesday", "Thursday"), keys,
                                                     Result::Policy,
                                                     "512-bit key is shorter than MinimumKeyBits (RFC 8301 3.2); "
                                                     "body hash did not verify"};
  c["expired (x= past)"] = {fixture("expired.eml"), keys, Result::PermError, "signature expired (x=)"};
  c["dated in the future (t=)"] = {fixture("future.eml"), keys, Result::PermError,
                                   "signature timestamp in the future (t=)"};
  c["revoked key (empty p=)"] = {fixture("revoked.eml"), keys, Result::PermError, "key revoked (empty p=)"};
  c["no key: NXDOMAIN"] = {fixture("nokey.eml"), keys, Result::PermError, "no key at missing._domainkey.example.com"};
  c["no key: NODATA"] = {good, zoneWithKey(kKeyName + ". IN A 192.0.2.1"), Result::PermError,
                         "no key at " + kKeyName};
  c["key lookup: SERVFAIL"] = {good, keys + "\n!servfail " + kKeyName + "\n", Result::TempError, keyFailed};
  c["key lookup: REFUSED"] = {good, keys + "\n!refused " + kKeyName + "\n", Result::TempError, keyFailed};
  c["key lookup: timeout"] = {good, keys + "\n!drop " + kKeyName + "\n", Result::TempError, keyFailed};
  c["key lookup: truncated, TCP fails"] = {good, keys + "\n!truncate " + kKeyName + "\n!tcpfail " + kKeyName + "\n",
                                           Result::TempError, keyFailed};
  c["malformed key record"] = {good, zoneWithKey(kKeyName + ". IN TXT \"v=DKIM1; k=rsa; p=bm90IGEga2V5\""),
                               Result::PermError, "key at " + kKeyName + " cannot be decoded (p=)"};
  c["key not a tag list"] = {good, zoneWithKey(kKeyName + ". IN TXT \"v=DKIM1; k=rsa; p\""), Result::PermError,
                             "key record at " + kKeyName + " is not a valid tag list"};
  c["key t=s, i= in a subdomain"] = {fixture("strict-subdomain.eml"), keys, Result::PermError,
                                     "key t=s forbids an i= in a subdomain of d="};
  std::string unknownK = rsa2048Record();
  unknownK.replace(unknownK.find("k=rsa"), 5, "k=foo");
  c["unknown key type (k=)"] = {good, zoneWithKey(unknownK), Result::PermError, "unknown key type (k=) at " + kKeyName};
  c["From not in h="] = {fixture("no-from-in-h.eml"), keys, Result::PermError, "From is not signed (h=)"};
  c["i= outside d="] = {fixture("i-outside-d.eml"), keys, Result::PermError,
                          "i= is not in d=, or d= is invalid (RFC 6376 3.5)"};
  c["duplicated tag"] = {edited(good, "v=1;", "v=1; v=1;"), keys, Result::PermError,
                         "tag v= occurs twice (RFC 6376 3.2)"};
  c["unparseable signature"] = {"DKIM-Signature: v=1; a=rsa-sha256; this is not a tag list\r\n" +
                                    fixture("unsigned.eml"),
                                keys, Result::PermError, "malformed signature"};
  c["l= covers part of the body"] = {fixture("length.eml"), keys, Result::Pass, "l= covers "};
  c["testing key (t=y)"] = {fixture("testing.eml"), keys, Result::Pass, "testing key (t=y)"};
  c["testing key (t=y), body altered"] = {edited(fixture("testing.eml"), "Tuesday", "Thursday"), keys,
                                          Result::Neutral, "testing key (t=y): body hash did not verify"};
  Case big("X-Big: " + std::string(20000, 'a') + "\r\n" + good, keys, Result::PermError,
           "headers exceed DKIMMaxHeaderBytes (16384): not verified", "DKIMMaxHeaderBytes 16384\n");
  big.options.maxHeaderBytes = 16384;
  c["headers over DKIMMaxHeaderBytes"] = big;
  return c;
}

struct ReadmeRow {
  std::string condition, result, reason;
};

// The rows of README's "DKIM results" table: | condition | result | reason | decided by |.
std::vector<ReadmeRow> readmeRows() {
  const std::string readme = readFile(AUTHMILTER_SOURCE_DIR "/README.md");
  const auto section = readme.find("\n### DKIM results\n");
  if (section == std::string::npos) throw std::runtime_error("README has no '### DKIM results' section");
  std::vector<ReadmeRow> rows;
  size_t pos = readme.find("\n|", section);
  bool header = true;
  while (pos != std::string::npos && pos + 1 < readme.size() && readme[pos + 1] == '|') {
    const size_t end = readme.find('\n', pos + 1);
    const std::string line = readme.substr(pos + 1, end - pos - 1);
    pos = end;
    std::vector<std::string> cells;
    size_t at = 1;
    while (at < line.size()) {
      const size_t bar = line.find(" | ", at);
      std::string cell = line.substr(at, (bar == std::string::npos ? line.size() - 1 : bar) - at);
      cell.erase(0, cell.find_first_not_of(' '));
      cell.erase(cell.find_last_not_of(' ') + 1);
      if (cell.size() >= 2 && cell.front() == '`' && cell.back() == '`') cell = cell.substr(1, cell.size() - 2);
      cells.push_back(cell);
      if (bar == std::string::npos) break;
      at = bar + 2;
    }
    if (header || line.rfind("|---", 0) == 0) {
      header = false;
      continue;
    }
    if (cells.size() != 4) throw std::runtime_error("README DKIM results row without 4 cells: " + line);
    rows.push_back({cells[0], cells[1], cells[2] == "-" ? "" : cells[2]});
  }
  return rows;
}

bool startsWith(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

TEST(DkimResultsTableTest, ReadmeRowsAndTestCasesAreTheSame) {
  const auto rows = readmeRows();
  const auto all = cases();
  EXPECT_GE(rows.size(), 28u);
  std::map<std::string, bool> seen;
  for (const auto& row : rows) {
    const auto it = all.find(row.condition);
    EXPECT_NE(it, all.end()) << "README row without a test case: " << row.condition;
    if (it == all.end()) continue;
    seen[row.condition] = true;
    EXPECT_EQ(row.result, toString(it->second.result)) << row.condition;
    EXPECT_EQ(row.reason, it->second.reason) << row.condition;
  }
  for (const auto& [condition, c] : all) EXPECT_TRUE(seen.count(condition)) << "case not in README: " << condition;
}

class DkimResultsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DkimResultsTest, VerifierAndAuthmilterCheckReportIt) {
  const Case c = cases().at(GetParam());
  TestDnsServer dns(c.zone);
  dns::ResolverOptions r;
  r.nameservers = {*dns::parseNameserver(dns.nameserver4(), nullptr)};
  r.timeout = std::chrono::milliseconds(300);
  r.tries = 1;
  const Verifier verifier(std::make_shared<dns::LdnsResolver>(r), c.options);
  const auto results = verifyMessage(verifier, c.message, nullptr);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(toString(results[0].result), toString(c.result)) << results[0].reason;
  if (c.reason.empty()) {
    EXPECT_EQ(results[0].reason, "");
  } else {
    EXPECT_TRUE(startsWith(results[0].reason, c.reason)) << "reason: " << results[0].reason;
  }

  TempDir dir;
  const std::string conf = dir.write("a.conf", "Nameservers " + dns.nameserver4() +
                                                   "\nDNSTimeout 300ms\nDNSRetries 1\n" + c.conf);
  const auto [rc, out] = testsupport::runAuthmilterCheck({"dkim", "-c", conf, dir.write("m.eml", c.message)});
  EXPECT_EQ(rc, c.result == Result::TempError ? 1 : 0) << out;
  EXPECT_NE(out.find("signature 1: dkim=" + std::string(toString(c.result)) + " "), std::string::npos) << out;
  if (!c.reason.empty()) {
    EXPECT_NE(out.find("\n  why: " + c.reason), std::string::npos) << out;
  }
}

std::vector<std::string> caseNames() {
  std::vector<std::string> names;
  for (const auto& [name, c] : cases()) names.push_back(name);
  return names;
}

INSTANTIATE_TEST_SUITE_P(Rows, DkimResultsTest, ::testing::ValuesIn(caseNames()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string id;
                           for (char ch : info.param) id.push_back(std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_');
                           return id;
                         });

}  // namespace
}  // namespace authmilter::dkim
