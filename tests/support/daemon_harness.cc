// DaemonHarness: fork/exec of the authmilter binary and readiness by its log line.
#include "daemon_harness.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cctype>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <thread>

namespace authmilter::testsupport {

void execDaemon(const std::string& conf) {
  const std::string lsan = std::string("suppressions=") + AUTHMILTER_SOURCE_DIR + "/tests/lsan-daemon.supp";
  setenv("LSAN_OPTIONS", lsan.c_str(), 1);
  execl(AUTHMILTER_BINARY, "authmilter", "-f", "-c", conf.c_str(), static_cast<char*>(nullptr));
  _exit(127);
}

DaemonHarness::DaemonHarness(const TempDir& dir, const std::string& conf) {
  logFile_ = dir.file("authmilter.log");
  std::string extra = "\nLogFile " + logFile_ + "\nSyslog no\n";
  // Never the machine's resolver: a test that names no Nameservers gets its own server.
  std::string lower = conf;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower.find("nameservers") == std::string::npos) {
    dns_ = std::make_unique<TestDnsServer>("");
    extra += "Nameservers " + dns_->nameserver4() + "\n";
  }
  // The suite runs once per engine (tests/CMakeLists.txt): AUTHMILTER_TEST_ENGINE names the
  // engine of every daemon whose conf does not choose one itself.
  const char* engine = std::getenv("AUTHMILTER_TEST_ENGINE");
  if (engine != nullptr && *engine != '\0' && lower.find("milterengine") == std::string::npos) {
    extra += std::string("MilterEngine ") + engine + "\n";
  }
  conf_ = dir.write("authmilter.conf", conf + extra);
  dir.write("authmilter.log", "");  // a previous daemon's lines must not be taken for ours
  pid_ = fork();
  if (pid_ < 0) throw std::runtime_error("fork failed");
  if (pid_ == 0) {
    execDaemon(conf_);
  }
  const auto line = waitForLog(" listening on ");
  if (!line) {
    int status = 0;
    const bool exited = waitpid(pid_, &status, WNOHANG) == pid_;
    if (exited) pid_ = -1;
    std::string log;
    for (const auto& l : logLines()) log += l + "\n";
    throw std::runtime_error(std::string("authmilter did not start") + (exited ? " (exited)" : "") + "; log:\n" + log);
  }
  const auto from = line->find(" listening on ") + 14;
  listen_ = line->substr(from, line->find(' ', from) - from);
}

DaemonHarness::~DaemonHarness() {
  if (pid_ <= 0) return;
  // SIGTERM must always end in a clean exit 0; anything else (a sanitizer report, a leak,
  // a crash, a hang) fails the test that ran the daemon.
  const int status = stop(std::chrono::seconds(10));
  if (status != 0) ADD_FAILURE() << "authmilter exited with status " << status << " after SIGTERM";
  if (::testing::Test::HasFailure()) {  // the daemon's side of the story, for whoever reads the failure
    std::string log;
    for (const auto& line : logLines()) log += "  " + line + "\n";
    std::cerr << "authmilter log (" << logFile_ << "):\n" << log;
  }
}

std::string DaemonHarness::unixPath() const { return listen_.substr(5); }

uint16_t DaemonHarness::tcpPort() const {
  const auto colon = listen_.find(':');
  return static_cast<uint16_t>(std::stoi(listen_.substr(colon + 1, listen_.find('@') - colon - 1)));
}

std::vector<std::string> DaemonHarness::logLines() const {
  std::vector<std::string> lines;
  std::ifstream in(logFile_);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  return lines;
}

std::string DaemonHarness::messageLogLine(const std::string& qid) const {
  if (const auto line = waitForLog(qid + ": ")) return *line;
  std::string all = "(no log line for " + qid + "; the log has:)\n";
  for (const auto& l : logLines()) all += l + "\n";
  return all;
}

std::optional<std::string> DaemonHarness::waitForLog(const std::string& needle, size_t skip,
                                                     std::chrono::milliseconds timeout) const {
  std::optional<std::string> found;
  waitUntil(timeout, [&] {
    const auto lines = logLines();
    for (size_t i = skip; i < lines.size(); ++i) {
      if (lines[i].find(needle) != std::string::npos) {
        found = lines[i];
        return true;
      }
    }
    return false;
  });
  return found;
}

void DaemonHarness::signal(int sig) const { kill(pid_, sig); }

int DaemonHarness::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  const bool exited = waitUntil(timeout, [&] { return waitpid(pid_, &status, WNOHANG) == pid_; });
  if (!exited) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
  }
  pid_ = -1;
  if (!exited) return -SIGKILL;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

std::pair<int, std::string> runAuthmilter(const std::vector<std::string>& args) {
  return runProgram(AUTHMILTER_BINARY, args);
}

std::pair<int, std::string> runAuthmilterDns(const std::vector<std::string>& args) {
  return runProgram(AUTHMILTER_DNS_BINARY, args);
}

std::pair<int, std::string> runAuthmilterCheck(const std::vector<std::string>& args) {
  return runProgram(AUTHMILTER_CHECK_BINARY, args);
}

std::pair<int, std::string> runAuthmilterKeygen(const std::vector<std::string>& args) {
  return runProgram(AUTHMILTER_KEYGEN_BINARY, args);
}

std::pair<int, std::string> runProgram(const std::string& program, const std::vector<std::string>& args) {
  std::string command = program;
  for (const auto& a : args) command += " '" + a + "'";
  command += " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed");
  std::string output;
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

}  // namespace authmilter::testsupport
