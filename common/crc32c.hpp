#pragma once

// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78): the checksum of RocksDB's blocks and
// write-ahead log (audit/rocksdb_crc32c.hpp) and of a PROXY protocol v2 header's PP2_TYPE_CRC32C
// TLV (gateway/proxy_protocol.cpp). Header-only, thread-safe.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace sovgw {

#if defined(__x86_64__)
// With the SSE4.2 crc32 instruction: call only where the CPU has it (crc32c_accelerated()).
__attribute__((target("sse4.2"))) inline std::uint32_t crc32c_sse42(std::uint32_t crc, const char* data,
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

// True when the CPU has the crc32 instruction (SSE4.2).
[[nodiscard]] inline bool crc32c_accelerated() {
#if defined(__x86_64__)
  // A function-local static: RocksDB may checksum during static initialisation.
  static const bool has_sse42 = __builtin_cpu_supports("sse4.2");
  return has_sse42;
#else
  return false;
#endif
}

// The CRC-32C of `size` bytes continuing from `crc` (0 for a new one): the instruction where the
// CPU has it, else a table.
[[nodiscard]] inline std::uint32_t crc32c_extend(std::uint32_t crc, const char* data, std::size_t size) {
#if defined(__x86_64__)
  if (crc32c_accelerated()) {
    return crc32c_sse42(crc, data, size);
  }
#endif
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1) != 0 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      }
      t[i] = c;
    }
    return t;
  }();
  std::uint32_t c = ~crc;
  for (std::size_t i = 0; i < size; ++i) {
    c = table[(c ^ static_cast<std::uint8_t>(data[i])) & 0xFF] ^ (c >> 8);
  }
  return ~c;
}

[[nodiscard]] inline std::uint32_t crc32c(std::string_view data) {
  return crc32c_extend(0, data.data(), data.size());
}

}  // namespace sovgw
