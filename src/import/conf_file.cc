// Reading what authmilter-import is given: opendkim.conf/opendmarc.conf lines (with
// OpenDKIM's Include), policyd-spf.conf's "key = value" lines, booleans, and OpenDKIM's
// datasets (opendkim(8) DATA SETS) down to their elements.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "authmilter/import/mapper.h"
#include "authmilter/util/strings.h"

namespace authmilter::import {

namespace {

// OpenDKIM nests Include files at most five deep.
constexpr int kMaxIncludeDepth = 5;

// The line without its comment: both daemons cut at the first '#'.
std::string_view uncommented(std::string_view line) {
  const auto hash = line.find('#');
  return util::trim(hash == std::string_view::npos ? line : line.substr(0, hash));
}

template <typename Fn>
void forEachLine(std::string_view text, Fn fn) {
  int number = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    ++number;
    fn(number, text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace

FileText readFromDisk(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return {false, {}, "is a directory"};
  std::ifstream in(path, std::ios::binary);
  if (!in) return {false, {}, std::strerror(errno)};
  FileText out;
  out.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) return {false, {}, std::strerror(errno)};
  out.ok = true;
  return out;
}

std::vector<ConfLine> parseMilterConf(const std::string& file, std::string_view text, const FileReader& read,
                                      std::vector<std::string>& errors, int depth) {
  std::vector<ConfLine> lines;
  forEachLine(text, [&](int number, std::string_view raw) {
    const auto content = uncommented(raw);
    if (content.empty()) return;
    const auto split = content.find_first_of(" \t");
    ConfLine line{file, number, std::string(content.substr(0, split)), {}};
    if (split != std::string_view::npos) line.value = std::string(util::trim(content.substr(split)));
    if (line.value.empty()) {
      errors.push_back(line.where() + ": " + line.key + " has no value");
      return;
    }
    if (!util::iequals(line.key, "Include")) {
      lines.push_back(std::move(line));
      return;
    }
    if (depth + 1 >= kMaxIncludeDepth) {
      errors.push_back(line.where() + ": Include " + line.value + ": nested more than 5 deep");
      return;
    }
    const auto included = read(line.value);
    if (!included.ok) {
      errors.push_back(line.where() + ": Include " + line.value + ": cannot read: " + included.error);
      return;
    }
    auto more = parseMilterConf(line.value, included.text, read, errors, depth + 1);
    lines.insert(lines.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  });
  return lines;
}

std::vector<ConfLine> parseSpfConf(const std::string& file, std::string_view text, std::vector<std::string>& errors) {
  std::vector<ConfLine> lines;
  forEachLine(text, [&](int number, std::string_view raw) {
    const auto content = uncommented(raw);
    if (content.empty()) return;
    const auto eq = content.find('=');
    ConfLine line{file, number, std::string(util::trim(content.substr(0, eq))), {}};
    if (eq != std::string_view::npos) line.value = std::string(util::trim(content.substr(eq + 1)));
    if (eq == std::string_view::npos || line.key.empty()) {
      errors.push_back(line.where() + ": expected 'name = value', got '" + util::sanitize(content) + "'");
    } else if (line.value.empty()) {
      errors.push_back(line.where() + ": " + line.key + " has no value");
    } else {
      lines.push_back(std::move(line));
    }
  });
  return lines;
}

std::optional<bool> parseBool(std::string_view value) {
  if (value.empty()) return std::nullopt;
  switch (value.front()) {
    case 'T': case 't': case 'Y': case 'y': case '1': return true;
    case 'F': case 'f': case 'N': case 'n': case '0': return false;
    default: return std::nullopt;
  }
}

Dataset parseDataset(std::string_view value) {
  Dataset set;
  const auto colon = value.find(':');
  const std::string scheme = colon == std::string_view::npos ? "" : util::toLower(value.substr(0, colon));
  const auto rest = colon == std::string_view::npos ? value : value.substr(colon + 1);
  if (scheme == "file" || scheme == "refile") {
    set.kind = scheme == "file" ? Dataset::Kind::File : Dataset::Kind::PatternFile;
    set.path = std::string(rest);
  } else if (scheme == "csl") {
    set.entries = util::splitList(rest);
  } else if (!scheme.empty() && scheme.find_first_of("/,. \t") == std::string::npos) {
    // db:, dsn:, ldap:, ldaps:, ldapi:, lua:, memcache:, mdb:, redis:, socket:, mysql:...
    set.kind = Dataset::Kind::Unsupported;
    set.scheme = scheme;
  } else if (!value.empty() && value.front() == '/') {
    set.kind = value.ends_with(".db") ? Dataset::Kind::Unsupported : Dataset::Kind::File;
    set.path = std::string(value);
    if (set.kind == Dataset::Kind::Unsupported) set.scheme = "db";
  } else {
    set.entries = util::splitList(value);
  }
  return set;
}

namespace {

// Reads the elements of `set`; on failure returns false with *why set.
bool datasetEntries(const ConfLine& line, const Dataset& set, const FileReader& read, std::vector<DatasetEntry>& out,
                    std::string* why) {
  switch (set.kind) {
    case Dataset::Kind::List:
      for (const auto& e : set.entries) out.push_back({line.where(), e});
      return true;
    case Dataset::Kind::Unsupported:
      *why = set.scheme + ": datasets cannot be read (files and csl: lists only)";
      return false;
    case Dataset::Kind::File:
    case Dataset::Kind::PatternFile:
      break;
  }
  const auto file = read(set.path);
  if (!file.ok) {
    *why = "cannot read " + set.path + ": " + file.error;
    return false;
  }
  forEachLine(file.text, [&](int number, std::string_view raw) {
    const auto content = uncommented(raw);
    if (!content.empty()) out.push_back({set.path + ":" + std::to_string(number), std::string(content)});
  });
  return true;
}

}  // namespace

bool Mapper::entries(const ConfLine& line, const Dataset& set, std::vector<DatasetEntry>& out) {
  std::string why;
  if (datasetEntries(line, set, options_.read, out, &why)) return true;
  if (set.kind == Dataset::Kind::Unsupported) {
    report(line, Status::CannotMap, why + "; write the entries to a file and import again");
  } else {
    error(line.where() + ": " + line.key + ": " + why);
  }
  return false;
}

bool Mapper::entriesQuietly(const ConfLine& line, const Dataset& set, std::vector<DatasetEntry>& out) {
  std::string why;
  if (datasetEntries(line, set, options_.read, out, &why)) return true;
  report(line, Status::Warning, why + " (read only to learn the signing domains)");
  return false;
}

std::optional<std::string> Mapper::filePath(const ConfLine& line, const Dataset& set) {
  if (set.kind == Dataset::Kind::File || set.kind == Dataset::Kind::PatternFile) return set.path;
  if (set.kind == Dataset::Kind::Unsupported) {
    report(line, Status::CannotMap, set.scheme + ": datasets cannot be read; authmilter reads a file");
  } else {
    report(line, Status::CannotMap, "an inline list; authmilter reads this from a file (write one, name it here)");
  }
  return std::nullopt;
}

}  // namespace authmilter::import
