// The log line writer (see the header).
#include "authmilter/report/log_line.h"

#include "authmilter/util/strings.h"

namespace authmilter::report {

void appendLogField(std::string& line, std::string_view key, std::string_view value) {
  line.append(" ").append(key).append("=");
  if (!value.empty() && value.find_first_of(" \t\"") == std::string_view::npos) {
    line.append(util::sanitize(value));
    return;
  }
  line.push_back('"');
  for (char c : util::sanitize(value)) {
    if (c == '"' || c == '\\') line.push_back('\\');
    line.push_back(c);
  }
  line.push_back('"');
}

namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

void skipped(Fields& f, const char* check, pipeline::Skip why) {
  f.emplace_back(check, "skipped");
  f.emplace_back(std::string(check) + "_skip", std::string(pipeline::toString(why)));
}

// "spf", "dkim:example.com", "spf,dkim:example.com", or "none".
std::string alignedBy(const dmarc::Outcome& o) {
  std::string out = o.spfAligned ? "spf" : "";
  for (const auto& d : o.dkimAligned) out += (out.empty() ? "dkim:" : ",dkim:") + d;
  return out.empty() ? "none" : out;
}

void spf(Fields& f, const pipeline::SpfOutcome& s) {
  if (s.skipped != pipeline::Skip::None) return skipped(f, "spf", s.skipped);
  f.emplace_back("spf", std::string(pipeline::toString(s.mailFrom.result)));
  if (s.helo) f.emplace_back("spf_helo", std::string(pipeline::toString(s.helo->result)));
  const std::string& why = s.mailFrom.problem.empty() ? s.mailFrom.mechanism : s.mailFrom.problem;
  if (!why.empty()) f.emplace_back("spf_why", why);
  if (!s.mailFrom.explanation.empty()) f.emplace_back("spf_exp", s.mailFrom.explanation);
}

void dkim(Fields& f, const pipeline::DkimOutcome& d) {
  if (d.skipped != pipeline::Skip::None) return skipped(f, "dkim", d.skipped);
  std::string summary, why;
  for (const auto& s : d.signatures) {
    if (!summary.empty()) summary += ' ';
    summary += std::string(pipeline::toString(s.result)) + ":" + (s.domain.empty() ? "-" : s.domain);
    if (!s.reason.empty()) why += (why.empty() ? "" : "; ") + (s.domain.empty() ? "" : s.domain + ": ") + s.reason;
  }
  f.emplace_back("dkim", summary.empty() ? "none" : summary);
  if (!why.empty()) f.emplace_back("dkim_why", why);
  if (d.unchecked > 0) f.emplace_back("dkim_unchecked", std::to_string(d.unchecked));
}

void dmarc(Fields& f, const pipeline::DmarcOutcome& d) {
  if (d.skipped != pipeline::Skip::None) return skipped(f, "dmarc", d.skipped);
  if (!d.malformedFrom.empty()) {
    f.emplace_back("dmarc", "permerror");
    f.emplace_back("dmarc_why", d.malformedFrom);
    return;
  }
  if (!d.evaluation) return;
  const dmarc::Outcome& o = *d.evaluation;
  f.emplace_back("dmarc", std::string(dmarc::toString(o.result)));
  f.emplace_back("dmarc_from", o.authorDomain);
  if (o.record) {
    f.emplace_back("dmarc_record", "_dmarc." + o.policyDomain);
    if (o.result == dmarc::Result::Pass || o.result == dmarc::Result::Fail) f.emplace_back("dmarc_align", alignedBy(o));
  }
  if (o.result == dmarc::Result::Fail) {
    f.emplace_back("dmarc_policy", o.policyTag + "=" + std::string(dmarc::toString(o.policy)));
    std::string disposition(dmarc::toString(o.disposition));
    if (!o.lowered.empty()) disposition += " (" + o.lowered + ")";
    f.emplace_back("dmarc_dis", disposition);
    if (d.override) {
      f.emplace_back("dmarc_action", "none (" + d.override->type + ": " + d.override->comment + ")");
    } else if (d.applied != o.disposition) {
      f.emplace_back("dmarc_action", "none (RejectFailures no)");
    }
  }
  if (!o.reason.empty()) f.emplace_back("dmarc_why", o.reason);
}

// arc=pass arc_sets=2 arc_oldest_pass=0
//   arc_chain="1:lists.example:cv=none:ams=pass:as=pass 2:fwd.example:cv=pass:ams=pass:as=pass"
// Only for a message that carries ARC header fields (as in Authentication-Results).
void arc(Fields& f, const pipeline::ArcOutcome& a) {
  if (a.skipped != pipeline::Skip::None || !a.carried) return;
  f.emplace_back("arc", std::string(pipeline::toString(a.result)));
  if (a.sets > 0) f.emplace_back("arc_sets", std::to_string(a.sets));
  if (a.result == pipeline::AuthStatus::Pass) f.emplace_back("arc_oldest_pass", std::to_string(a.oldestPass));
  std::string chain;
  for (const auto& s : a.chain) {
    if (!chain.empty()) chain += ' ';
    chain += std::to_string(s.instance) + ":" + s.domain + ":cv=" + s.cv + ":ams=" + s.ams + ":as=" + s.seal;
  }
  if (!chain.empty()) f.emplace_back("arc_chain", chain);
  if (!a.reason.empty()) f.emplace_back("arc_why", a.reason);
}

void arcSeal(Fields& f, const pipeline::ArcSealOutcome& s) {
  switch (s.kind) {
    case pipeline::ArcSealOutcome::Kind::Sealed:
      f.emplace_back("arc_seal", "i=" + std::to_string(s.instance) + " cv=" + s.cv + " d=" + s.domain + " s=" + s.selector);
      return;
    case pipeline::ArcSealOutcome::Kind::NotSealed: f.emplace_back("arc_seal", "none"); break;
    case pipeline::ArcSealOutcome::Kind::Failed: f.emplace_back("arc_seal", "error"); break;
  }
  f.emplace_back("arc_seal_why", s.why);
}

void signing(Fields& f, const pipeline::SignOutcome& s) {
  switch (s.kind) {
    case pipeline::SignOutcome::Kind::Signed: {
      std::string names;
      for (const auto& m : s.signatures) {
        names += (names.empty() ? "" : ", ") + ("d=" + m.domain + " s=" + m.selector + " a=" + m.algorithm);
      }
      f.emplace_back("dkim_sign", names);
      return;
    }
    case pipeline::SignOutcome::Kind::NotSigned: f.emplace_back("dkim_sign", "none"); break;
    case pipeline::SignOutcome::Kind::Failed: f.emplace_back("dkim_sign", "error"); break;
  }
  f.emplace_back("dkim_sign_why", s.why);
}

}  // namespace

