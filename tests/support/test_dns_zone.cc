// The test DNS server's zone data (test_dns_zone.h): zone text parsed line by line with ldns
// (parentheses spanning lines, $ORIGIN, $TTL, owner reuse, '!' directives), and answers
// looked up in it, following CNAMEs, with NXDOMAIN and the closest SOA for negative answers.
#include "test_dns_zone.h"

#include <charconv>
#include <cstdint>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "authmilter/util/strings.h"

namespace authmilter::testsupport::testdns {

namespace {

constexpr uint32_t kDefaultTtl = 300;
constexpr int kMaxCnameHops = 10;

std::vector<std::string> splitWords(const std::string& s) {
  std::vector<std::string> words;
  std::istringstream in(s);
  std::string word;
  while (in >> word) words.push_back(word);
  return words;
}

// Removes a ';' comment, minding quotes and backslash escapes.
std::string stripComment(const std::string& line) {
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ';' && !quoted) {
      return line.substr(0, i);
    }
  }
  return line;
}

// Opening minus closing parentheses outside quotes.
int parenBalance(const std::string& text) {
  bool quoted = false;
  int balance = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '(') {
      ++balance;
    } else if (!quoted && c == ')') {
      --balance;
    }
  }
  return balance;
}

class ZoneParser {
 public:
  ZoneParser() : origin_(ldns_dname_new_frm_str(".")) {
    if (!origin_) throw std::runtime_error("TestDnsServer: out of memory");
  }

  std::shared_ptr<const Zone> parse(const std::string& text) {
    auto zone = std::make_shared<Zone>();
    std::istringstream in(text);
    std::string line;
    int lineNo = 0;
    std::string pending;  // a record whose parentheses span lines
    int pendingLine = 0;
    int balance = 0;
    while (std::getline(in, line)) {
      ++lineNo;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      line_ = line;
      const std::string code = stripComment(line);
      if (pending.empty()) {
        const std::string trimmed(util::trim(code));
        if (trimmed.empty()) continue;
        if (trimmed[0] == '!') {
          parseDirective(*zone, trimmed, lineNo);
          continue;
        }
        if (trimmed[0] == '$') {
          parseControl(trimmed, lineNo);
          continue;
        }
        pending = code;
        pendingLine = lineNo;
        balance = parenBalance(code);
      } else {
        pending += ' ';
        pending += code;
        balance += parenBalance(code);
      }
      if (balance <= 0) {
        parseRecord(*zone, pending, pendingLine);
        pending.clear();
      }
    }
    if (!pending.empty()) fail(pendingLine, "unclosed parenthesis", pending);
    for (const auto& [owner, rrs] : zone->records) {
      addNameAndAncestors(*zone, ldns_rr_owner(rrs.front().get()));
    }
    return zone;
  }

 private:
  [[noreturn]] static void fail(int lineNo, const std::string& what, const std::string& text) {
    throw std::runtime_error("TestDnsServer: zone line " + std::to_string(lineNo) + ": " + what + ": " +
                             std::string(util::trim(text)));
  }

  // A name as written, relative to the origin unless it ends in a dot.
  RdfPtr parseName(const std::string& text, int lineNo) {
    RdfPtr name(ldns_dname_new_frm_str(text.c_str()));
    if (!name) fail(lineNo, "bad domain name '" + text + "'", line_);
    if (!ldns_dname_str_absolute(text.c_str()) && ldns_dname_cat(name.get(), origin_.get()) != LDNS_STATUS_OK) {
      fail(lineNo, "domain name too long '" + text + "'", line_);
    }
    return name;
  }

  void parseControl(const std::string& text, int lineNo) {
    const auto words = splitWords(text);
    const std::string keyword = toUpper(words[0]);
    if (keyword == "$ORIGIN") {
      if (words.size() != 2) fail(lineNo, "$ORIGIN takes one name", text);
      origin_ = parseName(words[1], lineNo);
    } else if (keyword == "$TTL") {
      if (words.size() != 2) fail(lineNo, "$TTL takes one value", text);
      const char* end = nullptr;
      const uint32_t ttl = ldns_str2period(words[1].c_str(), &end);
      if (end == words[1].c_str() || *end != '\0') fail(lineNo, "bad $TTL value", text);
      defaultTtl_ = ttl;
    } else {
      fail(lineNo, "unsupported control entry " + words[0], text);
    }
  }

