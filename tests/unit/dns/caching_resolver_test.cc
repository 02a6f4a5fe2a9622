// The shared cache: TTLs against a clock the test moves, negative caching (RFC 2308),
// temporary failures never cached, the LRU bound, and coalescing of identical lookups.
#include "authmilter/dns/caching_resolver.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fake_resolver.h"

namespace authmilter::dns {
namespace {

using testsupport::FakeResolver;
using namespace std::chrono_literals;

class CachingResolverTest : public ::testing::Test {
 protected:
  CachingResolver make(CacheOptions options = {}) {
    return CachingResolver(fake_, options, [this] { return now_; });
  }
  std::shared_ptr<FakeResolver> fake_ = std::make_shared<FakeResolver>();
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1)};
};

TEST_F(CachingResolverTest, SecondLookupIsAnsweredFromTheCacheWithTheTtlThatIsLeft) {
  fake_->setRecords("example.com", RrType::TXT, {"v=spf1 -all"}, 300);
  auto cache = make();
  const auto first = cache.lookup("example.com", RrType::TXT);
  EXPECT_FALSE(first.fromCache);
  EXPECT_EQ(first.ttl, 300u);
  now_ += 100s;
  const auto second = cache.lookup("example.com", RrType::TXT);
  EXPECT_TRUE(second.fromCache);
  EXPECT_EQ(second.ttl, 200u);
  ASSERT_EQ(second.records.size(), 1u);
  EXPECT_EQ(second.records[0].text, "v=spf1 -all");
  EXPECT_EQ(fake_->calls("example.com", RrType::TXT), 1);
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
}

TEST_F(CachingResolverTest, NamesCompareCaseInsensitivelyAndWithOrWithoutTheFinalDot) {
  fake_->setRecords("example.com", RrType::A, {"192.0.2.1"}, 300);
  auto cache = make();
  cache.lookup("Example.COM", RrType::A);
  EXPECT_TRUE(cache.lookup("example.com.", RrType::A).fromCache);
  EXPECT_FALSE(cache.lookup("example.com", RrType::AAAA).fromCache);  // another type, another entry
  EXPECT_EQ(fake_->calls("example.com", RrType::A), 1);
}

TEST_F(CachingResolverTest, AnEntryExpiresWithItsTtl) {
  fake_->setRecords("example.com", RrType::TXT, {"a"}, 60);
  auto cache = make();
  cache.lookup("example.com", RrType::TXT);
  now_ += 59s;
  EXPECT_TRUE(cache.lookup("example.com", RrType::TXT).fromCache);
  now_ += 1s;
  EXPECT_FALSE(cache.lookup("example.com", RrType::TXT).fromCache);
  EXPECT_EQ(fake_->calls("example.com", RrType::TXT), 2);
}

TEST_F(CachingResolverTest, TtlIsCappedByMaxTtl) {
  fake_->setRecords("example.com", RrType::TXT, {"a"}, 86400);
  auto cache = make({.maxEntries = 100, .maxTtl = 600});
  EXPECT_EQ(cache.lookup("example.com", RrType::TXT).ttl, 600u);
  now_ += 600s;
  EXPECT_FALSE(cache.lookup("example.com", RrType::TXT).fromCache);
}

TEST_F(CachingResolverTest, NegativeAnswersAreCachedForTheirNegativeTtl) {
  fake_->setStatus("nx.example.com", RrType::TXT, DnsStatus::NxDomain, 30);
  fake_->setStatus("nodata.example.com", RrType::TXT, DnsStatus::NoData, 30);
  auto cache = make();
  cache.lookup("nx.example.com", RrType::TXT);
  cache.lookup("nodata.example.com", RrType::TXT);
  now_ += 29s;
  const auto nx = cache.lookup("nx.example.com", RrType::TXT);
  EXPECT_TRUE(nx.fromCache);
  EXPECT_EQ(nx.status, DnsStatus::NxDomain);
  const auto nodata = cache.lookup("nodata.example.com", RrType::TXT);
  EXPECT_TRUE(nodata.fromCache);
  EXPECT_EQ(nodata.status, DnsStatus::NoData);
  now_ += 1s;
  EXPECT_FALSE(cache.lookup("nx.example.com", RrType::TXT).fromCache);
}

TEST_F(CachingResolverTest, NegativeAnswerWithoutSoaIsNotCached) {
  fake_->setStatus("nx.example.com", RrType::TXT, DnsStatus::NxDomain, 0);
  auto cache = make();
  cache.lookup("nx.example.com", RrType::TXT);
  EXPECT_FALSE(cache.lookup("nx.example.com", RrType::TXT).fromCache);
  EXPECT_EQ(fake_->calls("nx.example.com", RrType::TXT), 2);
}

