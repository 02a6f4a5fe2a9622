// Report messages: GMime builds them, our signer signs them, ReportCommand takes them.
#include "authmilter/report/report_mail.h"

#include <gmime/gmime.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <pthread.h>
#include <signal.h>
#include <cstring>
#include <mutex>

#include "authmilter/mail/message_text.h"
#include "authmilter/util/strings.h"

namespace authmilter::report {

void initGmime() {
  static std::once_flag once;
  std::call_once(once, [] { g_mime_init(); });
}

std::string reportMessage(const ReportMailInfo& info, const StoredReport& report, std::string_view to,
                          std::string_view fileName, std::string_view gzippedXml, int64_t now) {
  initGmime();
  GPtr<GMimeMessage> message(g_mime_message_new(TRUE));
  g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_FROM, info.orgName.c_str(), info.from.c_str());
  g_mime_message_add_mailbox(message.get(), GMIME_ADDRESS_TYPE_TO, nullptr, std::string(to).c_str());
  const std::string subject = "Report Domain: " + report.policyDomain + " Submitter: " + info.submitter +
                              " Report-ID: <" + report.reportId + ">";
  g_mime_message_set_subject(message.get(), subject.c_str(), nullptr);
  GDateTime* date = g_date_time_new_from_unix_utc(now);
  g_mime_message_set_date(message.get(), date);
  g_date_time_unref(date);
  const std::string messageId = report.reportId + "." + std::to_string(now) + "@" + info.submitter;
  g_mime_message_set_message_id(message.get(), messageId.c_str());

  GPtr<GMimeMultipart> multipart(g_mime_multipart_new_with_subtype("mixed"));
  GPtr<GMimeTextPart> text(g_mime_text_part_new_with_subtype("plain"));
  const std::string body = "This is a DMARC aggregate report (RFC 9990) from " + info.orgName + " for " +
                           report.policyDomain + ", UTC day " + report.day + ".\nReport-ID: " + report.reportId +
                           "\n";
  g_mime_text_part_set_text(text.get(), body.c_str());
  g_mime_multipart_add(multipart.get(), GMIME_OBJECT(text.get()));

  GPtr<GMimePart> attachment(g_mime_part_new_with_type("application", "gzip"));
  GPtr<GMimeStream> stream(g_mime_stream_mem_new_with_buffer(gzippedXml.data(), gzippedXml.size()));
  GPtr<GMimeDataWrapper> content(g_mime_data_wrapper_new_with_stream(stream.get(), GMIME_CONTENT_ENCODING_DEFAULT));
  g_mime_part_set_content(attachment.get(), content.get());
  g_mime_object_set_disposition(GMIME_OBJECT(attachment.get()), "attachment");
  g_mime_part_set_filename(attachment.get(), std::string(fileName).c_str());
  g_mime_part_set_content_encoding(attachment.get(), GMIME_CONTENT_ENCODING_BASE64);
  g_mime_multipart_add(multipart.get(), GMIME_OBJECT(attachment.get()));
  g_mime_message_set_mime_part(message.get(), GMIME_OBJECT(multipart.get()));

  // GMime folds the long file name parameter into RFC 2231 continuations (filename*0*=...),
  // which MIME readers join again.
  char* raw = g_mime_object_to_string(GMIME_OBJECT(message.get()), nullptr);
  std::string out(raw ? raw : "");
  g_free(raw);
  return out;
}

bool signReportMessage(const dkim::Signer& signer, const dkim::SigningTable& table, std::string_view from,
                       std::string& message, std::string* error) {
  const auto at = from.rfind('@');
  const std::string local(from.substr(0, at)), domain = util::toLower(from.substr(at + 1));
  auto specs = table.select(local, domain);
  if (specs.empty()) {
    *error = "no DKIM key in the signing table signs " + std::string(from) +
             " (reports must be signed to pass DMARC: give ReportEmail's domain a key)";
    return false;
  }
  const auto text = mail::splitMessageText(message);
  dkim::Signing signing(signer, std::move(specs), "report");
  for (const auto& [name, value] : text.headers) signing.header(name, value);
  signing.endOfHeaders();
  signing.body(text.body);
  std::vector<dkim::MadeSignature> made;
  if (!signing.finish(&made, error)) return false;
  std::string fields;
  for (const auto& m : made) {
    std::string value = m.value;
    for (size_t p; (p = value.find("\r\n")) != std::string::npos;) value.erase(p, 1);  // LF, as the message
    fields += "DKIM-Signature: " + value + "\n";
  }
  message.insert(0, fields);
  return true;
}

std::string pipeToCommand(std::string_view command, std::string_view message) {
  std::vector<std::string> words;
  for (size_t i = 0; i < command.size();) {
    while (i < command.size() && (command[i] == ' ' || command[i] == '\t')) ++i;
    const size_t start = i;
    while (i < command.size() && command[i] != ' ' && command[i] != '\t') ++i;
    if (i > start) words.emplace_back(command.substr(start, i - start));
  }
  if (words.empty()) return "ReportCommand is empty";
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  int fds[2];
  if (pipe(fds) != 0) return std::string("pipe: ") + std::strerror(errno);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return std::string("fork: ") + std::strerror(errno);
  }
  if (pid == 0) {
    dup2(fds[0], STDIN_FILENO);
    close(fds[0]);
    close(fds[1]);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(fds[0]);
  // A command that stops reading is an error, not our death. SIGPIPE is blocked for this
  // thread only (the daemon's other threads keep theirs), and one our writes raised is taken
  // before it is unblocked again.
  sigset_t pipeSignal, oldMask;
  sigemptyset(&pipeSignal);
  sigaddset(&pipeSignal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipeSignal, &oldMask);
  std::string error;
  for (size_t off = 0; off < message.size();) {
    const ssize_t n = write(fds[1], message.data() + off, message.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = std::string("writing to ") + words[0] + ": " + std::strerror(errno);
      break;
    }
    off += static_cast<size_t>(n);
  }
  close(fds[1]);
  const timespec now{0, 0};
  while (sigtimedwait(&pipeSignal, nullptr, &now) > 0) {
  }
  pthread_sigmask(SIG_SETMASK, &oldMask, nullptr);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return error;
  if (WIFEXITED(status)) {
    return words[0] + (WEXITSTATUS(status) == 127 ? " could not be run (not found?)"
                                                  : " exited " + std::to_string(WEXITSTATUS(status)));
  }
  return words[0] + " was killed by signal " + std::to_string(WTERMSIG(status));
}

}  // namespace authmilter::report
