// The one log line of a message: "QID: key=value ..." with the keys in a fixed order
// (README "Logging" lists them), values quoted when they hold blanks or quotes and
// sanitized (no control characters from the network reach the log).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "authmilter/pipeline/message.h"

namespace authmilter::report {

// The line for `message` on `connection` that ended with `action` (accept, reject, tempfail,
// quarantine, discard, aborted), `reason` and the `reply` the client got (empty: none).
std::string formatLogLine(const pipeline::Connection& connection, const pipeline::Message& message,
                          std::string_view action, std::string_view reason, std::string_view reply);

// The fields after `action`, `reason` and `reply`, in the line's fixed order (README
// "Logging"): trusted ignored; spf spf_helo spf_why spf_exp (or spf=skipped spf_skip);
// dkim dkim_why dkim_unchecked (or dkim=skipped dkim_skip); dmarc dmarc_from dmarc_record
// dmarc_align dmarc_policy dmarc_dis dmarc_action dmarc_why (or dmarc=skipped dmarc_skip);
// dkim_sign dkim_sign_why; removed_ar removed_ar_lookalike.
std::vector<std::pair<std::string, std::string>> logFieldsOf(const pipeline::Message& message);

// key=value as the line writes it (for tools that print the same fields).
void appendLogField(std::string& line, std::string_view key, std::string_view value);

}  // namespace authmilter::report