  void parseDirective(Zone& zone, const std::string& text, int lineNo) {
    const auto words = splitWords(text);
    Directive d{};
    size_t next = 1;
    const std::string keyword = util::toLower(words[0]);
    if (keyword == "!drop") {
      d.action = Action::Drop;
    } else if (keyword == "!servfail") {
      d.action = Action::Servfail;
    } else if (keyword == "!refused") {
      d.action = Action::Refused;
    } else if (keyword == "!truncate") {
      d.action = Action::Truncate;
    } else if (keyword == "!tcpfail") {
      d.action = Action::TcpFail;
    } else if (keyword == "!delay") {
      d.action = Action::Delay;
      if (words.size() < 2) fail(lineNo, "!delay needs MS NAME [TYPE]", text);
      const std::string& ms = words[1];
      const auto [end, ec] = std::from_chars(ms.data(), ms.data() + ms.size(), d.delayMs);
      if (ec != std::errc() || end != ms.data() + ms.size() || d.delayMs < 0) {
        fail(lineNo, "bad delay '" + ms + "'", text);
      }
      next = 2;
    } else {
      fail(lineNo, "unknown directive " + words[0], text);
    }
    if (words.size() < next + 1 || words.size() > next + 2) fail(lineNo, words[0] + " takes NAME [TYPE]", text);
    d.name = canonicalName(parseName(words[next], lineNo).get());
    if (words.size() == next + 2) {
      const ldns_rr_type type = ldns_get_rr_type_by_name(words[next + 1].c_str());
      if (type == 0) fail(lineNo, "unknown type '" + words[next + 1] + "'", text);
      d.type = type;
    }
    zone.directives.push_back(std::move(d));
  }

  void parseRecord(Zone& zone, std::string text, int lineNo) {
    if (text[0] == ' ' || text[0] == '\t') {
      // No owner: the previous record's.
      if (previousOwner_.empty()) fail(lineNo, "record without owner name and no previous record", text);
      text = previousOwner_ + text;
    }
    ldns_rr* parsed = nullptr;
    const ldns_status status = ldns_rr_new_frm_str(&parsed, text.c_str(), defaultTtl_, origin_.get(), nullptr);
    RrPtr rr(parsed);
    if (status != LDNS_STATUS_OK || !rr) {
      fail(lineNo, status != LDNS_STATUS_OK ? ldns_get_errorstr_by_id(status) : "cannot parse", text);
    }
    if (ldns_rr_get_class(rr.get()) != LDNS_RR_CLASS_IN) fail(lineNo, "only class IN is served", text);
    if (ldns_rr_get_type(rr.get()) == LDNS_RR_TYPE_OPT) fail(lineNo, "OPT is not a record type", text);
    char* owner = ldns_rdf2str(ldns_rr_owner(rr.get()));
    if (owner != nullptr) {
      previousOwner_ = owner;
      free(owner);
    }
    zone.records[canonicalName(ldns_rr_owner(rr.get()))].push_back(std::move(rr));
  }

  static void addNameAndAncestors(Zone& zone, const ldns_rdf* owner) {
    zone.names.insert(canonicalName(owner));
    RdfPtr current(ldns_dname_left_chop(owner));
    while (current) {
      if (!zone.names.insert(canonicalName(current.get())).second) break;  // ancestors known too
      if (ldns_dname_label_count(current.get()) == 0) break;
      current.reset(ldns_dname_left_chop(current.get()));
    }
  }

  RdfPtr origin_;
  uint32_t defaultTtl_ = kDefaultTtl;
  std::string previousOwner_;
  std::string line_;
};

void pushClone(ldns_pkt* reply, ldns_pkt_section section, const ldns_rr* rr) {
  ldns_pkt_push_rr(reply, section, ldns_rr_clone(rr));
}

}  // namespace

std::string toUpper(std::string s) {
  for (char& c : s) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return s;
}

std::string canonicalName(const ldns_rdf* dname) {
  char* text = ldns_rdf2str(dname);
  if (text == nullptr) return "";
  std::string result = util::toLower(text);
  free(text);
  return result;
}

std::shared_ptr<const Zone> parseZone(const std::string& text) { return ZoneParser().parse(text); }

void resolve(const Zone& zone, const ldns_rdf* qname, ldns_rr_type qtype, ldns_pkt* reply) {
  const ldns_rdf* current = qname;  // points into the query or the zone, both outlive this
  std::string name = canonicalName(current);
  std::set<std::string> seen{name};
  for (int hops = 0;; ++hops) {
    const auto it = zone.records.find(name);
    const ldns_rr* cname = nullptr;
    bool found = false;
    if (it != zone.records.end()) {
      for (const auto& rr : it->second) {
        const ldns_rr_type type = ldns_rr_get_type(rr.get());
        if (type == qtype || qtype == LDNS_RR_TYPE_ANY) {
          pushClone(reply, LDNS_SECTION_ANSWER, rr.get());
          found = true;
        } else if (type == LDNS_RR_TYPE_CNAME && cname == nullptr) {
          cname = rr.get();
        }
      }
    }
    if (found) return;
    if (cname != nullptr && qtype != LDNS_RR_TYPE_CNAME) {
      const ldns_rdf* target = ldns_rr_rdf(cname, 0);
      if (hops == kMaxCnameHops || target == nullptr) return;
      pushClone(reply, LDNS_SECTION_ANSWER, cname);
      name = canonicalName(target);
      current = target;
      if (!seen.insert(name).second) return;  // a loop: stop where it closes
      continue;
    }
    if (zone.names.count(name) == 0) ldns_pkt_set_rcode(reply, LDNS_RCODE_NXDOMAIN);
    if (const ldns_rr* soa = zone.closestSoa(current)) pushClone(reply, LDNS_SECTION_AUTHORITY, soa);
    return;
  }
}

}  // namespace authmilter::testsupport::testdns
