#include "audit/rocksdb_crc32c.hpp"

#include "common/crc32c.hpp"

// RocksDB's original, reached through the linker's --wrap (audit/CMakeLists.txt).
extern "C" std::uint32_t __real__ZN7rocksdb6crc32c6ExtendEjPKcm(std::uint32_t crc, const char* data,
                                                                std::size_t size);

namespace sovgw::audit {

std::uint32_t rocksdb_crc32c_extend(std::uint32_t crc, const char* data, std::size_t size) {
#if defined(__x86_64__)
  if (crc32c_accelerated()) {
    return crc32c_sse42(crc, data, size);
  }
#endif
  return __real__ZN7rocksdb6crc32c6ExtendEjPKcm(crc, data, size);
}

bool rocksdb_crc32c_accelerated() { return crc32c_accelerated(); }

}  // namespace sovgw::audit

// What the --wrap'ed references to rocksdb::crc32c::Extend(uint32_t, const char*, size_t) call.
extern "C" std::uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(std::uint32_t crc, const char* data,
                                                                std::size_t size) {
  return sovgw::audit::rocksdb_crc32c_extend(crc, data, size);
}
