#pragma once

#include <cstddef>
#include <cstdint>

// RocksDB checksums every WAL record and every SST block with CRC-32C. Debian's librocksdb is
// built portable (no SSE4.2), so its crc32c::Extend is the table-driven software version: 14% of
// the audit sequencer's CPU in a profile of group commits (the WAL record CRC over 1-2 MB per
// commit), plus the flush thread's block checksums and every verification read.
//
// Every binary that links sovgw_audit is linked with `--wrap` on rocksdb::crc32c::Extend (see
// audit/CMakeLists.txt), so RocksDB's calls land in rocksdb_crc32c_extend() below: the SSE4.2
// crc32 instruction when the CPU has it, RocksDB's own function otherwise. The values are the same
// CRC-32C either way, so logs written with or without it read the same. (A build that links
// RocksDB as a shared library is not wrapped: its internal calls stay inside the library.)
namespace sovgw::audit {

// CRC-32C (Castagnoli) of `size` bytes continuing from `crc`, as rocksdb::crc32c::Extend. Thread-safe.
[[nodiscard]] std::uint32_t rocksdb_crc32c_extend(std::uint32_t crc, const char* data, std::size_t size);

// True when rocksdb_crc32c_extend uses the crc32 instruction (the CPU has SSE4.2).
[[nodiscard]] bool rocksdb_crc32c_accelerated();

}  // namespace sovgw::audit
