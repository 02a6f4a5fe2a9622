// PostgresServer: initdb, pg_ctl start/stop and createdb, each by fork/exec (no shell of ours)
// with its output appended to a log file in the temporary directory. pg_ctl -w does all the
// waiting for the server; nothing here sleeps.
#include "postgres_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace authmilter::testsupport {
namespace {

constexpr const char* kSuperuser = "authmilter";
constexpr const char* kDefaultDatabase = "authmilter";
constexpr const char* kOsUser = "postgres";  // under root, initdb and pg_ctl run as this user
constexpr const char* kBinaries[] = {"initdb", "pg_ctl", "postgres", "createdb"};
constexpr int kStartAttempts = 5;  // a free port can be taken between picking it and binding it
constexpr size_t kTailBytes = 4000;

struct OsUser {
  uid_t uid;
  gid_t gid;
};

bool hasBinaries(const std::string& dir) {
  for (const char* name : kBinaries) {
    if (access((dir + "/" + name).c_str(), X_OK) != 0) return false;
  }
  return true;
}

// $AUTHMILTER_PG_BINDIR, else the newest /usr/lib/postgresql/N/bin with every binary.
// Empty with `why` set when there is none.
std::string findBinDir(std::string& why) {
  if (const char* env = std::getenv("AUTHMILTER_PG_BINDIR"); env != nullptr && *env != '\0') {
    if (hasBinaries(env)) return env;
    why = std::string("AUTHMILTER_PG_BINDIR=") + env + " lacks one of initdb, pg_ctl, postgres, createdb";
    return "";
  }
  std::string best;
  long bestVersion = -1;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string version = entry.path().filename().string();
    char* end = nullptr;
    const long v = std::strtol(version.c_str(), &end, 10);
    if (end == version.c_str() || *end != '\0') continue;
    const std::string bin = entry.path().string() + "/bin";
    if (v > bestVersion && hasBinaries(bin)) {
      best = bin;
      bestVersion = v;
    }
  }
  if (best.empty()) {
    why = "no PostgreSQL server binaries (initdb, pg_ctl, postgres, createdb) in /usr/lib/postgresql/*/bin; "
          "install the postgresql package (Debian: apt-get install postgresql) or set AUTHMILTER_PG_BINDIR";
  }
  return best;
}

std::optional<OsUser> lookUpOsUser() {
  struct passwd pw {};
  struct passwd* found = nullptr;
  std::vector<char> buf(16384);
  if (getpwnam_r(kOsUser, &pw, buf.data(), buf.size(), &found) != 0 || found == nullptr) return std::nullopt;
  return OsUser{pw.pw_uid, pw.pw_gid};
}

bool runningAsRoot() { return geteuid() == 0; }

std::string shellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string describe(const std::vector<std::string>& argv, bool asOsUser) {
  std::string out = asOsUser ? std::string("(as user ") + kOsUser + ") " : "";
  for (size_t i = 0; i < argv.size(); ++i) out += (i ? " " : "") + shellQuote(argv[i]);
  return out;
}

// What `path` gained after byte `from`, its last kTailBytes at most.
std::string tailFrom(const std::string& path, std::streamoff from) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "(no " + path + ")\n";
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size <= from) return "(nothing)\n";
  const std::streamoff start = std::max(from, size - static_cast<std::streamoff>(kTailBytes));
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (start > from) text = "...\n" + text.substr(std::min(text.find('\n') + 1, text.size()));
  if (!text.empty() && text.back() != '\n') text += '\n';
  return text;
}

std::streamoff fileSize(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<std::streamoff>(st.st_size) : 0;
}

struct RunResult {
  int status;          // exit status, or 128 + signal
  std::string output;  // the tail of what it wrote (stdout and stderr)
};

