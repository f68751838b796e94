// HugePageArena: the memory rate limiter's blocks for spilled logs.
#include "ratelimit/huge_page_arena.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <random>
#include <thread>
#include <vector>

namespace agentgate {
namespace {

TEST(HugePageArenaTest, BlocksAreDistinctAlignedAndReusedBySize) {
  HugePageArena arena;
  EXPECT_EQ(arena.bytes_mapped(), 0u);  // nothing until the first block
  void* a = arena.allocate(108);
  void* b = arena.allocate(108);
  void* c = arena.allocate(6012);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 16, 0u);
  EXPECT_NE(a, b);
  EXPECT_GE(static_cast<char*>(b) - static_cast<char*>(a), 108);
  std::memset(a, 1, 108);
  std::memset(b, 2, 108);
  std::memset(c, 3, 6012);
  EXPECT_EQ(static_cast<unsigned char*>(a)[107], 1);
  EXPECT_EQ(static_cast<unsigned char*>(b)[0], 2);
  EXPECT_EQ(arena.bytes_in_use(), 112u + 112u + 6016u);  // rounded to 16
  EXPECT_EQ(arena.bytes_mapped(), kHugePageBytes);
  arena.free(a, 108);
  EXPECT_EQ(arena.bytes_in_use(), 112u + 6016u);
  EXPECT_EQ(arena.allocate(100), a);  // the same rounded size: the freed block
  EXPECT_NE(arena.allocate(108), a);
  arena.free(c, 6012);
  EXPECT_EQ(arena.allocate(6012), c);
}

TEST(HugePageArenaTest, SizesOutsideTheBlocksAreRefused) {
  HugePageArena arena;
  EXPECT_THROW((void)arena.allocate(0), std::bad_alloc);
  EXPECT_THROW((void)arena.allocate(HugePageArena::kMaxBlock + 1), std::bad_alloc);
  EXPECT_EQ(arena.bytes_in_use(), 0u);
  EXPECT_NE(arena.allocate(HugePageArena::kMaxBlock), nullptr);
}

// More than one region: blocks never overlap, each keeps what was written.
TEST(HugePageArenaTest, ManyBlocksSpanRegionsWithoutOverlap) {
  HugePageArena arena;
  std::mt19937 rng(3);
  std::vector<std::pair<unsigned char*, size_t>> blocks;
  for (int i = 0; i < 3000; ++i) {
    const size_t n = 16 + rng() % 2000;
    auto* p = static_cast<unsigned char*>(arena.allocate(n));
    std::memset(p, i & 0xFF, n);
    blocks.emplace_back(p, n);
  }
  EXPECT_GE(arena.bytes_mapped(), 2 * kHugePageBytes);
  for (size_t i = 0; i < blocks.size(); ++i) {
    const auto [p, n] = blocks[i];
    ASSERT_EQ(p[0], i & 0xFF);
    ASSERT_EQ(p[n - 1], i & 0xFF);
  }
  for (const auto& [p, n] : blocks) arena.free(p, n);
  EXPECT_EQ(arena.bytes_in_use(), 0u);
}

// Shards of the limiter allocate and free from their own threads.
TEST(HugePageArenaConcurrencyTest, TwoThreadsAllocateAndFree) {
  HugePageArena arena;
  std::vector<std::thread> threads;
  std::atomic<int> corrupt{0};
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      std::vector<std::pair<unsigned char*, size_t>> mine;
      for (int i = 0; i < 20000; ++i) {
        if (mine.empty() || rng() % 3 != 0) {
          const size_t n = 16 + rng() % 500;
          auto* p = static_cast<unsigned char*>(arena.allocate(n));
          std::memset(p, t + 1, n);
          mine.emplace_back(p, n);
        } else {
          const size_t k = rng() % mine.size();
          const auto [p, n] = mine[k];
          if (p[0] != t + 1 || p[n - 1] != t + 1) ++corrupt;
          arena.free(p, n);
          mine[k] = mine.back();
          mine.pop_back();
        }
      }
      for (const auto& [p, n] : mine) arena.free(p, n);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(corrupt.load(), 0);
  EXPECT_EQ(arena.bytes_in_use(), 0u);
}

}  // namespace
}  // namespace agentgate
