// The keys opendkim.conf and opendmarc.conf share (the daemon, logging, the authserv-id), and
// the helpers both tables use. Two daemons become one: where both files set the same key to
// different values, the first one (OpenDKIM's) is kept and the other reported.
#include <charconv>
#include <cstdio>

#include "authmilter/config/config.h"
#include "authmilter/config/settings.h"
#include "authmilter/import/mapper.h"
#include "authmilter/util/strings.h"

namespace authmilter::import {

namespace {

constexpr std::string_view kServiceManager =
    "authmilter leaves this to its service manager (contrib/authmilter.service: Restart=on-failure)";
constexpr std::string_view kOneLine =
    "authmilter logs one line for every message (LogLevel info); LogLevel debug says more";

constexpr FixedKey kCommonFixed[] = {
    {"AutoRestart", Status::NotNeeded, kServiceManager},
    {"AutoRestartCount", Status::NotNeeded, kServiceManager},
    {"AutoRestartRate", Status::NotNeeded, kServiceManager},
    {"Background", Status::NotNeeded, "authmilter detaches unless run with -f (as its systemd unit does)"},
    {"EnableCoredumps", Status::NotNeeded, "the service manager decides (LimitCORE=)"},
    {"MilterDebug", Status::NotNeeded, "libmilter's own debugging; LogLevel debug shows what authmilter does"},
    {"TemporaryDirectory", Status::NotNeeded, "authmilter writes no temporary files"},
    {"SyslogSuccess", Status::NotNeeded, kOneLine},
    {"LogWhy", Status::NotNeeded, kOneLine},
    {"LogResults", Status::NotNeeded, kOneLine},
    {"ChangeRootDirectory", Status::CannotMap, "authmilter does not chroot(2); its files are named from /"},
    {"AuthservIDWithJobID", Status::CannotMap,
     "the authserv-id is AuthservID alone; the log line carries the queue id"},
    {"SoftwareHeader", Status::CannotMap, "authmilter adds no header naming itself"},
    {"RequiredHeaders", Status::NotNeeded,
     "RejectMalformedFrom yes (the default) refuses a message without exactly one From; the other RFC 5322 "
     "header counts are left to the MTA"},
    {"DNSTimeout", Status::NotNeeded,
     "authmilter's DNSTimeout is per try (default 5s) and DNSRetries (2) tries; set them if the old value mattered"},
};

// Whether `path` lies in a directory of the daemons we replace (/run/opendkim/x.sock,
// /var/spool/postfix/opendmarc/x.sock): authmilter, run as its own user under its hardened
// unit (which may write only /run/authmilter, /var/lib/authmilter and what ReadWritePaths=
// adds), cannot write there, and the old package may remove it.
bool inOldDaemonsDirectory(std::string_view path) {
  const auto slash = path.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  const auto dir = path.substr(0, slash);
  const auto name = dir.substr(dir.rfind('/') + 1);
  return util::istartsWith(name, "opendkim") || util::istartsWith(name, "opendmarc");
}

// "local:/path" -> "unix:/path"; inet: and inet6: as they are. A unix socket in the old
// daemon's directory moves to authmilter's own beside it (/run/opendkim/opendkim.sock ->
// /run/authmilter/authmilter.sock; Postfix's chroot: /var/spool/postfix/opendkim/... ->
// /var/spool/postfix/authmilter/authmilter.sock).
void mapSocket(const ConfLine& line, Mapper& mapper) {
  std::string why;
  auto spec = config::parseSocketSpec(line.value, &why);
  if (!spec) {
    mapper.report(line, Status::CannotMap, why);
    return;
  }
  std::string note;
  if (spec->kind == config::SocketSpec::Kind::Unix && inOldDaemonsDirectory(spec->path)) {
    const auto dir = spec->path.substr(0, spec->path.rfind('/'));
    const std::string moved = dir.substr(0, dir.rfind('/')) + "/authmilter/authmilter.sock";
    note = "moved from " + dir + " (the old daemon's directory) to " + moved + ": point the MTA there";
    if (const auto movedDir = moved.substr(0, moved.rfind('/')); movedDir != "/run/authmilter") {
      note += "; make it: install -d -o authmilter -g authmilter -m 0750 " + movedDir;
      if (movedDir != "/var/spool/postfix/authmilter") {  // the packaged unit's ReadWritePaths= has that one
        note += ", and let the packaged unit write there: ReadWritePaths=" + movedDir + " (systemctl edit authmilter)";
      }
    }
    mapper.reportAt(line.where(), line.key, Status::Note, note);
    spec->text = "unix:" + moved;
  }
  mapper.set(line, "Socket", spec->text, {},
             "authmilter listens on one socket: list only it in the MTA's milters (Postfix smtpd_milters and "
             "non_smtpd_milters, sendmail INPUT_MAIL_FILTER)");
}

// The old daemons' own users (opendkim, opendmarc) are not carried over: authmilter runs as
// its own (the package's systemd unit: User=authmilter), and the old package may remove them.
void mapUserId(const ConfLine& line, Mapper& mapper) {
  const auto user = std::string_view(line.value).substr(0, line.value.find(':'));
  if (util::iequals(user, "opendkim") || util::iequals(user, "opendmarc")) {
    mapper.report(line, Status::NotNeeded,
                  "authmilter runs as its own user (the package's systemd unit: User=authmilter; "
                  "started as root, set UserID authmilter); that user must own the DKIM keys (mode 0600)");
    return;
  }
  mapper.set(line, "UserID", line.value, {},
             "one process runs as one user: it must be able to read the DKIM keys on SIGHUP");
}

void mapPidFile(const ConfLine& line, Mapper& mapper) {
  const std::string path = mapper.resolve(line.value);
  if (inOldDaemonsDirectory(path)) {
    mapper.report(line, Status::NotNeeded,
                  "it is in the old daemon's directory; the systemd unit tracks authmilter "
                  "without one (PidFile /run/authmilter/authmilter.pid if a script needs it)");
    return;
  }
  mapper.set(line, "PidFile", path, {}, "one process writes one pid file");
}

void mapUmask(const ConfLine& line, Mapper& mapper) {
  unsigned mask = 0;
  const auto* end = line.value.data() + line.value.size();
  const auto [ptr, ec] = std::from_chars(line.value.data(), end, mask, 8);
  if (ec != std::errc() || ptr != end || mask > 0777) {
    mapper.report(line, Status::CannotMap, "'" + line.value + "' is not an octal mode");
    return;
  }
  char text[8];
  std::snprintf(text, sizeof text, "%03o", mask);
  mapper.set(line, "UMask", text);
}

void mapFacility(const ConfLine& line, Mapper& mapper) {
  const auto& facility = *config::findSetting("SyslogFacility");
  if (config::isChoice(facility, line.value)) {
    mapper.set(line, "SyslogFacility", util::toLower(line.value));
  } else {
    mapper.report(line, Status::CannotMap, "authmilter logs to " + std::string(facility.choices));
  }
}

void mapAuthservId(const ConfLine& line, Mapper& mapper) {
  if (line.value == "HOSTNAME") {
    mapper.report(line, Status::NotNeeded, "authmilter's default is this host's name");
  } else if (line.value.find_first_of(" \t;()\"\\") != std::string::npos) {
    mapper.report(line, Status::CannotMap, "an authserv-id is one token (no blanks, ';' or quotes)");
  } else {
    mapper.set(line, "AuthservID", line.value, {},
               "one process writes one Authentication-Results header, with one authserv-id");
  }
}

}  // namespace

bool reportFixed(const ConfLine& line, std::span<const FixedKey> table, Mapper& mapper) {
  for (const auto& row : table) {
    const bool prefix = row.key.ends_with('*');
    const auto name = prefix ? row.key.substr(0, row.key.size() - 1) : row.key;
    if (prefix ? util::istartsWith(line.key, name) : util::iequals(line.key, name)) {
      mapper.report(line, row.status, std::string(row.why));
      return true;
    }
  }
  return false;
}

std::optional<bool> parseBoolOrReport(const ConfLine& line, Mapper& mapper) {
  const auto value = parseBool(line.value);
  if (!value) mapper.report(line, Status::CannotMap, "'" + line.value + "' is not a boolean (yes/no, true/false, 1/0)");
  return value;
}

void mapInteger(const ConfLine& line, std::string_view key, Mapper& mapper) {
  const auto* def = config::findSetting(key);
  long n = 0;
  const auto* end = line.value.data() + line.value.size();
  const auto [ptr, ec] = std::from_chars(line.value.data(), end, n);
  if (ec != std::errc() || ptr != end || n < def->min || n > def->max) {
    mapper.report(line, Status::CannotMap,
                  "authmilter's " + std::string(key) + " takes " + std::to_string(def->min) + " to " +
                      std::to_string(def->max) + ", not '" + line.value + "'");
    return;
  }
  mapper.set(line, key, std::to_string(n));
}

bool mapCommonKey(const ConfLine& line, Mapper& mapper) {
  const auto is = [&](std::string_view name) { return util::iequals(line.key, name); };
  if (is("Socket")) {
    mapSocket(line, mapper);
  } else if (is("UserID")) {
    mapUserId(line, mapper);
  } else if (is("UMask")) {
    mapUmask(line, mapper);
  } else if (is("PidFile")) {
    mapPidFile(line, mapper);
  } else if (is("Syslog")) {
    if (const auto on = parseBoolOrReport(line, mapper)) mapper.set(line, "Syslog", *on ? "yes" : "no");
  } else if (is("SyslogFacility")) {
    mapFacility(line, mapper);
  } else if (is("AuthservID")) {
    mapAuthservId(line, mapper);
  } else if (is("BaseDirectory")) {
    mapper.setBaseDirectory(line.value);
    mapper.report(line, Status::NotNeeded,
                  "relative file names were resolved against it here; authmilter resolves them against the "
                  "directory of its conf");
  } else {
    return reportFixed(line, kCommonFixed, mapper);
  }
  return true;
}

}  // namespace authmilter::import
