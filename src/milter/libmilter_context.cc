// LibmilterContext: each method is one smfi_* call; failures are logged, never thrown.
#include "authmilter/milter/libmilter_context.h"

#include <libmilter/mfapi.h>

#include "authmilter/log/logger.h"

namespace authmilter::milter {

namespace {
bool check(int rc, const char* what, const std::string& name) {
  if (rc != MI_SUCCESS) log::warning(std::string(what) + " " + name + " failed (MTA did not grant the action?)");
  return rc == MI_SUCCESS;
}
}  // namespace

std::optional<std::string> LibmilterContext::macro(std::string_view name) {
  const std::string key(name);
  const char* value = smfi_getsymval(ctx_, const_cast<char*>(key.c_str()));
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

bool LibmilterContext::insertHeader(size_t index, const std::string& name, const std::string& value) {
  return check(smfi_insheader(ctx_, static_cast<int>(index), const_cast<char*>(name.c_str()),
                              const_cast<char*>(value.c_str())),
               "smfi_insheader", name);
}

bool LibmilterContext::addHeader(const std::string& name, const std::string& value) {
  return check(smfi_addheader(ctx_, const_cast<char*>(name.c_str()), const_cast<char*>(value.c_str())),
               "smfi_addheader", name);
}

bool LibmilterContext::deleteHeader(const std::string& name, size_t index) {
  return check(smfi_chgheader(ctx_, const_cast<char*>(name.c_str()), static_cast<int>(index), nullptr),
               "smfi_chgheader", name);
}

bool LibmilterContext::quarantine(const std::string& reason) {
  return check(smfi_quarantine(ctx_, const_cast<char*>(reason.c_str())), "smfi_quarantine", reason);
}

}  // namespace authmilter::milter
