// Session: libmilter's view (callbacks, macros, header edits) -> pipeline::Transaction.
#include "authmilter/milter/session.h"

#include "authmilter/metrics/metrics.h"

namespace authmilter::milter {

using pipeline::Verdict;

Session::Session(std::shared_ptr<const runtime::Runtime> runtime, MilterContext& context, bool headerLeadingSpace)
    : runtime_(std::move(runtime)),
      context_(context),
      headerLeadingSpace_(headerLeadingSpace),
      transaction_(runtime_->settings, runtime_->stages) {
  metrics::sessionOpened();
}

Session::~Session() { metrics::sessionClosed(); }

std::string Session::macroOr(std::string_view name, std::string fallback) {
  auto value = context_.macro(name);
  return value ? std::move(*value) : std::move(fallback);
}

Verdict Session::connect(const std::string& hostname, std::optional<net::IpAddress> address) {
  const metrics::StepTimer timer(metrics::Step::Connect);
  // Some MTAs pass no socket address (e.g. local submission); {client_addr} may still say.
  if (!address) {
    if (auto text = context_.macro("{client_addr}")) address = net::IpAddress::parse(*text);
  }
  return transaction_.connect({hostname, address, macroOr("{daemon_name}"), headerLeadingSpace_});
}

void Session::helo(const std::string& name) {
  const metrics::StepTimer timer(metrics::Step::Helo);
  transaction_.helo(name, macroOr("{tls_version}"), macroOr("{cipher}"));
}

Verdict Session::mailFrom(const std::vector<std::string>& args) {
  const metrics::StepTimer timer(metrics::Step::Mail);
  return transaction_.mailFrom({args.empty() ? std::string() : args.front(), macroOr("{auth_authen}"),
                                macroOr("{auth_type}"), macroOr("i")});
}

Verdict Session::rcpt(const std::vector<std::string>& args) {
  const metrics::StepTimer timer(metrics::Step::Rcpt);
  return transaction_.rcpt(args.empty() ? std::string_view() : std::string_view(args.front()));
}

Verdict Session::header(const std::string& name, const std::string& value) {
  const metrics::StepTimer timer(metrics::Step::Header);
  return transaction_.header(name, value);
}

Verdict Session::endOfHeaders() {
  const metrics::StepTimer timer(metrics::Step::EndOfHeaders);
  return transaction_.endOfHeaders();
}

Verdict Session::body(std::string_view chunk) {
  const metrics::StepTimer timer(metrics::Step::Body);
  return transaction_.body(chunk);
}

void Session::apply(const pipeline::HeaderEditPlan& plan) {
  const std::string lead = headerLeadingSpace_ ? " " : "";
  const std::string name(report::kAuthResultsHeader);
  for (const size_t index : plan.deleteAuthResults) context_.deleteHeader(name, index);
  context_.insertHeader(0, name, lead + plan.authResults);
  for (const auto& edit : plan.edits) {
    if (edit.kind == pipeline::HeaderEdit::Kind::Insert) {
      context_.insertHeader(edit.index, edit.name, lead + edit.value);
    } else {
      context_.addHeader(edit.name, lead + edit.value);
    }
  }
  if (plan.quarantine) context_.quarantine(*plan.quarantine);
}

Verdict Session::endOfMessage() {
  const metrics::StepTimer timer(metrics::Step::EndOfMessage);
  const auto end = transaction_.endOfMessage(macroOr("i"));
  if (!end.verdict.stops()) apply(end.edits);
  runtime::recordForReports(*runtime_, end.message);
  return end.verdict;
}

void Session::abort() {
  const metrics::StepTimer timer(metrics::Step::Abort);
  transaction_.abort();
}

void Session::close() { transaction_.close(); }

}  // namespace authmilter::milter
