#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "audit/record.hpp"
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
  // For readers: opens the database at `dir` read-only, creating nothing, beside a gateway that
  // holds it open (RocksDB read-only mode takes no lock; it sees the notes written until now).
  // not_found when there is none; note() and forget() must not be called.
  [[nodiscard]] static result<std::unique_ptr<in_flight_notes>> open_read_only(const std::string& dir);
  ~in_flight_notes();
  in_flight_notes(const in_flight_notes&) = delete;
  in_flight_notes& operator=(const in_flight_notes&) = delete;

  // Keeps `encoded` (a record, record.hpp) under `request_id`: unsynced. After a storage error the
  // database is asked to resume first; an error means the note is not kept.
  [[nodiscard]] status note(std::string_view request_id, std::span<const std::uint8_t> encoded);
  // Deletes the notes of these request ids, in one unsynced write (a failure leaves them: the next
  // start finds their records on the log and only deletes them).
  void forget(std::span<const std::string> request_ids);
  // Whether a note could be kept now: asks the database to resume after a storage error (or
  // reopens it, when RocksDB cannot resume, as after a failed write-ahead log append), then writes
  // and deletes a probe under the empty key (no request id is empty; all() skips it).
  [[nodiscard]] status probe();
  // Every note kept: (request id, encoded record), in request id order.
  [[nodiscard]] result<std::vector<std::pair<std::string, std::string>>> all() const;
  [[nodiscard]] const std::string& dir() const { return dir_; }

 private:
  in_flight_notes() = default;
  [[nodiscard]] static rocksdb::Status open_db(const std::string& dir, std::unique_ptr<rocksdb::DB>& db);
  std::string dir_;
  mutable std::shared_mutex gate_;  // exclusive: probe() reopening db_; shared: every other use
  std::unique_ptr<rocksdb::DB> db_;
};

class store;

// A request noted in `DB.in-flight` whose record the log does not hold: forwarded by a gateway that
// stopped before the record was durable (its next start records it, as `noted`, gateway_stopped;
// so does a sovgw command that writes the log), or, while a gateway runs, one it is serving now.
struct pending_request {
  std::string request_id;
  std::optional<record> noted;  // the record the next start writes; none when the note does not decode
  std::string undecodable;      // (no `noted`) why it does not decode
};
// The requests noted in `DB.in-flight` beside the log folder `db_dir` that `log` (opened on
// `db_dir`) does not hold, in request id order: for auditor commands (verify, report, prove, show,
// query, receipt verify --db) to tell "not on the log yet" from "no record". Opens the notes
// read-only (in_flight_notes::open_read_only): never creates them, works beside a running gateway.
// Empty when there are none; io when they cannot be read. Read the log first, then the notes: a
// record made meanwhile is then at worst reported pending, never missed by both.
[[nodiscard]] result<std::vector<pending_request>> pending_in_flight(std::string_view db_dir,
                                                                     const store& log);

}  // namespace sovgw::audit
