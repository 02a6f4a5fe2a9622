// The test PostgreSQL server itself: it starts, libpq reaches it at uri() and it answers,
// databases can be added, two servers do not share a port, and once destroyed its port
// refuses connections. Without the server binaries this fails, saying what is missing: CI
// installs the postgresql package, and a silent skip would hide that it did not.
#include "postgres_server.h"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace authmilter::testsupport {
namespace {

struct ConnFree {
  void operator()(PGconn* conn) const { PQfinish(conn); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnFree>;

struct ResultFree {
  void operator()(PGresult* result) const { PQclear(result); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultFree>;

// The single value `sql` returns over a fresh connection to `uri`, or a failure naming why.
::testing::AssertionResult queryOne(const std::string& uri, const std::string& sql, std::string& value) {
  ConnPtr conn(PQconnectdb(uri.c_str()));
  if (!conn || PQstatus(conn.get()) != CONNECTION_OK) {
    return ::testing::AssertionFailure() << "cannot connect to " << uri << ": "
                                         << (conn ? PQerrorMessage(conn.get()) : "out of memory");
  }
  ResultPtr result(PQexec(conn.get(), sql.c_str()));
  if (!result || PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
    return ::testing::AssertionFailure() << sql << " failed: " << PQerrorMessage(conn.get());
  }
  if (PQntuples(result.get()) != 1 || PQnfields(result.get()) != 1) {
    return ::testing::AssertionFailure() << sql << " returned " << PQntuples(result.get()) << " rows of "
                                         << PQnfields(result.get()) << " columns";
  }
  value = PQgetvalue(result.get(), 0, 0);
  return ::testing::AssertionSuccess();
}

// errno of a TCP connect to 127.0.0.1:port (0: it connected).
int connectError(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int err = rc == 0 ? 0 : errno;
  close(fd);
  return err;
}

class PostgresServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(PostgresServer::available()) << "no PostgreSQL server for the tests: "
                                             << PostgresServer::unavailableReason();
  }
};

TEST_F(PostgresServerTest, StartsAndAnswersOverLibpq) {
  PostgresServer server;
  EXPECT_GT(server.port(), 0);
  EXPECT_EQ(server.uri(), "postgresql://authmilter@127.0.0.1:" + std::to_string(server.port()) + "/authmilter");
  std::string value;
  ASSERT_TRUE(queryOne(server.uri(), "SELECT 1", value));
  EXPECT_EQ(value, "1");
  ASSERT_TRUE(queryOne(server.uri(), "SELECT current_user", value));
  EXPECT_EQ(value, "authmilter");
  ASSERT_TRUE(queryOne(server.uri(), "SELECT current_setting('listen_addresses')", value));
  EXPECT_EQ(value, "127.0.0.1");
}

TEST_F(PostgresServerTest, CreatesDatabases) {
  PostgresServer server;
  server.createDatabase("second");
  std::string value;
  ASSERT_TRUE(queryOne(server.uri("second"), "SELECT current_database()", value));
  EXPECT_EQ(value, "second");
  // One that exists already: an error naming the command and saying what the server said.
  try {
    server.createDatabase("second");
    FAIL() << "creating an existing database succeeded";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("createdb"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("already exists"), std::string::npos) << e.what();
  }
}

TEST_F(PostgresServerTest, TwoServersGetDifferentPorts) {
  PostgresServer first;
  PostgresServer second;
  EXPECT_NE(first.port(), second.port());
  std::string value;
  ASSERT_TRUE(queryOne(first.uri(), "SELECT 1", value));
  EXPECT_EQ(value, "1");
  ASSERT_TRUE(queryOne(second.uri(), "SELECT 2", value));
  EXPECT_EQ(value, "2");
}

TEST_F(PostgresServerTest, PortRefusesConnectionsOnceDestroyed) {
  std::optional<PostgresServer> server(std::in_place);
  const int port = server->port();
  EXPECT_EQ(connectError(port), 0);
  server.reset();
  const int err = connectError(port);
  EXPECT_EQ(err, ECONNREFUSED) << "connect to 127.0.0.1:" << port << ": " << std::strerror(err);
}

}  // namespace
}  // namespace authmilter::testsupport
