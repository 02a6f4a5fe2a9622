// MilterContext over libmilter's SMFICTX. Only this file and callbacks.cc/daemon.cc
// include <libmilter/mfapi.h>.
#pragma once

#include "authmilter/milter/milter_context.h"

struct smfi_str;

namespace authmilter::milter {

class LibmilterContext : public MilterContext {
 public:
  explicit LibmilterContext(smfi_str* ctx) : ctx_(ctx) {}
  std::optional<std::string> macro(std::string_view name) override;
  bool insertHeader(size_t index, const std::string& name, const std::string& value) override;
  bool addHeader(const std::string& name, const std::string& value) override;
  bool deleteHeader(const std::string& name, size_t index) override;
  bool quarantine(const std::string& reason) override;

 private:
  smfi_str* ctx_;
};

}  // namespace authmilter::milter
