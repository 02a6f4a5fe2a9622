// authmilter-confgen conf|man: writes the sample configuration or the authmilter.conf(5)
// man page, both generated from the settings table, to standard output.
//   build/authmilter-confgen conf > conf/authmilter.conf
//   build/authmilter-confgen man > contrib/authmilter.conf.5
#include <iostream>
#include <string>

#include "authmilter/config/settings.h"
#include "authmilter/version.h"

int main(int argc, char** argv) {
  const std::string what = argc == 2 ? argv[1] : "";
  if (what == "conf") {
    std::cout << authmilter::config::renderSampleConf();
    return 0;
  }
  if (what == "man") {
    std::cout << authmilter::config::renderManPage(authmilter::kVersion);
    return 0;
  }
  std::cerr << "usage: authmilter-confgen conf|man\n";
  return 2;
}
