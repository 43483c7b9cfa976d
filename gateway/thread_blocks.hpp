#pragma once

// Freed malloc blocks a thread keeps for reuse, the most recent first: one list per Tag, at most
// Capacity blocks. For memory freed and wanted again at a high rate on one thread (a request's
// context, OpenSSL's record buffers): a kept block is handed back without malloc, still in cache.
//
// The list is trivially destructible, so a block given back after the thread's thread_local
// destructors have run (a coroutine frame or an OpenSSL object destroyed late) still finds it: the
// clean-up that frees the kept blocks at thread exit also closes the list, and keep() then refuses.
// Blocks must come from std::malloc; the caller frees what keep() refuses.

#include <cstddef>
#include <cstdlib>

namespace sovgw::gateway {

struct kept_block {
  void* p = nullptr;
  std::size_t size = 0;  // what the block holds (its user's measure; thread_blocks only stores it)
};

template <class Tag, std::size_t Capacity>
class thread_blocks {
 public:
  // The most recently kept block that `fits(size)` accepts, taken off the list; null if none.
  template <class Fits>
  static kept_block take(Fits fits) {
    for (std::size_t i = list_.count; i-- > 0;) {
      if (fits(list_.blocks[i].size)) {
        const kept_block b = list_.blocks[i];
        list_.blocks[i] = list_.blocks[--list_.count];
        return b;
      }
    }
    return {};
  }
  // Keeps `b` for a later take(); false (the caller frees it) when full or the thread is ending.
  static bool keep(kept_block b) {
    if (list_.closed || list_.count == Capacity) {
      return false;
    }
    (void)&closer_;  // constructed on first use: the thread's exit frees what is kept
    list_.blocks[list_.count++] = b;
    return true;
  }

 private:
  struct list {
    kept_block blocks[Capacity];
    std::size_t count;
    bool closed;
  };
  struct closer {
    closer() = default;
    closer(const closer&) = delete;
    closer& operator=(const closer&) = delete;
    ~closer() {
      while (list_.count > 0) {
        std::free(list_.blocks[--list_.count].p);
      }
      list_.closed = true;
    }
  };
  static inline thread_local list list_{};
  static inline thread_local closer closer_;
};

}  // namespace sovgw::gateway
