// Strict RFC 8601 §2.2 reader (see the header). A recursive-descent parser over the ABNF;
// every production is a method of Reader that returns false (with the position noted)
// when the input does not match.
#include "resinfo_reader.h"

namespace authmilter::fuzz {

namespace {

bool alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool wsp(char c) { return c == ' ' || c == '\t'; }
bool high(char c) { return static_cast<unsigned char>(c) >= 0x80; }  // RFC 6532 UTF-8
// RFC 2045 token characters: printable ASCII but SPACE and tspecials.
bool tokenChar(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && std::string_view("()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}
// RFC 5322 atext.
bool atext(char c) { return alpha(c) || digit(c) || std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos; }

class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  std::optional<ReadAuthResults> payload(std::string* error) {
    ReadAuthResults out;
    cfws(nullptr);
    if (!value(&out.authservId) || out.authservId.empty()) return fail(error, "authserv-id");
    cfws(nullptr);
    // authres-version = 1*DIGIT [CFWS]
    while (at() && digit(peek())) ++i_;
    cfws(nullptr);
    if (!eat(';')) return fail(error, "';' after the authserv-id");
    cfws(nullptr);
    if (s_.substr(i_, 4) == "none") {
      i_ += 4;
      cfws(nullptr);
      if (at()) return fail(error, "text after none");
      out.none = true;
      return out;
    }
    while (true) {
      ReadResult r;
      if (!resinfo(r)) return fail(error, "resinfo");
      out.results.push_back(std::move(r));
      if (!at()) break;
      if (!eat(';')) return fail(error, "';' between results");
      cfws(nullptr);
    }
    return out;
  }

 private:
  bool at() const { return i_ < s_.size(); }
  char peek() const { return s_[i_]; }
  bool eat(char c) {
    if (!at() || peek() != c) return false;
    ++i_;
    return true;
  }
  std::nullopt_t fail(std::string* error, const char* what) {
    *error = std::string("bad ") + what + " at byte " + std::to_string(i_);
    return std::nullopt;
  }

  // FWS = ([*WSP LF-or-CRLF] 1*WSP); a line break must be followed by WSP.
  bool fws() {
    const size_t start = i_;
    while (at() && wsp(peek())) ++i_;
    const size_t beforeBreak = i_;
    if (eat('\r') && !(at() && peek() == '\n')) {
      i_ = beforeBreak;
      return i_ > start;
    }
    if (eat('\n')) {
      if (!(at() && wsp(peek()))) {
        i_ = beforeBreak;
        return i_ > start;
      }
      while (at() && wsp(peek())) ++i_;
    } else {
      i_ = beforeBreak;
    }
    return i_ > start;
  }

  // comment = "(" *([FWS] ccontent) [FWS] ")"; the text inside, quoted-pairs undone.
  bool comment(std::string* text) {
    if (!eat('(')) return false;
    std::string inner;
    while (true) {
      const size_t before = i_;
      if (fws()) inner.append(s_.substr(before, i_ - before));
      if (!at()) return false;
      const char c = peek();
      if (c == ')') {
        ++i_;
        break;
      }
      if (c == '(') {
        std::string nested;
        if (!comment(&nested)) return false;
        inner += "(" + nested + ")";
      } else if (c == '\\') {
        ++i_;
        if (!at() || !(static_cast<unsigned char>(peek()) > 0x20 || wsp(peek()))) return false;
        inner.push_back(s_[i_++]);
      } else if ((static_cast<unsigned char>(c) > 0x20 && c != 0x7f) || high(c)) {
        inner.push_back(c);
        ++i_;
      } else {
        return false;
      }
    }
    if (text) *text = std::move(inner);
    return true;
  }

  // CFWS; the first comment's text goes to *firstComment if it is still empty.
  void cfws(std::string* firstComment) {
    bool seen = false;
    while (true) {
      if (fws()) continue;
      if (at() && peek() == '(') {
        std::string text;
        const size_t before = i_;
        if (!comment(&text)) {
          i_ = before;
          return;
        }
        if (firstComment && !seen) *firstComment = std::move(text);
        seen = true;
        continue;
      }
      return;
    }
  }

  // quoted-string = DQUOTE *([FWS] qcontent) [FWS] DQUOTE; the content, quoted-pairs undone.
  bool quotedString(std::string* out) {
    if (!eat('"')) return false;
    while (true) {
      const size_t before = i_;
      if (fws()) out->append(s_.substr(before, i_ - before));
      if (!at()) return false;
      const char c = peek();
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c == '\\') {
        ++i_;
        if (!at() || !(static_cast<unsigned char>(peek()) > 0x20 || wsp(peek()))) return false;
        out->push_back(s_[i_++]);
      } else if ((static_cast<unsigned char>(c) > 0x20 && c != 0x7f) || high(c)) {
        out->push_back(c);
        ++i_;
      } else {
        return false;
      }
    }
  }

  // value = token / quoted-string
  bool value(std::string* out) {
    if (at() && peek() == '"') return quotedString(out);
    const size_t start = i_;
    while (at() && tokenChar(peek())) ++i_;
    out->assign(s_.substr(start, i_ - start));
    return i_ > start;
  }

  // Keyword = ldh-str = *( ALPHA / DIGIT / "-" ) Let-dig, starting with a letter or digit.
  bool keyword(std::string* out) {
    const size_t start = i_;
    while (at() && (alpha(peek()) || digit(peek()) || peek() == '-')) ++i_;
    if (i_ == start || s_[start] == '-' || s_[i_ - 1] == '-') return false;
    out->assign(s_.substr(start, i_ - start));
    return true;
  }

  // sub-domain *("." sub-domain), each sub-domain a Keyword.
  bool domainName(std::string* out) {
    std::string label;
    if (!keyword(&label)) return false;
    *out = label;
    while (at() && peek() == '.') {
      ++i_;
      if (!keyword(&label)) return false;
      *out += "." + label;
    }
    return true;
  }

  // dot-atom-text
  bool dotAtom(std::string* out) {
    const size_t start = i_;
    while (true) {
      const size_t atom = i_;
      while (at() && atext(peek())) ++i_;
      if (i_ == atom) return false;
      if (!(at() && peek() == '.')) break;
      ++i_;
    }
    out->assign(s_.substr(start, i_ - start));
    return true;
  }

  // pvalue = [CFWS] ( value / [ [ local-part ] "@" ] domain-name ) [CFWS]: the longest
  // reading that is followed by CFWS, ';' or the end.
  bool pvalue(std::string* out) {
    cfws(nullptr);
    const size_t start = i_;
    auto ends = [&] { return !at() || wsp(peek()) || peek() == '\r' || peek() == '\n' || peek() == ';' || peek() == '('; };
    // [local-part] "@" domain-name
    std::string local;
    bool localOk = at() && peek() == '@';
    if (!localOk && at() && peek() == '"') localOk = quotedString(&local) && at() && peek() == '@';
    if (!localOk) {
      i_ = start;
      localOk = dotAtom(&local) && at() && peek() == '@';
    }
    if (localOk && eat('@')) {
      std::string domain;
      if (domainName(&domain) && ends()) {
        *out = local + "@" + domain;
        cfws(nullptr);
        return true;
      }
    }
    i_ = start;
    out->clear();
    if (!value(out) || !ends()) return false;
    cfws(nullptr);
    return true;
  }

  // resinfo (after the ';'): methodspec [CFWS reasonspec] [CFWS 1*propspec]
  bool resinfo(ReadResult& r) {
    if (!keyword(&r.method)) return false;
    cfws(nullptr);
    if (!eat('=')) return false;
    cfws(nullptr);
    if (!keyword(&r.result)) return false;
    const size_t afterResult = i_;
    cfws(&r.comment);
    const bool blank = i_ > afterResult;
    if (!at() || peek() == ';') return true;
    if (!blank) return false;
    if (s_.substr(i_, 6) == "reason") {
      const size_t save = i_;
      i_ += 6;
      cfws(nullptr);
      if (eat('=')) {
        cfws(nullptr);
        std::string reason;
        if (!value(&reason)) return false;
        r.reason = std::move(reason);
        const size_t afterReason = i_;
        cfws(nullptr);
        if (!at() || peek() == ';') return true;
        if (i_ == afterReason) return false;
      } else {
        i_ = save;
      }
    }
    while (at() && peek() != ';') {
      std::string ptype, property, v;
      if (!keyword(&ptype)) return false;
      cfws(nullptr);
      if (!eat('.')) return false;
      cfws(nullptr);
      if (!keyword(&property)) return false;
      cfws(nullptr);
      if (!eat('=')) return false;
      const size_t before = i_;
      if (!pvalue(&v)) return false;
      r.properties.emplace_back(ptype + "." + property, std::move(v));
      if (at() && peek() != ';' && i_ == before) return false;
    }
    return true;
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

std::optional<ReadAuthResults> readAuthResults(std::string_view value, std::string* error) {
  return Reader(value).payload(error);
}

}  // namespace authmilter::fuzz
