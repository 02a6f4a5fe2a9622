// Fuzz target: DKIM tag lists and key records (dkim/canonical.h: parseTagList,
// parsePublicKeyRecord, withoutSignatureValue, decodeBase64; RFC 6376 §3.2, §3.6.1, §3.7).
// Invariants: no crash; parsed tags have valid, unique names and trimmed values; a list
// written back as "name=value;" parses to the same tags; b= emptied leaves every other tag
// as it was; base64 output is at most 3/4 of its input; a key record gives a key with a
// size, or says why not.
#include <cctype>
#include <string>

#include "authmilter/dkim/canonical.h"
#include "fuzz_support.h"

namespace {

using authmilter::dkim::TagList;

bool fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

void checkTags(const TagList& tags) {
  for (size_t i = 0; i < tags.size(); ++i) {
    const auto& t = tags[i];
    FUZZ_CHECK(!t.name.empty() && std::isalpha(static_cast<unsigned char>(t.name[0])));
    for (const char c : t.name) FUZZ_CHECK(std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    FUZZ_CHECK(t.value.find(';') == std::string::npos);
    FUZZ_CHECK(t.value.empty() || (!fws(t.value.front()) && !fws(t.value.back())));
    for (size_t j = 0; j < i; ++j) FUZZ_CHECK(tags[j].name != t.name);
    FUZZ_CHECK(authmilter::dkim::findTag(tags, t.name) == &t.value);
  }
}

std::string written(const TagList& tags) {
  std::string out;
  for (const auto& t : tags) out += t.name + "=" + t.value + ";";
  return out;
}

bool sameTags(const TagList& a, const TagList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = authmilter::fuzz::asText(data, size);
  std::string error;
  const auto tags = authmilter::dkim::parseTagList(text, &error);
  if (!tags) {
    FUZZ_CHECK(!error.empty());
  } else {
    checkTags(*tags);
    const auto back = authmilter::dkim::parseTagList(written(*tags), &error);
    FUZZ_CHECK(back && sameTags(*back, *tags));
    const std::string stripped = authmilter::dkim::withoutSignatureValue(text);
    FUZZ_CHECK(stripped.size() <= text.size());
    const auto strippedTags = authmilter::dkim::parseTagList(stripped, &error);
    FUZZ_CHECK(strippedTags && strippedTags->size() == tags->size());
    for (size_t i = 0; i < tags->size(); ++i) {
      FUZZ_CHECK((*strippedTags)[i].name == (*tags)[i].name);
      if ((*tags)[i].name == "b") {
        FUZZ_CHECK((*strippedTags)[i].value.empty());
      } else {
        FUZZ_CHECK((*strippedTags)[i].value == (*tags)[i].value);
      }
    }
  }
  if (const auto raw = authmilter::dkim::decodeBase64(text)) FUZZ_CHECK(raw->size() <= text.size() * 3 / 4);

  error.clear();
  const auto key = authmilter::dkim::parsePublicKeyRecord(text, &error);
  if (key) {
    FUZZ_CHECK(key->key != nullptr && key->bits > 0);
  } else {
    FUZZ_CHECK(!error.empty());
  }
  return 0;
}
