// authmilter-import: an OpenDKIM + OpenDMARC (+ policyd-spf) configuration turned into an
// authmilter.conf. Every key of the inputs ends up either as a setting (with the line it came
// from as a comment) or as a finding saying why not ("cannot map", "not needed", ...). Lists
// authmilter wants as files (TrustedNetworks, IgnoreHosts, LocalDomains) are built from the
// inputs' datasets and returned for the caller to write. Pure: files the inputs name are read
// through Options::read, so tests run on text in memory. Does not check the result against
// the loader; `authmilter -n` does that.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace authmilter::import {

// A file an input names (a dataset, an Include): its text, or why it could not be read.
struct FileText {
  bool ok = false;
  std::string text;
  std::string error;
};
using FileReader = std::function<FileText(const std::string& path)>;
FileText readFromDisk(const std::string& path);

enum class Source { OpenDkim, OpenDmarc, PolicydSpf };

struct Input {
  Source source = Source::OpenDkim;
  std::string name;  // as findings show it: the path given on the command line
  std::string text;
};

struct Options {
  FileReader read = readFromDisk;
  // Where the list files will be written: "" = beside the conf (the conf names them relative
  // to itself), else this directory (named with it).
  std::string listDir;
  // An existing LocalDomains file to name instead of the one built from the signing domains.
  std::string localDomains;
  // What HistoryFile becomes.
  std::string reportStore = "sqlite:/var/lib/authmilter/reports.db";
};

enum class Status { CannotMap, NotNeeded, Note, Conflict, Warning };
std::string_view toString(Status status);  // "cannot map", "not needed", ...

struct Finding {
  std::string where;  // "opendkim.conf:12", a whole file ("opendmarc.conf"), or "authmilter-import"
  std::string key;
  Status status = Status::CannotMap;
  std::string why;
  std::string toString() const;  // "opendkim.conf:12: KeyName: cannot map: why"
};

struct Setting {
  std::string key;
  std::string value;
  std::vector<std::string> origins;  // comment lines: where it came from, what differs
};

struct ListFile {
  std::string name;               // file name: "trusted-networks"
  std::string setting;            // the setting that names it
  std::vector<std::string> lines; // one entry a line; lines starting with '#' are comments
};

struct Result {
  std::vector<Setting> settings;  // in authmilter.conf's order
  std::vector<ListFile> lists;
  std::vector<Finding> findings;  // in input order
  std::vector<std::string> errors;  // "file:line: message": an input unreadable or malformed
  bool ok() const { return errors.empty(); }
  const Setting* find(std::string_view key) const;  // case-insensitive
};

Result importConfigs(const std::vector<Input>& inputs, const Options& options = {});

// The authmilter.conf text: a header naming the inputs and every finding, then the settings,
// each below the lines it came from.
std::string renderConf(const Result& result, const std::vector<Input>& inputs, std::string_view version);

}  // namespace authmilter::import
