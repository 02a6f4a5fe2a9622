// The From header as an RFC 5322 address list, and the Author Domain it names.
// A lexer turns the value into words, quoted strings, domain literals and specials, with
// CFWS skipped (comments are walked with a depth counter, not recursion); a parser with one
// token of look-ahead reads the address list from those. Both only move forward, so the
// work is linear in the size of the value whatever it contains.
#include "authmilter/mail/from.h"

#include <algorithm>
#include <cstdio>

#include "authmilter/mail/message_text.h"
#include "authmilter/policy/domain_set.h"
#include "authmilter/util/strings.h"

namespace authmilter::mail {

namespace {
// Legitimate mail nests comments one or two deep; the bound only exists so that a value of
// nothing but '(' is rejected early with a clear reason.
constexpr size_t kMaxCommentDepth = 50;
// How much of the input an error message quotes: enough to find it, short enough for a reply.
constexpr size_t kQuoteBytes = 60;

bool isWsp(char c) { return c == ' ' || c == '\t'; }

// RFC 5322 §3.2.3 atext, plus every byte >= 0x80 (RFC 6532 §3.2: UTF8-non-ascii).
bool isAtext(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x80) return true;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '/': case '=': case '?': case '^': case '_': case '`': case '{': case '|': case '}': case '~':
      return true;
    default:
      return false;
  }
}

// Control characters other than the blanks and line breaks that FWS accounts for. The
// obsolete syntax allows some of them in comments and quoted strings (obs-NO-WS-CTL); no
// mail needs them there and they only serve to make parsers disagree, so they are refused.
bool isControl(char c) {
  const auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f;
}

