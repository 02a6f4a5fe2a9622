// Authentication-Results formatting and authserv-id extraction (RFC 8601 §2.2, §5).
#include "authmilter/report/auth_results.h"

#include <algorithm>

#include "authmilter/mail/message_text.h"
#include "authmilter/util/strings.h"

namespace authmilter::report {

namespace {
bool plainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_' || c == '+';
}

std::string quoted(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// Skips folding white space and (nested) comments, RFC 5322 §3.2.2.
size_t skipCfws(std::string_view s, size_t i) {
  while (i < s.size()) {
    const char c = s[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      ++i;
    } else if (c == '(') {
      int depth = 0;
      for (; i < s.size(); ++i) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '(') {
          ++depth;
        } else if (s[i] == ')' && --depth == 0) {
          ++i;
          break;
        }
      }
    } else {
      break;
    }
  }
  return i;
}
}  // namespace

namespace {

// Labels of `s` split at '.', each non-empty and passing `label`.
template <typename Label>
bool dotted(std::string_view s, Label label) {
  while (true) {
    const size_t dot = s.find('.');
    if (!label(s.substr(0, dot))) return false;
    if (dot == std::string_view::npos) return true;
    s.remove_prefix(dot + 1);
  }
}

bool alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }

// RFC 5321 sub-domain: Let-dig [Ldh-str], letters, digits and inner hyphens.
bool subDomain(std::string_view l) {
  if (l.empty() || !alnum(l.front()) || !alnum(l.back())) return false;
  for (char c : l) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
}

}  // namespace

std::string formatPropertyValue(std::string_view value) {
  // pvalue = value / [ [ local-part ] "@" ] domain-name (RFC 8601 §2.2). Plain: a token,
  // or a dot-atom local part (possibly empty: DKIM's header.i "@example.com") '@' a
  // domain-name; "a@exa+mple.com" or "a.@example.com" are neither, so they are quoted.
  const size_t at = value.find('@');
  if (at == std::string_view::npos) {
    return !value.empty() && std::all_of(value.begin(), value.end(), plainChar) ? std::string(value) : quoted(value);
  }
  const std::string_view local = value.substr(0, at);
  const bool plain = (local.empty() || dotted(local, [](std::string_view atom) {
                        return !atom.empty() && std::all_of(atom.begin(), atom.end(), plainChar);
                      })) &&
                     dotted(value.substr(at + 1), subDomain);
  return plain ? std::string(value) : quoted(value);
}

std::string formatAuthResults(std::string_view authservId, const std::vector<pipeline::AuthResult>& results) {
  std::string out(authservId);
  if (results.empty()) return out + "; none";
  for (const auto& r : results) {
    out += ";\n\t" + r.method + "=" + r.result;
    if (!r.comment.empty()) {
      out += " (";
      for (char c : r.comment) {
        const auto u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u != 0x7f && c != '(' && c != ')' && c != '\\') out.push_back(c);
      }
      out += ")";
    }
    if (!r.reason.empty()) out += " reason=" + quoted(r.reason);
    for (const auto& [property, value] : r.properties) out += " " + property + "=" + formatPropertyValue(value);
  }
  return out;
}

std::optional<std::string> authservIdOf(std::string_view value) {
  size_t i = skipCfws(value, 0);
  if (i >= value.size()) return std::nullopt;
  std::string id;
  if (value[i] == '"') {
    for (++i; i < value.size() && value[i] != '"'; ++i) {
      if (value[i] == '\\' && i + 1 < value.size()) ++i;
      id.push_back(value[i]);
    }
  } else {
    for (; i < value.size(); ++i) {
      const char c = value[i];
      if (c == ';' || c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '(') break;
      id.push_back(c);
    }
  }
  if (id.empty()) return std::nullopt;
  return id;
}

namespace {

// A domain name as compared: ASCII lower case, without its final dot.
std::string domainKey(std::string_view name) {
  std::string key = util::toLower(name);
  if (!key.empty() && key.back() == '.') key.pop_back();
  return key;
}

}  // namespace

AuthservIdClaim claimOf(std::string_view value, std::string_view ourId) {
  const auto id = authservIdOf(value);
  if (!id) return AuthservIdClaim::NotOurs;
  const std::string ours = domainKey(ourId);
  if (domainKey(*id) == ours) return AuthservIdClaim::Ours;
  std::string ascii;
  for (char c : *id) {
    if (static_cast<unsigned char>(c) < 0x80) ascii.push_back(c);
  }
  return ascii.size() != id->size() && domainKey(ascii) == ours ? AuthservIdClaim::Suspicious
                                                                 : AuthservIdClaim::NotOurs;
}

