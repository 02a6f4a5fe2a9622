// Every conf option in one table: name, kind, default, limits, and its documentation
// (Postfix's CONFIG_*_TABLE, pdns's table.py). The loader accepts exactly these keys
// (case-insensitively); the sample conf/authmilter.conf and the man page authmilter.conf(5)
// are generated from the table (renderSampleConf, renderManPage), and a test fails when the
// shipped files differ.
#pragma once

#include <chrono>
#include <span>
#include <string>
#include <string_view>

namespace authmilter::config {

enum class SettingKind { Bool, Integer, String, File, Socket, Octal, Enum, Words, Duration };

struct Config;

// Where a simple setting's checked value goes, as Postfix's tables point at their variables:
// at most one of these is set, matching the kind; the loader reads every row that has one
// and handles the rest itself (files, sockets, addresses, keys).
struct SettingBinding {
  void (*flag)(Config&, bool) = nullptr;                           // Bool
  void (*number)(Config&, long) = nullptr;                         // Integer
  void (*duration)(Config&, std::chrono::milliseconds) = nullptr;  // Duration
  void (*choice)(Config&, std::string_view) = nullptr;             // Enum (lower case)
};

struct SettingDef {
  std::string_view name;
  SettingKind kind;
  std::string_view defaultValue;  // "" = unset
  long min = 0;                   // Integer; Duration in milliseconds
  long max = 0;
  std::string_view choices = {};  // Enum: "a|b|c"
  // Documentation: the section it is listed under, the value's syntax ("yes|no", "FILE"),
  // what it does (lines, ending with "Default: ..."), and the sample line the sample conf
  // shows ("Key value", or "# Key value" for an option that is unset by default).
  std::string_view section = {};
  std::string_view syntax = {};
  std::string_view help = {};
  std::string_view sample = {};
  SettingBinding bind = {};
};

struct SettingSection {
  std::string_view name;   // "Daemon", "DNS", ...
  std::string_view intro;  // lines before its options; may be empty
};

std::span<const SettingDef> settingDefs();
std::span<const SettingSection> settingSections();
std::span<const SettingDef> reportSettingDefs();  // settings_report.cc; part of settingDefs()
std::span<const SettingDef> arcSettingDefs();     // settings_arc.cc; part of settingDefs()
std::string_view settingsIntro();  // what the file is, its syntax, reloading
const SettingDef* findSetting(std::string_view name);  // case-insensitive
// Whether `value` is one of an Enum setting's choices ("a|b|c"), case-insensitively.
bool isChoice(const SettingDef& def, std::string_view value);

// conf/authmilter.conf as shipped: the intro, then each section with its options, each
// documented in comments above its sample line.
std::string renderSampleConf();
// authmilter.conf(5) in man(7) markup.
std::string renderManPage(std::string_view version);

}  // namespace authmilter::config
