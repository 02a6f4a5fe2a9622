// authmilter-import's mapping on text in memory: the conf readers, OpenDKIM's datasets, and
// what each key of opendkim.conf, opendmarc.conf and policyd-spf.conf becomes (a setting, a
// list entry, or a finding with its file:line). The binary and authmilter -n on its output:
// tests/integration/import_tool_test.cc.
#include "authmilter/import/import.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "authmilter/import/mapper.h"

namespace authmilter::import {
namespace {

class ImportTest : public ::testing::Test {
 protected:
  // Files the inputs name, by path.
  std::map<std::string, std::string> files_;

  Result run(const std::string& opendkim, const std::string& opendmarc, const std::string& spf = "") {
    std::vector<Input> inputs;
    if (!opendkim.empty()) inputs.push_back({Source::OpenDkim, "opendkim.conf", opendkim});
    if (!opendmarc.empty()) inputs.push_back({Source::OpenDmarc, "opendmarc.conf", opendmarc});
    if (!spf.empty()) inputs.push_back({Source::PolicydSpf, "policyd-spf.conf", spf});
    Options options;
    options.read = [this](const std::string& path) {
      const auto it = files_.find(path);
      return it == files_.end() ? FileText{false, {}, "No such file or directory"} : FileText{true, it->second, {}};
    };
    inputs_ = inputs;
    return importConfigs(inputs, options);
  }

  static std::string value(const Result& r, std::string_view key) {
    const auto* s = r.find(key);
    return s ? s->value : "<unset>";
  }
  // Each key's value ("<unset>": not written).
  static void expectValues(const Result& r, std::initializer_list<std::pair<std::string_view, std::string_view>> want) {
    for (const auto& [key, expected] : want) EXPECT_EQ(value(r, key), expected) << key;
  }

  // The one finding for `key` at `where`, as text; "" when there is none.
  static std::string finding(const Result& r, std::string_view where, std::string_view key) {
    for (const auto& f : r.findings) {
      if (f.where == where && f.key == key) return f.toString();
    }
    return "";
  }

  static std::vector<std::string> list(const Result& r, std::string_view name) {
    for (const auto& l : r.lists) {
      if (l.name != name) continue;
      std::vector<std::string> entries;
      for (const auto& line : l.lines) {
        if (!line.starts_with('#')) entries.push_back(line);
      }
      return entries;
    }
    return {};
  }

  std::vector<Input> inputs_;
};

TEST(ImportFormatTest, BooleansAreReadByTheirFirstCharacter) {
  EXPECT_EQ(parseBool("Yes"), true);
  EXPECT_EQ(parseBool("true"), true);
  EXPECT_EQ(parseBool("1"), true);
  EXPECT_EQ(parseBool("False"), false);
  EXPECT_EQ(parseBool("no"), false);
  EXPECT_EQ(parseBool("0"), false);
  EXPECT_EQ(parseBool("maybe"), std::nullopt);
}

TEST(ImportFormatTest, DatasetsByPrefix) {
  EXPECT_EQ(parseDataset("file:/etc/opendkim/KeyTable").kind, Dataset::Kind::File);
  EXPECT_EQ(parseDataset("file:/etc/opendkim/KeyTable").path, "/etc/opendkim/KeyTable");
  EXPECT_EQ(parseDataset("refile:/etc/opendkim/SigningTable").kind, Dataset::Kind::PatternFile);
  EXPECT_EQ(parseDataset("/etc/opendkim/TrustedHosts").kind, Dataset::Kind::File);
  const auto csl = parseDataset("csl:127.0.0.1, 192.0.2.0/24");
  EXPECT_EQ(csl.kind, Dataset::Kind::List);
  EXPECT_EQ(csl.entries, (std::vector<std::string>{"127.0.0.1", "192.0.2.0/24"}));
  EXPECT_EQ(parseDataset("From,Subject").entries, (std::vector<std::string>{"From", "Subject"}));
  EXPECT_EQ(parseDataset("ldap://ldap.example.org/dc=example").kind, Dataset::Kind::Unsupported);
  EXPECT_EQ(parseDataset("ldap://ldap.example.org/dc=example").scheme, "ldap");
  EXPECT_EQ(parseDataset("/var/db/keys.db").kind, Dataset::Kind::Unsupported);
}

TEST(ImportFormatTest, ConfLinesKeepTheirNumbersAndAKeyWithoutValueIsAnError) {
  std::vector<std::string> errors;
  const auto lines = parseMilterConf("o.conf", "# c\nSyslog yes # trailing\n\nSocket\n", readFromDisk, errors);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].where(), "o.conf:2");
  EXPECT_EQ(lines[0].value, "yes");
  EXPECT_EQ(errors, (std::vector<std::string>{"o.conf:4: Socket has no value"}));

