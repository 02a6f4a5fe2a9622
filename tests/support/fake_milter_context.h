// A MilterContext that serves macros from a map and records every edit, so a Session can
// be driven through whole transactions in-process.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "authmilter/milter/milter_context.h"

namespace authmilter::testsupport {

class FakeMilterContext : public milter::MilterContext {
 public:
  struct Edit {
    std::string op;  // "insert", "add", "delete", "quarantine"
    size_t index = 0;
    std::string name;
    std::string value;
  };

  std::map<std::string, std::string> macros;
  std::vector<Edit> edits;

  std::optional<std::string> macro(std::string_view name) override {
    const auto it = macros.find(std::string(name));
    if (it == macros.end()) return std::nullopt;
    return it->second;
  }
  bool insertHeader(size_t index, const std::string& name, const std::string& value) override {
    edits.push_back({"insert", index, name, value});
    return true;
  }
  bool addHeader(const std::string& name, const std::string& value) override {
    edits.push_back({"add", 0, name, value});
    return true;
  }
  bool deleteHeader(const std::string& name, size_t index) override {
    edits.push_back({"delete", index, name, ""});
    return true;
  }
  bool quarantine(const std::string& reason) override {
    edits.push_back({"quarantine", 0, "", reason});
    return true;
  }
};

}  // namespace authmilter::testsupport