namespace {

// "p=reject sp=none dis=reject": the published policy and what this message got.
std::string policyComment(const dmarc::Outcome& o, dmarc::Policy applied,
                          const std::optional<pipeline::PolicyOverride>& override) {
  const dmarc::Record& r = *o.record;
  std::string out = "p=" + std::string(dmarc::toString(r.p));
  if (r.sp != dmarc::Policy::Unset) out += " sp=" + std::string(dmarc::toString(r.sp));
  if (r.np != dmarc::Policy::Unset) out += " np=" + std::string(dmarc::toString(r.np));
  out += " dis=" + std::string(dmarc::toString(applied));
  if (override) out += " override=" + override->type + " " + override->comment;
  return out;
}

pipeline::AuthResult spfResult(const pipeline::SpfCheck& c) {
  pipeline::AuthResult ar{"spf", std::string(pipeline::toString(c.result)), {}, {{c.property, c.value}}};
  if (c.result == pipeline::AuthStatus::TempError || c.result == pipeline::AuthStatus::PermError) ar.reason = c.problem;
  return ar;
}

}  // namespace

pipeline::AuthResult arcAuthResult(const pipeline::ArcOutcome& arc) {
  pipeline::AuthResult ar{"arc", std::string(pipeline::toString(arc.result)), arc.reason, {}};
  if (arc.result == pipeline::AuthStatus::Pass) ar.properties.emplace_back("header.oldest-pass", std::to_string(arc.oldestPass));
  if (!arc.remoteIp.empty()) ar.properties.emplace_back("smtp.remote-ip", arc.remoteIp);
  return ar;
}

std::vector<pipeline::AuthResult> authResultsOf(const pipeline::Message& m) {
  using pipeline::Skip;
  std::vector<pipeline::AuthResult> out;
  if (m.authenticated()) out.push_back({"auth", "pass", "", {{"smtp.auth", m.authLogin}}});
  if (m.spf && m.spf->skipped == Skip::None) {
    out.push_back(spfResult(m.spf->mailFrom));
    if (m.spf->helo) out.push_back(spfResult(*m.spf->helo));
  }
  if (m.dkim && m.dkim->skipped == Skip::None) {
    for (const auto& d : m.dkim->signatures) {
      pipeline::AuthResult ar{"dkim", std::string(pipeline::toString(d.result)), d.reason, {}};
      if (!d.domain.empty()) ar.properties.emplace_back("header.d", d.domain);
      if (!d.identity.empty()) ar.properties.emplace_back("header.i", d.identity);
      if (!d.selector.empty()) ar.properties.emplace_back("header.s", d.selector);
      if (!d.algorithm.empty()) ar.properties.emplace_back("header.a", d.algorithm);
      if (!d.bPrefix.empty()) ar.properties.emplace_back("header.b", d.bPrefix);
      out.push_back(std::move(ar));
    }
    if (m.dkim->signatures.empty()) out.push_back({"dkim", "none", {}, {}});
  }
  if (m.arc && m.arc->skipped == Skip::None && m.arc->carried) out.push_back(arcAuthResult(*m.arc));
  if (m.dmarc && m.dmarc->skipped == Skip::None) {
    if (!m.dmarc->malformedFrom.empty()) {
      out.push_back({"dmarc", "permerror", m.dmarc->malformedFrom, {}});
    } else if (const auto& o = m.dmarc->evaluation) {
      pipeline::AuthResult ar{"dmarc", std::string(dmarc::toString(o->result)), {}, {{"header.from", o->authorDomain}}};
      if (o->result == dmarc::Result::TempError || o->result == dmarc::Result::PermError) ar.reason = o->reason;
      if (o->record && o->result != dmarc::Result::PermError) ar.comment = policyComment(*o, m.dmarc->applied, m.dmarc->override);
      out.push_back(std::move(ar));
    }
  }
  return out;
}

void ForgedAuthResults::header(std::string_view name, std::string_view value) {
  if (!mail::isHeaderNamed(name, kAuthResultsHeader)) return;
  ++seen_;
  const auto claim = claimOf(value, ourId_);
  if (claim != AuthservIdClaim::NotOurs) forged_.push_back(seen_);
  if (claim == AuthservIdClaim::Suspicious) ++lookalikes_;
}

void ForgedAuthResults::clear() {
  seen_ = 0;
  forged_.clear();
  lookalikes_ = 0;
}

}  // namespace authmilter::report
