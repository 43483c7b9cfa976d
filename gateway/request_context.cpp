#include "gateway/request_context.hpp"

#include <cstddef>
#include <new>

namespace sovgw::gateway {

namespace {

// Freed blocks a thread keeps: more than the requests a worker has in flight at once is memory
// held for nothing (each block is a request_context's size).
constexpr std::size_t kept_blocks = 64;

// Trivially destructible, so still usable by a request_slot that outlives the thread's
// thread_local destructors (a coroutine frame destroyed late): `closed` then sends its block
// straight back to the heap.
struct block_cache {
  void* blocks[kept_blocks];
  std::size_t count;
  bool closed;
};
thread_local block_cache cache{};

struct cache_closer {
  cache_closer() = default;
  cache_closer(const cache_closer&) = delete;
  cache_closer& operator=(const cache_closer&) = delete;
  ~cache_closer() {
    while (cache.count > 0) {
      ::operator delete(cache.blocks[--cache.count], sizeof(request_context));
    }
    cache.closed = true;
  }
};
thread_local cache_closer closer;

}  // namespace

request_slot::request_slot() {
  void* block = nullptr;
  if (cache.count > 0) {
    block = cache.blocks[--cache.count];
  } else {
    (void)&closer;  // the first block on this thread: the cache is emptied when the thread ends
    block = ::operator new(sizeof(request_context));
  }
  try {
    ctx_ = new (block) request_context();
  } catch (...) {
    ::operator delete(block, sizeof(request_context));
    throw;
  }
}

request_slot::~request_slot() {
  ctx_->~request_context();
  if (cache.closed || cache.count == kept_blocks) {
    ::operator delete(ctx_, sizeof(request_context));
  } else {
    cache.blocks[cache.count++] = ctx_;
  }
}

}  // namespace sovgw::gateway
