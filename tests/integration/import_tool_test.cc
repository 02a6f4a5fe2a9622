// authmilter-import as a postmaster runs it: configurations in the style of Debian 12's
// shipped opendkim.conf/opendmarc.conf, of a "tutorial" OpenDKIM setup (refile: tables,
// TrustedHosts) and of Mail-in-a-Box (inet sockets, policyd-spf), written to a temporary
// directory; the tool's output checked line by line, then `authmilter -n` on what it wrote.
// Bad input: a missing file, a directory, a key without value, an unreadable list, usage.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "daemon_harness.h"
#include "fixture_files.h"
#include "temp_dir.h"

namespace authmilter::testsupport {
namespace {

std::pair<int, std::string> runImport(const std::vector<std::string>& args) {
  return runProgram(AUTHMILTER_IMPORT_BINARY, args);
}

class ImportToolTest : public ::testing::Test {
 protected:
  // A signing key authmilter -n will accept (mode 0600 in a 0700 directory).
  std::string key(const std::string& name) {
    std::filesystem::create_directories(dir_.file("keys"));
    const auto path = dir_.write("keys/" + name, readFile(AUTHMILTER_DKIM_FIXTURES "/rsa2048.pem"));
    chmod(path.c_str(), 0600);
    return path;
  }

  // Runs the tool into out/authmilter.conf, then authmilter -n on it; returns the tool's
  // report (standard error) and leaves the conf in conf_.
  std::string importAndCheck(const std::vector<std::string>& inputs, const std::vector<std::string>& options = {}) {
    std::filesystem::create_directories(dir_.file("out"));
    std::vector<std::string> args = {"-o", dir_.file("out/authmilter.conf")};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), inputs.begin(), inputs.end());
    const auto [status, output] = runImport(args);
    EXPECT_EQ(status, 0) << output;
    conf_ = readFile(dir_.file("out/authmilter.conf"));
    const auto [checkStatus, checkOutput] = runAuthmilter({"-n", "-c", dir_.file("out/authmilter.conf")});
    EXPECT_EQ(checkStatus, 0) << checkOutput << "\n" << conf_;
    EXPECT_NE(checkOutput.find("configuration OK"), std::string::npos) << checkOutput;
    return output;
  }

  bool confHas(const std::string& line) const { return conf_.find("\n" + line + "\n") != std::string::npos; }

  TempDir dir_;
  std::string conf_;
};

