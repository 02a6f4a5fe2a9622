// Conf file loading: good files, every kind of bad value, list files, and that the sample
// conf documents every option.
#include "authmilter/config/config.h"

#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "authmilter/config/list_file.h"
#include "authmilter/config/settings.h"
#include "authmilter/dkim/signer.h"
#include "authmilter/runtime/runtime.h"
#include "temp_dir.h"

namespace authmilter::config {
namespace {

using testsupport::TempDir;
using ::testing::HasSubstr;

// Loads `conf` (written to dir/authmilter.conf) and returns the error lines, "" if it loaded.
std::string errorsOf(const TempDir& dir, const std::string& conf) {
  try {
    loadConfig(dir.write("authmilter.conf", conf));
    return "";
  } catch (const ConfigErrors& e) {
    std::string out;
    for (const auto& err : e.errors()) out += err.toString() + "\n";
    return out;
  }
}

TEST(ConfigTest, SampleConfLoads) {
  const auto config = loadConfig(AUTHMILTER_SOURCE_DIR "/conf/authmilter.conf");
  EXPECT_EQ(config->socket.kind, SocketSpec::Kind::Unix);
  EXPECT_EQ(config->socket.path, "/run/authmilter/authmilter.sock");
  EXPECT_TRUE(config->localDomains.contains("example.org"));
  EXPECT_EQ(config->submissionDaemons, (std::vector<std::string>{"MSA", "ORIGINATING"}));
  EXPECT_FALSE(runtime::buildRuntime(config)->stages.empty());
}

TEST(ConfigTest, EverySettingIsDocumentedInTheSampleConf) {
  std::ifstream in(AUTHMILTER_SOURCE_DIR "/conf/authmilter.conf");
  std::stringstream text;
  text << in.rdbuf();
  const std::string conf = text.str();
  for (const auto& def : settingDefs()) {
    // Each option has a "# Name ..." comment paragraph that states its default.
    const auto start = conf.find("\n# " + std::string(def.name) + " ");
    ASSERT_NE(start, std::string::npos) << def.name << " is not documented";
    size_t end = start + 1;
    while (end < conf.size() && conf[end] == '#') end = conf.find('\n', end) + 1;
    EXPECT_NE(conf.substr(start, end - start).find("Default: "), std::string::npos)
        << def.name << " is documented without its default";
  }
}

TEST(ConfigTest, DefaultsWhenEmpty) {
  TempDir dir;
  const auto config = loadConfig(dir.write("authmilter.conf", "# nothing\n\n"));
  EXPECT_EQ(config->socket.text, "unix:/run/authmilter/authmilter.sock");
  EXPECT_EQ(config->umask, 007u);
  EXPECT_TRUE(config->log.syslog);
  EXPECT_EQ(config->log.level, log::LogLevel::Info);
  EXPECT_FALSE(config->authservId.empty());
  EXPECT_TRUE(config->trustedNetworks.contains(*net::IpAddress::parse("127.0.0.1")));
  EXPECT_TRUE(config->trustedNetworks.contains(*net::IpAddress::parse("::1")));
  EXPECT_FALSE(config->trustedNetworks.contains(*net::IpAddress::parse("192.0.2.1")));
  EXPECT_FALSE(config->senderLoginMap.has_value());
}

TEST(ConfigTest, KeysAreCaseInsensitiveAndCommentsStripped) {
  TempDir dir;
  const auto config = loadConfig(dir.write("authmilter.conf",
                                           "socket inet:8891@127.0.0.1   # trailing comment\n"
                                           "AUTHSERVID mx.example.org\n"
                                           "loglevel Debug\n"
                                           "Syslog no\n"));
  EXPECT_EQ(config->socket.kind, SocketSpec::Kind::Inet);
  EXPECT_EQ(config->socket.port, 8891u);
  EXPECT_EQ(config->socket.host, "127.0.0.1");
  EXPECT_EQ(config->authservId, "mx.example.org");
  EXPECT_EQ(config->log.level, log::LogLevel::Debug);
  EXPECT_FALSE(config->log.syslog);
}

// Found by fuzzing (tests/fuzz/regressions/fuzz_list_file): a '#' behind a stray CR at the
// start of a line was an entry "#..." after trimming, not a comment; stripping is idempotent.
TEST(ConfigTest, ACommentBehindBlanksOfAnyKindIsAComment) {
  EXPECT_EQ(stripComment("\r#x"), "");
  EXPECT_EQ(stripComment("\r \t# comment"), "");
  EXPECT_EQ(stripComment("example.org\r#x"), "example.org");
  EXPECT_EQ(stripComment("a#b # c"), "a#b");
  for (const std::string line : {"\r#x", " a\r#b", "x #y", "#", "a#b"}) {
    EXPECT_EQ(stripComment(stripComment(line)), stripComment(line)) << line;
  }
}

TEST(ConfigTest, BadValuesNameFileAndLine) {
  TempDir dir;
  const std::string conf = dir.file("authmilter.conf");
  const std::string errors = errorsOf(dir,
                                      "Syslog yes\n"
                                      "NoSuchOption 1\n"
                                      "Syslog maybe\n"
                                      "ShutdownTimeout -5\n"
                                      "LogLevel loud\n"
                                      "UMask 999\n"
                                      "Socket tcp:25\n"
                                      "AuthservID has space\n"
                                      "LocalDomains\n");
  EXPECT_THAT(errors, HasSubstr(conf + ":2: unknown option 'NoSuchOption'"));
  EXPECT_THAT(errors, HasSubstr(conf + ":3: Syslog is set twice (first at line 1)"));
  EXPECT_THAT(errors, HasSubstr(conf + ":4: ShutdownTimeout: expected a whole number"));
  EXPECT_THAT(errors, HasSubstr(conf + ":5: LogLevel: expected one of"));
  EXPECT_THAT(errors, HasSubstr(conf + ":6: UMask"));
  EXPECT_THAT(errors, HasSubstr(conf + ":7: Socket: unknown socket type 'tcp'"));
  EXPECT_THAT(errors, HasSubstr(conf + ":8: AuthservID"));
  EXPECT_THAT(errors, HasSubstr(conf + ":9: LocalDomains: missing value"));
}

TEST(ConfigTest, DnsSettings) {
  TempDir dir;
  const auto config = loadConfig(dir.write("authmilter.conf",
                                           "Nameservers 127.0.0.1:5353, [::1]:5353 192.0.2.53\n"
                                           "DNSTimeout 500ms\n"
                                           "DNSRetries 3\n"
                                           "DNSCacheSize 0\n"
                                           "DNSCacheMaxTTL 60\n"));
  EXPECT_EQ(config->dns.nameservers, (std::vector<dns::Nameserver>{
                                         {"127.0.0.1", 5353}, {"::1", 5353}, {"192.0.2.53", 53}}));
  EXPECT_EQ(config->dns.timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(config->dns.tries, 3u);
  EXPECT_EQ(config->dnsCache.maxEntries, 0u);
  EXPECT_EQ(config->dnsCache.maxTtl, 60u);
  ASSERT_NE(runtime::buildRuntime(config)->resolver, nullptr);
  EXPECT_EQ(loadConfig(dir.write("authmilter.conf", "DNSTimeout 7\n"))->dns.timeout, std::chrono::seconds(7));
  const auto defaults = loadConfig(dir.write("authmilter.conf", "\n"));
  EXPECT_EQ(defaults->dns.timeout, std::chrono::seconds(5));
  EXPECT_EQ(defaults->dns.tries, 2u);
  EXPECT_FALSE(defaults->dns.nameservers.empty());  // from /etc/resolv.conf, or 127.0.0.1
}

TEST(ConfigTest, BadDnsSettingsNameTheLine) {
  TempDir dir;
  const std::string conf = dir.file("authmilter.conf");
  const std::string errors = errorsOf(dir,
                                      "Nameservers 127.0.0.1, dns.example.com\n"
                                      "DNSTimeout 5m\n"
                                      "DNSRetries 0\n"
                                      "DNSCacheSize -1\n");
  EXPECT_THAT(errors, HasSubstr(conf + ":1: Nameservers: 'dns.example.com' is not a numeric"));
  EXPECT_THAT(errors, HasSubstr(conf + ":2: DNSTimeout: expected a duration"));
  EXPECT_THAT(errors, HasSubstr(conf + ":3: DNSRetries: expected a whole number from 1 to 10"));
  EXPECT_THAT(errors, HasSubstr(conf + ":4: DNSCacheSize"));
  for (const char* bad : {"DNSTimeout 0\n", "DNSTimeout 61s\n", "DNSTimeout ms\n", "DNSTimeout 99999999999999s\n"}) {
    EXPECT_THAT(errorsOf(dir, bad), HasSubstr("DNSTimeout: expected a duration")) << bad;
  }
}

TEST(ConfigTest, SocketSpecs) {
  std::string error;
  EXPECT_EQ(parseSocketSpec("local:/run/x.sock", &error)->text, "unix:/run/x.sock");
  EXPECT_EQ(parseSocketSpec("inet6:8891@::1", &error)->kind, SocketSpec::Kind::Inet6);
  EXPECT_EQ(parseSocketSpec("inet:8891", &error)->host, "");
  for (const char* bad : {"unix:relative.sock", "inet:", "inet:port@host", "inet:70000@127.0.0.1", "inet:25@",
                          "/run/x.sock", "udp:25@127.0.0.1"}) {
    EXPECT_FALSE(parseSocketSpec(bad, &error).has_value()) << bad;
  }
}

TEST(ConfigTest, ListFilesRelativeToConfAndParsed) {
  TempDir dir;
  dir.write("domains", "# local\nexample.org\n.example.net   # subdomains\n\n");
  dir.write("trusted", "192.0.2.0/24\n2001:db8::/32\n");
  dir.write("ignore", "198.51.100.7\nbackup.example.com\n");
  dir.write("logins", "alice: alice@example.org, @alice.example.org\nbob bob@example.org\n");
  const auto config = loadConfig(dir.write("authmilter.conf",
                                           "LocalDomains domains\nTrustedNetworks trusted\n"
                                           "IgnoreHosts ignore\nSenderLoginMap logins\n"));
  EXPECT_TRUE(config->localDomains.contains("example.org"));
  EXPECT_TRUE(config->localDomains.contains("a.example.net"));
  EXPECT_TRUE(config->trustedNetworks.contains(*net::IpAddress::parse("::ffff:192.0.2.4")));
  EXPECT_FALSE(config->trustedNetworks.contains(*net::IpAddress::parse("127.0.0.1")));  // file replaces default
  EXPECT_TRUE(config->ignoreHosts.matches(net::IpAddress::parse("198.51.100.7"), ""));
  ASSERT_TRUE(config->senderLoginMap.has_value());
  EXPECT_TRUE(config->senderLoginMap->owns("alice", mail::parseMailAddress("<x@alice.example.org>")));
  EXPECT_TRUE(config->senderLoginMap->owns("bob", mail::parseMailAddress("<BOB@example.org>")));
  EXPECT_FALSE(config->senderLoginMap->owns("bob", mail::parseMailAddress("<alice@example.org>")));
}

TEST(ConfigTest, BadListEntriesNameTheListFileAndLine) {
  TempDir dir;
  const std::string trusted = dir.write("trusted", "# ok\n192.0.2.0/24\n192.0.2.0/33\nnot-a-network\n");
  const std::string domains = dir.write("domains", "example.org\nbad..domain\n");
  const std::string logins = dir.write("logins", "alice\ncarol carol@\n");
  const std::string errors =
      errorsOf(dir, "TrustedNetworks trusted\nLocalDomains domains\nSenderLoginMap logins\nIgnoreHosts missing\n");
  EXPECT_THAT(errors, HasSubstr(trusted + ":3: '192.0.2.0/33'"));
  EXPECT_THAT(errors, HasSubstr(trusted + ":4: 'not-a-network'"));
  EXPECT_THAT(errors, HasSubstr(domains + ":2: 'bad..domain'"));
  EXPECT_THAT(errors, HasSubstr(logins + ":1: login 'alice' has no addresses"));
  EXPECT_THAT(errors, HasSubstr(logins + ":2: 'carol@'"));
  EXPECT_THAT(errors, HasSubstr(dir.file("authmilter.conf") + ":4: cannot read " + dir.file("missing")));
}

TEST(ConfigTest, DmarcSettings) {
  TempDir dir;
  const auto defaults = loadConfig(dir.write("authmilter.conf", "\n"));
  EXPECT_TRUE(defaults->dmarcCheck);
  EXPECT_EQ(defaults->dmarcOptions.standard, dmarc::Standard::Rfc9989);
  EXPECT_FALSE(defaults->dmarcOptions.psl) << "RFC 9989 needs no Public Suffix List";
  EXPECT_TRUE(defaults->rejectFailures);
  EXPECT_EQ(defaults->quarantineAction, Config::QuarantineAction::Quarantine);
  EXPECT_TRUE(defaults->rejectMalformedFrom);
  EXPECT_TRUE(defaults->ignoreAuthenticatedClients);

  dir.write("psl.dat", "test\n");
  const auto old = loadConfig(dir.write("authmilter.conf", "DMARCStandard rfc7489\nPublicSuffixList psl.dat\n"
                                                            "QuarantineAction header\nRejectFailures no\n"));
  EXPECT_EQ(old->dmarcOptions.standard, dmarc::Standard::Rfc7489);
  ASSERT_TRUE(old->dmarcOptions.psl);
  EXPECT_EQ(old->dmarcOptions.psl->organizationalDomain("a.b.example.test"), "example.test");
  EXPECT_EQ(old->quarantineAction, Config::QuarantineAction::Header);
  EXPECT_FALSE(old->rejectFailures);
  EXPECT_TRUE(loadConfig(dir.write("authmilter.conf", "DMARCStandard rfc7489\n"))->dmarcOptions.psl)
      << "Debian's list by default";

  EXPECT_THAT(errorsOf(dir, "DMARCStandard rfc7489\nPublicSuffixList nowhere.dat\n"),
              HasSubstr(":2: PublicSuffixList: cannot load the Public Suffix List from " + dir.file("nowhere.dat")));
  EXPECT_THAT(errorsOf(dir, "DMARCStandard dmarcbis\n"), HasSubstr("DMARCStandard"));
  EXPECT_THAT(errorsOf(dir, "QuarantineAction hold\n"), HasSubstr("QuarantineAction"));
}

// A private key from the DKIM fixtures, copied into dir with the 0600 mode RequireSafeKeys wants.
std::string keyCopy(const TempDir& dir, const std::string& name) {
  std::ifstream in(std::string(AUTHMILTER_DKIM_FIXTURES) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  const std::string path = dir.write(name, text.str());
  chmod(path.c_str(), 0600);
  return path;
}

TEST(ConfigTest, NoSigningWithoutKeys) {
  TempDir dir;
  const auto config = loadConfig(dir.write("authmilter.conf", "\n"));
  EXPECT_FALSE(config->signer);
  EXPECT_TRUE(config->signingTable.empty());
}

TEST(ConfigTest, SimpleSigningForm) {
  TempDir dir;
  keyCopy(dir, "rsa2048.pem");
  const auto config = loadConfig(dir.write("authmilter.conf", "Domain example.com, example.net\nSelector s1\n"
                                                              "KeyFile rsa2048.pem\n"));
  ASSERT_TRUE(config->signer);
  const auto& options = config->signer->options();
  EXPECT_EQ(options.header, dkim::Canonicalization::Relaxed);
  EXPECT_EQ(options.body, dkim::Canonicalization::Relaxed);
  EXPECT_EQ(options.signHeaders, dkim::defaultSignHeaders());
  EXPECT_EQ(options.oversignHeaders, dkim::defaultOversignHeaders());
  EXPECT_EQ(options.signatureTtl, 0u);
  for (const char* domain : {"example.com", "example.net"}) {
    const auto specs = config->signingTable.select("alice", domain);
    ASSERT_EQ(specs.size(), 1u) << domain;
    EXPECT_EQ(specs[0].domain, domain) << "d= is the From domain";
    EXPECT_EQ(specs[0].selector, "s1");
  }
  EXPECT_TRUE(config->signingTable.select("alice", "example.org").empty()) << "not a Domain";

  const std::string partial = errorsOf(dir, "Domain example.com\nKeyFile rsa2048.pem\n");
  EXPECT_THAT(partial, HasSubstr(":2: Domain, Selector and KeyFile go together; missing: Selector"));
  EXPECT_THAT(errorsOf(dir, "Domain example..com\nSelector s1\nKeyFile rsa2048.pem\n"),
              HasSubstr(":1: Domain: invalid domain 'example..com'"));
  EXPECT_THAT(errorsOf(dir, "Domain example.com\nSelector s1\nKeyFile missing.pem\n"),
              HasSubstr(":3: KeyFile: "));
}

TEST(ConfigTest, KeyTableAndSigningTable) {
  TempDir dir;
  keyCopy(dir, "rsa2048.pem");
  keyCopy(dir, "ed25519.pem");
  dir.write("keytable", "both example.com:rsa:rsa2048.pem\nboth example.com:ed:ed25519.pem\n"
                        "any %:rsa:rsa2048.pem\n");
  dir.write("signingtable", "# exact forms\nboss@example.com both\n.example.net any\n");
  const auto config = loadConfig(dir.write("authmilter.conf", "KeyTable keytable\nSigningTable signingtable\n"
                                                              "Canonicalization simple\nSignatureTTL 86400\n"
                                                              "SignHeaders From Subject\nOversignHeaders none\n"
                                                              "SigningDaemons ORIGINATING\n"));
  ASSERT_TRUE(config->signer);
  const auto& options = config->signer->options();
  EXPECT_EQ(options.header, dkim::Canonicalization::Simple);
  EXPECT_EQ(options.body, dkim::Canonicalization::Simple) << "one word: the header's; the body simple (OpenDKIM)";
  EXPECT_EQ(options.signatureTtl, 86400u);
  EXPECT_EQ(options.signHeaders, (std::vector<std::string>{"from", "subject"}));
  EXPECT_TRUE(options.oversignHeaders.empty());
  EXPECT_EQ(config->signingDaemons, (std::vector<std::string>{"ORIGINATING"}));
  EXPECT_EQ(config->signingTable.select("boss", "example.com").size(), 2u) << "RSA and Ed25519";
  EXPECT_TRUE(config->signingTable.select("other", "example.com").empty());
  const auto sub = config->signingTable.select("x", "mail.example.net");
  ASSERT_EQ(sub.size(), 1u);
  EXPECT_EQ(sub[0].domain, "mail.example.net");

  dir.write("patterns", "*@example.org both\n");
  EXPECT_EQ(loadConfig(dir.write("authmilter.conf", "KeyTable keytable\nSigningTable refile:patterns\n"))
                ->signingTable.select("anyone", "example.org")
                .size(),
            2u);
}

TEST(ConfigTest, BadSigningSettingsNameTheLine) {
  TempDir dir;
  keyCopy(dir, "rsa2048.pem");
  dir.write("keytable", "k example.com:rsa:rsa2048.pem\n");
  dir.write("signingtable", "example.com k\nexample.org nosuchkey\n");
  EXPECT_THAT(errorsOf(dir, "KeyTable keytable\nSigningTable signingtable\n"),
              HasSubstr(dir.file("signingtable") + ":2: no KeyTable entry named 'nosuchkey'"));
  dir.write("empty", "# nothing yet\n");
  EXPECT_THAT(errorsOf(dir, "KeyTable keytable\nSigningTable empty\n"),
              HasSubstr(":2: SigningTable: " + dir.file("empty") + " has no entries, so nothing would be signed"));
  EXPECT_THAT(errorsOf(dir, "KeyTable keytable\n"), HasSubstr(":1: KeyTable and SigningTable go together"));
  EXPECT_THAT(errorsOf(dir, "KeyTable keytable\nSigningTable signingtable\nDomain example.com\n"),
              HasSubstr(":3: Domain/Selector/KeyFile and KeyTable/SigningTable both say which keys sign"));
  dir.write("badkeys", "k example.com:rsa\n");
  EXPECT_THAT(errorsOf(dir, "KeyTable badkeys\nSigningTable signingtable\n"), HasSubstr(dir.file("badkeys") + ":1: "));

  const std::string keys = "KeyTable keytable\nSigningTable signingtable\n";
  dir.write("signingtable", "example.com k\n");
  EXPECT_THAT(errorsOf(dir, keys + "Canonicalization relaxed/loose\n"),
              HasSubstr(":3: Canonicalization: expected header/body with simple or relaxed"));
  EXPECT_THAT(errorsOf(dir, keys + "SignHeaders To Subject\n"), HasSubstr(":3: SignHeaders must include From"));
  EXPECT_THAT(errorsOf(dir, keys + "SignHeaders From Authentication-Results\n"),
              HasSubstr(":3: SignHeaders: Authentication-Results is added after signing"));
  EXPECT_THAT(errorsOf(dir, keys + "OversignHeaders From DKIM-Signature\n"),
              HasSubstr(":3: OversignHeaders: DKIM-Signature is added after signing"));
  EXPECT_THAT(errorsOf(dir, keys + "SignatureTTL -5\n"), HasSubstr(":3: SignatureTTL"));
  EXPECT_THAT(errorsOf(dir, "InternalHosts 10.0.0.0/8\n"), HasSubstr(":1: unknown option 'InternalHosts'"));
  EXPECT_THAT(errorsOf(dir, "InternalHosts 10.0.0.0/8\n"), HasSubstr("TrustedNetworks"));
}

TEST(ConfigTest, UnsafeKeyIsRefusedUnlessToldOtherwise) {
  TempDir dir;
  const std::string key = keyCopy(dir, "rsa2048.pem");
  chmod(key.c_str(), 0644);
  const std::string conf = "Domain example.com\nSelector s1\nKeyFile rsa2048.pem\n";
  EXPECT_THAT(errorsOf(dir, conf), HasSubstr(":3: KeyFile: "));
  EXPECT_EQ(errorsOf(dir, conf + "RequireSafeKeys no\n"), "");
}

TEST(ConfigTest, UnreadableConfFile) {
  try {
    loadConfig("/nonexistent/authmilter.conf");
    FAIL() << "expected ConfigErrors";
  } catch (const ConfigErrors& e) {
    ASSERT_EQ(e.errors().size(), 1u);
    EXPECT_THAT(e.errors()[0].toString(), HasSubstr("/nonexistent/authmilter.conf: cannot read"));
  }
}

}  // namespace
}  // namespace authmilter::config
