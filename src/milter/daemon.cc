// Daemon start-up and signal handling.
//
// Signals: the main thread alone has SIGHUP, SIGTERM and SIGINT unblocked, with handlers
// that write to a pipe its loop reads (SIGHUP reloads, SIGTERM/SIGINT drain and stop);
// every other thread blocks them. libmilter's own signal thread, which would turn any of
// them into a stop, is neutralised by the sigwait() in src/main.cc.
#include "authmilter/milter/daemon.h"

#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <iostream>
#include <mutex>
#include <thread>

#include "authmilter/log/logger.h"
#include "authmilter/metrics/exporter.h"
#include "authmilter/milter/dialogue.h"
#include "authmilter/milter/engine.h"
#include "authmilter/milter/config_store.h"
#include "authmilter/milter/session.h"
#include "authmilter/report/report_store.h"
#include "authmilter/version.h"

namespace authmilter::milter {

namespace {

// Signals become bytes on this pipe (self-pipe: the handler only write()s), read by the
// main thread's loop. kMilterEnded is written when smfi_main() returns.
int g_signalPipe[2] = {-1, -1};
constexpr char kMilterEnded = 0;

extern "C" void onSignal(int sig) {
  const int saved = errno;
  const char byte = static_cast<char>(sig);
  (void)!write(g_signalPipe[1], &byte, 1);
  errno = saved;
}

class StartupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

std::string errnoText(const std::string& what) { return what + ": " + std::strerror(errno); }

struct Identity {
  uid_t uid;
  gid_t gid;
  std::string user;
};

std::optional<Identity> lookupUser(const std::string& spec) {
  if (spec.empty()) return std::nullopt;
  const auto colon = spec.find(':');
  const std::string user = spec.substr(0, colon);
  const struct passwd* pw = getpwnam(user.c_str());
  if (pw == nullptr) throw StartupError("UserID: no such user '" + user + "'");
  Identity id{pw->pw_uid, pw->pw_gid, user};
  if (colon != std::string::npos) {
    const std::string group = spec.substr(colon + 1);
    const struct group* gr = getgrnam(group.c_str());
    if (gr == nullptr) throw StartupError("UserID: no such group '" + group + "'");
    id.gid = gr->gr_gid;
  }
  return id;
}

void dropPrivileges(const Identity& id) {
  if (geteuid() != 0) {
    if (geteuid() == id.uid) return;
    throw StartupError("UserID " + id.user + ": only root can change user");
  }
  if (initgroups(id.user.c_str(), id.gid) != 0) throw StartupError(errnoText("initgroups"));
  if (setgid(id.gid) != 0) throw StartupError(errnoText("setgid"));
  if (setuid(id.uid) != 0) throw StartupError(errnoText("setuid"));
  if (id.uid != 0 && setuid(0) == 0) throw StartupError("could not drop root privileges");
}

// Refuses to take over a unix socket a running milter still answers on; creates the
// socket's directory when it is missing (as systemd's RuntimeDirectory would).
void prepareUnixSocket(const std::string& path, const std::optional<Identity>& id) {
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path) throw StartupError("socket path too long: " + path);
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  // EAGAIN: a listener whose backlog is full, alive all the same.
  const bool alive = fd >= 0 && (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0 || errno == EAGAIN);
  if (fd >= 0) ::close(fd);
  if (alive) throw StartupError("another milter is already listening on " + path);
  const auto slash = path.rfind('/');
  const std::string dir = path.substr(0, slash == 0 ? 1 : slash);
  struct stat st {};
  if (stat(dir.c_str(), &st) == 0) return;
  if (mkdir(dir.c_str(), 0750) != 0) throw StartupError(errnoText("cannot create socket directory " + dir));
  if (id && chown(dir.c_str(), id->uid, id->gid) != 0) throw StartupError(errnoText("chown " + dir));
}

// Forks into the background. The parent stays until the child says it is ready (pid file
// written, signals in place), so that a service manager that reads the pid file when the
// parent exits finds it; it exits 0 then, or 71 if the child died first. Returns the fd
// the child writes its readiness byte to.
int daemonize() {
  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) throw StartupError(errnoText("pipe"));
  const pid_t pid = fork();
  if (pid < 0) throw StartupError(errnoText("fork"));
  if (pid > 0) {
    close(ready[1]);
    char byte = 0;
    ssize_t n;
    while ((n = read(ready[0], &byte, 1)) < 0 && errno == EINTR) {
    }
    _exit(n == 1 ? 0 : 71);
  }
  close(ready[0]);
  setsid();
  if (chdir("/") != 0) throw StartupError(errnoText("chdir /"));
  const int devnull = open("/dev/null", O_RDWR);
  if (devnull >= 0) {
    dup2(devnull, STDIN_FILENO);
    dup2(devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    if (devnull > STDERR_FILENO) close(devnull);
  }
  return ready[1];
}

bool sameSocket(const std::optional<config::SocketSpec>& a, const std::optional<config::SocketSpec>& b) {
  return a.has_value() == b.has_value() && (!a || a->text == b->text);
}

// Reload requests from the signal loop, done on their own thread so the signal loop is
// back to reading its pipe at once.
class Reloader {
 public:
  explicit Reloader(DaemonOptions options) : options_(std::move(options)), thread_([this] { loop(); }) {}
  ~Reloader() {
    {
      std::lock_guard lock(mutex_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void request() {
    {
      std::lock_guard lock(mutex_);
      requested_ = true;
    }
    cv_.notify_all();
  }

 private:
  void loop() {
    std::unique_lock lock(mutex_);
    while (true) {
      cv_.wait(lock, [&] { return requested_ || stop_; });
      if (stop_) return;
      requested_ = false;
      lock.unlock();
      reload();
      lock.lock();
    }
  }

  void reload() {
    log::notice("SIGHUP: reloading " + options_.confPath);
    std::shared_ptr<const config::Config> next;
    std::shared_ptr<const runtime::Runtime> nextRuntime;
    try {
      next = config::loadConfig(options_.confPath);
      nextRuntime = runtime::buildRuntime(next, nullptr, currentRuntime()->recorder);
    } catch (const config::ConfigErrors& e) {
      for (const auto& err : e.errors()) log::error("reload: " + err.toString());
      log::error("reload failed; the previous configuration stays in force");
      metrics::countReload(false);
      return;
    } catch (const std::exception& e) {
      log::error(std::string("reload: ") + e.what() + "; the previous configuration stays in force");
      metrics::countReload(false);
      return;
    }
    std::string why;
    auto logger = loggerFor(*next, options_.foreground, &why);
    if (!logger) {
      log::error("reload: " + why + "; the previous configuration stays in force");
      metrics::countReload(false);
      return;
    }
    const auto previous = currentRuntime()->settings;
    for (const auto& [changed, what] : {std::pair{next->socket.text != previous->socket.text, "Socket"},
                                        std::pair{next->userId != previous->userId, "UserID"},
                                        std::pair{next->umask != previous->umask, "UMask"},
                                        std::pair{next->pidFile != previous->pidFile, "PidFile"},
                                        std::pair{next->milterEngine != previous->milterEngine, "MilterEngine"},
                                        std::pair{next->milterWorkers != previous->milterWorkers, "MilterWorkers"},
                                        std::pair{next->milterTimeout != previous->milterTimeout, "MilterTimeout"},
                                        std::pair{!sameSocket(next->metricsSocket, previous->metricsSocket),
                                                  "MetricsSocket"},
                                        std::pair{next->reports.store != previous->reports.store, "ReportStore"},
                                        std::pair{next->reports.queueSize != previous->reports.queueSize,
                                                  "ReportQueueSize"}}) {
      if (changed) log::warning(std::string("reload: a change of ") + what + " takes effect only after a restart");
    }
    log::setLogger(std::move(logger));
    setCurrentRuntime(std::move(nextRuntime));
    metrics::countReload(true);
    log::notice("configuration reloaded; new connections use it, connections in progress keep the old one");
  }

  DaemonOptions options_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool requested_ = false;
  bool stop_ = false;
  std::thread thread_;
};

// Graceful stop: let the messages in progress finish (new MAIL FROMs get 451 meanwhile: the
// caller has set draining), then stop the engine.
void drainAndStop(Engine& engine, unsigned timeoutSeconds) {
  if (!Session::waitForNoMessagesInFlight(std::chrono::seconds(timeoutSeconds))) {
    log::warning(std::to_string(Session::messagesInFlight()) + " messages still in progress after ShutdownTimeout; " +
                 "stopping anyway (the MTA applies its milter_default_action to them)");
  }
  engine.stop();
}

}  // namespace

namespace {
// In the foreground at a terminal, show the log there too. Not under a service manager:
// journald already gets the syslog lines, and would otherwise get each line twice.
bool logsToStderr(const config::Config& config, bool foreground) {
  return config.log.file == "stderr" || (foreground && config.log.file.empty() && isatty(STDERR_FILENO));
}
}  // namespace

std::shared_ptr<log::Logger> loggerFor(const config::Config& config, bool foreground, std::string* error) {
  log::LogOptions options = config.log;
  if (logsToStderr(config, foreground)) options.file = "stderr";
  return log::makeStandardLogger(options, error);
}

int runDaemon(std::shared_ptr<const runtime::Runtime> runtime, const DaemonOptions& options) {
  const auto config = runtime->settings;  // a copy: the runtime is rebuilt below with a recorder
  // Blocked from the start (and in every thread made later): a signal that arrives while
  // we start up waits for the signal loop instead of killing us or reaching libmilter.
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&signals, s);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::string why;
  auto logger = loggerFor(*config, options.foreground, &why);
  if (!logger) {
    std::cerr << "authmilter: " << why << "\n";
    return 73;  // EX_CANTCREAT
  }
  log::setLogger(std::move(logger));
  setCurrentRuntime(runtime);

  int pidFd = -1;
  int readyFd = -1;
  std::string listening;
  std::unique_ptr<metrics::Exporter> exporter;  // MetricsSocket: made after the fork, as UserID
  std::string metricsNote;
  const EngineOptions engineOptions{config->milterTimeout, config->milterWorkers};
  std::unique_ptr<Engine> engine = config->milterEngine == config::Config::MilterEngine::Native
                                       ? makeNativeEngine(engineOptions)
                                       : makeLibmilterEngine(engineOptions);
  try {
    const auto identity = lookupUser(config->userId);
    if (config->socket.kind == config::SocketSpec::Kind::Unix) prepareUnixSocket(config->socket.path, identity);
    const mode_t oldMask = umask(static_cast<mode_t>(config->umask));
    try {
      listening = engine->listen(config->socket);
    } catch (const EngineError& e) {
      umask(oldMask);
      throw StartupError(e.what());
    }
    umask(oldMask);
    if (config->socket.kind == config::SocketSpec::Kind::Unix && identity &&
        chown(config->socket.path.c_str(), identity->uid, identity->gid) != 0) {
      throw StartupError(errnoText("chown " + config->socket.path));
    }
    if (!config->pidFile.empty()) {
      pidFd = open(config->pidFile.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (pidFd < 0) throw StartupError(errnoText("cannot write PidFile " + config->pidFile));
    }
    if (identity) dropPrivileges(*identity);
    // The report store is opened as UserID (a SQLite file it cannot write is found now);
    // the recorder's thread is made after daemonize()'s fork.
    if (config->reports.store.starts_with("sqlite:")) {
      try {
        report::ReportStore::open(config->reports.store);
      } catch (const std::exception& e) {
        throw StartupError(std::string("ReportStore: ") + e.what());
      }
    }
    if (!options.foreground) readyFd = daemonize();
    if (!config->reports.store.empty()) {
      runtime = runtime::buildRuntime(config, runtime->resolver, runtime::makeRecorder(*config));
      setCurrentRuntime(runtime);
    }
    if (config->metricsSocket) {
      try {
        exporter = std::make_unique<metrics::Exporter>(*config->metricsSocket, [] {
          const auto now = currentRuntime();
          metrics::QueueDepths depths;
          if (now->recorder) depths.aggregate = now->recorder->unstored();
          if (now->failureReporter) depths.failure = now->failureReporter->pending();
          return depths;
        });
      } catch (const std::exception& e) {
        throw StartupError(std::string("MetricsSocket ") + e.what());
      }
      metricsNote = ", metrics on http://" + config->metricsSocket->host + ":" + std::to_string(exporter->port()) +
                    "/metrics";
    }
  } catch (const StartupError& e) {
    log::error(std::string("cannot start: ") + e.what());
    if (!logsToStderr(*config, options.foreground)) std::cerr << "authmilter: cannot start: " << e.what() << "\n";
    return 71;  // EX_OSERR
  }
  if (pidFd >= 0) {
    const std::string pid = std::to_string(getpid()) + "\n";
    if (write(pidFd, pid.data(), pid.size()) != static_cast<ssize_t>(pid.size())) log::warning("cannot write PidFile");
    close(pidFd);
  }
  // Logged once everything is in place (tests and scripts wait for this line).
  log::notice(std::string("authmilter ") + kVersion + " listening on " + listening + " (conf " + options.confPath +
              ", " + std::to_string(runtime->stages.size()) + " stages" + metricsNote + ")");

  if (pipe2(g_signalPipe, O_CLOEXEC) != 0) {
    log::error(errnoText("cannot start: pipe"));
    return 71;
  }
  fcntl(g_signalPipe[1], F_SETFL, O_NONBLOCK);
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaction(sig, &action, nullptr);

  // Threads made from here on inherit the blocked signals; then the main thread alone takes
  // them (signals that came during start-up are delivered at this point).
  Reloader reloader(options);
  bool milterResult = true;
  std::thread milterThread([&] {
    milterResult = engine->run();
    const char done = kMilterEnded;  // wake the loop below whatever made smfi_main return
    (void)!write(g_signalPipe[1], &done, 1);
  });
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  if (readyFd >= 0) {  // let the parent of a background start exit 0
    (void)!write(readyFd, "1", 1);
    close(readyFd);
  }

  std::thread stopper;
  bool stopping = false;
  while (true) {
    char sig = 0;
    const ssize_t n = read(g_signalPipe[0], &sig, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || sig == kMilterEnded) break;
    if (sig == SIGHUP) {
      reloader.request();
    } else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
      stopping = true;
      setDraining(true);  // before the log line: whoever reads it may rely on it
      log::notice(std::string("received ") + (sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                  ": finishing messages in progress, refusing new ones");
      stopper = std::thread([&engine, timeout = config->shutdownTimeout] { drainAndStop(*engine, timeout); });
    }
  }
  milterThread.join();
  if (stopper.joinable()) stopper.join();
  if (const auto recorder = currentRuntime()->recorder) {
    recorder->flush(std::chrono::seconds(config->shutdownTimeout));
    if (const size_t lost = recorder->unstored(); lost > 0) {
      log::warning("stopping: " + std::to_string(lost) +
                   " DMARC report records not yet stored are lost (the report store did not take them)");
    }
  }
  if (const auto failures = currentRuntime()->failureReporter) {
    if (!failures->flush(std::chrono::seconds(config->shutdownTimeout))) {
      log::warning("stopping: DMARC failure reports still queued after ShutdownTimeout are not sent");
    }
    const auto n = failures->counts();
    log::info("DMARC failure reports: " + std::to_string(n.sent) + " sent, " + std::to_string(n.refused) +
              " refused, " + std::to_string(n.limited) + " over FailureReportRate, " + std::to_string(n.failed) +
              " failed, " + std::to_string(n.dropped) + " dropped (queue full)");
  }
  if (!config->pidFile.empty()) unlink(config->pidFile.c_str());
  // A stop requested while libmilter was still starting may make smfi_main() report a
  // failure; that is still the stop we asked for.
  if (!stopping) {
    log::error(!milterResult ? "milter main loop failed (libmilter logs its reason to syslog)"
                                          : "milter main loop ended without a stop request");
    return 70;  // EX_SOFTWARE
  }
  log::notice("stopped");
  return 0;
}

}  // namespace authmilter::milter
