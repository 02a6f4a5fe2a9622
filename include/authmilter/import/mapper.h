// Inside authmilter-import: the input files as lines, OpenDKIM's datasets, and the Mapper that
// collects settings, list entries and findings while the per-daemon tables (opendkim_keys.cc,
// opendmarc_keys.cc) walk the lines. Only src/import/ and its tests include this.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/import/import.h"
#include "authmilter/policy/domain_set.h"

namespace authmilter::import {

struct ConfLine {
  std::string file;
  int line = 0;
  std::string key;    // as written
  std::string value;  // trimmed; never empty
  std::string where() const { return file + ":" + std::to_string(line); }
};

// opendkim.conf / opendmarc.conf: "Key value" lines, '#' starts a comment. A key without a
// value is an error ("file:line: ..."). OpenDKIM's Include is followed (5 levels) through `read`.
std::vector<ConfLine> parseMilterConf(const std::string& file, std::string_view text, const FileReader& read,
                                      std::vector<std::string>& errors, int depth = 0);
// policyd-spf.conf: "key = value" lines.
std::vector<ConfLine> parseSpfConf(const std::string& file, std::string_view text, std::vector<std::string>& errors);

// Booleans as both daemons read them: the first byte, t/y/1 or f/n/0.
std::optional<bool> parseBool(std::string_view value);

// An OpenDKIM dataset (opendkim(8) DATA SETS): file:/path, refile:/path, csl:a,b, a bare path
// starting with '/' (a file), other bare text (a comma-separated list), or a database type
// authmilter cannot read (db:, ldap:, lua:, mysql:, ...).
struct Dataset {
  enum class Kind { File, PatternFile, List, Unsupported } kind = Kind::List;
  std::string path;                  // File, PatternFile
  std::vector<std::string> entries;  // List
  std::string scheme;                // Unsupported: "ldap", ...
};
Dataset parseDataset(std::string_view value);

// One element of a dataset: where it is written and its text ("key value" for tables).
struct DatasetEntry {
  std::string where;
  std::string text;
};

class Mapper {
 public:
  Mapper(const Options& options, Result& result) : options_(options), result_(result) {}

  // `key` gets `value` from `from`. A second, different value keeps the first and reports
  // a conflict (`hint` says what to do about it).
  void set(const ConfLine& from, std::string_view key, std::string value, std::string note = {},
           std::string_view hint = {});
  // A setting with no line of its own (an input's default that differs from authmilter's).
  void setDerived(const std::string& where, std::string_view key, std::string value, std::string note);
  void report(const ConfLine& line, Status status, std::string why);
  void reportAt(std::string where, std::string key, Status status, std::string why);
  void error(const std::string& message) { result_.errors.push_back(message); }

  // A dataset's elements; false (and an error) when its file cannot be read.
  bool entries(const ConfLine& line, const Dataset& set, std::vector<DatasetEntry>& out);
  // Like entries(), for a dataset only read to learn something (a Warning, not an error).
  bool entriesQuietly(const ConfLine& line, const Dataset& set, std::vector<DatasetEntry>& out);
  // A plain path, or the file of a file:/refile: dataset; reports and returns nullopt otherwise.
  std::optional<std::string> filePath(const ConfLine& line, const Dataset& set);

  // List entries; each is checked as authmilter will read it and reported when it cannot be.
  // `from` is the conf line whose dataset holds the entry.
  void addTrusted(const DatasetEntry& entry, const ConfLine& from);
  void addIgnored(const DatasetEntry& entry, const ConfLine& from);
  // A line of a file authmilter-import writes beside the conf (`name`), which `setting` names.
  void addFileLine(const std::string& name, const std::string& setting, const std::string& origin,
                   const std::string& line) {
    addListLine(name, setting, origin, line);
  }
  // A domain we sign for: "example.com" or ".example.com" (every domain below).
  void addSignedDomain(const std::string& entry);
  bool signsFor(std::string_view domain) const;  // normalized
  bool signsEverything() const { return signsEverything_; }
  void setSignsEverything() { signsEverything_ = true; }
  bool trustedHas(std::string_view entry) const;

  const Options& options() const { return options_; }
  // OpenDKIM's/OpenDMARC's BaseDirectory: relative file names are resolved against it.
  void setBaseDirectory(std::string dir) { baseDirectory_ = std::move(dir); }
  std::string resolve(const std::string& path) const {
    return path.empty() || path.front() == '/' || baseDirectory_.empty() ? path : baseDirectory_ + "/" + path;
  }
  // Fills in the list files and the settings naming them; sorts the settings.
  void finish(bool anyInput);

 private:
  void addListLine(const std::string& list, const std::string& setting, const std::string& origin,
                   const std::string& entry);
  std::string listPath(const std::string& name) const;

  const Options& options_;
  Result& result_;
  std::map<std::string, std::string, std::less<>> firstWhere_;  // setting -> where it was set
  std::map<std::string, std::vector<std::string>, std::less<>> lists_;
  std::map<std::string, std::string, std::less<>> listSetting_;
  std::vector<std::string> signedDomains_;  // in input order, for LocalDomains
  policy::DomainSet signedSet_;
  bool signsEverything_ = false;
  std::string baseDirectory_;
};

// Keys with a fixed verdict: `why` for `status`. A key ending in '*' matches as a prefix.
struct FixedKey {
  std::string_view key;
  Status status;
  std::string_view why;
};
// Reports `line` when its key is in `table`; returns whether it was.
bool reportFixed(const ConfLine& line, std::span<const FixedKey> table, Mapper& mapper);
// Keys opendkim.conf and opendmarc.conf share (Socket, UserID, Syslog, AutoRestart, ...);
// returns whether `line` was one.
bool mapCommonKey(const ConfLine& line, Mapper& mapper);
// A boolean as the daemons read it; reports a malformed one (nullopt).
std::optional<bool> parseBoolOrReport(const ConfLine& line, Mapper& mapper);
// A whole number checked against the limits of authmilter's `key`; reports what does not fit.
void mapInteger(const ConfLine& line, std::string_view key, Mapper& mapper);

void mapOpenDkim(const std::vector<ConfLine>& lines, Mapper& mapper);
// `file`: the input's name, for findings about what it leaves unset.
void mapOpenDmarc(const std::vector<ConfLine>& lines, const std::string& file, Mapper& mapper);
void mapPolicydSpf(const std::vector<ConfLine>& lines, const std::string& file, Mapper& mapper);

}  // namespace authmilter::import