  errors.clear();
  const auto spf = parseSpfConf("p.conf", "debugLevel = 1\nnonsense\nHELO_reject =\n", errors);
  ASSERT_EQ(spf.size(), 1u);
  EXPECT_EQ(spf[0].key, "debugLevel");
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_EQ(errors[0], "p.conf:2: expected 'name = value', got 'nonsense'");
  EXPECT_EQ(errors[1], "p.conf:3: HELO_reject has no value");
}

// Debian 12's shipped files, in spirit: a unix socket each, one user each, Debian's oversigning.
TEST_F(ImportTest, DebianStyleFilesBecomeOneDaemon) {
  const auto r = run(
      "Syslog yes\n"
      "SyslogSuccess yes\n"
      "Canonicalization relaxed/simple\n"
      "OversignHeaders From\n"
      "UserID opendkim\n"
      "UMask 007\n"
      "Socket local:/run/opendkim/opendkim.sock\n"
      "PidFile /run/opendkim/opendkim.pid\n"
      "TrustAnchorFile /usr/share/dns/root.key\n",
      "PidFile /run/opendmarc/opendmarc.pid\n"
      "PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat\n"
      "Socket local:/run/opendmarc/opendmarc.sock\n"
      "Syslog true\n"
      "UMask 0002\n"
      "UserID opendmarc\n");
  ASSERT_TRUE(r.ok());
  // The old daemons' directories and users are theirs: authmilter gets its own.
  expectValues(r, {{"Socket", "unix:/run/authmilter/authmilter.sock"},
                   {"UserID", "<unset>"},
                   {"PidFile", "<unset>"},
                   {"UMask", "007"},
                   {"Syslog", "yes"},
                   {"Canonicalization", "relaxed/simple"},
                   {"OversignHeaders", "<unset>"},
                   {"PublicSuffixList", "<unset>"}});
  EXPECT_NE(finding(r, "opendmarc.conf:3", "Socket")
                .find("note: moved from /run/opendmarc (the old daemon's directory) to /run/authmilter/authmilter.sock"),
            std::string::npos);
  EXPECT_NE(finding(r, "opendmarc.conf:6", "UserID").find("not needed: authmilter runs as its own user"),
            std::string::npos);
  EXPECT_NE(finding(r, "opendkim.conf:8", "PidFile").find("not needed: it is in the old daemon's directory"),
            std::string::npos);
  EXPECT_NE(finding(r, "opendmarc.conf:5", "UMask").find("kept '007'"), std::string::npos);
  EXPECT_EQ(finding(r, "opendmarc.conf:4", "Syslog"), "");  // the same value: no conflict
  EXPECT_EQ(finding(r, "opendkim.conf:4", "OversignHeaders"),
            "opendkim.conf:4: OversignHeaders: not needed: authmilter oversigns these by default (OversignHeaders)");
  EXPECT_NE(finding(r, "opendkim.conf:9", "TrustAnchorFile").find("not needed"), std::string::npos);
  EXPECT_NE(finding(r, "opendkim.conf:2", "SyslogSuccess").find("not needed"), std::string::npos);
  // OpenDMARC's defaults kept: report only, deliver p=quarantine mail.
  EXPECT_EQ(value(r, "RejectFailures"), "no");
  EXPECT_EQ(value(r, "QuarantineAction"), "header");
  EXPECT_NE(finding(r, "opendmarc.conf", "IgnoreAuthenticatedClients").find("note"), std::string::npos);
  // Nothing is signed, so no domain is known: the relay policy needs one.
  EXPECT_NE(finding(r, "authmilter-import", "LocalDomains").find("warning: no domain is known"), std::string::npos);
}

