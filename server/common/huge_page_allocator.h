// HugePageAllocator: a std::allocator for big, long-lived, randomly read
// arrays (the snapshot's candidate index). An allocation of 2 MiB or more is
// aligned to 2 MiB and advised to the kernel as MADV_HUGEPAGE, so that
// transparent huge pages back it where the kernel allows (Debian's default
// THP mode, "madvise", honours exactly this advice).
//
// Why: a decision against a million-rule bundle probes a ~30 MiB table at
// random. With 4 KiB pages nearly every probe also misses the TLB, and the
// page walk costs about as much as the cache miss itself. With 2 MiB pages
// the whole table needs a few dozen TLB entries.
//
// The advice is only advice: where THP is off, this is an aligned malloc.
#ifndef IMPORTGATE_SERVER_COMMON_HUGE_PAGE_ALLOCATOR_H_
#define IMPORTGATE_SERVER_COMMON_HUGE_PAGE_ALLOCATOR_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace importgate {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

template <typename T>
class HugePageAllocator {
 public:
  using value_type = T;

  HugePageAllocator() = default;
  template <typename U>
  HugePageAllocator(const HugePageAllocator<U>&) {}  // NOLINT: allocator

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T))
      throw std::bad_array_new_length();
    size_t bytes = n * sizeof(T);
    void* p = nullptr;
    if (bytes >= kHugePageBytes) {
      bytes = (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes;
      p = std::aligned_alloc(kHugePageBytes, bytes);
      if (p != nullptr) madvise(p, bytes, MADV_HUGEPAGE);
    } else {
      p = std::malloc(bytes == 0 ? 1 : bytes);
    }
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }

  void deallocate(T* p, size_t) { std::free(p); }

  template <typename U>
  bool operator==(const HugePageAllocator<U>&) const {
    return true;
  }
};

}  // namespace importgate

#endif  // IMPORTGATE_SERVER_COMMON_HUGE_PAGE_ALLOCATOR_H_
