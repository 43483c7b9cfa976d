#include "audit/rocksdb_crc32c.hpp"

#include <doctest/doctest.h>

#include <random>
#include <string>

using namespace sovgw::audit;

// RocksDB's function (util/crc32c.h, not among its installed headers) and our replacement.
namespace rocksdb::crc32c {
std::uint32_t Extend(std::uint32_t crc, const char* data, std::size_t size);
}
extern "C" std::uint32_t __wrap__ZN7rocksdb6crc32c6ExtendEjPKcm(std::uint32_t crc, const char* data,
                                                                std::size_t size);

namespace {

// Bit-at-a-time CRC-32C (reflected polynomial 0x82F63B78): slow, obviously right.
std::uint32_t reference_crc32c(std::uint32_t crc, const std::string& data) {
  crc = ~crc;
  for (const char c : data) {
    crc ^= static_cast<std::uint8_t>(c);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
    }
  }
  return ~crc;
}

}  // namespace

TEST_CASE("RocksDB's crc32c calls land in the SSE4.2 version") {
  // The linker's --wrap turned this reference (like librocksdb.a's own) into one to ours.
  CHECK(reinterpret_cast<void*>(&rocksdb::crc32c::Extend) ==
        reinterpret_cast<void*>(&__wrap__ZN7rocksdb6crc32c6ExtendEjPKcm));
  const std::string check = "123456789";
  CHECK(rocksdb::crc32c::Extend(0, check.data(), check.size()) == 0xE3069283u);  // the CRC-32C check value
#if defined(__x86_64__)
  CHECK(rocksdb_crc32c_accelerated());  // x86-64 machines this project runs on all have SSE4.2
#endif
}

TEST_CASE("the SSE4.2 crc32c matches a bit-at-a-time reference at every length and offset") {
  CHECK(rocksdb_crc32c_extend(0, std::string(32, '\0').data(), 32) == 0x8A9136AAu);  // RFC 3720 B.4
  CHECK(rocksdb_crc32c_extend(0, std::string(32, '\xff').data(), 32) == 0x62A8AB43u);
  std::mt19937 rng(7);
  std::string buffer(4096 + 16, '\0');
  for (auto& c : buffer) {
    c = static_cast<char>(rng());
  }
  for (std::size_t offset = 0; offset < 9; ++offset) {
    for (std::size_t size : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 63u, 255u, 1000u, 4096u}) {
      const std::string slice = buffer.substr(offset, size);
      const std::uint32_t seed = rng();
      CHECK(rocksdb_crc32c_extend(seed, slice.data(), slice.size()) == reference_crc32c(seed, slice));
      // And as RocksDB computes it, in two parts.
      const std::size_t half = size / 2;
      const std::uint32_t first = rocksdb::crc32c::Extend(0, slice.data(), half);
      CHECK(rocksdb::crc32c::Extend(first, slice.data() + half, size - half) == reference_crc32c(0, slice));
    }
  }
}