TEST_F(ImportTest, TutorialTablesAreNamedAndTheirDomainsBecomeLocalDomains) {
  files_["/etc/opendkim/KeyTable"] =
      "mail._domainkey.example.org example.org:mail:/etc/opendkim/keys/example.org/mail.private\n"
      "mail._domainkey.example.net example.net:mail:/etc/opendkim/keys/example.net/mail.private\n";
  files_["/etc/opendkim/SigningTable"] = "*@example.org mail._domainkey.example.org\n"
                                         "*@*.example.net mail._domainkey.example.net\n";
  files_["/etc/opendkim/TrustedHosts"] = "127.0.0.1\nlocalhost\n192.168.0.0/24\n*.example.org\n!192.168.0.9\n[2001:db8::]/32\n";
  const auto r = run(
      "KeyTable refile:/etc/opendkim/KeyTable\n"
      "SigningTable refile:/etc/opendkim/SigningTable\n"
      "ExternalIgnoreList refile:/etc/opendkim/TrustedHosts\n"
      "InternalHosts refile:/etc/opendkim/TrustedHosts\n"
      "Domain example.org\n"
      "Mode sv\n",
      "");
  ASSERT_TRUE(r.ok()) << r.errors.front();
  expectValues(r, {{"KeyTable", "/etc/opendkim/KeyTable"},
                   {"SigningTable", "refile:/etc/opendkim/SigningTable"},
                   {"Domain", "<unset>"}});
  EXPECT_NE(finding(r, "opendkim.conf:5", "Domain").find("not needed: OpenDKIM ignores it when KeyTable is set"),
            std::string::npos);
  EXPECT_NE(finding(r, "opendkim.conf:3", "ExternalIgnoreList").find("not needed"), std::string::npos);
  EXPECT_EQ(list(r, "trusted-networks"),
            (std::vector<std::string>{"127.0.0.1", "127.0.0.0/8", "192.168.0.0/24", "2001:db8::/32", "::1"}));
  EXPECT_NE(finding(r, "/etc/opendkim/TrustedHosts:4", "InternalHosts").find("cannot map: '*.example.org'"),
            std::string::npos);
  EXPECT_NE(finding(r, "/etc/opendkim/TrustedHosts:5", "InternalHosts").find("cannot map: '!192.168.0.9'"),
            std::string::npos);
  EXPECT_EQ(value(r, "TrustedNetworks"), "trusted-networks");
  EXPECT_EQ(list(r, "local-domains"), (std::vector<std::string>{"example.org", "example.net", ".example.net"}));
  EXPECT_EQ(value(r, "LocalDomains"), "local-domains");
}

TEST_F(ImportTest, UnreadableListIsAnErrorButAnUnreadableKeyTableOnlyAWarning) {
  auto r = run("InternalHosts /etc/opendkim/TrustedHosts\n", "");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0], "opendkim.conf:1: InternalHosts: cannot read /etc/opendkim/TrustedHosts: No such file or directory");

  r = run("KeyTable file:/k\nSigningTable file:/s\n", "");
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(value(r, "KeyTable"), "/k");
  EXPECT_EQ(value(r, "SigningTable"), "/s");
  EXPECT_NE(finding(r, "opendkim.conf:1", "KeyTable").find("warning: cannot read /k"), std::string::npos);
}

