#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "audit/log_verifier.hpp"
#include "audit/payload_vault.hpp"
#include "audit/record.hpp"
#include "audit/status.hpp"
#include "audit/tree_tiles.hpp"
#include "crypto/checkpoint.hpp"
#include "crypto/merkle.hpp"
#include "crypto/signed_note.hpp"

namespace sovgw::audit {

class store;
class in_flight_notes;

struct log_config {
  std::string db_dir;
  std::string key_dir;  // as made by `sovgw keys init` (see keys.hpp)
  std::chrono::milliseconds checkpoint_interval{1000};
  std::size_t max_batch_records = 8192;     // records per group commit
  std::size_t max_queue_records = 1 << 20;  // appends beyond this fail fast with error_code::io
  bool hash_client_ip = false;              // store "b2:<keyed hash>" instead of the address
  // Most a payload may be kept as (config); a record's own mode (the policy obligation) can only
  // lower it: none < digest < sealed.
  payload_mode max_payload = payload_mode::sealed;
  // Open even when the log does not verify against the last signed checkpoint, and append a
  // "forced-open" event saying why. Never at the price of a checkpoint contradicting one signed
  // before: the tree is rebuilt from the records when they are all intact, else the stored tree
  // is continued when it extends the newest signed checkpoint, else open fails anyway.
  bool allow_unverified_open = false;
  // Create the log when db_dir holds none. Off for maintenance (shred, retention): a mistyped
  // directory must fail, not succeed on a new empty log.
  bool create_if_missing = true;
  // Space bounds: the log stops taking new work (accepting() turns false, see below) while its
  // directory holds max_bytes or more, or its file system has less than min_free_bytes free, so
  // the disk never fills under it. 0 = no bound. Measured every `health_interval`; between two
  // measurements, what each group commit writes is added to the last one.
  std::uint64_t max_bytes = 0;
  std::uint64_t min_free_bytes = 0;
  // How often the sequencer checks the space bounds and, after a storage error, tries to resume.
  std::chrono::milliseconds health_interval{1000};
  // Called on the sequencer thread when signing, storing or publishing the periodic checkpoint
  // starts failing (with why) and when it works again (empty): the log goes on recording, but a
  // copy of the store taken meanwhile could lose records unnoticed (published_checkpoint.hpp).
  std::function<void(std::string_view problem)> on_checkpoint_problem;
  // Called on the sequencer thread for each attempt to resume after a storage error that failed,
  // with why (the log stays failed and tries again every health_interval).
  std::function<void(std::string_view problem)> on_resume_failed;
  // Keep in-flight notes beside the log (in_flight.hpp: the gateway): open() records the requests
  // noted and never recorded (the previous process stopped while serving them) before it returns.
  bool in_flight = false;
};

// The note of a record made from an in-flight note at start-up (gateway_stopped_error_kind,
// record.hpp).
inline constexpr std::string_view gateway_stopped_note =
    "the gateway stopped (a crash or kill) while this request was forwarded, before its response was "
    "complete: recorded at its next start from the note made when it was forwarded (status 0: the "
    "client got no complete response; the response's status, size and usage are not known: its tokens "
    "are the gateway's estimate when it forwarded the request)";

// Whether the log can make new records durable. The gateway forwards no request unless it can.
enum class health_state : std::uint8_t {
  ok,
  failed,  // a write failed; the log retries (RocksDB resume) every health_interval
  full,    // over max_bytes or under min_free_bytes; appends still work, new work should wait
};
[[nodiscard]] std::string_view health_state_name(health_state s) noexcept;

struct log_health {
  health_state state = health_state::ok;
  std::string reason;            // empty when ok
  std::uint64_t bytes = 0;       // the database directory's size at the last check
  std::uint64_t free_bytes = 0;  // free space on its file system at the last check
  std::uint64_t failures = 0;    // storage errors since open()
  std::uint64_t recoveries = 0;  // times it resumed after one
  std::uint64_t resume_failures = 0;  // attempts to resume that failed
};

// Called once the record is durable (or failed), in seq order, on one of the log's threads (or
// the caller's, when the append is refused at once): keep it short and never wait in it for
// another append.
using append_callback = std::function<void(const status&, std::uint64_t seq)>;

// A retention age as written by admins: "90d", "12h", "30m", "10s". nullopt when unreadable.
[[nodiscard]] std::optional<std::uint64_t> parse_age_seconds(std::string_view text);

// What the sequencer has done since open(): for benchmarks and metrics.
struct log_stats {
  std::uint64_t records = 0;         // records made durable
  std::uint64_t syncs = 0;           // group commits: one synced write (one fdatasync) each
  double sync_seconds = 0;           // wall time inside those writes (WAL, fdatasync, memtables)
  double sequencer_cpu_seconds = 0;  // CPU time of the sequencer thread
  // Periodic checkpoints not signed: a storage error, or the stored tree no longer proving the
  // new one consistent with the last (the log then records on, unsigned, until someone looks).
  std::uint64_t checkpoint_failures = 0;
};

// The tamper-evident audit log writer: an RFC 6962 Merkle tree in RocksDB, appended by one
// sequencer thread in group commits (one synced WriteBatch per batch), with a C2SP checkpoint
// signed every `checkpoint_interval` (when the tree grew) and on close().
//
// Typical use from the gateway (opened once at start-up, shared by all sessions):
//   auto log = audit_log::open({.db_dir = "/var/lib/sovgw/audit", .key_dir = "/etc/sovgw/keys"});
//   if (!log.is_ok()) { /* refuse to start: log.error().message() */ }
//   record r = ...;                     // from the request context, decision and relay
//   r.payload = payload_mode::sealed;   // the policy obligation
//   log.value()->append_async(std::move(r), payload{prompt, completion},
//                             [](const status& s, std::uint64_t seq) { /* count, or post to a strand */ });
//   ...
//   (void)log.value()->close();         // at shutdown: drains and signs the final checkpoint
//
// Thread-safety: append*() may be called from any number of threads concurrently. close() is
// idempotent and waits for queued appends to become durable. The object must outlive every
// pending callback (close() or the destructor drain them).
class audit_log {
 public:
  // Loads keys (throws crypto::key_file_error on bad key files: control plane), opens or creates
  // the log, and refuses (error_code::verification_failed) a log whose tree does not verify
  // against its latest checkpoint unless config.allow_unverified_open (and, even then, one it
  // cannot continue without contradicting a signed checkpoint). Other errors: busy (another writer
  // holds the log), not_found (no log and !create_if_missing), invalid_argument (the keys sign
  // for another log), io/corruption (storage).
  [[nodiscard]] static result<std::unique_ptr<audit_log>> open(const log_config& config);
  ~audit_log();
  audit_log(const audit_log&) = delete;
  audit_log& operator=(const audit_log&) = delete;

