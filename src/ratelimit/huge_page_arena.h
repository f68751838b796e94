// HugePageArena: small blocks (up to kMaxBlock bytes) carved from 2 MB
// regions on transparent huge pages, for data reached through a pointer on
// every call: the memory rate limiter's spilled logs. From the heap, a
// million such blocks lie on 4 KB pages, and each access costs a TLB miss
// (a page walk) on top of its cache miss.
//
// Sizes are rounded up to 16 bytes; a freed block goes to the free list of
// its size and is reused for the next block of that size. Regions are
// returned to the system only when the arena is destroyed (the limiter's
// busy users come and go; their blocks are reused).
//
// MapHugePages / UnmapHugePages: the regions' mapping, also used for the
// limiter's tables: zeroed, 2 MB aligned, madvise(MADV_HUGEPAGE).
//
// Thread-safety: allocate / free / bytes may be called concurrently (one
// mutex: blocks change hands only when a log spills, grows or moves back).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace agentgate {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// MapHugePages: `bytes` (a multiple of kHugePageBytes) of zeroed memory,
// 2 MB aligned, advised onto huge pages. Throws std::bad_alloc.
void* MapHugePages(size_t bytes);
void UnmapHugePages(void* p, size_t bytes);

class HugePageArena {
 public:
  static constexpr size_t kMaxBlock = 8192;
  static constexpr size_t kGranule = 16;

  HugePageArena() = default;
  ~HugePageArena();
  HugePageArena(const HugePageArena&) = delete;
  HugePageArena& operator=(const HugePageArena&) = delete;

  // allocate: a block of at least `bytes` (1..kMaxBlock), 16-byte aligned,
  // contents unspecified. Throws std::bad_alloc.
  void* allocate(size_t bytes);
  // free: returns a block from allocate(bytes) (the same `bytes`).
  void free(void* p, size_t bytes);
  // bytes_in_use: what the blocks handed out hold (rounded sizes).
  size_t bytes_in_use() const;
  // bytes_mapped: the regions (in use, free lists and the unused tail).
  size_t bytes_mapped() const;

 private:
  static size_t Rounded(size_t bytes) { return (bytes + kGranule - 1) / kGranule * kGranule; }

  mutable std::mutex mu_;
  std::vector<void*> regions_;  // GUARDED_BY(mu_)
  uint8_t* next_ = nullptr;     // GUARDED_BY(mu_): the current region's unused part
  size_t left_ = 0;             // GUARDED_BY(mu_)
  size_t in_use_ = 0;           // GUARDED_BY(mu_)
  // free_[k]: a list of free blocks of (k + 1) * kGranule bytes, linked
  // through their first 8 bytes. GUARDED_BY(mu_)
  std::array<void*, kMaxBlock / kGranule> free_{};
};

}  // namespace agentgate
