#include "audit/rocksdb_crc32c.hpp"

#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

// RocksDB's original, reached through the linker's --wrap (audit/CMakeLists.txt).
extern "C" std::uint32_t __real__ZN7rocksdb6crc32c6ExtendEjPKcm(std::uint32_t crc, const char* data,
                                                                std::size_t size);

namespace sovgw::audit {
namespace {

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) std::uint32_t crc32c_sse42(std::uint32_t crc, const char* data,
                                                             std::size_t size) {
  std::uint64_t l = ~crc;
  for (; size >= 8; size -= 8, data += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, data, 8);
    l = _mm_crc32_u64(l, word);
  }
  for (; size > 0; --size) {
    l = _mm_crc32_u8(static_cast<std::uint32_t>(l), static_cast<std::uint8_t>(*data++));
  }
  return ~static_cast<std::uint32_t>(l);
}
#endif

}  // namespace

std::uint32_t rocksdb_crc32c_extend(std::uint32_t crc, const char* data, std::size_t size) {
#if defined(__x86_64__)
  if (rocksdb_crc32c_accelerated()) {
    return crc32c_sse42(crc, data, size);
  }
#endif
  return __real__ZN7rocksdb6crc32c6ExtendEjPKcm(crc, data, size);
}

bool rocksdb_crc32c_accelerated() {
#if defined(__x86_64__)
  // A function-local static: RocksDB may checksum during static initialisation.
  static const bool has_sse42 = __builtin_cpu_supports("sse4.2");
  return has_sse42;
#else
  return false;  // RocksDB's own (which uses the CPU's CRC instructions where it was built for them)
#endif
}

}  // namespace sovgw::audit

// What the --wrap'ed references to rocksdb::crc32c::Extend(uint32_t, const char*, size_t) call.
extern "C" std::uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(std::uint32_t crc, const char* data,
                                                                std::size_t size) {
  return sovgw::audit::rocksdb_crc32c_extend(crc, data, size);
}