// Runs argv[0] (an absolute path) with its output appended to `log`, in `cwd`, with no PG*
// variables and LC_ALL=C; under root with `asOsUser` as the postgres user.
RunResult run(const std::vector<std::string>& argv, const std::string& log, const std::string& cwd, bool asOsUser) {
  std::optional<OsUser> user;
  if (asOsUser && runningAsRoot()) {
    user = lookUpOsUser();
    if (!user) throw std::runtime_error(std::string("PostgresServer: running as root and there is no user ") + kOsUser);
  }
  // Everything the child needs is made before fork: after it only async-signal-safe calls.
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> envStrings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view v(*e);
    if (v.starts_with("PG") || v.starts_with("LC_") || v.starts_with("LANG")) continue;
    envStrings.emplace_back(v);
  }
  envStrings.emplace_back("LC_ALL=C");
  std::vector<char*> env;
  for (auto& e : envStrings) env.push_back(e.data());
  env.push_back(nullptr);

  const int logFd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (logFd < 0) throw std::runtime_error("PostgresServer: cannot open " + log + ": " + std::strerror(errno));
  const int nullFd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (nullFd < 0) {
    close(logFd);
    throw std::runtime_error(std::string("PostgresServer: cannot open /dev/null: ") + std::strerror(errno));
  }
  const std::streamoff before = fileSize(log);
  const pid_t pid = fork();
  if (pid < 0) {
    close(logFd);
    close(nullFd);
    throw std::runtime_error(std::string("PostgresServer: fork failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    if (dup2(nullFd, 0) < 0 || dup2(logFd, 1) < 0 || dup2(logFd, 2) < 0) _exit(126);
    // Nothing of the test's (sockets, files) may live on in the server.
    close_range(3, ~0U, 0);
    if (user) {
      if (setgroups(1, &user->gid) != 0 || setgid(user->gid) != 0 || setuid(user->uid) != 0) {
        static const char msg[] = "PostgresServer: cannot become user postgres\n";
        (void)!write(2, msg, sizeof msg - 1);
        _exit(126);
      }
    }
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execve(args[0], args.data(), env.data());
    static const char msg[] = "PostgresServer: exec failed\n";
    (void)!write(2, msg, sizeof msg - 1);
    _exit(127);
  }
  close(logFd);
  close(nullFd);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      throw std::runtime_error(std::string("PostgresServer: waitpid failed: ") + std::strerror(errno));
    }
  }
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return {code, tailFrom(log, before)};
}

std::string failure(const std::vector<std::string>& argv, bool asOsUser, const RunResult& r) {
  return "PostgresServer: " + describe(argv, asOsUser) + " exited with status " + std::to_string(r.status) +
         "; its output:\n" + r.output;
}

// A TCP port on 127.0.0.1 that was free a moment ago.
int pickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("PostgresServer: socket failed: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    const int err = errno;
    close(fd);
    throw std::runtime_error(std::string("PostgresServer: cannot bind a port on 127.0.0.1: ") + std::strerror(err));
  }
  close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace

bool PostgresServer::available() { return unavailableReason().empty(); }

std::string PostgresServer::unavailableReason() {
  std::string why;
  if (findBinDir(why).empty()) return why;
  if (runningAsRoot() && !lookUpOsUser()) {
    return std::string("running as root, and postgres will not; there is no user ") + kOsUser +
           " to run it as (the postgresql package creates it)";
  }
  return "";
}