TEST_F(ImportTest, DatabaseDatasetsAndUnknownKeysAreReported) {
  const auto r = run("InternalHosts ldap://ldap.example.org/ou=hosts\nFrobnicate yes\nOn-BadSignature reject\n", "");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(finding(r, "opendkim.conf:1", "InternalHosts").find("cannot map: ldap: datasets cannot be read"),
            std::string::npos);
  EXPECT_EQ(finding(r, "opendkim.conf:2", "Frobnicate"),
            "opendkim.conf:2: Frobnicate: cannot map: not an opendkim.conf key authmilter-import knows");
  EXPECT_NE(finding(r, "opendkim.conf:3", "On-BadSignature").find("cannot map"), std::string::npos);
}

TEST_F(ImportTest, SimpleSigningAndItsParts) {
  auto r = run("Domain csl:example.org,example.com\nSelector s2026\nKeyFile /etc/dkimkeys/s2026.private\n"
               "SubDomains no\nSignHeaders From,Subject,DKIM-Signature\nOversignHeaders From,List-Id\n"
               "AlwaysSignHeaders Reply-To\nMinimumKeyBits 2048\nMaximumSignaturesToVerify 3\n"
               "SignatureAlgorithm rsa-sha1\nRequireSafeKeys false\nMacroList daemon_name|ORIGINATING|MSA,foo\n",
               "");
  ASSERT_TRUE(r.ok());
  expectValues(r, {{"Domain", "example.org,example.com"},
                   {"Selector", "s2026"},
                   {"KeyFile", "/etc/dkimkeys/s2026.private"},
                   {"SignHeaders", "from,subject"}});
  EXPECT_EQ(value(r, "OversignHeaders"),
            "from,to,subject,date,message-id,content-type,mime-version,list-id,reply-to");
  expectValues(r, {{"MinimumKeyBits", "2048"},
                   {"MaximumSignatures", "3"},
                   {"RequireSafeKeys", "no"},
                   {"SigningDaemons", "ORIGINATING,MSA"}});
  EXPECT_NE(finding(r, "opendkim.conf:12", "MacroList").find("cannot map: 'foo'"), std::string::npos);
  EXPECT_NE(finding(r, "opendkim.conf:10", "SignatureAlgorithm").find("cannot map"), std::string::npos);
  EXPECT_EQ(list(r, "local-domains"), (std::vector<std::string>{"example.org", "example.com"}));

  r = run("Domain example.org\nSelector s\n", "");
  EXPECT_EQ(value(r, "Domain"), "<unset>");
  EXPECT_NE(finding(r, "opendkim.conf:1", "Domain").find("missing: KeyFile"), std::string::npos);
  r = run("MinimumKeyBits 100\nSocket local:relative.sock\n", "");
  EXPECT_NE(finding(r, "opendkim.conf:1", "MinimumKeyBits").find("takes 512 to 16384"), std::string::npos);
  EXPECT_NE(finding(r, "opendkim.conf:2", "Socket").find("cannot map"), std::string::npos);
}