std::string describeControl(char c) {
  if (c == '\0') return "NUL byte";
  char buf[32];
  std::snprintf(buf, sizeof buf, "control character 0x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
  return buf;
}

bool isContinuation(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629 §4), 0 if there is none.
size_t utf8Length(std::string_view s, size_t i) {
  const auto lead = static_cast<unsigned char>(s[i]);
  size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;  // no UTF-16 surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + length > s.size()) return 0;
  const auto second = static_cast<unsigned char>(s[i + 1]);
  if (second < low || second > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (!isContinuation(s[i + k])) return 0;
  }
  return length;
}

// Text from the message made fit for an SMTP reply and a log line: line breaks and tabs
// become blanks, other control characters '?' (util::sanitize), and every character outside
// ASCII one '?' (a well-formed UTF-8 sequence counts as one character).
std::string printable(std::string_view s) {
  std::string blanked(s);
  for (char& c : blanked) {
    if (c == '\r' || c == '\n' || c == '\t') c = ' ';
  }
  const std::string clean = util::sanitize(blanked);
  std::string out;
  out.reserve(clean.size());
  for (size_t i = 0; i < clean.size();) {
    if (static_cast<unsigned char>(clean[i]) < 0x80) {
      out.push_back(clean[i++]);
      continue;
    }
    // SMTP reply text is ASCII (RFC 5321 §4.2): one '?' per character outside it.
    const size_t length = utf8Length(clean, i);
    out.push_back('?');
    i += length == 0 ? 1 : length;
  }
  return out;
}

// s[begin, end) printable, with "..." where it was cut. Cuts move to character boundaries.
std::string excerpt(std::string_view s, size_t begin, size_t end) {
  for (int k = 0; k < 3 && begin > 0 && begin < s.size() && isContinuation(s[begin]); ++k) ++begin;
  for (int k = 0; k < 3 && end > begin && end < s.size() && isContinuation(s[end]); ++k) --end;
  return (begin > 0 ? "..." : "") + printable(s.substr(begin, end - begin)) + (end < s.size() ? "..." : "");
}

// At most kQuoteBytes of `s`, printable.
std::string quote(std::string_view s) { return excerpt(s, 0, std::min(s.size(), kQuoteBytes)); }

enum class TokenKind {
  End,      // the value is used up
  Error,    // the lexer failed; Parser::error_ says why
  Atom,     // 1*atext
  Quoted,   // quoted-string; text without the quotes and quoted-pair backslashes
  Literal,  // domain-literal; text with the brackets, without blanks
  Special,  // one of < > @ , ; : .
};

struct Token {
  TokenKind kind = TokenKind::End;
  char special = 0;
  std::string text;
  size_t begin = 0;  // offset in the value, for error messages
};

// Words and dots read in a row: a display name, a local part, or (without '@') neither.
struct Words {
  std::string text;          // words (unquoted) and dots, CFWS left out
  size_t count = 0;          // number of words
  bool adjacent = false;     // two words without a dot between them: a phrase, not a local part
  bool leadingDot = false;   // the first token was a '.'
  size_t begin = 0;
  bool empty() const { return text.empty() && count == 0; }
};

class Parser {
 public:
  explicit Parser(std::string_view value) : in_(value) {}

  bool parse(std::vector<Mailbox>* out) {
    advance();
    // obs-addr-list: empty elements (", ,") are tolerated; an empty list is not an error
    // here, the caller decides what no address means.
    while (token_.kind != TokenKind::End) {
      if (isSpecial(',')) {
        advance();
        continue;
      }
      if (!parseAddress(out, false)) return false;
      if (isSpecial(',')) {
        advance();
      } else if (token_.kind != TokenKind::End) {
        return unexpected("after an address");
      }
    }
    return true;
  }

  const std::string& error() const { return error_; }

 private:
  // ---- Lexer ----

  // Records the first failure only: a lexical error is reported, not the parser's confusion
  // about the Error token it leaves behind.
  bool fail(size_t at, const std::string& what) {
    if (error_.empty()) {
      const size_t begin = at > 40 ? at - 40 : 0;
      const size_t end = std::min(in_.size(), at + 20);
      error_ = what + " in '" + excerpt(in_, begin, end) + "'";
    }
    return false;
  }

  // FWS: blanks, and line breaks that fold (CRLF or LF followed by a blank). The break itself
  // is dropped (RFC 5322 §3.2.2 unfolding); a break that does not fold ends the header, so it
  // cannot be inside a value.
  bool skipFws() {
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (isWsp(c)) {
        ++pos_;
      } else if (c == '\r' || c == '\n') {
        const size_t breakLength = c == '\r' ? 2 : 1;
        if (c == '\r' && (pos_ + 1 >= in_.size() || in_[pos_ + 1] != '\n')) return fail(pos_, "bare CR");
        if (pos_ + breakLength >= in_.size() || !isWsp(in_[pos_ + breakLength])) {
          return fail(pos_, "line break not followed by a blank");
        }
        pos_ += breakLength;
      } else {
        return true;
      }
    }
    return true;
  }

  // quoted-pair (RFC 5322 §3.2.1, RFC 6532 §3.2) at pos_ (the backslash): a printable
  // character, a blank, or a UTF-8 byte may be escaped; nothing else.
  bool quotedPair(char* escaped) {
    if (pos_ + 1 >= in_.size()) return fail(pos_, "'\\' at the end");
    const char c = in_[pos_ + 1];
    if (isControl(c) || c == '\r' || c == '\n') return fail(pos_ + 1, describeControl(c) + " after '\\'");
    *escaped = c;
    pos_ += 2;
    return true;
  }

  // A comment at pos_ (the '('), nested ones included. A depth counter instead of recursion:
  // the nesting has no structure the parser needs.
  bool skipComment() {
    const size_t start = pos_;
    size_t depth = 0;
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c == '(') {
        if (++depth > kMaxCommentDepth) return fail(pos_, "comments nested too deeply");
        ++pos_;
      } else if (c == ')') {
        ++pos_;
        if (--depth == 0) return true;
      } else if (c == '\\') {
        char ignored;
        if (!quotedPair(&ignored)) return false;
      } else if (isWsp(c) || c == '\r' || c == '\n') {
        if (!skipFws()) return false;
      } else if (isControl(c)) {
        return fail(pos_, describeControl(c) + " in a comment");
      } else {
        ++pos_;
      }
    }
    return fail(start, "unterminated comment");
  }

  bool skipCfws() {
    while (true) {
      if (!skipFws()) return false;
      if (pos_ >= in_.size() || in_[pos_] != '(') return true;
      if (!skipComment()) return false;
    }
  }

  // quoted-string at pos_ (the '"'), into token_.text.
  bool lexQuoted() {
    const size_t start = pos_++;
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        char escaped;
        if (!quotedPair(&escaped)) return false;
        token_.text.push_back(escaped);
      } else if (c == '\r' || c == '\n') {
        const size_t before = pos_;
        if (!skipFws()) return false;
        // Unfolded: the blanks after the break stay, the break goes.
        for (size_t i = before; i < pos_; ++i) {
          if (isWsp(in_[i])) token_.text.push_back(in_[i]);
        }
      } else if (isControl(c)) {
        return fail(pos_, describeControl(c) + " in a quoted string");
      } else {
        token_.text.push_back(c);
        ++pos_;
      }
    }
    return fail(start, "unterminated quoted string");
  }

  // domain-literal at pos_ (the '['), into token_.text with the brackets and without blanks.
  bool lexLiteral() {
    const size_t start = pos_++;
    token_.text.push_back('[');  // token_.text is empty: advance() reset the token
    while (pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c == ']') {
        ++pos_;
        token_.text.push_back(']');
        return true;
      }
      if (c == '[') return fail(pos_, "'[' inside a domain literal");
      if (c == '\\') {  // obs-dtext
        char escaped;
        if (!quotedPair(&escaped)) return false;
        if (!isWsp(escaped)) token_.text.push_back(escaped);  // a quoted blank is a blank
      } else if (isWsp(c) || c == '\r' || c == '\n') {
        if (!skipFws()) return false;
      } else if (isControl(c)) {
        return fail(pos_, describeControl(c) + " in a domain literal");
      } else {
        token_.text.push_back(c);
        ++pos_;
      }
    }
    return fail(start, "unterminated domain literal");
  }

  // Moves to the next token. On a lexical error the token is Error, which nothing in the
  // grammar accepts, so the parse stops there with the lexer's reason.
  void advance() {
    if (token_.kind == TokenKind::Error) return;
    token_ = Token{};
    if (!skipCfws()) {
      token_.kind = TokenKind::Error;
      return;
    }
    token_.begin = pos_;
    if (pos_ >= in_.size()) return;  // End
    const char c = in_[pos_];
    bool ok = true;
    if (isAtext(c)) {
      const size_t start = pos_;
      while (pos_ < in_.size() && isAtext(in_[pos_])) ++pos_;
      token_.kind = TokenKind::Atom;
      token_.text.assign(in_.substr(start, pos_ - start));
    } else if (c == '"') {
      token_.kind = TokenKind::Quoted;
      ok = lexQuoted();
    } else if (c == '[') {
      token_.kind = TokenKind::Literal;
      ok = lexLiteral();
    } else if (c == '<' || c == '>' || c == '@' || c == ',' || c == ';' || c == ':' || c == '.') {
      token_.kind = TokenKind::Special;
      token_.special = c;
      ++pos_;
    } else if (c == ')') {
      ok = fail(pos_, "unbalanced ')'");
    } else if (c == ']') {
      ok = fail(pos_, "stray ']'");
    } else if (c == '\\') {
      ok = fail(pos_, "'\\' outside a quoted string");
    } else {
      ok = fail(pos_, describeControl(c));
    }
    if (!ok) token_.kind = TokenKind::Error;
  }

  // ---- Parser ----

  bool isSpecial(char c) const { return token_.kind == TokenKind::Special && token_.special == c; }
  bool isWord() const { return token_.kind == TokenKind::Atom || token_.kind == TokenKind::Quoted; }

  // The current token is not what the grammar allows here.
  bool unexpected(std::string_view where) {
    std::string what;
    switch (token_.kind) {
      case TokenKind::End: what = "unexpected end"; break;
      case TokenKind::Error: return false;  // the lexer has said why
      case TokenKind::Atom: what = "unexpected word"; break;
      case TokenKind::Quoted: what = "unexpected quoted string"; break;
      case TokenKind::Literal: what = "unexpected domain literal"; break;
      case TokenKind::Special:
        what = (token_.special == '<' || token_.special == '>' || token_.special == ';' ? "stray '" : "unexpected '") +
               std::string(1, token_.special) + "'";
        break;
    }
    return fail(token_.begin, what + " " + std::string(where));
  }

  // Words and dots in a row (phrase, obs-phrase, local-part, obs-local-part all look alike
  // until the token after them says which it was).
  Words readWords() {
    Words w;
    w.begin = token_.begin;
    bool lastWasWord = false;
    while (isWord() || isSpecial('.')) {
      if (isWord()) {
        if (lastWasWord) w.adjacent = true;
        ++w.count;
        lastWasWord = true;
        w.text += token_.text;
      } else {
        if (w.empty()) w.leadingDot = true;
        lastWasWord = false;
        w.text.push_back('.');
      }
      advance();
    }
    return w;
  }

  // A local part: words joined by dots. The dots themselves are not checked (RFC 5322 wants
  // exactly one between words; "a..b" and "a." occur in real mail, and the local part plays
  // no role in the Author Domain); words without a dot between them are a phrase.
  bool checkLocalPart(const Words& w) {
    if (w.count == 0) return fail(w.begin, "empty local part");
    if (w.adjacent) return fail(w.begin, "blank between words of a local part");
    return true;
  }

  // domain = dot-atom / domain-literal / obs-domain, at the token after '@'. Empty labels
  // ("a..b", a trailing dot) are left to policy::normalizeDomain, which decides what it
  // accepts, so that the error names the domain.
  bool parseDomain(Mailbox* mailbox) {
    if (token_.kind == TokenKind::Literal) {
      mailbox->domain = token_.text;
      mailbox->literal = true;
      advance();
      return true;
    }
    if (token_.kind != TokenKind::Atom && !isSpecial('.')) return unexpected("where a domain belongs after '@'");
    bool lastWasAtom = false;
    bool sawAtom = false;
    while ((token_.kind == TokenKind::Atom && !lastWasAtom) || isSpecial('.')) {
      lastWasAtom = token_.kind == TokenKind::Atom;
      sawAtom = sawAtom || lastWasAtom;
      mailbox->domain += lastWasAtom ? token_.text : ".";
      advance();
    }
    if (!sawAtom) return fail(token_.begin, "no domain after '@'");
    return true;
  }

  // angle-addr at '<', with the obs-route of RFC 5322 §4.4 ("<@a.example,@b.example:u@d>"),
  // whose domains are read and dropped.
  bool parseAngleAddr(Mailbox* mailbox) {
    const size_t open = token_.begin;
    advance();
    if (isSpecial('@') || isSpecial(',')) {
      bool sawDomain = false;
      while (isSpecial(',') || isSpecial('@')) {
        if (isSpecial(',')) {
          advance();
          continue;
        }
        advance();
        Mailbox relay;
        if (!parseDomain(&relay)) return false;
        sawDomain = true;
        if (!isSpecial(',') && !isSpecial(':')) return unexpected("in a source route");
      }
      if (!sawDomain) return unexpected("in a source route");
      if (!isSpecial(':')) return unexpected("where a source route ends with ':'");
      advance();
    }
    if (isSpecial('>')) return fail(open, "empty address '<>'");
    const Words local = readWords();
    if (token_.kind == TokenKind::End) return fail(open, "unbalanced '<'");
    if (!isSpecial('@')) {
      if (isSpecial('>')) return fail(open, "no '@' inside '<...>'");
      return unexpected("inside '<...>'");
    }
    if (!checkLocalPart(local)) return false;
    mailbox->localPart = local.text;
    advance();
    if (!parseDomain(mailbox)) return false;
    if (token_.kind == TokenKind::End) return fail(open, "unbalanced '<'");
    if (!isSpecial('>')) return unexpected("inside '<...>'");
    advance();
    return true;
  }

  // One mailbox, or (outside a group) a group whose mailboxes are appended.
  bool parseAddress(std::vector<Mailbox>* out, bool inGroup) {
    const Words words = readWords();
    if (isSpecial('<')) {
      if (words.leadingDot) return fail(words.begin, "display name starts with '.'");
      Mailbox mailbox;
      if (!parseAngleAddr(&mailbox)) return false;
      out->push_back(std::move(mailbox));
      return true;
    }
    if (isSpecial(':')) {
      if (inGroup) return fail(token_.begin, "group inside a group");
      if (words.count == 0 || words.leadingDot) return fail(token_.begin, "group without a name");
      return parseGroup(out);
    }
    if (isSpecial('@')) {
      if (!checkLocalPart(words)) return false;
      Mailbox mailbox;
      mailbox.localPart = words.text;
      advance();
      if (!parseDomain(&mailbox)) return false;
      out->push_back(std::move(mailbox));
      return true;
    }
    if (words.empty()) return unexpected("where an address belongs");
    const bool ends = token_.kind == TokenKind::End || isSpecial(',') || (inGroup && isSpecial(';'));
    if (!ends) return unexpected("after a name");
    // No '@' at all. A single word (or dotted words) is reported as a mailbox without a domain
    // so that the caller's message names it; a name of several words is no address at all.
    if (words.count == 0 || words.adjacent) return fail(words.begin, "name without an address (no '@domain')");
    out->push_back(Mailbox{words.text, "", false});
    return true;
  }

  // group at ':': [group-list] ";" — mailboxes only, empty elements tolerated (obs-group-list).
  bool parseGroup(std::vector<Mailbox>* out) {
    const size_t colon = token_.begin;
    advance();
    while (true) {
      if (isSpecial(';')) {
        advance();
        return true;
      }
      if (isSpecial(',')) {
        advance();
        continue;
      }
      if (token_.kind == TokenKind::End) return fail(colon, "group without ';'");
      if (!parseAddress(out, true)) return false;
      if (token_.kind == TokenKind::End) return fail(colon, "group without ';'");
      if (!isSpecial(',') && !isSpecial(';')) return unexpected("after an address in a group");
    }
  }

  std::string_view in_;
  size_t pos_ = 0;
  Token token_;
  std::string error_;
};
}  // namespace

