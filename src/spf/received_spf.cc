// Received-SPF (RFC 7208 §9.1): the result, a comment a person can read, key=value pairs.
// DNS text (explanations, problems) and sender input go through here: only printable
// ASCII survives, values are quoted unless they are a plain dot-atom, and a comment cannot
// be closed early, so nothing from outside can add a header line.
#include "authmilter/spf/spf.h"

#include <string>

namespace authmilter::spf {

namespace {

bool isAtext(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

// RFC 5322 dot-atom, else quoted-string.
std::string value(std::string_view v) {
  bool atom = !v.empty() && v.front() != '.' && v.back() != '.' && v.find("..") == std::string_view::npos;
  for (char c : v) atom = atom && (isAtext(c) || c == '.');
  if (atom) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    if (c < 0x20 || c > 0x7e) continue;
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "\"";
}

// Comment text: printable ASCII, parentheses and backslashes escaped.
std::string commentText(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c < 0x20 || c > 0x7e) continue;
    if (c == '(' || c == ')' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::string formatReceivedSpf(const CheckResult& r, const net::IpAddress& ip, std::string_view helo,
                              std::string_view mailFrom, std::string_view receiver) {
  const std::string address = ip.toString();
  const std::string who = r.sender.empty() ? r.domain : r.sender;
  std::string comment;
  switch (r.result) {
    case Result::Pass: comment = "domain of " + who + " designates " + address + " as permitted sender"; break;
    case Result::Fail: comment = "domain of " + who + " does not designate " + address + " as permitted sender"; break;
    case Result::SoftFail:
      comment = "domain of transitioning " + who + " does not designate " + address + " as permitted sender";
      break;
    case Result::Neutral: comment = address + " is neither permitted nor denied by domain of " + who; break;
    case Result::None: comment = "domain of " + who + " does not provide an SPF record"; break;
    case Result::TempError:
    case Result::PermError: comment = "error in processing during lookup of " + who; break;
  }
  std::string out(toString(r.result));
  out += " (" + commentText(std::string(receiver) + ": " + comment) + ")";
  auto pair = [&out](std::string_view key, std::string_view v, bool last = false) {
    out += "\n\t";
    out += key;
    out += "=";
    out += value(v);
    if (!last) out += ";";
  };
  pair("receiver", receiver);
  pair("client-ip", address);
  pair("envelope-from", mailFrom);
  pair("helo", helo);
  if (!r.problem.empty()) pair("problem", r.problem);
  if (!r.mechanism.empty()) pair("mechanism", r.mechanism);
  pair("identity", r.identity, true);
  return out;
}

}  // namespace authmilter::spf
