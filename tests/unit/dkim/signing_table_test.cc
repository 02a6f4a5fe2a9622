// Which keys sign a From address: OpenDKIM's lookup order for plain SigningTables, refile:
// patterns in file order, several keys under one KeyTable name, "%" and i=, and the errors
// a KeyTable or SigningTable line can have.
#include "authmilter/dkim/signing_table.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace authmilter::dkim {
namespace {

KeyEntry key(const std::string& domain, const std::string& selector) {
  return {domain, selector, "/keys/" + selector, std::make_shared<PrivateKey>()};
}

// "d=... s=... i=..." for each signature a From address gets.
std::vector<std::string> chosen(const SigningTable& t, const std::string& local, const std::string& domain,
                                std::string* matched = nullptr) {
  std::vector<std::string> out;
  for (const auto& s : t.select(local, domain, matched)) {
    out.push_back("d=" + s.domain + " s=" + s.selector + (s.identity.empty() ? "" : " i=" + s.identity));
  }
  return out;
}

TEST(SigningTableTest, PlainTableFollowsOpenDkimsOrder) {
  SigningTable t;
  for (const char* name : {"user-host", "host", "user-parent", "parent", "user-any", "any", "user-top"}) {
    t.addKey(name, key("example.com", name));
  }
  std::string error;
  for (const char* line : {"alice@mail.example.com user-host", "mail.example.com host",
                           "alice@.example.com user-parent", ".example.com parent", "alice@* user-any", "* any",
                           "bob@.com user-top"}) {
    ASSERT_TRUE(t.addRule(line, false, &error)) << line << ": " << error;
  }
  std::string matched;
  EXPECT_EQ(chosen(t, "alice", "mail.example.com", &matched), std::vector<std::string>{"d=example.com s=user-host"});
  EXPECT_EQ(matched, "alice@mail.example.com");
  EXPECT_EQ(chosen(t, "carol", "mail.example.com"), std::vector<std::string>{"d=example.com s=host"});
  EXPECT_EQ(chosen(t, "alice", "a.b.example.com"), std::vector<std::string>{"d=example.com s=user-parent"});
  // user@.parent for every parent comes before .parent for any: bob@.com beats .example.com.
  EXPECT_EQ(chosen(t, "bob", "a.example.com"), std::vector<std::string>{"d=example.com s=user-top"});
  EXPECT_EQ(chosen(t, "carol", "a.example.com"), std::vector<std::string>{"d=example.com s=parent"});
  EXPECT_EQ(chosen(t, "alice", "example.org"), std::vector<std::string>{"d=example.com s=user-any"});
  EXPECT_EQ(chosen(t, "carol", "example.org", &matched), std::vector<std::string>{"d=example.com s=any"});
  EXPECT_EQ(matched, "*");
  // Case does not matter.
  EXPECT_EQ(chosen(t, "ALICE", "Mail.Example.COM"), std::vector<std::string>{"d=example.com s=user-host"});
}

TEST(SigningTableTest, ParentEntriesDoNotCoverTheDomainItself) {
  SigningTable t;
  t.addKey("k", key("example.com", "s"));
  std::string error;
  ASSERT_TRUE(t.addRule(".example.com k", false, &error));
  EXPECT_TRUE(chosen(t, "alice", "example.com").empty());
  EXPECT_EQ(chosen(t, "alice", "lists.example.com").size(), 1u);
  EXPECT_TRUE(chosen(t, "alice", "example.com.evil.example").empty());
}

TEST(SigningTableTest, PatternsMatchInFileOrder) {
  SigningTable t;
  t.addKey("sub", key("example.com", "sub"));
  t.addKey("main", key("example.com", "main"));
  std::string error;
  ASSERT_TRUE(t.addRule("*@*.example.com sub", true, &error));
  ASSERT_TRUE(t.addRule("*@example.com main", true, &error));
  ASSERT_TRUE(t.addRule("*example.com sub", true, &error));  // never reached for these two
  EXPECT_EQ(chosen(t, "alice", "lists.example.com"), std::vector<std::string>{"d=example.com s=sub"});
  EXPECT_EQ(chosen(t, "alice", "example.com"), std::vector<std::string>{"d=example.com s=main"});
  EXPECT_EQ(chosen(t, "alice", "badexample.com"), std::vector<std::string>{"d=example.com s=sub"});
  EXPECT_TRUE(chosen(t, "alice", "example.com.evil.example").empty());
}

TEST(SigningTableTest, OneNameSeveralKeysAndPercent) {
  SigningTable t;
  t.addKey("dual", key("%", "rsa"));
  t.addKey("dual", key("%", "ed"));
  std::string error;
  ASSERT_TRUE(t.addRule("example.com dual alice@%", false, &error));
  ASSERT_TRUE(t.addRule("example.net dual @mail.example.com", false, &error));
  EXPECT_EQ(chosen(t, "alice", "example.com"),
            (std::vector<std::string>{"d=example.com s=rsa i=alice@example.com", "d=example.com s=ed i=alice@example.com"}));
  // An i= outside d= is left out (RFC 6376 3.5), the signature is still made.
  EXPECT_EQ(chosen(t, "bob", "example.net"),
            (std::vector<std::string>{"d=example.net s=rsa", "d=example.net s=ed"}));
  EXPECT_EQ(t.keyCount(), 2u);
}

TEST(SigningTableTest, BadLines) {
  SigningTable t;
  t.addKey("k", key("example.com", "s"));
  std::string error;
  EXPECT_FALSE(t.addRule("example.com", false, &error));
  EXPECT_EQ(error, "expected 'address-or-pattern keyname [signer]'");
  EXPECT_FALSE(t.addRule("example.com nokey", false, &error));
  EXPECT_EQ(error, "no KeyTable entry named 'nokey'");
  EXPECT_TRUE(t.addRule("example.com k", false, &error));
  EXPECT_FALSE(t.addRule("EXAMPLE.com k", false, &error));
  EXPECT_EQ(error, "'EXAMPLE.com' is listed twice");

  for (const auto& [line, why] : std::vector<std::pair<std::string, std::string>>{
           {"name", "expected 'name domain:selector:/path/to/key'"},
           {"name example.com:sel", "expected domain:selector:/path/to/key after the name, got 'example.com:sel'"},
           {"name exa mple.com:s:/k", "expected 'name domain:selector:/path/to/key'"},
           {"name bad_dom@in:s:/k", "invalid signing domain 'bad_dom@in'"},
           {"name example.com:s..x:/k", "invalid selector 's..x'"},
           {"name example.com:s:", "missing key file path"}}) {
    EXPECT_FALSE(parseKeyTableLine(line, &error)) << line;
    EXPECT_EQ(error, why) << line;
  }
  const auto ok = parseKeyTableLine("Name Example.COM:Sel2026:/etc/keys/a.private", &error);
  ASSERT_TRUE(ok) << error;
  EXPECT_EQ(ok->name, "Name");
  EXPECT_EQ(ok->domain, "example.com");
  EXPECT_EQ(ok->selector, "sel2026");
  EXPECT_EQ(ok->file, "/etc/keys/a.private");
}

TEST(SigningTableTest, WildcardMatch) {
  EXPECT_TRUE(wildcardMatch("*", ""));
  EXPECT_TRUE(wildcardMatch("*@example.com", "a@EXAMPLE.com"));
  EXPECT_TRUE(wildcardMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(wildcardMatch("a*b*c", "aXXbYY"));
  EXPECT_FALSE(wildcardMatch("*@example.com", "a@example.com.x"));
  // Many stars against a long text: backtracking stays bounded.
  EXPECT_FALSE(wildcardMatch(std::string(50, '*') + "b", std::string(20000, 'a')));
}

}  // namespace
}  // namespace authmilter::dkim