std::vector<std::pair<std::string, std::string>> logFieldsOf(const pipeline::Message& m) {
  Fields f;
  if (m.trust.trustedNetwork) f.emplace_back("trusted", "yes");
  if (m.trust.ignored) f.emplace_back("ignored", "yes");
  if (m.spf) spf(f, *m.spf);
  if (m.dkim) dkim(f, *m.dkim);
  if (m.arc) arc(f, *m.arc);
  if (m.dmarc) dmarc(f, *m.dmarc);
  if (m.signing) signing(f, *m.signing);
  if (m.arcSeal) arcSeal(f, *m.arcSeal);
  if (m.removedAuthResults > 0) f.emplace_back("removed_ar", std::to_string(m.removedAuthResults));
  if (m.removedLookalikes > 0) f.emplace_back("removed_ar_lookalike", std::to_string(m.removedLookalikes));
  return f;
}

std::string formatLogLine(const pipeline::Connection& connection, const pipeline::Message& m,
                          std::string_view action, std::string_view reason, std::string_view reply) {
  std::string line = m.queueId.empty() ? "NOQUEUE" : m.queueId;
  line += ":";
  appendLogField(line, "client",
                 connection.hostname + "[" + (connection.address ? connection.address->toString() : "unknown") + "]");
  if (!connection.helo.empty()) appendLogField(line, "helo", connection.helo);
  appendLogField(line, "auth", m.authenticated() ? m.authLogin : "-");
  appendLogField(line, "daemon", connection.daemonName.empty() ? "-" : connection.daemonName);
  appendLogField(line, "from", "<" + m.sender.text + ">");
  appendLogField(line, "rcpts", std::to_string(m.recipients.size()));
  if (m.rejectedRecipients > 0) appendLogField(line, "rejected_rcpts", std::to_string(m.rejectedRecipients));
  appendLogField(line, "action", action);
  if (!reason.empty()) appendLogField(line, "reason", reason);
  if (!reply.empty()) appendLogField(line, "reply", reply);
  for (const auto& [key, value] : logFieldsOf(m)) appendLogField(line, key, value);
  return line;
}

}  // namespace authmilter::report
