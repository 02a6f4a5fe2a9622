// Line-end handling for streamed bodies (the DKIM verifier mends bare CR and LF itself).
#include "authmilter/mail/message_text.h"

#include <gtest/gtest.h>

#include <string>

namespace authmilter::mail {
namespace {

TEST(MessageTextTest, CrlfOnlyAcceptsPairsSplitAcrossChunks) {
  EXPECT_TRUE(isCrlfOnly("a\r\nb\r\n", false));
  EXPECT_TRUE(isCrlfOnly("no line end", false));
  EXPECT_TRUE(isCrlfOnly("ends in CR\r", false)) << "the LF may start the next chunk";
  EXPECT_TRUE(isCrlfOnly("\nrest\r\n", true)) << "closes the CR of the chunk before";
  EXPECT_FALSE(isCrlfOnly("bare\nLF", false));
  EXPECT_FALSE(isCrlfOnly("\nstarts with LF", false));
  EXPECT_FALSE(isCrlfOnly("bare\rCR", false));
  EXPECT_FALSE(isCrlfOnly("two\r\r\n", false));
  EXPECT_FALSE(isCrlfOnly("x\r\n", true)) << "the CR before was bare";
}

TEST(MessageTextTest, MendLineEndsTurnsBareCrAndLfIntoCrlf) {
  std::string out;
  mendLineEnds("a\nb\rc\r\nd\r\r\n", false, out);
  EXPECT_EQ(out, "a\r\nb\r\nc\r\nd\r\n\r\n");
  mendLineEnds("x", true, out);
  EXPECT_EQ(out, "\nx") << "completes the bare CR that ended the chunk before";
  mendLineEnds("\ny", true, out);
  EXPECT_EQ(out, "\ny");
  mendLineEnds("end\r", false, out);
  EXPECT_EQ(out, "end\r") << "a final CR waits for the next chunk";
}

// A body streamed in chunks of every size comes out the same as mended in one piece.
TEST(MessageTextTest, ChunkedMendingMatchesWholeBody) {
  const std::string body = "one\ntwo\r\nthree\rfour\r\r\n\n\rfive\r\n";
  std::string whole;
  mendLineEnds(body, false, whole);
  for (size_t size = 1; size <= body.size(); ++size) {
    std::string streamed, out;
    bool cr = false;
    for (size_t at = 0; at < body.size(); at += size) {
      const std::string_view chunk = std::string_view(body).substr(at, size);
      if (isCrlfOnly(chunk, cr)) {
        streamed += chunk;
      } else {
        mendLineEnds(chunk, cr, out);
        streamed += out;
      }
      cr = chunk.back() == '\r';
    }
    EXPECT_EQ(streamed, whole) << "chunks of " << size;
  }
}

}  // namespace
}  // namespace authmilter::mail