  // Appends `r` (seq is assigned; r.payload selects the payload mode: `data` is sealed, digested
  // or ignored). Encryption and encoding run on the calling thread; `done` runs when durable.
  // The first sealed payload of a tenant creates its data key with one synced write, inline.
  // `clears_in_flight`: the request was noted with note_in_flight(); its note is deleted once this
  // record is durable. When a storage error fails the record, the log keeps it (without its
  // payload, marked audit_unavailable when it had no other error) and writes it once it resumes.
  void append_async(record r, const payload& data, append_callback done, bool clears_in_flight = false);
  // Same, as a future of the durable seq.
  [[nodiscard]] std::future<result<std::uint64_t>> append(record r, const payload& data = {});

  // Before a request goes to a cluster (with log_config::in_flight): keeps its record as it would
  // read if the gateway stopped now (gateway_stopped_error_kind, no payload), in one unsynced
  // write. ok without in-flight notes; an error means the note is not kept (do not forward).
  [[nodiscard]] status note_in_flight(record r);
  // The requests open() recorded from the notes of a previous process (log_config::in_flight).
  [[nodiscard]] std::uint64_t recorded_in_flight() const { return recorded_in_flight_; }

  // Signs a checkpoint now if the tree grew since the last one; returns the latest checkpoint.
  [[nodiscard]] result<crypto::checkpoint> checkpoint_now();
  // Destroys the tenant's data keys and records that it did (an event record naming the tenant
  // and the key versions destroyed, no request details: log_events.hpp). Returns the event's seq;
  // not_found (and no event) when the tenant has no data key: never had a sealed payload here, or
  // was shredded before.
  [[nodiscard]] result<std::uint64_t> shred_tenant(const std::string& tenant);
  // Deletes stored payloads of records older than `cutoff_us` (leaves and proofs unaffected) and
  // records that it did, with the cut-off (log_events.hpp) and `remark`. Returns the number of
  // payloads dropped.
  [[nodiscard]] result<std::uint64_t> drop_payloads_before(std::uint64_t cutoff_us,
                                                           std::string_view remark = {});

  // Drains the queue, signs a final checkpoint, stops the sequencer and closes the store.
  [[nodiscard]] status close();

  // Cheap (one atomic load): true when health() is ok. Safe from any thread.
  [[nodiscard]] bool accepting() const noexcept {
    return health_state_.load(std::memory_order_acquire) == health_state::ok;
  }
  [[nodiscard]] log_health health() const;

  [[nodiscard]] std::uint64_t durable_size() const;
  [[nodiscard]] log_stats stats() const;
  [[nodiscard]] std::optional<crypto::checkpoint> latest_checkpoint() const;
  [[nodiscard]] const crypto::note_verifier& verifier() const { return signer_->verifier(); }

