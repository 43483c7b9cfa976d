#include "gateway/tls_buffers.hpp"

#include <malloc.h>
#include <openssl/crypto.h>

#include <cstddef>
#include <cstdlib>

#include "gateway/thread_blocks.hpp"

namespace sovgw::gateway {

namespace {

// OpenSSL 3's record buffers: 16,584 (read) and 16,712 (write) bytes with the default settings.
constexpr std::size_t smallest_kept = 8 * 1024;
constexpr std::size_t largest_kept = 24 * 1024;
constexpr std::size_t kept_blocks = 16;
// A kept block serves a request at most this much smaller than it: no large block for a small
// buffer.
constexpr std::size_t slack = 512;

using record_buffers = thread_blocks<struct record_buffers_tag, kept_blocks>;

void* tls_malloc(std::size_t size, const char*, int) {
  if (size >= smallest_kept && size <= largest_kept) {
    const kept_block b =
        record_buffers::take([size](std::size_t usable) { return usable >= size && usable - size <= slack; });
    if (b.p != nullptr) {
      return b.p;
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
  if (usable >= smallest_kept && usable <= largest_kept + slack && record_buffers::keep({p, usable})) {
    return;
  }
  std::free(p);
}

}  // namespace

bool install_tls_buffer_cache() { return CRYPTO_set_mem_functions(tls_malloc, tls_realloc, tls_free) == 1; }

}  // namespace sovgw::gateway
