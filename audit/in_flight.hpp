#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/status.hpp"

// The in-flight notes of a gateway: one per request forwarded to a cluster whose audit record is
// not durable yet, holding that request's record as it would read had the gateway stopped then.
// They live in a RocksDB database of their own beside the log (`DB.in-flight`, as `DB.checkpoint`
// is), written without fdatasync: a note costs the request path one write to the page cache and
// never waits for the log's group commits. A process that is killed leaves its notes in the page
// cache, so they survive it; a machine that stops (power loss, kernel crash) may lose the notes
// written since the kernel last wrote them back. The log deletes a note once the request's own
// record is durable; the notes left at the next start are the requests the gateway was serving
// when it stopped, and the log records them before it takes new work (audit_log::open).
//
// Thread-safety: note() and forget() may be called from any thread (RocksDB serialises writes).
namespace sovgw::audit {

// `DB.in-flight` beside the log folder `DB`, named as published_checkpoint_path() names its file.
[[nodiscard]] std::string in_flight_path(std::string_view db_dir);

class in_flight_notes {
 public:
  // Opens or creates the database at `dir` (mode 0700). io when RocksDB cannot.
  [[nodiscard]] static result<std::unique_ptr<in_flight_notes>> open(const std::string& dir);
  ~in_flight_notes();
  in_flight_notes(const in_flight_notes&) = delete;
  in_flight_notes& operator=(const in_flight_notes&) = delete;

  // Keeps `encoded` (a record, record.hpp) under `request_id`: unsynced. After a storage error the
  // database is asked to resume first; an error means the note is not kept.
  [[nodiscard]] status note(std::string_view request_id, std::span<const std::uint8_t> encoded);
  // Deletes the notes of these request ids, in one unsynced write (a failure leaves them: the next
  // start finds their records on the log and only deletes them).
  void forget(std::span<const std::string> request_ids);
  // Every note kept: (request id, encoded record), in request id order.
  [[nodiscard]] result<std::vector<std::pair<std::string, std::string>>> all() const;
  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  in_flight_notes() = default;
  std::string dir_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace sovgw::audit