TEST_F(ImportToolTest, DebianStyleFilesWithOneKey) {
  const auto keyFile = key("2026.private");
  const auto dkim = dir_.write("opendkim.conf",
                               "# OpenDKIM, as Debian ships it, with one key filled in\n"
                               "Syslog\t\t\tyes\n"
                               "SyslogSuccess\t\tyes\n"
                               "Canonicalization\trelaxed/simple\n"
                               "OversignHeaders\t\tFrom\n"
                               "Domain\t\t\texample.org\n"
                               "Selector\t\t2026\n"
                               "KeyFile\t\t" + keyFile + "\n"
                               "UserID\t\t\topendkim\n"
                               "UMask\t\t\t007\n"
                               "Socket\t\t\tlocal:/run/opendkim/opendkim.sock\n"
                               "PidFile\t\t\t/run/opendkim/opendkim.pid\n"
                               "TrustAnchorFile\t\t/usr/share/dns/root.key\n");
  const auto dmarc = dir_.write("opendmarc.conf",
                                "PidFile /run/opendmarc/opendmarc.pid\n"
                                "PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat\n"
                                "Socket local:/run/opendmarc/opendmarc.sock\n"
                                "Syslog true\n"
                                "UMask 0002\n"
                                "UserID opendmarc\n"
                                "TrustedAuthservIDs HOSTNAME\n");
  const auto report = importAndCheck({dkim, dmarc});
  EXPECT_TRUE(confHas("Socket unix:/run/authmilter/authmilter.sock"));
  EXPECT_FALSE(confHas("UserID opendkim"));
  EXPECT_TRUE(confHas("Domain example.org"));
  EXPECT_TRUE(confHas("Selector 2026"));
  EXPECT_TRUE(confHas("KeyFile " + keyFile));
  EXPECT_TRUE(confHas("Canonicalization relaxed/simple"));
  EXPECT_TRUE(confHas("RejectFailures no"));
  EXPECT_TRUE(confHas("LocalDomains local-domains"));
  EXPECT_EQ(readFile(dir_.file("out/local-domains")).find("\nexample.org\n") != std::string::npos, true);
  EXPECT_NE(report.find(dmarc + ":3: Socket: note: moved from /run/opendmarc (the old daemon's directory) to "
                        "/run/authmilter/authmilter.sock: point the MTA there"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find(dkim + ":13: TrustAnchorFile: not needed: "), std::string::npos) << report;
  EXPECT_NE(report.find(dmarc + ":7: TrustedAuthservIDs: not needed: "), std::string::npos) << report;
  EXPECT_NE(report.find("authmilter-import: LocalDomains: warning: "), std::string::npos) << report;
  // The findings are in the conf too.
  EXPECT_NE(conf_.find("#   " + dkim + ":5: OversignHeaders: not needed: "), std::string::npos) << conf_;
}

TEST_F(ImportToolTest, TutorialSetupWithTablesAndTrustedHosts) {
  const auto keyOrg = key("example.org.private");
  const auto keyNet = key("example.net.private");
  dir_.write("KeyTable", "mail._domainkey.example.org example.org:mail:" + keyOrg + "\n" +
                             "mail._domainkey.example.net example.net:mail:" + keyNet + "\n");
  dir_.write("SigningTable", "*@example.org mail._domainkey.example.org\n*@example.net mail._domainkey.example.net\n");
  dir_.write("TrustedHosts", "127.0.0.1\nlocalhost\n192.168.1.0/24\nmail.example.org\n");
  const auto dkim = dir_.write("opendkim.conf",
                               "AutoRestart Yes\nAutoRestartRate 10/1h\nUMask 002\nSyslog yes\nSyslogSuccess Yes\n"
                               "LogWhy Yes\nCanonicalization relaxed/simple\n"
                               "ExternalIgnoreList refile:" + dir_.file("TrustedHosts") + "\n"
                               "InternalHosts refile:" + dir_.file("TrustedHosts") + "\n"
                               "KeyTable refile:" + dir_.file("KeyTable") + "\n"
                               "SigningTable refile:" + dir_.file("SigningTable") + "\n"
                               "Mode sv\nPidFile /var/run/opendkim/opendkim.pid\nSignatureAlgorithm rsa-sha256\n"
                               "UserID opendkim:opendkim\nSocket inet:12301@localhost\n");
  const auto dmarc = dir_.write("opendmarc.conf",
                                "AuthservID mx.example.org\nPidFile /var/run/opendmarc.pid\nRejectFailures false\n"
                                "Socket inet:54321@localhost\nUserID opendmarc:opendmarc\nUMask 0002\nSyslog true\n"
                                "IgnoreAuthenticatedClients true\nSPFSelfValidate true\n"
                                "HistoryFile /var/run/opendmarc/opendmarc.dat\n"
                                "FailureReports true\nFailureReportsSentBy postmaster@example.net\n");
  const auto report = importAndCheck({dkim, dmarc});
  EXPECT_TRUE(confHas("Socket inet:12301@localhost"));
  EXPECT_TRUE(confHas("UMask 002"));
  EXPECT_TRUE(confHas("AuthservID mx.example.org"));
  EXPECT_TRUE(confHas("KeyTable " + dir_.file("KeyTable")));
  EXPECT_TRUE(confHas("SigningTable refile:" + dir_.file("SigningTable")));
  EXPECT_TRUE(confHas("TrustedNetworks trusted-networks"));
  EXPECT_TRUE(confHas("ReportStore sqlite:/var/lib/authmilter/reports.db"));
  EXPECT_TRUE(confHas("ReportEmail postmaster@example.net"));
  EXPECT_TRUE(confHas("FailureReports yes"));
  EXPECT_TRUE(confHas("RejectFailures no"));
  const auto trusted = readFile(dir_.file("out/trusted-networks"));
  EXPECT_NE(trusted.find("\n192.168.1.0/24\n"), std::string::npos) << trusted;
  EXPECT_NE(trusted.find("\n::1\n"), std::string::npos) << trusted;
  EXPECT_EQ(trusted.find("mail.example.org"), std::string::npos) << trusted;
  EXPECT_NE(report.find(dir_.file("TrustedHosts") + ":4: InternalHosts: cannot map: 'mail.example.org'"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find(dkim + ":8: ExternalIgnoreList: not needed: "), std::string::npos) << report;
  EXPECT_NE(report.find(dmarc + ":4: Socket: conflict: "), std::string::npos) << report;
  EXPECT_NE(report.find(dmarc + ":10: HistoryFile: note: "), std::string::npos) << report;
}

TEST_F(ImportToolTest, MailInABoxStyleWithPolicydSpf) {
  const auto keyFile = key("mail.private");
  dir_.write("KeyTable", "box example.com:mail:" + keyFile + "\n");
  dir_.write("SigningTable", "*@example.com box\n");
  dir_.write("TrustedHosts", "127.0.0.1\n::1\n");
  const auto dkim = dir_.write("opendkim.conf",
                               "MinimumKeyBits 1024\nSocket inet:8891@127.0.0.1\nCanonicalization relaxed/simple\n"
                               "KeyTable file:" + dir_.file("KeyTable") + "\n"
                               "SigningTable refile:" + dir_.file("SigningTable") + "\n"
                               "InternalHosts refile:" + dir_.file("TrustedHosts") + "\n"
                               "RequireSafeKeys false\n");
  const auto dmarc = dir_.write("opendmarc.conf", "Syslog true\nSocket inet:8893@[127.0.0.1]\nFailureReports false\n");
  const auto spf = dir_.write("policyd-spf.conf",
                              "debugLevel = 1\nTestOnly = 1\nHELO_reject = Fail\nMail_From_reject = Fail\n"
                              "PermError_reject = False\nTempError_Defer = False\n"
                              "skip_addresses = 127.0.0.0/8,::ffff:127.0.0.0/104,::1,192.0.2.25\n");
  const auto localDomains = dir_.write("domains", "example.com\nexample.net\n");
  const auto report = importAndCheck({dkim, dmarc, spf}, {"-l", localDomains});
  EXPECT_TRUE(confHas("Socket inet:8891@127.0.0.1"));
  EXPECT_TRUE(confHas("RequireSafeKeys no"));
  EXPECT_TRUE(confHas("MinimumKeyBits 1024"));
  EXPECT_TRUE(confHas("KeyTable " + dir_.file("KeyTable")));
  EXPECT_TRUE(confHas("LocalDomains " + localDomains));
  EXPECT_TRUE(confHas("SPFRejectFail yes"));
  EXPECT_TRUE(confHas("IgnoreHosts ignore-hosts"));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("out/local-domains")));
  EXPECT_NE(readFile(dir_.file("out/ignore-hosts")).find("\n192.0.2.25\n"), std::string::npos);
  EXPECT_NE(report.find(dmarc + ":2: Socket: conflict: "), std::string::npos) << report;
  EXPECT_NE(report.find(dmarc + ":3: FailureReports: not needed: "), std::string::npos) << report;
  EXPECT_NE(report.find(spf + ":3: HELO_reject: cannot map: "), std::string::npos) << report;
  EXPECT_NE(report.find(spf + ":7: skip_addresses: note: mapped to IgnoreHosts"), std::string::npos) << report;
  EXPECT_EQ(report.find("LocalDomains: warning"), std::string::npos) << report;
}

