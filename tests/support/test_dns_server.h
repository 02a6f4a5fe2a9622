// A small DNS server for tests: serves records given as zone-file text on 127.0.0.1 and ::1
// (UDP and TCP, one port), answering like a recursive server that knows only that data.
// Directive lines make it misbehave on purpose (!drop, !servfail, !refused, !truncate,
// !tcpfail, !delay), and it counts the queries it receives. Built on libldns; everything
// runs in its own threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace authmilter::testsupport {

// Zone text: zone-file lines as ldns parses them ($ORIGIN, $TTL; default origin ".", default
// TTL 300; ';' comments; parentheses may span lines; a line starting with blank space reuses
// the previous owner), plus directive lines, NAME case-insensitive, no TYPE = every type:
//   !drop NAME [TYPE]       never answer (TCP: read the query, send nothing)
//   !servfail NAME [TYPE]   answer SERVFAIL, no records
//   !refused NAME [TYPE]    answer REFUSED, no records
//   !truncate NAME [TYPE]   over UDP answer with TC and no records; over TCP in full
//   !tcpfail NAME [TYPE]    over TCP read the query and close the connection unanswered
//                           (with !truncate: the TCP retry a truncated answer asks for fails)
//   !delay MS NAME [TYPE]   answer normally after MS milliseconds, not blocking other queries
class TestDnsServer {
 public:
  // Serves `zone` on 127.0.0.1 and ::1, UDP and TCP, all on one port (0: a free one). Throws
  // std::runtime_error on a zone syntax error (naming the line) or a bind failure. Serves IPv4
  // only (hasIpv6() false) when ::1 cannot be had because the host has no IPv6.
  explicit TestDnsServer(const std::string& zone, uint16_t port = 0);
  ~TestDnsServer();  // stops promptly, dropping pending delayed answers
  TestDnsServer(const TestDnsServer&) = delete;
  TestDnsServer& operator=(const TestDnsServer&) = delete;

  uint16_t port() const;
  bool hasIpv6() const;
  std::string nameserver4() const;  // "127.0.0.1:PORT"
  std::string nameserver6() const;  // "[::1]:PORT"

  // Replaces records and directives while running; throws (keeping the old zone) on bad text.
  void setZone(const std::string& zone);

  // Queries received for NAME (case-insensitive, final dot optional) and TYPE ("TXT", "A",
  // case-insensitive), over UDP and TCP; tcpQueryCount only over TCP. Every query with a
  // readable question counts, also those dropped, delayed or refused.
  size_t queryCount(const std::string& name, const std::string& type) const;
  size_t tcpQueryCount(const std::string& name, const std::string& type) const;
  size_t totalQueries() const;
  void resetCounts();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace authmilter::testsupport
