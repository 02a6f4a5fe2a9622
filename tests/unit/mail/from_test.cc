// The From header as an address list, and the Author Domain: the forms that must parse, the
// ones that must not (the spoofing tricks among them), and the error texts.
#include "authmilter/mail/from.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace authmilter::mail {
namespace {

// The Author Domain of a message with one From header, or "error: ..." so that a failing
// EXPECT_EQ shows what went wrong.
std::string domainOf(const std::string& value) {
  const AuthorDomain a = authorDomain({value});
  return a.ok() ? a.domain : "error: " + a.error;
}

// The error of a message with one From header; "" (and a test failure) if there is none.
std::string errorOf(const std::string& value) {
  const AuthorDomain a = authorDomain({value});
  EXPECT_FALSE(a.ok()) << "accepted '" << value << "' as " << a.domain;
  EXPECT_TRUE(a.domain.empty());
  return a.error;
}

// The parser's own error; "" (and a test failure) if it parsed.
std::string parseErrorOf(const std::string& value) {
  std::string error;
  const auto mailboxes = parseAddressList(value, &error);
  EXPECT_FALSE(mailboxes.has_value()) << "parsed '" << value << "'";
  EXPECT_FALSE(error.empty());
  return error;
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Printable as an SMTP reply needs it: no control characters at all.
bool printable(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

TEST(FromHeaderTest, IsFromHeader) {
  EXPECT_TRUE(isFromHeader("From"));
  EXPECT_TRUE(isFromHeader("from"));
  EXPECT_TRUE(isFromHeader("FROM "));
  EXPECT_TRUE(isFromHeader("From\t"));
  EXPECT_TRUE(isFromHeader("fRoM \t "));
  EXPECT_FALSE(isFromHeader("From-X"));
  EXPECT_FALSE(isFromHeader("Fro"));
  EXPECT_FALSE(isFromHeader("Sender"));
  EXPECT_FALSE(isFromHeader("Resent-From"));
  EXPECT_FALSE(isFromHeader("X-From"));
  EXPECT_FALSE(isFromHeader(""));
}

TEST(FromHeaderTest, PlainAddrSpec) {
  std::string error;
  const auto mailboxes = parseAddressList("user@example.com", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].localPart, "user");
  EXPECT_EQ((*mailboxes)[0].domain, "example.com");
  EXPECT_FALSE((*mailboxes)[0].literal);
  EXPECT_EQ(domainOf("user@example.com"), "example.com");
}

TEST(FromHeaderTest, NameAddrWithLeadingSpace) {
  std::string error;
  const auto mailboxes = parseAddressList(" Alice <alice@example.com>", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].localPart, "alice");
  EXPECT_EQ((*mailboxes)[0].domain, "example.com");
  EXPECT_EQ(domainOf(" Alice <alice@example.com>"), "example.com");
  EXPECT_EQ(domainOf("<alice@example.com>"), "example.com");
  EXPECT_EQ(domainOf("Alice Q. Public <alice@example.com>"), "example.com");  // obs-phrase
  EXPECT_EQ(domainOf("\"Joe\"Smith <joe@example.com>"), "example.com");      // words need no blank
}

TEST(FromHeaderTest, QuotedCommaInDisplayNameIsOneAddress) {
  std::string error;
  const auto mailboxes = parseAddressList("\"Doe, John\" <john@example.com>", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].domain, "example.com");
  EXPECT_EQ(domainOf("\"Doe, John <x@junk.example>\" <john@example.com>"), "example.com");
}

TEST(FromHeaderTest, Comments) {
  std::string error;
  const auto mailboxes = parseAddressList("(c) alice@(x)example.com (y)", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].localPart, "alice");
  EXPECT_EQ((*mailboxes)[0].domain, "example.com");
  EXPECT_EQ(domainOf("alice@example.com (Alice (the (real) one) \\) <bob@junk.example>)"), "example.com");
  EXPECT_EQ(domainOf("(a@junk.example) bob@example.com"), "example.com");
  EXPECT_EQ(domainOf("Bob <bob(x)@(y)example.com(z)>"), "example.com");
  EXPECT_TRUE(contains(parseErrorOf("alice@example.com (open"), "unterminated comment"));
  EXPECT_TRUE(contains(parseErrorOf("alice@example.com (a (b)"), "unterminated comment"));
  EXPECT_TRUE(contains(parseErrorOf("alice@example.com )"), "')'"));
}

