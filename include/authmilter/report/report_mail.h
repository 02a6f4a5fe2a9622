// A DMARC aggregate report as mail (RFC 9990 §2.5): a multipart/mixed message (GMime) from
// ReportEmail to one rua= address, Subject "Report Domain: D Submitter: S Report-ID: <id>",
// a short text part and the gzipped XML as an application/gzip attachment; DKIM-signed by
// our own signer with the key the signing table gives ReportEmail's domain; handed to
// ReportCommand.
#pragma once

#include <glib-object.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "authmilter/dkim/signer.h"
#include "authmilter/dkim/signing_table.h"
#include "authmilter/report/report_store.h"

namespace authmilter::report {

// GMime objects owned by a unique_ptr (g_object_unref), and GMime's one-time set-up: what
// every report message builder needs.
template <typename T>
struct GObjectUnref {
  void operator()(T* p) const { g_object_unref(p); }
};
template <typename T>
using GPtr = std::unique_ptr<T, GObjectUnref<T>>;
void initGmime();

struct ReportMailInfo {
  std::string from;       // ReportEmail
  std::string submitter;  // the receiver's domain (ReportEmail's): Submitter: and the file name
  std::string orgName;
};

// The message (LF line ends, as a local mailer takes it), not yet signed.
std::string reportMessage(const ReportMailInfo& info, const StoredReport& report, std::string_view to,
                          std::string_view fileName, std::string_view gzippedXml, int64_t now);

// Puts DKIM-Signature fields (one per key the table gives `from`'s address) on top of
// `message`. False + *error when no key signs that address or a signature fails.
bool signReportMessage(const dkim::Signer& signer, const dkim::SigningTable& table, std::string_view from,
                       std::string& message, std::string* error);

// Runs `command` (split on blanks, no shell) with `message` on its standard input. Empty
// when it exited 0; else what went wrong ("exited 75", "not found").
std::string pipeToCommand(std::string_view command, std::string_view message);

}  // namespace authmilter::report