PostgresServer::PostgresServer() {
  std::string why;
  binDir_ = findBinDir(why);
  if (binDir_.empty()) throw std::runtime_error("PostgresServer: " + why);
  const bool root = runningAsRoot();
  const std::string socketDir = dir_.file("socket");
  if (mkdir(socketDir.c_str(), 0700) != 0) {
    throw std::runtime_error("PostgresServer: cannot create " + socketDir + ": " + std::strerror(errno));
  }
  if (root) {
    const auto user = lookUpOsUser();
    if (!user) throw std::runtime_error("PostgresServer: " + unavailableReason());
    for (const auto& p : {dir_.path(), socketDir}) {
      if (chown(p.c_str(), user->uid, user->gid) != 0) {
        throw std::runtime_error("PostgresServer: cannot chown " + p + " to " + kOsUser + ": " + std::strerror(errno));
      }
    }
  }
  dataDir_ = dir_.file("data");
  serverLog_ = dir_.file("server.log");
  const std::string log = dir_.file("commands.log");

  const std::vector<std::string> initdb = {binDir_ + "/initdb", "-D", dataDir_, "-A", "trust", "-U", kSuperuser,
                                           "--no-sync", "-E", "UTF8", "--locale=C", "--no-instructions"};
  if (const auto r = run(initdb, log, dir_.path(), true); r.status != 0) {
    throw std::runtime_error(failure(initdb, true, r));
  }

  for (int attempt = 1;; ++attempt) {
    port_ = pickFreePort();
    const std::string options = "-c listen_addresses=127.0.0.1 -p " + std::to_string(port_) + " -k " +
                                shellQuote(socketDir) +
                                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off";
    const std::vector<std::string> start = {binDir_ + "/pg_ctl", "-w", "-t", "120", "-D", dataDir_,
                                            "-l", serverLog_, "-o", options, "start"};
    const std::streamoff serverLogBefore = fileSize(serverLog_);
    const auto r = run(start, log, dir_.path(), true);
    if (r.status == 0) break;
    const std::string serverOutput = tailFrom(serverLog_, serverLogBefore);
    const bool portTaken = serverOutput.find("Address already in use") != std::string::npos;
    if (!portTaken || attempt == kStartAttempts) {
      const std::string attempts =
          portTaken ? "(the port was taken on each of " + std::to_string(attempt) + " attempts)\n" : "";
      throw std::runtime_error(failure(start, true, r) + "server log:\n" + serverOutput + attempts);
    }
  }
  running_ = true;
  try {
    createDatabase(kDefaultDatabase);
  } catch (...) {
    stop();
    throw;
  }
}

PostgresServer::~PostgresServer() { stop(); }

void PostgresServer::stop() noexcept {
  if (!running_) return;
  running_ = false;
  try {
    const std::vector<std::string> stopCommand = {binDir_ + "/pg_ctl", "-w", "-t", "60", "-D", dataDir_, "-m",
                                                  "immediate", "stop"};
    if (run(stopCommand, dir_.file("commands.log"), dir_.path(), true).status == 0) return;
    // Not stopped: kill the postmaster (its children follow when they see it gone).
    std::ifstream pidFile(dataDir_ + "/postmaster.pid");
    long pid = 0;
    if (pidFile >> pid && pid > 0) kill(static_cast<pid_t>(pid), SIGKILL);
  } catch (...) {
  }
}

std::string PostgresServer::uri(const std::string& db) const {
  std::string path;  // percent-encoded but for RFC 3986's unreserved characters
  for (const unsigned char c : db) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      path += static_cast<char>(c);
    } else {
      static const char hex[] = "0123456789ABCDEF";
      path += '%';
      path += hex[c >> 4];
      path += hex[c & 15];
    }
  }
  return std::string("postgresql://") + kSuperuser + "@127.0.0.1:" + std::to_string(port_) + "/" + path;
}

void PostgresServer::createDatabase(const std::string& name) {
  if (name.empty() || name.front() == '-') {
    throw std::runtime_error("PostgresServer: bad database name \"" + name + "\"");
  }
  const std::vector<std::string> createdb = {binDir_ + "/createdb", "-w", "-h", "127.0.0.1",
                                             "-p", std::to_string(port_), "-U", kSuperuser, name};
  if (const auto r = run(createdb, dir_.file("commands.log"), dir_.path(), false); r.status != 0) {
    throw std::runtime_error(failure(createdb, false, r));
  }
}

}  // namespace authmilter::testsupport
