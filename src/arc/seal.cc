// Adding our ARC set, RFC 8617 §5.1 (see arc.h): the ARC-Authentication-Results, an
// ARC-Message-Signature over the message as we pass it on (relaxed/relaxed, like dkimpy and
// the large receivers), and the ARC-Seal over every set, ours last.
#include <algorithm>

#include "authmilter/arc/arc.h"
#include "authmilter/util/strings.h"

namespace authmilter::arc {

namespace {

using dkim::Canonicalization;

std::optional<std::string> signed64(const dkim::PrivateKey& key, std::string& data, std::string* error) {
  data.resize(data.size() - 2);  // the field being signed goes in without its CRLF
  const auto signature = dkim::signSha256(key, data, error);
  if (!signature) return std::nullopt;
  return dkim::base64(reinterpret_cast<const unsigned char*>(signature->data()), signature->size());
}

}  // namespace

std::optional<SealedSet> seal(const Collector& message, const ChainResult& chain, const SealRequest& request,
                              std::string* error) {
  const dkim::PrivateKey& key = *request.key->key;
  const std::string* bodyHash = message.bodyHash(Canonicalization::Relaxed, std::nullopt);
  if (bodyHash == nullptr) {
    *error = "the body was not hashed for sealing";
    return std::nullopt;
  }
  SealedSet out;
  out.instance = chain.sets + 1;
  const std::string instance = "i=" + std::to_string(out.instance) + ";";
  const std::string algorithm = "a=" + std::string(dkim::signatureAlgorithm(key.algorithm)) + ";";
  const std::string t = "t=" + std::to_string(request.now) + ";";
  out.authResults = instance + " " + request.authResults;

  // The ARC-Message-Signature: the headers of SignHeaders the message has, top to bottom.
  std::vector<std::string> names;
  for (const auto& [name, value] : message.headers()) {
    std::string lower = util::toLower(name);
    if (util::listed(request.signHeaders, lower) && !isArcHeader(lower)) names.push_back(std::move(lower));
  }
  if (names.empty()) names.push_back("from");  // h= may not be empty: sign the From it lacks
  dkim::FieldFolder ams(kMessageSignatureHeader);
  ams.add("", instance);
  ams.add(" ", algorithm);
  ams.add(" ", "c=relaxed/relaxed;");
  ams.add(" ", "d=" + request.key->domain + ";");
  ams.add(" ", "s=" + request.key->selector + ";");
  ams.add(" ", t);
  ams.addHeaderList(names);
  ams.add(" ", "bh=" + *bodyHash + ";");
  ams.add(" ", "b=");
  std::string data;
  dkim::canonicalSelectedHeaders(Canonicalization::Relaxed, message.headers(), names, data);
  dkim::canonicalHeader(Canonicalization::Relaxed, kMessageSignatureHeader, ams.text(), data);
  auto b = signed64(key, data, error);
  if (!b) return std::nullopt;
  ams.addFree(*b);
  out.messageSignature = ams.text();

  // The ARC-Seal: every earlier set (none when the chain failed), then ours.
  dkim::FieldFolder as(kSealHeader);
  as.add("", instance);
  as.add(" ", "cv=" + std::string(toString(request.cv)) + ";");
  as.add(" ", algorithm);
  as.add(" ", "d=" + request.key->domain + ";");
  as.add(" ", "s=" + request.key->selector + ";");
  as.add(" ", t);
  as.add(" ", "b=");
  data.clear();
  if (request.cv != ChainStatus::Fail) {
    for (const auto& set : chain.fields) {
      for (const size_t index : set) {
        const auto& [name, value] = message.headers()[index];
        dkim::canonicalHeader(Canonicalization::Relaxed, name, value, data);
      }
    }
  }
  dkim::canonicalHeader(Canonicalization::Relaxed, kAuthResultsHeader, out.authResults, data);
  dkim::canonicalHeader(Canonicalization::Relaxed, kMessageSignatureHeader, out.messageSignature, data);
  dkim::canonicalHeader(Canonicalization::Relaxed, kSealHeader, as.text(), data);
  b = signed64(key, data, error);
  if (!b) return std::nullopt;
  as.addFree(*b);
  out.seal = as.text();
  return out;
}

}  // namespace authmilter::arc
