// The native engine's milter protocol codec: the command and reply bytes are libmilter's
// (mfdef.h), packets are framed the same however a stream is split, broken lengths close
// the connection, and each typed parse takes what Postfix and sendmail send and refuses
// what is malformed.
#include "authmilter/milter/protocol.h"

#include <gtest/gtest.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

namespace authmilter::milter::protocol {
namespace {

std::string u32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string packet(char command, std::string_view data) {
  return u32(static_cast<uint32_t>(data.size() + 1)) + command + std::string(data);
}

using namespace std::string_literals;

TEST(MilterProtocolTest, CommandAndReplyBytesAreLibmiltersOwn) {
  EXPECT_EQ(command::kAbort, SMFIC_ABORT);
  EXPECT_EQ(command::kBody, SMFIC_BODY);
  EXPECT_EQ(command::kConnect, SMFIC_CONNECT);
  EXPECT_EQ(command::kMacro, SMFIC_MACRO);
  EXPECT_EQ(command::kEndOfMessage, SMFIC_BODYEOB);
  EXPECT_EQ(command::kHelo, SMFIC_HELO);
  EXPECT_EQ(command::kQuitNewConnection, SMFIC_QUIT_NC);
  EXPECT_EQ(command::kHeader, SMFIC_HEADER);
  EXPECT_EQ(command::kMail, SMFIC_MAIL);
  EXPECT_EQ(command::kEndOfHeaders, SMFIC_EOH);
  EXPECT_EQ(command::kOptions, SMFIC_OPTNEG);
  EXPECT_EQ(command::kQuit, SMFIC_QUIT);
  EXPECT_EQ(command::kRcpt, SMFIC_RCPT);
  EXPECT_EQ(command::kData, SMFIC_DATA);
  EXPECT_EQ(command::kUnknown, SMFIC_UNKNOWN);
  EXPECT_EQ(reply::kAccept, SMFIR_ACCEPT);
  EXPECT_EQ(reply::kContinue, SMFIR_CONTINUE);
  EXPECT_EQ(reply::kDiscard, SMFIR_DISCARD);
  EXPECT_EQ(reply::kAddHeader, SMFIR_ADDHEADER);
  EXPECT_EQ(reply::kInsertHeader, SMFIR_INSHEADER);
  EXPECT_EQ(reply::kChangeHeader, SMFIR_CHGHEADER);
  EXPECT_EQ(reply::kProgress, SMFIR_PROGRESS);
  EXPECT_EQ(reply::kQuarantine, SMFIR_QUARANTINE);
  EXPECT_EQ(reply::kReject, SMFIR_REJECT);
  EXPECT_EQ(reply::kTempfail, SMFIR_TEMPFAIL);
  EXPECT_EQ(reply::kReplyCode, SMFIR_REPLYCODE);
  EXPECT_EQ(reply::kOptions, SMFIC_OPTNEG);
  EXPECT_EQ(kVersion, static_cast<uint32_t>(SMFI_PROT_VERSION));
}

TEST(MilterProtocolTest, ActionProtocolAndStageBitsAreLibmiltersOwn) {
  EXPECT_EQ(action::kAddHeaders, SMFIF_ADDHDRS);
  EXPECT_EQ(action::kChangeBody, SMFIF_CHGBODY);
  EXPECT_EQ(action::kAddRcpt, SMFIF_ADDRCPT);
  EXPECT_EQ(action::kDeleteRcpt, SMFIF_DELRCPT);
  EXPECT_EQ(action::kChangeHeaders, SMFIF_CHGHDRS);
  EXPECT_EQ(action::kQuarantine, SMFIF_QUARANTINE);
  EXPECT_EQ(action::kChangeFrom, SMFIF_CHGFROM);
  EXPECT_EQ(action::kAddRcptArgs, SMFIF_ADDRCPT_PAR);
  EXPECT_EQ(action::kSetMacroList, SMFIF_SETSYMLIST);
  EXPECT_EQ(flag::kNoConnect, SMFIP_NOCONNECT);
  EXPECT_EQ(flag::kNoHelo, SMFIP_NOHELO);
  EXPECT_EQ(flag::kNoMail, SMFIP_NOMAIL);
  EXPECT_EQ(flag::kNoRcpt, SMFIP_NORCPT);
  EXPECT_EQ(flag::kNoBody, SMFIP_NOBODY);
  EXPECT_EQ(flag::kNoHeaders, SMFIP_NOHDRS);
  EXPECT_EQ(flag::kNoEndOfHeaders, SMFIP_NOEOH);
  EXPECT_EQ(flag::kNoReplyHeader, SMFIP_NR_HDR);
  EXPECT_EQ(flag::kNoUnknown, SMFIP_NOUNKNOWN);
  EXPECT_EQ(flag::kNoData, SMFIP_NODATA);
  EXPECT_EQ(flag::kSkip, SMFIP_SKIP);
  EXPECT_EQ(flag::kRcptRejected, SMFIP_RCPT_REJ);
  EXPECT_EQ(flag::kNoReplyConnect, SMFIP_NR_CONN);
  EXPECT_EQ(flag::kNoReplyHelo, SMFIP_NR_HELO);
  EXPECT_EQ(flag::kNoReplyMail, SMFIP_NR_MAIL);
  EXPECT_EQ(flag::kNoReplyRcpt, SMFIP_NR_RCPT);
  EXPECT_EQ(flag::kNoReplyData, SMFIP_NR_DATA);
  EXPECT_EQ(flag::kNoReplyUnknown, SMFIP_NR_UNKN);
  EXPECT_EQ(flag::kNoReplyEndOfHeaders, SMFIP_NR_EOH);
  EXPECT_EQ(flag::kNoReplyBody, SMFIP_NR_BODY);
  EXPECT_EQ(flag::kHeaderLeadingSpace, SMFIP_HDR_LEADSPC);
  EXPECT_EQ(stage::kConnect, static_cast<uint32_t>(SMFIM_CONNECT));
  EXPECT_EQ(stage::kHelo, static_cast<uint32_t>(SMFIM_HELO));
  EXPECT_EQ(stage::kMail, static_cast<uint32_t>(SMFIM_ENVFROM));
  EXPECT_EQ(stage::kRcpt, static_cast<uint32_t>(SMFIM_ENVRCPT));
  EXPECT_EQ(stage::kData, static_cast<uint32_t>(SMFIM_DATA));
  EXPECT_EQ(stage::kEndOfMessage, static_cast<uint32_t>(SMFIM_EOM));
  EXPECT_EQ(stage::kEndOfHeaders, static_cast<uint32_t>(SMFIM_EOH));
  EXPECT_EQ(stageOf(command::kMail), stage::kMail);
  EXPECT_EQ(stageOf(command::kHeader), stage::kCount);
}

// Postfix pipelines packets: one read may hold many, or a part of one. Every split of a
// stream into two reads gives the same packets.
TEST(MilterProtocolTest, PacketsAreFramedHoweverTheStreamIsSplit) {
  const std::string stream = packet('D', "Mi\0Q1\0"s) + packet('M', "<a@example.org>\0SIZE=10\0"s) +
                             packet('N', "") + packet('B', std::string(300, 'x')) + packet('E', "");
  for (size_t split = 0; split <= stream.size(); ++split) {
    Reader r;
    std::vector<std::pair<char, std::string>> got;
    std::string error;
    r.append(stream.substr(0, split));
    while (auto p = r.next(&error)) got.emplace_back(p->command, std::string(p->data));
    r.append(stream.substr(split));
    while (auto p = r.next(&error)) got.emplace_back(p->command, std::string(p->data));
    ASSERT_EQ(got.size(), 5u) << "split at " << split;
    EXPECT_EQ(got[0], (std::pair{'D', "Mi\0Q1\0"s}));
    EXPECT_EQ(got[1].second, "<a@example.org>\0SIZE=10\0"s);
    EXPECT_EQ(got[2], (std::pair{'N', ""s}));
    EXPECT_EQ(got[3].second.size(), 300u);
    EXPECT_EQ(got[4].first, 'E');
    EXPECT_TRUE(error.empty());
    EXPECT_EQ(r.buffered(), 0u);
  }
}

TEST(MilterProtocolTest, ABrokenLengthClosesTheConnection) {
  for (const auto& [bytes, why] : std::vector<std::pair<std::string, std::string>>{
           {u32(0) + "A", "milter packet of length 0"},
           {u32(0xFFFFFFFF) + "B", "milter packet of 4294967295 bytes, more than 16777216"},
           {u32(kMaxPacket + 1) + "B", "milter packet of 16777217 bytes, more than 16777216"}}) {
    Reader r;
    r.append(bytes);
    std::string error;
    EXPECT_FALSE(r.next(&error).has_value());
    EXPECT_EQ(error, why);
    r.append(packet('A', ""));  // nothing after a broken length is read
    EXPECT_FALSE(r.next(&error).has_value());
  }
  Reader partial;  // a length that says more is to come is not an error
  partial.append(u32(10) + "B12");
  std::string error;
  EXPECT_FALSE(partial.next(&error).has_value());
  EXPECT_TRUE(error.empty());
}

TEST(MilterProtocolTest, ConnectOfEveryFamily) {
  auto c = parseConnect("mail.example.net\0004\x9c\x40" "192.0.2.7\0"s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->hostname, "mail.example.net");
  EXPECT_EQ(c->family, '4');
  EXPECT_EQ(c->port, 40000);
  EXPECT_EQ(c->address, "192.0.2.7");
  c = parseConnect("[2001:db8::1]\0006\x00\x19" "2001:db8::1\0"s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->family, '6');
  EXPECT_EQ(c->port, 25);
  c = parseConnect("localhost\0U"s);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->family, 'U');
  EXPECT_TRUE(c->address.empty());
  for (const std::string& bad : {"no-nul"s, "host\0"s, "host\0" "4\x00"s, "host\0" "4\x00\x19" "192.0.2.7"s,
                                "host\0" "X\x00\x19" "a\0"s, "host\0" "U" "extra"s}) {
    EXPECT_FALSE(parseConnect(bad)) << bad;
  }
}

TEST(MilterProtocolTest, OptionsMacrosHeadersAndStrings) {
  const auto o = parseOptions(u32(6) + u32(0x1FF) + u32(0x1FFFFF));
  ASSERT_TRUE(o);
  EXPECT_EQ(o->version, 6u);
  EXPECT_EQ(o->actions, 0x1FFu);
  EXPECT_EQ(o->protocol, 0x1FFFFFu);
  EXPECT_FALSE(parseOptions(u32(6) + u32(1)));
  const auto m = parseMacros("Mi\0Q1\0{auth_authen}\0alice\0"s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->first, 'M');
  ASSERT_EQ(m->second.size(), 2u);
  EXPECT_EQ(m->second[1], (std::pair{"{auth_authen}"s, "alice"s}));
  EXPECT_FALSE(parseMacros("Mi\0"s));    // a name without its value
  EXPECT_FALSE(parseMacros(""));
  const auto h = parseHeader("Subject\0 hello\0"s);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->second, " hello");
  EXPECT_FALSE(parseHeader("Subject\0 hello"s));  // the value's NUL missing
  EXPECT_FALSE(parseHeader("Subject\0"s));
  // Strings past the value are ignored, as libmilter ignores them.
  EXPECT_EQ(parseHeader("X-Three\0a\0b\0"s), (std::pair<std::string, std::string>{"X-Three", "a"}));
  const auto args = parseStrings("<a@example.org>\0SIZE=10\0BODY=8BITMIME\0"s);
  ASSERT_TRUE(args);
  EXPECT_EQ(*args, (std::vector<std::string>{"<a@example.org>", "SIZE=10", "BODY=8BITMIME"}));
  EXPECT_FALSE(parseStrings("<a@example.org>"));
}

