// The sample conf and the man page, generated from the settings table (see settings.h).
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/config/settings.h"

namespace authmilter::config {

namespace {

std::vector<std::string_view> splitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  if (text.empty()) return lines;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) return lines;
    start = end + 1;
  }
}

// Each line of `text` as a conf comment ("# line", "#" for an empty one).
void comment(std::string& out, std::string_view text) {
  for (const auto line : splitLines(text)) {
    out += line.empty() ? "#" : "# ";
    out += line;
    out += '\n';
  }
}

// "## Name ####...": a section heading of 76 columns.
std::string heading(std::string_view name) {
  std::string line = "## " + std::string(name) + " ";
  if (line.size() < 76) line.append(76 - line.size(), '#');
  return line;
}

// Text for man(7): backslashes escaped, and a line that would start with a control
// character ('.' or '\'') protected.
std::string roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\') {
      out += "\\e";
    } else if (c == '-') {
      out += "\\-";
    } else {
      out += c;
    }
  }
  if (!out.empty() && (out.front() == '.' || out.front() == '\'')) out.insert(0, "\\&");
  return out;
}

// Lines of help text as man(7): running text filled, lines indented by two or more
// blanks (tables, examples) kept as they are.
void roffText(std::string& out, std::string_view text) {
  bool verbatim = false;
  for (const auto line : splitLines(text)) {
    const bool indented = line.starts_with("  ");
    if (indented != verbatim) {
      out += indented ? ".nf\n" : ".fi\n";
      verbatim = indented;
    }
    out += line.empty() ? std::string(".sp") : roff(line);
    out += '\n';
  }
  if (verbatim) out += ".fi\n";
}

}  // namespace

std::string renderSampleConf() {
  std::string out;
  comment(out, settingsIntro());
  for (const auto& section : settingSections()) {
    out += '\n';
    out += heading(section.name);
    out += '\n';
    comment(out, section.intro);
    for (const auto& def : settingDefs()) {
      if (def.section != section.name) continue;
      out += '\n';
      comment(out, std::string(def.name) + " " + std::string(def.syntax) + " -- " + std::string(def.help));
      out += def.sample;
      out += '\n';
    }
  }
  return out;
}

std::string renderManPage(std::string_view version) {
  std::string out;
  out += ".\\\" Generated from the settings table (src/config/settings.cc) by authmilter-confgen man.\n";
  out += ".TH AUTHMILTER.CONF 5 \"\" \"authmilter " + roff(version) + "\" \"File Formats\"\n";
  out += ".SH NAME\nauthmilter.conf \\- configuration file of the authmilter mail filter\n";
  out += ".SH SYNOPSIS\n/etc/authmilter/authmilter.conf\n";
  out += ".SH DESCRIPTION\n";
  const auto intro = settingsIntro();
  roffText(out, intro.substr(intro.find('\n') + 1));  // without the sample file's title line
  out += ".SH OPTIONS\n";
  for (const auto& section : settingSections()) {
    out += ".SS " + roff(section.name) + "\n";
    if (!section.intro.empty()) roffText(out, section.intro);
    for (const auto& def : settingDefs()) {
      if (def.section != section.name) continue;
      out += ".TP\n.BI \"" + roff(def.name) + " \" \"" + roff(def.syntax) + "\"\n";
      roffText(out, def.help);
    }
  }
  out += ".SH FILES\n.TP\n.I /etc/authmilter/authmilter.conf\nthe configuration file (";
  out += ".B authmilter \\-c\nnames another)\n";
  out += ".SH SEE ALSO\n.BR authmilter (8),\n.BR authmilter\\-check (1),\n.BR authmilter\\-dns (1),\n";
  out += ".BR authmilter\\-keygen (1),\n.BR opendkim.conf (5)\n";
  return out;
}

}  // namespace authmilter::config
