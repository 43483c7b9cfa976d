#include "gateway/tls_buffers.hpp"

#include <malloc.h>
#include <openssl/crypto.h>

#include <cstddef>
#include <cstdlib>

namespace sovgw::gateway {

namespace {

// OpenSSL 3's record buffers: 16,584 (read) and 16,712 (write) bytes with the default settings.
constexpr std::size_t smallest_kept = 8 * 1024;
constexpr std::size_t largest_kept = 24 * 1024;
constexpr std::size_t kept_blocks = 16;
// A kept block serves a request at most this much smaller than it: no large block for a small
// buffer.
constexpr std::size_t slack = 512;

struct block {
  void* p;
  std::size_t usable;
};

// Trivially destructible, so a free after the thread's thread_local destructors (OpenSSL objects
// freed at exit) still finds it: `closed` then sends the block straight to free().
struct block_cache {
  block blocks[kept_blocks];
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
      std::free(cache.blocks[--cache.count].p);
    }
    cache.closed = true;
  }
};
thread_local cache_closer closer;

void* tls_malloc(std::size_t size, const char*, int) {
  if (size >= smallest_kept && size <= largest_kept) {
    for (std::size_t i = cache.count; i-- > 0;) {
      const block b = cache.blocks[i];
      if (b.usable >= size && b.usable - size <= slack) {
        cache.blocks[i] = cache.blocks[--cache.count];
        return b.p;
      }
    }
  }
  return std::malloc(size);
}

void* tls_realloc(void* p, std::size_t size, const char*, int) { return std::realloc(p, size); }

void tls_free(void* p, const char*, int) {
  if (p == nullptr) {
    return;
  }
  const std::size_t usable = malloc_usable_size(p);
  if (usable >= smallest_kept && usable <= largest_kept + slack && !cache.closed &&
      cache.count < kept_blocks) {
    (void)&closer;  // a thread that only frees (OpenSSL objects made elsewhere) empties it too
    cache.blocks[cache.count++] = block{p, usable};
    return;
  }
  std::free(p);
}

}  // namespace

bool install_tls_buffer_cache() { return CRYPTO_set_mem_functions(tls_malloc, tls_realloc, tls_free) == 1; }

}  // namespace sovgw::gateway
