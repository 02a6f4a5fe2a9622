// Fuzz target: the From header parser (mail/from.h) and the envelope address parser
// (mail/address.h). The input is one or more From values separated by NUL; the whole input
// is also one MAIL FROM argument. Invariants: no crash; errors are short printable ASCII
// (they go into SMTP replies and log lines); an Author Domain is lower case and exists only
// when every value parses; a valid envelope address has no error and printable text.
#include <string>
#include <vector>

#include "authmilter/mail/address.h"
#include "authmilter/mail/from.h"
#include "fuzz_support.h"

namespace {

using authmilter::fuzz::asText;

bool printableAscii(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u > 0x7e) return false;
  }
  return true;
}

bool noControls(const std::string& s) {
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) return false;
  }
  return true;
}

void checkAddressList(std::string_view value) {
  std::string error;
  const auto list = authmilter::mail::parseAddressList(value, &error);
  if (!list) {
    FUZZ_CHECK(!error.empty());
    FUZZ_CHECK(printableAscii(error));
    FUZZ_CHECK(error.size() < 400);  // the value is quoted up to 60 bytes
    return;
  }
  for (const auto& m : *list) {
    for (const char c : m.domain) FUZZ_CHECK(c != ' ' && c != '\t' && c != '\r' && c != '\n');
    FUZZ_CHECK(!m.literal || !m.domain.empty());
  }
}

void checkEnvelope(std::string_view argument) {
  const auto a = authmilter::mail::parseMailAddress(argument);
  FUZZ_CHECK(a.valid == a.error.empty());
  FUZZ_CHECK(noControls(a.text));
  if (a.null) FUZZ_CHECK(a.valid && !a.hasDomain);
  if (a.valid && a.hasDomain) {
    for (const char c : a.domain) FUZZ_CHECK(!(c >= 'A' && c <= 'Z'));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input = asText(data, size);
  const auto parts = authmilter::fuzz::splitFields(input, '\0', 8);
  std::vector<std::string> values;
  bool allParse = true;
  for (const auto part : parts) {
    checkAddressList(part);
    std::string ignored;
    allParse = allParse && authmilter::mail::parseAddressList(part, &ignored).has_value();
    values.emplace_back(part);
  }
  const auto author = authmilter::mail::authorDomain(values);
  if (author.ok()) {
    FUZZ_CHECK(allParse && values.size() == 1);
    FUZZ_CHECK(!author.domain.empty());
    for (const char c : author.domain) FUZZ_CHECK(!(c >= 'A' && c <= 'Z') && c != ' ');
  } else {
    FUZZ_CHECK(author.domain.empty());
    FUZZ_CHECK(printableAscii(author.error));
  }
  checkEnvelope(input);
  return 0;
}