bool isFromHeader(std::string_view name) { return mail::isHeaderNamed(name, "From"); }

std::optional<std::vector<Mailbox>> parseAddressList(std::string_view value, std::string* error) {
  // The blank after the colon is not part of anything an error message should quote.
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  Parser parser(value);
  std::vector<Mailbox> mailboxes;
  if (!parser.parse(&mailboxes)) {
    if (error != nullptr) *error = parser.error();
    return std::nullopt;
  }
  return mailboxes;
}

AuthorDomain authorDomain(const std::vector<std::string>& fromValues) {
  AuthorDomain result;
  if (fromValues.empty()) {
    result.error = "message has no From header";
    return result;
  }
  if (fromValues.size() > 1) {
    result.error = "message has " + std::to_string(fromValues.size()) + " From headers";
    return result;
  }
  std::string parseError;
  const auto mailboxes = parseAddressList(fromValues.front(), &parseError);
  if (!mailboxes) {
    result.error = "malformed From header: " + parseError;
    return result;
  }
  if (mailboxes->empty()) {
    result.error = "From header has no address";
    return result;
  }
  // Distinct domains in order of appearance. Two make the error and only two are kept (a
  // third only adds "..."), so that many mailboxes in many domains cost no more than few.
  std::vector<std::string> domains;
  bool more = false;
  for (const Mailbox& mailbox : *mailboxes) {
    if (mailbox.domain.empty()) {
      result.error = "From address '" + quote(mailbox.localPart) + "' has no domain";
      return result;
    }
    if (mailbox.literal) {
      result.error = "From address '" + quote(mailbox.localPart + "@" + mailbox.domain) +
                     "' has an address literal, not a domain";
      return result;
    }
    const auto domain = policy::normalizeDomain(mailbox.domain);
    if (!domain) {
      result.error = "From address has an invalid domain '" + quote(mailbox.domain) + "'";
      return result;
    }
    if (std::find(domains.begin(), domains.end(), *domain) == domains.end()) {
      if (domains.size() < 2) {
        domains.push_back(*domain);
      } else {
        more = true;
      }
    }
  }
  if (domains.size() > 1) {
    // Two are enough to show the problem; the rest would only make the reply long.
    result.error = "From header names more than one domain (" + quote(domains[0]) + ", " + quote(domains[1]) +
                   (more ? ", ..." : "") + ")";
    return result;
  }
  result.domain = domains.front();
  result.localPart = mailboxes->front().localPart;
  return result;
}

}  // namespace authmilter::mail
