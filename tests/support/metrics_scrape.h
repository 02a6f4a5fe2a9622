// Reading Prometheus metrics in tests: one HTTP GET over loopback (what Prometheus does at a
// scrape) and the value of one series in the text format.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>

namespace authmilter::testsupport {

struct HttpReply {
  int status = 0;
  std::string body;
};

// GET http://127.0.0.1:PORT/PATH (HTTP/1.0: the server closes when done). Throws when it
// cannot connect or the reply is not HTTP.
inline HttpReply httpGet(uint16_t port, const std::string& path = "/metrics") {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  }
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
    close(fd);
    throw std::runtime_error("write failed");
  }
  std::string raw;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) raw.append(buf, static_cast<size_t>(n));
  close(fd);
  const auto headerEnd = raw.find("\r\n\r\n");
  if (raw.rfind("HTTP/1.", 0) != 0 || headerEnd == std::string::npos) throw std::runtime_error("not HTTP: " + raw);
  HttpReply reply;
  reply.status = std::stoi(raw.substr(raw.find(' ') + 1, 3));
  reply.body = raw.substr(headerEnd + 4);
  return reply;
}

// The value of `series` (its name and labels exactly as written, e.g.
// `authmilter_messages_total{action="reject"}`) in Prometheus text `text`; nullopt if absent.
inline std::optional<double> sampleValue(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return std::stod(line.substr(series.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace authmilter::testsupport