 private:
  struct pending {
    std::vector<std::uint8_t> leaf;             // encoded with seq = 0; the sequencer patches it
    std::string blob;                           // sealed payload, if any
    std::array<std::string, 5> index_prefixes;  // one per index_columns entry (store.hpp)
    append_callback done;
    std::string in_flight_id;  // the request id whose in-flight note this record clears
    // The record commits to a data key (payload_vault::sealed): set once it is durable.
    std::shared_ptr<std::atomic<bool>> commits_data_key;
  };

  audit_log() = default;
  void run();
  void commit(std::vector<pending>& batch);
  status sign_checkpoint_locked();
  status publish_locked(std::string_view note, std::uint64_t size);  // the note to published_path_
  void fail_all(std::vector<pending>& batch, const status& s);
  // (request id, encoded record): the in-flight notes of held records, rewritten to say why.
  using held_notes = std::vector<std::pair<std::string, std::vector<std::uint8_t>>>;
  // queue_mutex_: a request record a storage error failed, written once the log resumes.
  void hold_locked(const pending& p, const status& s, held_notes& notes);
  void note_held(const held_notes& notes);  // not under queue_mutex_
  bool fail_on_store_error();               // not under state_mutex_: fails the log after a store_failed_
  status record_in_flight_notes();                      // open(): the notes a stopped process left
  status rebuild_tiles();
  void check_health();  // sequencer thread: space bounds, and resuming after a storage error
  void account_written(std::uint64_t written);  // sequencer thread: the bounds between two checks
  void publish_health_locked();
  result<std::string> resume_damaged(verify_report& report);  // forced open: says how it resumed

  log_config config_;
  std::unique_ptr<store> store_;
  std::unique_ptr<crypto::note_signer> signer_;
  std::unique_ptr<payload_vault> vault_;
  std::string published_path_;        // published_checkpoint_path(db_dir): each signed checkpoint too
  std::uint64_t published_size_ = 0;  // the size of the checkpoint last published there

  // Sequencer state: touched only by the sequencer thread (and open() before it starts), except
  // where guarded by state_mutex_.
  tile_builder tiles_;
  std::uint64_t next_seq_ = 0;

  mutable std::mutex state_mutex_;  // guards durable_size_, latest_, checkpoint signing
  std::uint64_t durable_size_ = 0;
  crypto::merkle::hash durable_root_{};
  std::optional<crypto::checkpoint> latest_;
  log_stats stats_;
  status store_failed_;             // a checkpoint's write to the store failed: the sequencer fails the log
  std::uint64_t held_unnoted_ = 0;  // held records whose in-flight note could not be written

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::vector<pending> queue_;
  bool stopping_ = false;
  bool sequencer_idle_ = false;  // waiting on queue_cv_: the next append must notify
  bool stopped_ = false;
  bool checkpoint_failing_ = false;  // sequencer thread: the last periodic checkpoint failed
  status failed_;
  std::thread sequencer_;

  // Health: written by the sequencer (and fail_all) under state_mutex_; health_state_ mirrors it
  // for the request path.
  std::atomic<health_state> health_state_{health_state::ok};
  bool space_full_ = false;
  std::uint64_t written_since_check_ = 0;  // bytes committed since check_health measured
  bool space_measured_ = false;
  std::string space_reason_;
  std::uint64_t dir_bytes_ = 0;
  std::uint64_t free_bytes_ = 0;
  std::uint64_t failures_ = 0;
  std::uint64_t recoveries_ = 0;
  std::uint64_t resume_failures_ = 0;
  std::string resume_problem_;  // why the last attempt to resume failed (empty: none failed yet)
  // Why the last in-flight note could not be written, until a probe succeeds (check_health): no
  // request may be forwarded meanwhile, so the log is not accepting (probe round 46: /readyz said
  // ready while every request was refused so).
  std::string notes_problem_;

  // Durable batches: the completion thread runs their callbacks (and frees their records), so the
  // sequencer can start the next group commit at once.
  struct completed {
    std::uint64_t first = 0;
    std::vector<pending> records;
  };
  void run_completions();
  std::mutex done_mutex_;
  std::condition_variable done_cv_;
  std::vector<completed> done_queue_;
  bool done_stop_ = false;
  bool completer_busy_ = false;
  std::thread completer_;

  std::unique_ptr<in_flight_notes> in_flight_;
  std::vector<record> held_;  // queue_mutex_: records failed by a storage error, written on resume
  static constexpr std::size_t max_held_records = 100000;  // beyond, only in-flight notes keep them
  std::uint64_t held_dropped_ = 0;                         // queue_mutex_: failed records not held
  std::uint64_t recorded_in_flight_ = 0;
};

}  // namespace sovgw::audit
