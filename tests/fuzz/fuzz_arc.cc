// Fuzz target: ARC chain validation (arc::validate, RFC 8617 §5.2) over a message split
// into header fields and body (mail::splitMessageText), with a resolver that knows two keys
// (sealer.example s1: RSA 1024, s2: Ed25519, made at start). Invariants: no crash; the
// result agrees with the chain (none only without ARC fields, pass with 1-50 complete sets
// whose every seal passed, oldest-pass within the chain, fail and temperror say why); the
// key cache changes nothing; and sealing round-trips: a message without ARC fields, or with
// a passing chain, sealed by us (arc::seal) validates as pass with one more set.
#include <string>

#include "authmilter/arc/arc.h"
#include "authmilter/dkim/signing_key.h"
#include "authmilter/mail/message_text.h"
#include "fuzz_support.h"

namespace {

using namespace authmilter;

struct World {
  fuzz::TableResolver resolver;
  arc::SealKey sealKey;
  World() {
    auto rsa = std::make_shared<const dkim::PrivateKey>(dkim::generatePrivateKey(dkim::KeyAlgorithm::Rsa, 1024));
    const auto ed = dkim::generatePrivateKey(dkim::KeyAlgorithm::Ed25519, 0);
    resolver.setRecords("s1._domainkey.sealer.example", dns::RrType::TXT, {dkim::dnsRecord(*rsa)});
    resolver.setRecords("s2._domainkey.sealer.example", dns::RrType::TXT, {dkim::dnsRecord(ed)});
    resolver.setStatus("s3._domainkey.sealer.example", dns::RrType::TXT, dns::DnsStatus::ServFail);
    sealKey = {"sealer.example", "s1", rsa};
  }
};

World& world() {
  static World w;
  return w;
}

void collect(arc::Collector& c, const mail::MessageText& text) {
  for (const auto& [name, value] : text.headers) c.header(name, value);
  c.endOfHeaders(true);
  c.body(text.body);
  c.endOfBody();
}

void checkResult(const arc::ChainResult& r, bool carried) {
  FUZZ_CHECK(r.sets <= arc::kMaxSets);
  FUZZ_CHECK(r.oldestPass <= r.sets);
  if (!carried) FUZZ_CHECK(r.result == arc::Result::None && r.sets == 0);
  if (r.result == arc::Result::None) FUZZ_CHECK(!carried);
  if (r.result == arc::Result::Fail || r.result == arc::Result::TempError) FUZZ_CHECK(!r.reason.empty());
  if (r.result == arc::Result::Pass) {
    FUZZ_CHECK(r.sets >= 1 && r.details.size() == r.sets && r.fields.size() == r.sets);
    FUZZ_CHECK(r.oldestPass != 1);  // the newest set's signature always passes on a pass
    for (const auto& set : r.details) FUZZ_CHECK(set.seal == arc::Check::Pass);
    FUZZ_CHECK(r.details.back().ams == arc::Check::Pass);
  }
  // A structure check failing at set k leaves the sets before it in details.
  FUZZ_CHECK(r.details.size() <= r.sets);
}

void sealAndCheck(const mail::MessageText& text, const arc::ChainResult& chain) {
  arc::Collector before;
  collect(before, text);
  arc::SealRequest request;
  request.key = &world().sealKey;
  request.cv = chain.nextCv();
  request.authResults = "mx.test.example; arc=" + std::string(arc::toString(chain.result));
  request.signHeaders = {"From", "To", "Subject", "Date", "Message-ID"};
  request.now = 1700000000;
  std::string error;
  const auto set = arc::seal(before, chain, request, &error);
  FUZZ_CHECK(set.has_value());
  FUZZ_CHECK(set->instance == chain.sets + 1);
  arc::Collector after;
  after.header(arc::kSealHeader, " " + set->seal);
  after.header(arc::kMessageSignatureHeader, " " + set->messageSignature);
  after.header(arc::kAuthResultsHeader, " " + set->authResults);
  for (const auto& [name, value] : text.headers) after.header(name, value);
  after.endOfHeaders(false);
  after.body(text.body);
  after.endOfBody();
  const auto again = arc::validate(after, world().resolver, {});
  if (again.result != arc::Result::Pass) std::fprintf(stderr, "sealed chain: %s\n", again.reason.c_str());
  FUZZ_CHECK(again.result == arc::Result::Pass);
  FUZZ_CHECK(again.sets == chain.sets + 1);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::quietLogs();
  const mail::MessageText text = mail::splitMessageText(fuzz::asText(data, size));
  arc::Collector collector;
  collect(collector, text);
  const auto r = arc::validate(collector, world().resolver, {});
  checkResult(r, collector.hasArcHeaders());
  static arc::KeyCache cache(16);
  const auto cached = arc::validate(collector, world().resolver, {}, &cache);
  FUZZ_CHECK(cached.result == r.result && cached.reason == r.reason && cached.oldestPass == r.oldestPass);
  if (!collector.overflow() && (r.result == arc::Result::None || (r.result == arc::Result::Pass && r.sealable()))) {
    sealAndCheck(text, r);
  }
  return 0;
}