TEST(MilterProtocolTest, RepliesAreEncodedAsLibmilterSendsThem) {
  Writer w;
  w.options({6, 0x1D1, 0x1FFFF}, {{1, "{daemon_name}"}});
  w.insertHeader(0, "Authentication-Results", " mx; none");
  w.changeHeader(2, "Authentication-Results", "");
  w.addHeader("X-A", " b");
  w.quarantine("held");
  w.replyCode("550 5.7.1 Rejected");
  w.simple(reply::kContinue);
  std::string expected = packet('O', u32(6) + u32(0x1D1) + u32(0x1FFFF) + u32(1) + "{daemon_name}\0"s) +
                         packet('i', u32(0) + "Authentication-Results\0 mx; none\0"s) +
                         packet('m', u32(2) + "Authentication-Results\0\0"s) + packet('h', "X-A\0 b\0"s) +
                         packet('q', "held\0"s) + packet('y', "550 5.7.1 Rejected\0"s) + packet('c', "");
  EXPECT_EQ(w.bytes(), expected);
  // What we write, a Reader reads back packet by packet.
  Reader r;
  r.append(w.bytes());
  std::string error;
  std::string commands;
  while (auto p = r.next(&error)) commands.push_back(p->command);
  EXPECT_EQ(commands, "Oimhqyc");
}

}  // namespace
}  // namespace authmilter::milter::protocol