TEST(FromHeaderTest, QuotedLocalPart) {
  std::string error;
  const auto mailboxes = parseAddressList("\"a b\"@example.com", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].localPart, "a b");
  EXPECT_EQ((*mailboxes)[0].domain, "example.com");
  const auto escaped = parseAddressList("\"a\\\"b\\\\c\"@example.com", &error);
  ASSERT_TRUE(escaped.has_value()) << error;
  EXPECT_EQ((*escaped)[0].localPart, "a\"b\\c");
  EXPECT_TRUE(contains(parseErrorOf("\"a b@example.com"), "unterminated quoted string"));
}

TEST(FromHeaderTest, ObsoleteLocalPartAndDomain) {
  std::string error;
  const auto mailboxes = parseAddressList("john . \"q\" . doe @ mail . example . com", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].localPart, "john.q.doe");
  EXPECT_EQ((*mailboxes)[0].domain, "mail.example.com");
  // Words of a local part need dots between them.
  EXPECT_FALSE(parseAddressList("john doe@example.com", &error).has_value());
  EXPECT_FALSE(parseAddressList("\"john\"doe@example.com", &error).has_value());
  EXPECT_FALSE(parseAddressList("user@exa mple.com", &error).has_value());
}

// A quoted local part may hold what looks like another address; the domain is the one after
// the last '@' outside the quotes.
TEST(FromHeaderTest, SpoofInQuotedLocalPart) {
  std::string error;
  const auto mailboxes = parseAddressList("\"Someone <x@junk.example>\"@mydomain.example", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].localPart, "Someone <x@junk.example>");
  EXPECT_EQ((*mailboxes)[0].domain, "mydomain.example");
  EXPECT_EQ(domainOf("\"Someone <x@junk.example>\"@mydomain.example"), "mydomain.example");
}

// The forms lenient parsers read one way and others another: all rejected.
TEST(FromHeaderTest, SpoofingFormsAreMalformed) {
  for (const char* value : {
           "user@example.net>",
           "<user@example.com",
           "user@example.com <other@junk.example>",
           "Alice <alice@example.com> <x@junk.example>",
           "Alice <alice@example.com> junk.example",
           "Alice <alice@example.com>junk",
           "<alice@example.com>@junk.example",
           "alice@example.com@junk.example",
           "<<alice@example.com>>",
           "Alice <alice>",
           "Alice <>",
           "Alice <alice@example.com",
           "alice@example.com;",
           "alice@example.com]",
           "alice@[192.0.2.1",
           "alice\\@junk.example@example.com",
           "alice@",
           "@example.com",
           "Team: a@example.com",
           "Team: Inner: a@example.com;;",
           "\"a\"@\"example.com\"",
           "alice@example.com.[192.0.2.1]",
           "<@relay.example user@example.com>",
       }) {
    std::string error;
    EXPECT_FALSE(parseAddressList(value, &error).has_value()) << value;
    EXPECT_FALSE(error.empty()) << value;
    EXPECT_FALSE(authorDomain({value}).ok()) << value;
  }
}

TEST(FromHeaderTest, StrayBracketError) {
  const std::string error = errorOf("user@example.net>");
  EXPECT_TRUE(contains(error, "malformed From header")) << error;
  EXPECT_TRUE(contains(error, "'>'")) << error;
  EXPECT_TRUE(contains(error, "user@example.net>")) << error;
}

TEST(FromHeaderTest, UnbalancedAngleBracket) {
  const std::string error = errorOf("<user@example.com");
  EXPECT_TRUE(contains(error, "malformed From header")) << error;
  EXPECT_TRUE(contains(error, "unbalanced '<'")) << error;
}

TEST(FromHeaderTest, NoDomain) {
  const std::string error = errorOf("user");
  EXPECT_EQ(error, "From address 'user' has no domain");
  std::string parseError;
  const auto mailboxes = parseAddressList("user", &parseError);
  ASSERT_TRUE(mailboxes.has_value()) << parseError;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].localPart, "user");
  EXPECT_TRUE((*mailboxes)[0].domain.empty());
  // A whole header line given as the value: a group without its ';'.
  EXPECT_TRUE(contains(errorOf("From: user"), "malformed From header")) << errorOf("From: user");
  // A name and no address at all.
  EXPECT_TRUE(contains(errorOf("John Smith"), "no '@domain'")) << errorOf("John Smith");
  EXPECT_TRUE(contains(errorOf("a@example.com, user"), "'user' has no domain"));
}