TEST_F(ImportTest, IncludeIsFollowedAndModeVDropsTheKeys) {
  files_["/etc/opendkim/more.conf"] = "\nSocket inet:8891@localhost\n";
  const auto r = run("Include /etc/opendkim/more.conf\nMode v\nKeyTable /k\nSigningTable /s\n", "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(value(r, "Socket"), "inet:8891@localhost");
  EXPECT_EQ(r.find("Socket")->origins.front(), "/etc/opendkim/more.conf:2: Socket inet:8891@localhost");
  EXPECT_EQ(value(r, "KeyTable"), "<unset>");
  EXPECT_NE(finding(r, "opendkim.conf:2", "Mode").find("signs nothing"), std::string::npos);
}

TEST_F(ImportTest, OpenDmarcReportsAndPolicy) {
  files_["/etc/opendmarc/ignore.hosts"] = "10.0.0.0/8\n*.relay.example.net\nbackup.example.net\n";
  auto r = run("Domain example.org\nSelector s\nKeyFile /k\n",
               "AuthservID HOSTNAME\nRejectFailures true\nHoldQuarantinedMessages true\nHistoryFile /run/opendmarc/opendmarc.dat\n"
               "FailureReports true\nFailureReportsSentBy dmarc-noreply@example.org\nFailureReportsBcc pm@example.org\n"
               "IgnoreHosts /etc/opendmarc/ignore.hosts\nIgnoreAuthenticatedClients false\nSPFSelfValidate true\n"
               "RejectMultiValueFrom false\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(value(r, "AuthservID"), "<unset>");
  EXPECT_EQ(value(r, "RejectFailures"), "<unset>");  // true is authmilter's default
  expectValues(r, {{"QuarantineAction", "<unset>"},
                   {"ReportStore", "sqlite:/var/lib/authmilter/reports.db"},
                   {"ReportEmail", "dmarc-noreply@example.org"},
                   {"FailureReports", "yes"},
                   {"FailureReportsBcc", "pm@example.org"},
                   {"RejectMalformedFrom", "no"},
                   {"IgnoreAuthenticatedClients", "<unset>"}});
  EXPECT_NE(finding(r, "opendmarc.conf:9", "IgnoreAuthenticatedClients").find("cannot map"), std::string::npos);
  EXPECT_EQ(list(r, "ignore-hosts"), (std::vector<std::string>{"10.0.0.0/8", ".relay.example.net", "backup.example.net"}));
  EXPECT_NE(finding(r, "opendmarc.conf:4", "HistoryFile").find("authmilter-report"), std::string::npos);

  // A ReportEmail no imported key signs: FailureReports stays off, and says why.
  r = run("", "FailureReports yes\nFailureReportsSentBy dmarc@example.org\n");
  EXPECT_EQ(value(r, "FailureReports"), "<unset>");
  EXPECT_NE(finding(r, "opendmarc.conf:1", "FailureReports").find("no imported DKIM key signs dmarc@example.org"),
            std::string::npos);
}

TEST_F(ImportTest, PolicydSpfDefaultsRejectFailAndItsSkipListIsLoopback) {
  auto r = run("", "",
               "debugLevel = 1\nTestOnly = 1\nHELO_reject = Fail\nPermError_reject = False\nTempError_Defer = False\n"
               "skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1\nLookup_Time = 20\n");
  ASSERT_TRUE(r.ok());
  expectValues(r, {{"SPFRejectFail", "yes"},
                   {"SPFTimeout", "20s"},
                   {"IgnoreHosts", "<unset>"}});
  EXPECT_NE(finding(r, "policyd-spf.conf:3", "HELO_reject").find("cannot map"), std::string::npos);
  EXPECT_NE(finding(r, "policyd-spf.conf:6", "skip_addresses").find("not needed"), std::string::npos);
  EXPECT_NE(finding(r, "policyd-spf.conf", "check_policy_service").find("remove policyd-spf"), std::string::npos);

  r = run("", "", "TestOnly = 0\nMail_From_reject = Softfail\nskip_addresses = 192.0.2.0/24\nHeader_Type = AR\n");
  EXPECT_EQ(value(r, "SPFRejectFail"), "<unset>");
  EXPECT_EQ(value(r, "SPFAddHeader"), "no");
  EXPECT_EQ(list(r, "ignore-hosts"), (std::vector<std::string>{"192.0.2.0/24"}));

  r = run("", "", "Mail_From_reject = SPF_Not_Pass\n");
  EXPECT_EQ(value(r, "SPFRejectFail"), "yes");
  EXPECT_NE(finding(r, "policyd-spf.conf:1", "Mail_From_reject").find("note: authmilter rejects fail only"),
            std::string::npos);
}

// Postfix's chroot keeps its milter sockets under /var/spool/postfix: authmilter's goes beside
// the old one, and the hardened unit must be allowed to write there. Other sockets and users
// are the site's own and stay; two different ones are a conflict.
TEST_F(ImportTest, SocketsAndUsersOfTheSiteStayTheOldDaemonsOwnMove) {
  auto r = run("Socket local:/var/spool/postfix/opendkim/opendkim.sock\nUserID postfix:postfix\n", "");
  expectValues(r, {{"Socket", "unix:/var/spool/postfix/authmilter/authmilter.sock"}, {"UserID", "postfix:postfix"}});
  EXPECT_NE(finding(r, "opendkim.conf:1", "Socket")
                .find("make it: install -d -o authmilter -g authmilter -m 0750 /var/spool/postfix/authmilter"),
            std::string::npos);
  r = run("Socket local:/var/spool/opendkim/opendkim.sock\n", "");
  EXPECT_NE(finding(r, "opendkim.conf:1", "Socket").find("ReadWritePaths=/var/spool/authmilter"), std::string::npos);
  r = run("Socket inet:8891@localhost\n", "Socket inet:8893@localhost\n");
  expectValues(r, {{"Socket", "inet:8891@localhost"}});
  EXPECT_NE(finding(r, "opendmarc.conf:1", "Socket").find("conflict: authmilter has one Socket: kept 'inet:8891@localhost'"),
            std::string::npos);
}

// csl: tables are written to files of authmilter's, one "KEY VALUE" a line, key files
// resolved against BaseDirectory; an element that is not KEY=VALUE is reported.
TEST_F(ImportTest, InlineTablesBecomeFilesBesideTheConf) {
  const auto r = run("BaseDirectory /etc/opendkim\n"
                     "KeyTable csl:k1=example.org:mail:keys/mail.private,k2=example.net:ed:/k/ed.private\n"
                     "SigningTable csl:example.org=k1,example.net=k2,broken\n",
                     "");
  ASSERT_TRUE(r.ok()) << r.errors.front();
  expectValues(r, {{"KeyTable", "key-table"}, {"SigningTable", "signing-table"}});
  EXPECT_EQ(list(r, "key-table"), (std::vector<std::string>{"k1 example.org:mail:/etc/opendkim/keys/mail.private",
                                                             "k2 example.net:ed:/k/ed.private"}));
  EXPECT_EQ(list(r, "signing-table"), (std::vector<std::string>{"example.org k1", "example.net k2"}));
  EXPECT_NE(finding(r, "opendkim.conf:3", "SigningTable").find("cannot map: 'broken' is not KEY=VALUE"),
            std::string::npos);
  EXPECT_EQ(list(r, "local-domains"), (std::vector<std::string>{"example.org", "example.net"}));
}

TEST_F(ImportTest, RenderedConfListsFindingsAndOrdersSettingsAsAuthmilterConf) {
  const auto r = run("KeyTable /k\nSigningTable /s\nSocket local:/run/opendkim/opendkim.sock\nAutoRestart yes\n", "");
  const auto text = renderConf(r, inputs_, "9.9");
  EXPECT_TRUE(text.starts_with("# authmilter.conf written by authmilter-import 9.9 from\n#   opendkim.conf (OpenDKIM)\n"));
  EXPECT_NE(text.find("#   opendkim.conf:4: AutoRestart: not needed: "), std::string::npos);
  const auto socket = text.find("\n# opendkim.conf:3: Socket local:/run/opendkim/opendkim.sock\nSocket unix:/run/authmilter/authmilter.sock\n");
  const auto keyTable = text.find("\nKeyTable /k\n");
  ASSERT_NE(socket, std::string::npos);
  ASSERT_NE(keyTable, std::string::npos);
  EXPECT_LT(socket, keyTable);  // Socket comes first in authmilter.conf
}

}  // namespace
}  // namespace authmilter::import