TEST_F(ImportToolTest, StandardOutputAndAnUnusedInput) {
  const auto dmarc = dir_.write("opendmarc.conf", "RejectFailures true\nAuthservID mx.example.org\n");
  const auto [status, output] = runImport({"-D", dir_.file("lists"), "-", dmarc});
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("\nAuthservID mx.example.org\n"), std::string::npos) << output;
  EXPECT_NE(output.find(dmarc + ":1: RejectFailures: not needed: "), std::string::npos) << output;
}

TEST_F(ImportToolTest, BadInputIsRefusedWithTheReason) {
  const auto good = dir_.write("opendmarc.conf", "Syslog true\n");
  auto [status, output] = runImport({dir_.file("missing.conf"), good});
  EXPECT_EQ(status, 1);
  EXPECT_NE(output.find(dir_.file("missing.conf") + ": cannot read: No such file or directory"), std::string::npos) << output;

  std::tie(status, output) = runImport({dir_.path(), good});
  EXPECT_EQ(status, 1);
  EXPECT_NE(output.find(dir_.path() + ": cannot read: is a directory"), std::string::npos) << output;

  const auto noValue = dir_.write("novalue.conf", "Syslog yes\nSocket\n");
  std::tie(status, output) = runImport({"-o", dir_.file("never.conf"), noValue, good});
  EXPECT_EQ(status, 1);
  EXPECT_NE(output.find(noValue + ":2: Socket has no value"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(dir_.file("never.conf")));

  const auto badList = dir_.write("badlist.conf", "InternalHosts file:" + dir_.file("nowhere") + "\n");
  std::tie(status, output) = runImport({badList, good});
  EXPECT_EQ(status, 1);
  EXPECT_NE(output.find(badList + ":1: InternalHosts: cannot read " + dir_.file("nowhere")), std::string::npos) << output;

  std::tie(status, output) = runImport({good});
  EXPECT_EQ(status, 64);
  EXPECT_NE(output.find("usage: authmilter-import"), std::string::npos);
  std::tie(status, output) = runImport({"-x", good, good});
  EXPECT_EQ(status, 64);
}

}  // namespace
}  // namespace authmilter::testsupport
