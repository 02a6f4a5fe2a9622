// The current runtime snapshot behind a mutex (taken once per connection).
#include "authmilter/milter/config_store.h"

#include <mutex>

namespace authmilter::milter {

namespace {

std::mutex& storeMutex() {
  static std::mutex m;
  return m;
}

std::shared_ptr<const runtime::Runtime>& store() {
  static std::shared_ptr<const runtime::Runtime> runtime;
  return runtime;
}

}  // namespace

std::shared_ptr<const runtime::Runtime> currentRuntime() {
  std::lock_guard lock(storeMutex());
  return store();
}

void setCurrentRuntime(std::shared_ptr<const runtime::Runtime> runtime) {
  std::lock_guard lock(storeMutex());
  store() = std::move(runtime);
}

}  // namespace authmilter::milter