TEST(FromHeaderTest, Groups) {
  std::string error;
  const auto mailboxes = parseAddressList("Team: a@example.com, b@example.com;", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 2u);
  EXPECT_EQ((*mailboxes)[0].localPart, "a");
  EXPECT_EQ((*mailboxes)[1].localPart, "b");
  EXPECT_EQ(domainOf("Team: a@example.com, b@example.com;"), "example.com");
  EXPECT_EQ(domainOf("Team: a@example.com, Bee <b@example.com>; (end)"), "example.com");
  EXPECT_EQ(domainOf("Team: a@example.com;, c@example.com"), "example.com");
  EXPECT_TRUE(contains(errorOf("Team: a@example.com; b@other.example"), "malformed"));
  EXPECT_TRUE(contains(errorOf("Team: a@x.example, b@y.example;"), "more than one domain"));
}

TEST(FromHeaderTest, EmptyGroupHasNoAddress) {
  std::string error;
  const auto mailboxes = parseAddressList("Undisclosed recipients:;", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  EXPECT_TRUE(mailboxes->empty());
  EXPECT_EQ(errorOf("Undisclosed recipients:;"), "From header has no address");
  EXPECT_EQ(errorOf("Undisclosed recipients: (none) ;"), "From header has no address");
  EXPECT_EQ(errorOf("Team: , ;"), "From header has no address");
}

TEST(FromHeaderTest, EmptyListElementsAreTolerated) {
  std::string error;
  const auto mailboxes = parseAddressList(", , a@example.com , ,b@example.com,", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  EXPECT_EQ(mailboxes->size(), 2u);
  EXPECT_EQ(errorOf(" , (nothing) ,"), "From header has no address");
}

TEST(FromHeaderTest, DifferentDomains) {
  EXPECT_EQ(errorOf("a@x.example, b@y.example"), "From header names more than one domain (x.example, y.example)");
  EXPECT_EQ(errorOf("a@x.example, b@y.example, c@z.example"),
            "From header names more than one domain (x.example, y.example, ...)");
  EXPECT_EQ(errorOf("a@x.example, b@X.Example., c@y.example"),
            "From header names more than one domain (x.example, y.example)");
}

TEST(FromHeaderTest, SameDomainTwice) {
  EXPECT_EQ(domainOf("a@example.com, Bob <b@example.com>"), "example.com");
  EXPECT_EQ(domainOf("a@example.com, b@EXAMPLE.com."), "example.com");
  EXPECT_EQ(domainOf("a@bücher.example, b@xn--bcher-kva.example"), "xn--bcher-kva.example");
}

TEST(FromHeaderTest, EncodedWordDisplayName) {
  EXPECT_EQ(domainOf("=?utf-8?q?J=C3=BCrgen?= <j@example.com>"), "example.com");
  EXPECT_EQ(domainOf("=?utf-8?B?SsO8cmdlbg==?= <j@example.com>"), "example.com");
}

TEST(FromHeaderTest, Utf8) {
  std::string error;
  const auto mailboxes = parseAddressList("Jürgen Müller <jürgen@example.com>", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].localPart, "jürgen");
  EXPECT_EQ(domainOf("\"Jürgen (Büro)\" <j@example.com> (Grüße)"), "example.com");
}

TEST(FromHeaderTest, IdnDomain) { EXPECT_EQ(domainOf("user@bücher.example"), "xn--bcher-kva.example"); }

TEST(FromHeaderTest, UpperCaseDomain) { EXPECT_EQ(domainOf("User@EXAMPLE.Com"), "example.com"); }

TEST(FromHeaderTest, TrailingDot) {
  // normalizeDomain drops one trailing dot, and rejects empty labels.
  EXPECT_EQ(domainOf("user@example.com."), "example.com");
  EXPECT_EQ(errorOf("user@example.com.."), "From address has an invalid domain 'example.com..'");
}

TEST(FromHeaderTest, InvalidDomain) {
  EXPECT_EQ(errorOf("user@bad..example"), "From address has an invalid domain 'bad..example'");
  EXPECT_EQ(errorOf("user@.example"), "From address has an invalid domain '.example'");
  EXPECT_EQ(errorOf("user@ex=ample.com"), "From address has an invalid domain 'ex=ample.com'");
  EXPECT_EQ(errorOf("user@" + std::string(64, 'a') + ".example"),
            "From address has an invalid domain '" + std::string(60, 'a') + "...'");
}

TEST(FromHeaderTest, DomainLiteral) {
  std::string error;
  const auto mailboxes = parseAddressList("user@[192.0.2.1]", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  ASSERT_EQ(mailboxes->size(), 1u);
  EXPECT_EQ((*mailboxes)[0].domain, "[192.0.2.1]");
  EXPECT_TRUE((*mailboxes)[0].literal);
  EXPECT_EQ(errorOf("user@[192.0.2.1]"), "From address 'user@[192.0.2.1]' has an address literal, not a domain");
  EXPECT_EQ(errorOf("<user@[ 192.0.2.1 ]>"), "From address 'user@[192.0.2.1]' has an address literal, not a domain");
  // A quoted blank (obs-dtext) is a blank too: never part of the domain (a fuzzing find).
  const auto quoted = parseAddressList("e@[\\\t192.0.2.1\\ ]", &error);
  ASSERT_TRUE(quoted.has_value()) << error;
  EXPECT_EQ((*quoted)[0].domain, "[192.0.2.1]");
}

TEST(FromHeaderTest, ObsoleteRoute) {
  EXPECT_EQ(domainOf("<@relay.example:user@example.com>"), "example.com");
  EXPECT_EQ(domainOf("Bob <@a.example,@b.example:user@d.example>"), "d.example");
  EXPECT_EQ(domainOf("<,@a.example, ,@b.example : user@d.example>"), "d.example");
  EXPECT_TRUE(contains(errorOf("<@relay.example>"), "malformed"));
  EXPECT_TRUE(contains(errorOf("<@relay.example,user@example.com>"), "malformed"));
}

TEST(FromHeaderTest, FoldedValue) {
  EXPECT_EQ(domainOf("Alice\r\n <alice@example.com>"), "example.com");
  EXPECT_EQ(domainOf("Alice\n\t<alice@example.com>"), "example.com");
  EXPECT_EQ(domainOf("\r\n Alice <alice@\r\n example.com>\r\n (x\r\n y)"), "example.com");
  std::string error;
  const auto mailboxes = parseAddressList("\"a\r\n b\"@example.com", &error);
  ASSERT_TRUE(mailboxes.has_value()) << error;
  EXPECT_EQ((*mailboxes)[0].localPart, "a b");  // unfolded: the break goes, the blank stays
}

TEST(FromHeaderTest, LineBreakWithoutFoldingIsMalformed) {
  for (const std::string value : {"Alice\r\n<alice@example.com>", "Alice\n<alice@example.com>",
                                  "Alice\r <alice@example.com>", "alice@example.com\r\n",
                                  "alice@example.com\r\nFrom: x@junk.example", "\"a\rb\"@example.com",
                                  "alice@example.com (a\nb)"}) {
    const std::string error = errorOf(value);
    EXPECT_TRUE(contains(error, "malformed From header")) << error;
    EXPECT_TRUE(printable(error)) << error;
  }
}

TEST(FromHeaderTest, ControlCharacters) {
  const std::string nul = errorOf(std::string("alice@exa\0mple.com", 18));
  EXPECT_TRUE(contains(nul, "NUL")) << nul;
  EXPECT_TRUE(printable(nul)) << nul;
  EXPECT_FALSE(authorDomain({std::string("\"a\0b\"@example.com", 17)}).ok());
  EXPECT_FALSE(authorDomain({std::string("a@example.com (\0)", 17)}).ok());
  EXPECT_TRUE(contains(errorOf("alice\x01@example.com"), "0x01"));
  EXPECT_FALSE(authorDomain({"\"a\x7f\"@example.com"}).ok());
  EXPECT_FALSE(authorDomain({"\"a\\\x01\"@example.com"}).ok());
}

TEST(FromHeaderTest, FromHeaderCount) {
  EXPECT_EQ(authorDomain({}).error, "message has no From header");
  EXPECT_EQ(authorDomain({"a@example.com", "b@example.com"}).error, "message has 2 From headers");
  EXPECT_EQ(authorDomain({"a@example.com", "b@example.com", "c@example.com"}).error, "message has 3 From headers");
  EXPECT_FALSE(authorDomain({"a@example.com", "a@example.com"}).ok());
}

TEST(FromHeaderTest, EmptyValue) {
  EXPECT_EQ(errorOf(""), "From header has no address");
  EXPECT_EQ(errorOf(" \t"), "From header has no address");
  EXPECT_EQ(errorOf(" (no one)\r\n (really)"), "From header has no address");
  std::string error;
  const auto mailboxes = parseAddressList("", &error);
  ASSERT_TRUE(mailboxes.has_value());
  EXPECT_TRUE(mailboxes->empty());
}

TEST(FromHeaderTest, DeepCommentNesting) {
  const std::string deep(10000, '(');
  const std::string error = errorOf("alice@example.com " + deep);
  EXPECT_TRUE(contains(error, "nested too deeply")) << error;
  // Shallow nesting is fine.
  std::string shallow = "alice@example.com ";
  for (int i = 0; i < 20; ++i) shallow += '(';
  for (int i = 0; i < 20; ++i) shallow += ')';
  EXPECT_EQ(domainOf(shallow), "example.com");
  // Balanced but too deep is refused as well.
  EXPECT_TRUE(contains(errorOf(deep + std::string(10000, ')') + " alice@example.com"), "nested too deeply"));
}

TEST(FromHeaderTest, HugeValues) {
  // A 1 MB display name, one word or many: parsed, quickly (the parser is linear).
  EXPECT_EQ(domainOf(std::string(1 << 20, 'x') + " <alice@example.com>"), "example.com");
  std::string words;
  while (words.size() < (1u << 20)) words += "ab ";
  EXPECT_EQ(domainOf(words + "<alice@example.com>"), "example.com");
  EXPECT_EQ(domainOf("\"" + std::string(1 << 20, 'q') + "\" <alice@example.com>"), "example.com");
  // Many mailboxes, many domains.
  std::string list;
  for (int i = 0; list.size() < (1u << 20); ++i) list += "u@d" + std::to_string(i) + ".example, ";
  EXPECT_EQ(errorOf(list), "From header names more than one domain (d0.example, d1.example, ...)");
  // Many empty elements, and a huge malformed value: the error stays short.
  EXPECT_EQ(errorOf(std::string(1 << 20, ',')), "From header has no address");
  const std::string error = errorOf(std::string(1 << 20, 'x') + " <alice@example.com");
  EXPECT_LT(error.size(), 200u) << error;
  const std::string noDomain = errorOf(std::string(1 << 20, 'y'));
  EXPECT_LT(noDomain.size(), 200u);
  EXPECT_TRUE(contains(noDomain, "has no domain"));
  const std::string hugeDomain = errorOf("a@" + std::string(1 << 20, 'z'));
  EXPECT_LT(hugeDomain.size(), 200u);
  EXPECT_TRUE(contains(hugeDomain, "invalid domain"));
}

TEST(FromHeaderTest, ErrorTextsArePrintableAndShort) {
  for (const std::string& value : {
           std::string("Alice\r\n<alice@example.com>"),
           std::string("\r\n\r\n"),
           std::string("a@example.com>\r\n\r\nX-Injected: yes"),
           std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x10 <a@example.com>>"),
           std::string("\xff\xfe junk <<"),
           std::string(500, '<'),
           std::string("a@b\xc3"),
       }) {
    const AuthorDomain a = authorDomain({value});
    ASSERT_FALSE(a.ok()) << value;
    EXPECT_TRUE(printable(a.error)) << a.error;
    EXPECT_EQ(a.error.find_first_of("\r\n"), std::string::npos);
    EXPECT_LT(a.error.size(), 200u) << a.error;
  }
  // Bytes that are not UTF-8 are not copied into the reply.
  const std::string error = errorOf("\xff\xfe junk <<");
  EXPECT_EQ(error.find('\xff'), std::string::npos) << error;
}

}  // namespace
}  // namespace authmilter::mail
