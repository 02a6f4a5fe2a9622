// Every conf option in one table: name, kind, default, documentation summary
// (Postfix's CONFIG_*_TABLE, pdns's table.py). The loader accepts exactly these keys
// (case-insensitively), and a unit test checks that conf/authmilter.conf documents each.
#pragma once

#include <span>
#include <string_view>

namespace authmilter::config {

enum class SettingKind { Bool, Integer, String, File, Socket, Octal, Enum, Words, Duration };

struct SettingDef {
  std::string_view name;
  SettingKind kind;
  std::string_view defaultValue;  // "" = unset
  long min = 0;                   // Integer; Duration in milliseconds
  long max = 0;
  std::string_view choices = {};  // Enum: "a|b|c"
};

std::span<const SettingDef> settingDefs();
const SettingDef* findSetting(std::string_view name);  // case-insensitive

}  // namespace authmilter::config
