#include "ratelimit/huge_page_arena.h"

#include <sys/mman.h>

#include <cstring>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
// Free blocks are poisoned: AddressSanitizer reports a use after free() as
// it would for the heap (the free-list link is written while unpoisoned).
#define AGENTGATE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define AGENTGATE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define AGENTGATE_POISON(p, n) ((void)(p), (void)(n))
#define AGENTGATE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace agentgate {

void* MapHugePages(size_t bytes) {
  // Map one huge page more, then trim to a 2 MB aligned range.
  void* m = mmap(nullptr, bytes + kHugePageBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  const uintptr_t start = reinterpret_cast<uintptr_t>(m);
  const uintptr_t aligned = (start + kHugePageBytes - 1) & ~(kHugePageBytes - 1);
  if (aligned > start) munmap(m, aligned - start);
  const uintptr_t end = start + bytes + kHugePageBytes;
  if (end > aligned + bytes) {
    munmap(reinterpret_cast<void*>(aligned + bytes), end - aligned - bytes);
  }
  (void)madvise(reinterpret_cast<void*>(aligned), bytes, MADV_HUGEPAGE);
  return reinterpret_cast<void*>(aligned);  // mmap's pages are zero
}

void UnmapHugePages(void* p, size_t bytes) { munmap(p, bytes); }

HugePageArena::~HugePageArena() {
  for (void* r : regions_) {
    AGENTGATE_UNPOISON(r, kHugePageBytes);
    UnmapHugePages(r, kHugePageBytes);
  }
}

void* HugePageArena::allocate(size_t bytes) {
  const size_t size = Rounded(bytes);
  if (bytes == 0 || size > kMaxBlock) throw std::bad_alloc();
  std::lock_guard lock(mu_);
  void*& head = free_[size / kGranule - 1];
  if (head != nullptr) {
    void* p = head;
    AGENTGATE_UNPOISON(p, size);
    std::memcpy(&head, p, sizeof head);
    in_use_ += size;
    return p;
  }
  if (left_ < size) {  // the rest of the region (under kMaxBlock) is left unused
    regions_.reserve(regions_.size() + 1);
    next_ = static_cast<uint8_t*>(MapHugePages(kHugePageBytes));
    regions_.push_back(next_);
    left_ = kHugePageBytes;
  }
  void* p = next_;
  next_ += size;
  left_ -= size;
  in_use_ += size;
  return p;
}

void HugePageArena::free(void* p, size_t bytes) {
  const size_t size = Rounded(bytes);
  std::lock_guard lock(mu_);
  in_use_ -= size;
  void*& head = free_[size / kGranule - 1];
  std::memcpy(p, &head, sizeof head);
  head = p;
  AGENTGATE_POISON(p, size);
}

size_t HugePageArena::bytes_in_use() const {
  std::lock_guard lock(mu_);
  return in_use_;
}

size_t HugePageArena::bytes_mapped() const {
  std::lock_guard lock(mu_);
  return regions_.size() * kHugePageBytes;
}

}  // namespace agentgate