TEST_F(CachingResolverTest, TemporaryFailuresAreNeverCached) {
  fake_->setStatus("fail.example.com", RrType::TXT, DnsStatus::ServFail, 300);
  fake_->setStatus("slow.example.com", RrType::TXT, DnsStatus::Timeout, 300);
  auto cache = make();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(cache.lookup("fail.example.com", RrType::TXT).status, DnsStatus::ServFail);
    EXPECT_EQ(cache.lookup("slow.example.com", RrType::TXT).status, DnsStatus::Timeout);
  }
  EXPECT_EQ(fake_->calls("fail.example.com", RrType::TXT), 2);
  EXPECT_EQ(fake_->calls("slow.example.com", RrType::TXT), 2);
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST_F(CachingResolverTest, BoundedLeastRecentlyUsedGoesFirst) {
  for (const char* name : {"a.example", "b.example", "c.example"}) fake_->setRecords(name, RrType::A, {"192.0.2.1"}, 300);
  auto cache = make({.maxEntries = 2, .maxTtl = 3600});
  cache.lookup("a.example", RrType::A);
  cache.lookup("b.example", RrType::A);
  cache.lookup("a.example", RrType::A);  // a is now the most recently used
  cache.lookup("c.example", RrType::A);  // evicts b
  EXPECT_EQ(cache.stats().entries, 2u);
  EXPECT_TRUE(cache.lookup("a.example", RrType::A).fromCache);
  EXPECT_TRUE(cache.lookup("c.example", RrType::A).fromCache);
  EXPECT_FALSE(cache.lookup("b.example", RrType::A).fromCache);
  EXPECT_EQ(fake_->calls("b.example", RrType::A), 2);
  EXPECT_EQ(fake_->calls("a.example", RrType::A), 1);
}

TEST_F(CachingResolverTest, SizeZeroTurnsCachingOff) {
  fake_->setRecords("example.com", RrType::TXT, {"a"}, 300);
  auto cache = make({.maxEntries = 0, .maxTtl = 3600});
  cache.lookup("example.com", RrType::TXT);
  EXPECT_FALSE(cache.lookup("example.com", RrType::TXT).fromCache);
  EXPECT_EQ(fake_->calls("example.com", RrType::TXT), 2);
}

TEST_F(CachingResolverTest, ConcurrentIdenticalLookupsShareOneUpstreamQuery) {
  fake_->setRecords("example.com", RrType::TXT, {"v=DMARC1; p=reject"}, 300);
  auto cache = make();
  fake_->closeGate();
  constexpr int kThreads = 8;
  std::vector<DnsAnswer> answers(kThreads);
  std::vector<std::thread> threads;
  threads.emplace_back([&] { answers[0] = cache.lookup("example.com", RrType::TXT); });
  fake_->waitEntered(1);  // the leader is on the wire
  for (int i = 1; i < kThreads; ++i) {
    threads.emplace_back([&, i] { answers[i] = cache.lookup("EXAMPLE.com.", RrType::TXT); });
  }
  // Every follower must be waiting on the leader before the answer arrives.
  while (cache.stats().coalesced < kThreads - 1) std::this_thread::yield();
  fake_->openGate();
  for (auto& t : threads) t.join();
  EXPECT_EQ(fake_->calls("example.com", RrType::TXT), 1);
  for (const auto& a : answers) {
    ASSERT_EQ(a.status, DnsStatus::Ok);
    EXPECT_EQ(a.records[0].text, "v=DMARC1; p=reject");
  }
  EXPECT_EQ(cache.stats().coalesced, static_cast<uint64_t>(kThreads - 1));
}

TEST_F(CachingResolverTest, ConcurrentLookupsOfATemporaryFailureAlsoShareOneQuery) {
  fake_->setStatus("slow.example.com", RrType::TXT, DnsStatus::Timeout, 0);
  auto cache = make();
  fake_->closeGate();
  std::thread leader([&] { cache.lookup("slow.example.com", RrType::TXT); });
  fake_->waitEntered(1);
  DnsAnswer follower;
  std::thread second([&] { follower = cache.lookup("slow.example.com", RrType::TXT); });
  while (cache.stats().coalesced < 1) std::this_thread::yield();
  fake_->openGate();
  leader.join();
  second.join();
  EXPECT_EQ(follower.status, DnsStatus::Timeout);
  EXPECT_EQ(fake_->calls("slow.example.com", RrType::TXT), 1);
  // ... and the next lookup asks again: a timeout is not remembered.
  cache.lookup("slow.example.com", RrType::TXT);
  EXPECT_EQ(fake_->calls("slow.example.com", RrType::TXT), 2);
}

}  // namespace
}  // namespace authmilter::dns
