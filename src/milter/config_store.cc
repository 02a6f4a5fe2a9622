// The current configuration snapshot behind a mutex (taken once per connection).
#include "authmilter/milter/config_store.h"

#include <mutex>

namespace authmilter::milter {

namespace {
std::mutex& storeMutex() {
  static std::mutex m;
  return m;
}
std::shared_ptr<const config::Config>& store() {
  static std::shared_ptr<const config::Config> config;
  return config;
}
}  // namespace

std::shared_ptr<const config::Config> currentConfig() {
  std::lock_guard lock(storeMutex());
  return store();
}

void setCurrentConfig(std::shared_ptr<const config::Config> config) {
  std::lock_guard lock(storeMutex());
  store() = std::move(config);
}

}  // namespace authmilter::milter
