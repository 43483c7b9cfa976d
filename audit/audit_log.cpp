#include "audit/audit_log.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/statvfs.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <limits>

#include "audit/in_flight.hpp"
#include "audit/keys.hpp"
#include "audit/log_events.hpp"
#include "audit/log_verifier.hpp"
#include "audit/proof_file.hpp"
#include "audit/published_checkpoint.hpp"
#include "audit/store.hpp"
#include "common/plural.hpp"
#include "crypto/base64.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::audit {
namespace {

namespace m = crypto::merkle;

constexpr std::string_view origin_meta_key = "origin";
constexpr std::string_view auditor_meta_key = "auditor_key";  // the auditor.pub line it seals to
constexpr std::size_t max_note_size = 1000;
constexpr std::size_t inline_completion_limit = 4;

std::uint64_t now_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

std::optional<std::uint64_t> parse_age_seconds(std::string_view text) {
  if (text.size() < 2) {
    return std::nullopt;
  }
  const char unit = text.back();
  const std::uint64_t per = unit == 'd' ? 86400 : unit == 'h' ? 3600 : unit == 'm' ? 60 : unit == 's' ? 1 : 0;
  std::uint64_t n = 0;
  const auto digits = text.substr(0, text.size() - 1);
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (per == 0 || ec != std::errc() || end != digits.data() + digits.size() ||
      n > UINT64_MAX / 1000000 / per) {
    return std::nullopt;
  }
  return n * per;
}

result<std::unique_ptr<audit_log>> audit_log::open(const log_config& config) {
  auto keys = load_writer_keys(config.key_dir);
  // The checkpoint published beside the store: a store that lost records it covers (restored from
  // an old copy, replaced, emptied, or missing its newest writes with their checkpoints) is never
  // continued, nor replaced by a new one (nor created before refusing).
  const std::string published_path = published_checkpoint_path(config.db_dir);
  auto published = read_published_checkpoint(published_path, keys.signer.verifier());
  if (!published.is_ok() && store::missing(config.db_dir)) {
    return status{
        error_code::verification_failed,
        fmt::format("refusing to create a new audit log at {}: its store is missing, but {} is there "
                    "({}). Restore the store; to start a new log instead, move {} aside and keep it "
                    "as evidence",
                    config.db_dir, published_path, published.error().message(), published_path)};
  }
  if (published.is_ok() && *published) {
    verify_options held;
    held.held.push_back(**published);
    held.held_label = fmt::format("the checkpoint this log published at {}", published_path);
    if (const auto gone = verify_missing_store(config.db_dir, held)) {
      return status{error_code::verification_failed,
                    fmt::format("refusing to create a new audit log at {}: {}. Restore the store; to start a "
                                "new log instead, move {} aside and keep it as evidence",
                                config.db_dir, gone->problems.front().text, published_path)};
    }
  }
  auto opened = store::open(config.db_dir, config.create_if_missing ? store::open_mode::read_write
                                                                    : store::open_mode::write_existing);
  if (!opened.is_ok()) {
    return opened.error();
  }
  std::unique_ptr<audit_log> log(new audit_log());
  log->config_ = config;
  log->store_ = std::move(opened.value());
  log->signer_ = std::make_unique<crypto::note_signer>(std::move(keys.signer));
  const std::string& origin = log->signer_->verifier().name;

  auto stored_origin = log->store_->get(column::meta, origin_meta_key);
  if (!stored_origin.is_ok()) {
    return stored_origin.error();
  }
  if (stored_origin->has_value() && **stored_origin != origin) {
    return status{error_code::invalid_argument,
                  fmt::format("the audit log at {} belongs to log '{}' but the keys in {} sign as '{}'",
                              config.db_dir, **stored_origin, config.key_dir, origin)};
  }
  if (!stored_origin->has_value()) {
    rocksdb::WriteBatch batch;
    batch.Put(log->store_->cf(column::meta), std::string(origin_meta_key), origin);
    if (auto s = log->store_->write(batch, true); !s.is_ok()) {
      return s;
    }
  }

  log->published_path_ = published_path;
  verify_options checks{
      .indexes = false, .held = {}, .require_checkpoint = false, .check_times_at_us = std::nullopt};
  if (published.is_ok() && *published) {
    checks.held.push_back(**published);
    checks.held_label = fmt::format("the checkpoint this log published at {}", log->published_path_);
  }
  auto report = verify_log(*log->store_, log->signer_->verifier(), checks);
  if (report.checkpoints == 0 && report.stored_checkpoints > 0) {
    // Not one stored checkpoint is signed by this key: the keys are another log's (same name), and
    // even a forced open would sign this log's checkpoints with a key its auditors do not hold.
    const auto foreign = std::find_if(report.problems.begin(), report.problems.end(), [](const problem& p) {
      return p.kind == problem_kind::checkpoint_unknown_key;
    });
    if (foreign != report.problems.end()) {
      return status{
          error_code::invalid_argument,
          fmt::format("the keys in {} ({}) did not sign the audit log at {}: none of its {} stored "
                      "{} is signed by them; {}. A log is signed by one key: to rotate the signing key, "
                      "keep this log (with the key directory that signed it) as evidence, publish its "
                      "last checkpoint, and start a new log with the new keys (docs/auditing.md, "
                      "\"Rotating the checkpoint signing key\")",
                      config.key_dir, log->signer_->verifier().label(), config.db_dir,
                      report.stored_checkpoints,
                      plural(report.stored_checkpoints, "checkpoint", "checkpoints"), foreign->text)};
    }
  }
  // One auditor key per log: a new auditor.pub would seal the next data keys to a key that opens
  // none of the older ones. The records' data key commitments name it in the signed log; the meta
  // entry, unsigned, also covers a log from before them.
  const std::string auditor_base64 = crypto::to_base64(keys.auditor_public);
  const std::string auditor = "sovgw-auditor-x25519 " + auditor_base64;
  if (!report.committed_auditor_keys.empty() && report.committed_auditor_keys.front() != auditor_base64) {
    return status{
        error_code::invalid_argument,
        fmt::format("the auditor key in {}/auditor.pub ({}) is not the auditor key the audit log at {} seals "
                    "its payloads to: its signed records commit its data keys as sealed to "
                    "sovgw-auditor-x25519 {}. Put the log's auditor.pub back in {}; to change the auditor "
                    "key, start a new log with it and keep this one with its auditor.key (docs/auditing.md, "
                    "\"Rotating the auditor key\")",
                    config.key_dir, auditor, config.db_dir, report.committed_auditor_keys.front(),
                    config.key_dir)};
  }
  auto stored_auditor = log->store_->get(column::meta, auditor_meta_key);
  if (!stored_auditor.is_ok()) {
    return stored_auditor.error();
  }
  if (stored_auditor->has_value() && **stored_auditor != auditor) {
    return status{
        error_code::invalid_argument,
        fmt::format("the auditor key in {}/auditor.pub ({}) is not the auditor key the audit log at {} seals "
                    "its payloads to ({}): payloads sealed to it would not open with the log's auditor.key, "
                    "and an auditor could not tell them from replaced data keys. Put the log's auditor.pub "
                    "back in {}; to change the auditor key, start a new log with it and keep this one with "
                    "its auditor.key (docs/auditing.md, \"Rotating the auditor key\")",
                    config.key_dir, auditor, config.db_dir, **stored_auditor, config.key_dir)};
  }
  if (!stored_auditor->has_value()) {  // a new log, or one from before the key was kept: taken as it is
    rocksdb::WriteBatch batch;
    batch.Put(log->store_->cf(column::meta), std::string(auditor_meta_key), auditor);
    if (auto s = log->store_->write(batch, true); !s.is_ok()) {
      return s;
    }
  }

  if (!published.is_ok() && published.error().code() == error_code::io) {
    return status{error_code::io, fmt::format("refusing to open the audit log at {}: {} (move it aside)",
                                              config.db_dir, published.error().message())};
  }
  if (!published.is_ok()) {
    return status{error_code::verification_failed,
                  fmt::format("refusing to open the audit log at {}: {} (if the keys in {} replaced the ones "
                              "that signed it, move that file aside)",
                              config.db_dir, published.error().message(), config.key_dir)};
  }
  // Records the published checkpoint covers and the log would not continue after: never signed over.
  const auto lost = [&](std::uint64_t reach, std::string_view also) {
    const std::uint64_t covered = (*published)->size;
    return status{
        error_code::verification_failed,
        fmt::format(
            "refusing to open the audit log at {}: it reaches {} records, but the checkpoint this log "
            "published at {} covers {}: records {}..{} are gone (the store was restored from an "
            "older copy, replaced, or lost its newest writes). Restore a copy of the store that "
            "holds them{}; to start a new log instead, move {} and {} aside and keep them as evidence",
            config.db_dir, reach, log->published_path_, covered, reach, covered - 1, also, config.db_dir,
            log->published_path_)};
  };
  if (*published && (*published)->size > report.records && !config.allow_unverified_open) {
    return lost(report.records,
                " (a forced open continues only where the stored Merkle tree still covers them)");
  }
  std::string forced_reason;
  if (report.ok()) {
    log->tiles_ = std::move(report.tiles);
    log->latest_ = report.latest;
  } else {
    if (!config.allow_unverified_open) {
      return status{
          error_code::verification_failed,
          fmt::format("refusing to open the audit log at {}: {} (open with allow_unverified_open / --force "
                      "to continue anyway; that is recorded in the log)",
                      config.db_dir, report.problems.front().text)};
    }
    auto resumed = log->resume_damaged(report);
    if (!resumed.is_ok()) {
      return resumed.error();
    }
    forced_reason = fmt::format("{}; {}", report.problems.front().text, resumed.value());
    if (*published && log->tiles_.size() < (*published)->size) {
      return lost(log->tiles_.size(), "");
    }
  }
  log->next_seq_ = log->tiles_.size();
  log->durable_size_ = log->next_seq_;
  log->durable_root_ = log->tiles_.root();
  log->published_size_ = *published ? (*published)->size : 0;
  if (log->latest_ && log->published_size_ < log->latest_->size) {
    // A log older than publishing, or whose last publication failed: its newest checkpoint now.
    auto note = stored_checkpoint_note(*log->store_, log->latest_->size);
    if (!note.is_ok()) {
      return note.error();
    }
    if (auto s = log->publish_locked(note.value(), log->latest_->size); !s.is_ok()) {
      return s;
    }
  }
  log->vault_ = std::make_unique<payload_vault>(*log->store_, keys.kek, keys.auditor_public);
  auto unwrapped = log->vault_->remove_wrapped_copies();
  if (!unwrapped.is_ok()) {
    return unwrapped.error();
  }
  log->completer_ = std::thread([raw = log.get()] {
    pthread_setname_np(pthread_self(), "audit-complete");
    raw->run_completions();
  });
  log->sequencer_ = std::thread([raw = log.get()] {
    pthread_setname_np(pthread_self(), "audit-sequence");
    raw->run();
  });

  std::vector<std::string> events;
  if (!forced_reason.empty()) {
    events.push_back(("forced-open: " + forced_reason).substr(0, max_note_size));
  }
  if (unwrapped.value() > 0) {
    events.push_back(
        fmt::format("key-migration: removed the KEK-wrapped copies of {} data key(s); only the "
                    "auditor key opens them now",
                    unwrapped.value()));
  }
  for (auto& note : events) {
    record event;
    event.kind = record_kind::event;
    event.timestamp_us = now_us();
    event.note = std::move(note);
    auto seq = log->append(std::move(event)).get();
    if (!seq.is_ok()) {
      return seq.error();
    }
  }
  if (config.in_flight) {
    if (auto s = log->record_in_flight_notes(); !s.is_ok()) {
      return s;
    }
  }
  // What a stopped process left unsigned (records since its last checkpoint, the notes just
  // recorded) is signed before the log is handed out, as `prove` tells an auditor the next start
  // does: a gateway killed again within its first checkpoint interval must not leave them
  // unsigned (probe round 44). A checkpoint refused for the stored tree is refused again by the
  // periodic signer, which reports it as it always did; a store that cannot be written fails the
  // start.
  bool unsigned_records = false;
  {
    std::lock_guard lock(log->state_mutex_);
    unsigned_records = log->durable_size_ > (log->latest_ ? log->latest_->size : 0);
  }
  if (unsigned_records) {
    if (auto cp = log->checkpoint_now();
        !cp.is_ok() && cp.error().code() != error_code::verification_failed) {
      return cp.error();
    }
  }
  return log;
}

// The notes a stopped process left: each request whose record is not on the log is recorded now
// (as the note says: gateway_stopped), then its note deleted. A note whose record is there (the
// process stopped between making the record durable and deleting the note) is only deleted.
status audit_log::record_in_flight_notes() {
  auto opened = in_flight_notes::open(in_flight_path(config_.db_dir));
  if (!opened.is_ok()) {
    return opened.error();
  }
  in_flight_ = std::move(opened.value());
  auto notes = in_flight_->all();
  if (!notes.is_ok()) {
    return notes.error();
  }
  std::vector<std::string> ids;
  std::vector<std::future<result<std::uint64_t>>> appended;
  for (auto& [id, value] : notes.value()) {
    ids.push_back(id);
    auto r = decode(bytes_of(value));
    if (!r.is_ok()) {
      return status{error_code::corruption,
                    fmt::format("the in-flight note of request '{}' in {} does not decode ({}): move {} "
                                "aside (and keep it: it names a request the log may lack)",
                                id, in_flight_->dir(), r.error().message(), in_flight_->dir())};
    }
    const std::string prefix = length_prefixed(id);
    auto it = store_->iterate(column::idx_request);
    it->Seek(prefix);
    if (it->Valid() && it->key().size() == prefix.size() + 8 && it->key().starts_with(prefix)) {
      continue;  // recorded: only its note was left
    }
    if (!it->status().ok()) {
      return from_rocksdb(it->status(), "reading the request id index failed");
    }
    appended.push_back(append(std::move(r.value())));
  }
  for (auto& f : appended) {
    if (auto seq = f.get(); !seq.is_ok()) {
      return seq.error();
    }
  }
  in_flight_->forget(ids);
  recorded_in_flight_ = appended.size();
  return status::ok();
}

status audit_log::note_in_flight(record r) {
  if (!in_flight_) {
    return status::ok();
  }
  r.seq = 0;
  r.payload = payload_mode::none;
  r.payload_digest.clear();
  r.error_kind = std::string(gateway_stopped_error_kind);
  r.note = std::string(gateway_stopped_note);
  (void)clamp_to_limits(r);
  if (config_.hash_client_ip && !r.client_ip.empty() && r.client_ip.rfind("b2:", 0) != 0) {
    r.client_ip = vault_->pseudonymise_ip(r.client_ip);
  }
  if (auto s = validate(r); !s.is_ok()) {
    return s;
  }
  const std::string id = r.request_id;
  status noted = in_flight_->note(id, encode(r));
  if (!noted.is_ok()) {
    std::lock_guard lock(state_mutex_);
    if (notes_problem_.empty()) {
      ++failures_;
    }
    notes_problem_ = std::string(noted.message());
    publish_health_locked();
  }
  return noted;
}

result<std::string> audit_log::resume_damaged(verify_report& report) {
  const auto& newest = report.newest_signed;
  // Every record present, none altered, no stored tree hash contradicting the records it covers,
  // and the newest signed checkpoint reproduced: only derived state (the stored tree) is damaged
  // (missing tiles, or hashes over records a signed checkpoint vouches for), so it is rebuilt from
  // the records.
  if (report.contiguous && report.tree_complete && !report.first_bad_record && !report.tree_contradicted &&
      (!newest || (report.latest && *report.latest == *newest))) {
    tiles_ = std::move(report.tiles);
    latest_ = newest;
    if (auto s = rebuild_tiles(); !s.is_ok()) {
      return s;
    }
    return std::string("its Merkle tree rebuilt from the records");
  }
  // Records altered or missing: the log continues the stored tree, if that reproduces the newest
  // signed checkpoint and its right edge extends it. The tree keeps the hashes that were appended
  // (verify goes on naming the records that no longer match them; no proof of an altered record
  // verifies), and no checkpoint signed from now on can contradict one signed before.
  auto stored_size = stored_tree_size(*store_);
  auto leaves = store_->leaf_count();
  if (stored_size.is_ok() && leaves.is_ok() && leaves.value() <= stored_size.value() &&
      (!newest || newest->size <= stored_size.value())) {
    stored_tree tree(*store_);
    auto loaded = tile_builder::load(*store_, stored_size.value());
    const auto extends = [&] {
      const auto root = m::tree_root(newest->size, tree.source());
      const auto proof = m::consistency_proof(newest->size, stored_size.value(), tree.source());
      return root && *root == newest->root && proof &&
             m::verify_consistency(newest->size, stored_size.value(), newest->root, loaded.value().root(),
                                   *proof) == m::verdict::ok;
    };
    if (loaded.is_ok() && (!newest || extends())) {
      tiles_ = std::move(loaded.value());
      latest_ = newest;
      return std::string("continuing its stored Merkle tree");
    }
  }
  return status{
      error_code::verification_failed,
      fmt::format("cannot continue the audit log at {} even when forced: neither its stored Merkle tree "
                  "nor its records reproduce the newest signed checkpoint (size {}), and continuing "
                  "would sign checkpoints inconsistent with it ({}). Keep this log as evidence (sovgw "
                  "audit verify names the damage) and start a new log in another directory",
                  config_.db_dir, newest ? newest->size : 0, report.problems.front().text)};
}

status audit_log::rebuild_tiles() {
  tile_builder rebuilt;
  rocksdb::WriteBatch batch;
  status failure;
  const auto emit = [&](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
    batch.Put(store_->cf(column::tree), tile_key(level, index), encode_tile(h));
  };
  // Tiles beyond the records (a stored tree longer than what is left) must not outlive the rebuild.
  batch.DeleteRange(store_->cf(column::tree), std::string(), std::string(1, '\xff'));
  auto it = store_->iterate(column::leaves, false);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    rebuilt.append(m::leaf_hash(bytes_of(it->value().ToStringView())), emit);
    if (batch.Count() > 10000) {
      if (auto s = store_->write(batch, false); !s.is_ok()) {
        return s;
      }
      batch.Clear();
    }
  }
  rebuilt.flush(emit);
  return store_->write(batch, true);
}

audit_log::~audit_log() { (void)close(); }

void audit_log::append_async(record r, const payload& data, append_callback done, bool clears_in_flight) {
  r.seq = 0;
  r.payload_digest.clear();
  (void)clamp_to_limits(r);
  if (config_.hash_client_ip && !r.client_ip.empty() && r.client_ip.rfind("b2:", 0) != 0) {
    r.client_ip = vault_->pseudonymise_ip(r.client_ip);
  }
  if (static_cast<int>(r.payload) > static_cast<int>(config_.max_payload)) {
    r.payload = config_.max_payload;
  }
  pending p;
  status sealing_failed;
  if (r.payload != payload_mode::none) {
    crypto::secret_bytes plain(encode_payload(data));
    if (r.payload == payload_mode::digest) {
      const auto d = crypto::sha256(plain.view());
      r.payload_digest.assign(d.begin(), d.end());
    } else {
      auto blob = vault_->seal(r.tenant, plain.view(), payload_associated_data(r));
      if (!blob.is_ok()) {
        // Only the store fails a seal (the tenant's new data key could not be written): the log
        // has failed as if its group commit had (probe round 42: the requests whose records failed
        // so were forwarded on, unrecorded, while /readyz said ready).
        sealing_failed = blob.error();
        r.payload = payload_mode::none;
      } else {
        p.blob = std::move(blob->blob);
        const auto d = crypto::sha256(std::string_view(p.blob));
        r.payload_digest.assign(d.begin(), d.end());
        if (blob->carries_commitment) {
          r.data_key_version = blob->data_key_version;
          r.data_key_digest = std::move(blob->data_key_digest);
          r.auditor_key = std::move(blob->auditor_key);
          p.commits_data_key = std::move(blob->committed);
        }
      }
    }
  }
  if (auto s = validate(r); !s.is_ok()) {
    done(s, 0);
    return;
  }
  p.leaf = encode(r);
  const index_fields fields{r.timestamp_us, r.request_id, r.tenant, r.client_country, r.decision};
  for (std::size_t i = 0; i < index_columns.size(); ++i) {
    append_index_prefix(index_columns[i], fields, p.index_prefixes[i]);
  }
  p.done = std::move(done);
  if (clears_in_flight && in_flight_) {
    p.in_flight_id = r.request_id;
  }
  if (!sealing_failed.is_ok()) {
    std::vector<pending> failed;
    failed.push_back(std::move(p));
    fail_all(failed, sealing_failed);
    return;
  }
  bool wake = false;
  {
    std::unique_lock lock(queue_mutex_);
    if (stopping_ || !failed_.is_ok() || queue_.size() >= config_.max_queue_records) {
      const status s = !failed_.is_ok() ? failed_
                       : stopping_      ? status{error_code::shut_down, "the audit log is closed"}
                                        : status{error_code::io, "the audit log queue is full"};
      held_notes notes;
      if (!failed_.is_ok()) {
        hold_locked(p, s, notes);
      }
      lock.unlock();
      note_held(notes);
      p.done(s, 0);
      return;
    }
    queue_.push_back(std::move(p));
    wake = sequencer_idle_;
    sequencer_idle_ = false;
  }
  // Only an idle sequencer needs a wake-up: a futex call per append costs more than the append on
  // a loaded VM.
  if (wake) {
    queue_cv_.notify_one();
  }
}

std::future<result<std::uint64_t>> audit_log::append(record r, const payload& data) {
  auto promise = std::make_shared<std::promise<result<std::uint64_t>>>();
  auto future = promise->get_future();
  append_async(std::move(r), data, [promise](const status& s, std::uint64_t seq) {
    if (s.is_ok()) {
      promise->set_value(seq);
    } else {
      promise->set_value(s);
    }
  });
  return future;
}

void audit_log::run() {
  auto next_checkpoint = std::chrono::steady_clock::now() + config_.checkpoint_interval;
  auto next_health = std::chrono::steady_clock::now();
  std::vector<pending> batch;
  for (;;) {
    bool stop = false;
    {
      std::unique_lock lock(queue_mutex_);
      if (queue_.empty() && !stopping_) {
        sequencer_idle_ = true;
        queue_cv_.wait_until(lock, std::min(next_checkpoint, next_health),
                             [&] { return !queue_.empty() || stopping_; });
        sequencer_idle_ = false;
      }
      if (queue_.size() <= config_.max_batch_records) {
        batch.swap(queue_);
      } else {
        auto split = queue_.begin() + static_cast<std::ptrdiff_t>(config_.max_batch_records);
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(split));
        queue_.erase(queue_.begin(), split);
      }
      stop = stopping_ && queue_.empty();
    }
    if (!batch.empty()) {
      std::uint64_t written = 0;
      for (const pending& p : batch) {
        written += p.leaf.size() + p.blob.size();
      }
      commit(batch);
      batch.clear();
      account_written(written);
    }
    bool store_failed = false;
    {
      std::lock_guard lock(queue_mutex_);
      store_failed = !failed_.is_ok();
    }
    if (std::chrono::steady_clock::now() >= next_checkpoint && !store_failed) {
      // (Not while the log has failed: that is said already, and nothing is recorded to sign.)
      status signed_now;
      {
        std::lock_guard lock(state_mutex_);
        signed_now = sign_checkpoint_locked();
        stats_.checkpoint_failures += signed_now.is_ok() ? 0 : 1;
      }
      if (fail_on_store_error()) {  // said as the log's failure, not as a checkpoint not published
        next_checkpoint = std::chrono::steady_clock::now() + config_.checkpoint_interval;
        continue;
      }
      if (signed_now.is_ok() == checkpoint_failing_) {  // a change: say it once
        checkpoint_failing_ = !signed_now.is_ok();
        if (config_.on_checkpoint_problem) {
          config_.on_checkpoint_problem(signed_now.is_ok() ? std::string_view() : signed_now.message());
        }
      }
      next_checkpoint = std::chrono::steady_clock::now() + config_.checkpoint_interval;
    }
    if (std::chrono::steady_clock::now() >= next_health) {
      check_health();
      next_health = std::chrono::steady_clock::now() + config_.health_interval;
    }
    if (stop) {
      break;
    }
  }
}

// A request's record that a storage error failed: kept, and written once the log resumes
// (check_health), so that the request is on the log: a forwarded one although its answer was cut,
// one the gateway answered itself (an error, a denial: nothing of a cluster's goes out) although
// its answer went out before the record was durable (probe round 42: such denials were lost).
// Its payload is not kept (it was sealed to the record as it read; the record now says more).
// Its in-flight note is written to say the same, so that a gateway stopped before the log resumes
// records it so at its next start. Events are not held: whoever appended one is told it failed.
void audit_log::hold_locked(const pending& p, const status& s, held_notes& notes) {
  auto r = decode(p.leaf);
  if (!r.is_ok() || r.value().kind != record_kind::request) {
    return;
  }
  if (held_.size() >= max_held_records) {
    ++held_dropped_;
    return;
  }
  record& held = r.value();
  const bool forwarded = !p.in_flight_id.empty();
  held.seq = 0;
  held.payload = payload_mode::none;
  held.payload_digest.clear();
  if (held.error_kind.empty()) {
    held.error_kind = "audit_unavailable";  // the gateway's outcome (gateway/outcome.hpp)
  }
  const std::string answer =
      forwarded
          ? std::string("the client's answer was cut before its end")
          : fmt::format("the client had the gateway's own answer (status {}) before this record was durable",
                        held.status);
  const std::string earlier = held.note.empty() ? std::string() : held.note + "; ";
  if (in_flight_) {
    record at_start = held;
    at_start.note = fmt::format(
                        "{}recorded at the gateway's next start: a storage error ({}) failed this record and "
                        "the gateway stopped before the log resumed; {}; the payload was not kept",
                        earlier, s.message(), answer)
                        .substr(0, max_note_size);
    notes.emplace_back(held.request_id, encode(at_start));
  }
  held.note = fmt::format(
                  "{}recorded when the audit log resumed after a storage error ({}): {}; the payload "
                  "was not kept",
                  earlier, s.message(), answer)
                  .substr(0, max_note_size);
  held_.push_back(std::move(held));
}

// Outside queue_mutex_: a failed store may make these writes slow; the note store is another
// database, which may well still write (a best effort: an error leaves the record held only).
void audit_log::note_held(const held_notes& notes) {
  std::uint64_t unnoted = 0;
  for (const auto& [id, encoded] : notes) {
    unnoted += in_flight_->note(id, encoded).is_ok() ? 0 : 1;
  }
  if (unnoted != 0) {  // said by /readyz (health()): a stop now loses them (probe round 43)
    std::lock_guard lock(state_mutex_);
    held_unnoted_ += unnoted;
  }
}

void audit_log::fail_all(std::vector<pending>& batch, const status& s) {
  held_notes notes;
  {
    std::lock_guard lock(queue_mutex_);
    if (failed_.is_ok()) {
      failed_ = s;
    }
    for (const auto& p : batch) {
      hold_locked(p, s, notes);
    }
  }
  note_held(notes);
  {
    std::lock_guard lock(state_mutex_);
    ++failures_;
    publish_health_locked();
  }
  for (auto& p : batch) {
    p.done(s, 0);
  }
}

void audit_log::commit(std::vector<pending>& batch) {
  {
    std::unique_lock lock(queue_mutex_);
    if (!failed_.is_ok()) {
      const status s = failed_;
      held_notes notes;
      for (auto& p : batch) {
        hold_locked(p, s, notes);
      }
      lock.unlock();
      note_held(notes);
      for (auto& p : batch) {
        p.done(s, 0);
      }
      return;
    }
  }
  // Reserved up front: a 100 KB batch grown by doubling is copied twice more.
  std::size_t bytes = 4096;
  for (const auto& p : batch) {
    bytes += p.leaf.size() + p.blob.size() + 160;
    for (const auto& prefix : p.index_prefixes) {
      bytes += prefix.size();
    }
  }
  rocksdb::WriteBatch wb(bytes + bytes / 8);
  const auto emit = [&](std::uint32_t level, std::uint64_t index, std::span<const m::hash> h) {
    wb.Put(store_->cf(column::tree), tile_key(level, index), encode_tile(h));
  };
  std::string index_key;  // prefix || be64(seq), assembled in one reused buffer
  const std::uint64_t first = next_seq_;
  for (auto& p : batch) {
    const std::uint64_t seq = next_seq_++;
    for (std::size_t i = 0; i < 8; ++i) {
      p.leaf[record_seq_offset + i] = static_cast<std::uint8_t>(seq >> (8 * (7 - i)));
    }
    const std::string key = be64(seq);
    const auto h = m::leaf_hash(p.leaf);
    tiles_.append(h, emit);
    wb.Put(store_->cf(column::leaves), key,
           rocksdb::Slice(reinterpret_cast<const char*>(p.leaf.data()), p.leaf.size()));
    if (!p.blob.empty()) {
      wb.Put(store_->cf(column::payloads), key, p.blob);
    }
    for (std::size_t i = 0; i < index_columns.size(); ++i) {
      index_key.assign(p.index_prefixes[i]);
      index_key.append(key);
      wb.Put(store_->cf(index_columns[i]), index_key, rocksdb::Slice());
    }
  }
  tiles_.flush(emit);
  const auto sync_start = std::chrono::steady_clock::now();
  if (auto s = store_->write(wb, true); !s.is_ok()) {
    fail_all(batch, s);
    return;
  }
  const double sync_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sync_start).count();
  for (auto& p : batch) {
    if (p.commits_data_key) {
      p.commits_data_key->store(true, std::memory_order_release);
    }
  }
  if (in_flight_) {
    std::vector<std::string> cleared;
    for (auto& p : batch) {
      if (!p.in_flight_id.empty()) {
        cleared.push_back(std::move(p.in_flight_id));
      }
    }
    in_flight_->forget(cleared);
  }
  {
    std::lock_guard lock(state_mutex_);
    durable_size_ = next_seq_;
    durable_root_ = tiles_.root();
    stats_.records += batch.size();
    stats_.syncs += 1;
    stats_.sync_seconds += sync_seconds;
    stats_.sequencer_cpu_seconds = thread_cpu_seconds();
  }
  {
    // A small batch with nothing ahead of it completes inline: one thread hop less per append at
    // low load; big batches go to the completion thread so the next group commit starts at once.
    std::unique_lock lock(done_mutex_);
    if (batch.size() <= inline_completion_limit && done_queue_.empty() && !completer_busy_) {
      lock.unlock();
      for (std::size_t i = 0; i < batch.size(); ++i) {
        batch[i].done(status::ok(), first + i);
      }
      return;
    }
  }
  // The records go along: their buffers, allocated by the appending threads, are freed there too.
  completed c{first, std::move(batch)};
  batch.clear();
  {
    std::lock_guard lock(done_mutex_);
    done_queue_.push_back(std::move(c));
  }
  done_cv_.notify_one();
}

void audit_log::run_completions() {
  std::vector<completed> work;
  for (;;) {
    {
      std::unique_lock lock(done_mutex_);
      done_cv_.wait(lock, [&] { return !done_queue_.empty() || done_stop_; });
      if (done_queue_.empty()) {
        return;
      }
      work.swap(done_queue_);
      completer_busy_ = true;
    }
    for (auto& c : work) {
      for (std::size_t i = 0; i < c.records.size(); ++i) {
        c.records[i].done(status::ok(), c.first + i);
      }
    }
    work.clear();
    std::lock_guard lock(done_mutex_);
    completer_busy_ = false;
  }
}

status audit_log::sign_checkpoint_locked() {
  if (latest_ && latest_->size == durable_size_) {
    if (published_size_ < latest_->size) {  // its publication failed: again, until it works
      auto note = stored_checkpoint_note(*store_, latest_->size);
      if (!note.is_ok()) {
        return note.error();
      }
      return publish_locked(note.value(), latest_->size);
    }
    return status::ok();
  }
  // Never sign a tree that the stored one does not prove to extend the last signed tree, and never
  // replace a stored checkpoint: two checkpoints that disagree would be a fork signed by this log.
  if (latest_) {
    stored_tree tree(*store_);
    const auto proof = latest_->size < durable_size_
                           ? m::consistency_proof(latest_->size, durable_size_, tree.source())
                           : std::nullopt;
    if (!proof || m::verify_consistency(latest_->size, durable_size_, latest_->root, durable_root_, *proof) !=
                      m::verdict::ok) {
      return status{error_code::verification_failed,
                    fmt::format("refusing to sign a checkpoint at size {}: the stored tree does not prove it "
                                "consistent with the checkpoint signed at size {}",
                                durable_size_, latest_->size)};
    }
  }
  const std::string key = be64(durable_size_);
  auto existing = store_->get(column::checkpoints, key);
  if (!existing.is_ok()) {
    return existing.error();
  }
  if (existing->has_value()) {
    return status{error_code::verification_failed,
                  fmt::format("refusing to sign a checkpoint at size {}: one is stored for that size already",
                              durable_size_)};
  }
  crypto::checkpoint cp{signer_->verifier().name, durable_size_, durable_root_};
  const std::string note = signer_->sign(cp.to_text());
  rocksdb::WriteBatch wb;
  wb.Put(store_->cf(column::checkpoints), key, note);
  if (auto s = store_->write(wb, true); !s.is_ok()) {
    store_failed_ = s;  // the log's store refused a write: the log has failed (run() says so)
    return s;
  }
  latest_ = std::move(cp);
  // Published only once stored durably: the file never covers a record the store may lose. A
  // failure is reported (a periodic one is counted); the file keeps the previous checkpoint until
  // a later attempt publishes this one or a newer one.
  return publish_locked(note, latest_->size);
}

status audit_log::publish_locked(std::string_view note, std::uint64_t size) {
  status s = publish_checkpoint(published_path_, note);
  if (s.is_ok()) {
    published_size_ = size;
  }
  return s;
}

result<crypto::checkpoint> audit_log::checkpoint_now() {
  status s;
  {
    std::lock_guard lock(state_mutex_);
    s = sign_checkpoint_locked();
    if (s.is_ok()) {
      return *latest_;  // set by any successful signing, at size 0 too
    }
  }
  (void)fail_on_store_error();
  return s;
}

// A checkpoint's write to the store failed as a group commit would have: the log fails (probe
// round 43: /readyz said ready and the next request went to the cluster, then was cut).
bool audit_log::fail_on_store_error() {
  status failed;
  {
    std::lock_guard lock(state_mutex_);
    failed = std::exchange(store_failed_, status{});
  }
  if (failed.is_ok()) {
    return false;
  }
  std::vector<pending> none;
  fail_all(none, failed);
  return true;
}

result<std::uint64_t> audit_log::shred_tenant(const std::string& tenant) {
  if (tenant.empty()) {
    return status{error_code::invalid_argument, "name the tenant to shred"};
  }
  auto destroyed = vault_->shred(tenant);
  if (!destroyed.is_ok()) {
    return destroyed.error();
  }
  if (destroyed->destroyed.empty()) {
    return status{
        error_code::not_found,
        destroyed->already_shredded
            ? fmt::format("tenant '{}' was already crypto-shredded: no data key is left to destroy", tenant)
            : fmt::format("tenant '{}' has no data key in this log (no sealed payload was ever stored "
                          "for it): nothing was shredded; check the tenant name",
                          tenant)};
  }
  record event;
  event.kind = record_kind::event;
  event.timestamp_us = now_us();
  event.tenant = tenant;
  event.note = shred_note(destroyed->destroyed);
  return append(std::move(event)).get();
}

result<std::uint64_t> audit_log::drop_payloads_before(std::uint64_t cutoff_us, std::string_view remark) {
  std::uint64_t dropped = 0;
  rocksdb::WriteBatch wb;
  auto it = store_->iterate(column::idx_time, false);
  const std::string end = be64(cutoff_us);
  for (it->SeekToFirst(); it->Valid() && it->key().ToStringView() < std::string_view(end); it->Next()) {
    if (it->key().size() != 16) {
      continue;
    }
    const std::string key(it->key().data() + 8, 8);
    auto blob = store_->get(column::payloads, key);
    if (!blob.is_ok()) {
      return blob.error();
    }
    if (!blob->has_value()) {
      continue;
    }
    // The record's own time decides, not what the index says of it: the event must be true of every
    // payload it dropped (verify --payloads holds the log to it).
    auto leaf = store_->get(column::leaves, key);
    if (!leaf.is_ok()) {
      return leaf.error();
    }
    index_fields fields;
    if (leaf->has_value() && read_index_fields(bytes_of(**leaf), fields) && fields.timestamp_us < cutoff_us) {
      wb.Delete(store_->cf(column::payloads), key);
      ++dropped;
    }
  }
  if (!it->status().ok()) {
    return from_rocksdb(it->status(), "reading the time index failed");
  }
  if (auto s = store_->write(wb, true); !s.is_ok()) {
    return s;
  }
  (void)store_->compact(column::payloads);
  record event;
  event.kind = record_kind::event;
  event.timestamp_us = now_us();
  event.note = retention_note(dropped, cutoff_us, remark);
  auto seq = append(std::move(event)).get();
  if (!seq.is_ok()) {
    return seq.error();
  }
  return dropped;
}

std::string_view health_state_name(health_state s) noexcept {
  switch (s) {
    case health_state::ok:
      return "ok";
    case health_state::failed:
      return "failed";
    case health_state::full:
      return "full";
  }
  return "unknown";
}

void audit_log::publish_health_locked() {
  bool failed = !notes_problem_.empty();
  {
    std::lock_guard lock(queue_mutex_);
    failed = (failed || !failed_.is_ok()) && !stopping_;
  }
  health_state_.store(failed        ? health_state::failed
                      : space_full_ ? health_state::full
                                    : health_state::ok,
                      std::memory_order_release);
}

log_health audit_log::health() const {
  log_health h;
  std::uint64_t unnoted = 0;  // held records without an in-flight note
  {
    std::lock_guard lock(state_mutex_);
    h.state = health_state_.load(std::memory_order_acquire);
    h.reason = space_reason_;
    h.bytes = dir_bytes_;
    h.free_bytes = free_bytes_;
    h.failures = failures_;
    h.recoveries = recoveries_;
    h.resume_failures = resume_failures_;
    unnoted = held_unnoted_;
    if (h.state == health_state::failed && !resume_problem_.empty()) {
      h.reason = fmt::format(
          "; resuming failed {} time(s), last: {} (tried again every {} ms; when the cause "
          "is gone it resumes by itself, else restart the gateway)",
          resume_failures_, resume_problem_, config_.health_interval.count());
    }
  }
  if (h.state == health_state::failed) {
    std::string notes_problem;
    {
      std::lock_guard lock(state_mutex_);
      notes_problem = notes_problem_;
    }
    std::lock_guard lock(queue_mutex_);
    if (failed_.is_ok()) {
      h.reason = fmt::format(
          "{}: no request is forwarded until a note can be kept (tried again every {} ms; when the "
          "cause, such as a full disk, is gone it resumes by itself)",
          notes_problem, config_.health_interval.count());
      return h;
    }
    h.reason = std::string(failed_.message()) + (h.reason.starts_with("; ") ? h.reason : std::string());
    if (unnoted != 0) {
      h.reason += fmt::format(
          "; {} request record(s) are held in memory only ({} could not be written either): the log writes "
          "them when it resumes, a stop before then loses them",
          unnoted, in_flight_ ? in_flight_->dir() : std::string("DB.in-flight"));
    }
  }
  return h;
}

// On the sequencer thread, after a group commit of `written` bytes of records and payloads: the
// space bounds judged on the last measurement plus what was written since, so that a burst stops
// the log accepting at the commit that crosses a bound, not up to a health_interval later (probe
// round 49: six 540 KB requests at a time wrote 6x a 2 MiB audit.max_bytes before it was seen).
// RocksDB writes each byte to its write-ahead log first, so the estimate is not above what the
// directory holds once that log is synced; check_health measures again and replaces it.
void audit_log::account_written(std::uint64_t written) {
  if (config_.max_bytes == 0 && config_.min_free_bytes == 0) {
    return;
  }
  std::lock_guard lock(state_mutex_);
  written_since_check_ += written;
  if (space_full_ || !space_measured_) {
    return;
  }
  const std::uint64_t bytes = dir_bytes_ + written_since_check_;
  const std::uint64_t free_bytes =
      free_bytes_ > written_since_check_ ? free_bytes_ - written_since_check_ : 0;
  if (config_.max_bytes != 0 && bytes >= config_.max_bytes) {
    space_reason_ = fmt::format(
        "the audit log holds about {} bytes (measured, plus what was written since), at its bound of {} "
        "(audit.max_bytes)",
        bytes, config_.max_bytes);
  } else if (config_.min_free_bytes != 0 && free_bytes < config_.min_free_bytes) {
    space_reason_ = fmt::format(
        "about {} bytes free on the audit log's file system (measured, less what was written since), "
        "under the {} to keep free (audit.min_free_bytes)",
        free_bytes, config_.min_free_bytes);
  } else {
    return;
  }
  space_full_ = true;
  publish_health_locked();
}

// On the sequencer thread, between group commits: measure the space bounds and, after a storage
// error, ask RocksDB to resume (it can after a transient error such as a full disk that was
// freed). The sequencer's tree state ran ahead of the store in the failed batch: it is reloaded
// from what is durable, and must reproduce the durable root, or the log stays failed.
void audit_log::check_health() {
  namespace fs = std::filesystem;
  std::uint64_t bytes = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(config_.db_dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    const std::uintmax_t size = it->is_regular_file(size_ec) ? it->file_size(size_ec) : 0;
    if (!size_ec) {
      bytes += size;
    }
  }
  std::uint64_t free_bytes = std::numeric_limits<std::uint64_t>::max();
  struct statvfs vfs {};
  if (::statvfs(config_.db_dir.c_str(), &vfs) == 0) {
    free_bytes = static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize;
  }
  std::string reason;
  if (config_.max_bytes != 0 && bytes >= config_.max_bytes) {
    reason = fmt::format("the audit log holds {} bytes, at its bound of {} (audit.max_bytes)", bytes,
                         config_.max_bytes);
  } else if (config_.min_free_bytes != 0 && free_bytes < config_.min_free_bytes) {
    reason = fmt::format(
        "{} bytes free on the audit log's file system, under the {} to keep free "
        "(audit.min_free_bytes)",
        free_bytes, config_.min_free_bytes);
  }
  bool failed = false;
  {
    std::lock_guard lock(queue_mutex_);
    failed = !failed_.is_ok() && !stopping_ && failed_.code() != error_code::shut_down;
  }
  bool notes_failing = false;
  {
    std::lock_guard lock(state_mutex_);
    notes_failing = !notes_problem_.empty();
  }
  std::string notes_problem;
  bool notes_recovered = false;
  if (notes_failing && in_flight_) {
    const status probed = in_flight_->probe();
    notes_recovered = probed.is_ok();
    notes_problem = std::string(probed.message());
  }
  bool recovered = false;
  std::string resume_problem;
  if (failed) {
    if (auto resumed = store_->resume(); !resumed.is_ok()) {
      resume_problem = std::string(resumed.message());
    }
  }
  if (failed && resume_problem.empty()) {
    std::uint64_t size = 0;
    m::hash root{};
    {
      std::lock_guard lock(state_mutex_);
      size = durable_size_;
      root = durable_root_;
    }
    auto loaded = tile_builder::load(*store_, size);
    if (loaded.is_ok() && (size == 0 || loaded.value().root() == root)) {
      tiles_ = std::move(loaded.value());
      next_seq_ = size;
      std::lock_guard lock(queue_mutex_);
      failed_ = status{};
      recovered = true;
    } else {
      resume_problem = fmt::format(
          "the reopened log does not reproduce the {} records made durable before the error{}: "
          "restart the gateway (its start verifies the log)",
          size, loaded.is_ok() ? "" : fmt::format(" ({})", loaded.error().message()));
    }
  }
  {
    std::lock_guard lock(state_mutex_);
    dir_bytes_ = bytes;
    free_bytes_ = free_bytes;
    written_since_check_ = 0;
    space_measured_ = true;
    space_full_ = !reason.empty();
    space_reason_ = std::move(reason);
    if (recovered) {
      ++recoveries_;
      resume_problem_.clear();
      held_unnoted_ = 0;  // the held records are appended below
    }
    if (!resume_problem.empty()) {
      ++resume_failures_;
      resume_problem_ = resume_problem;
    }
    if (notes_recovered) {
      ++recoveries_;
      notes_problem_.clear();
    } else if (notes_failing) {
      notes_problem_ = notes_problem;
    }
    publish_health_locked();
  }
  // Told after the health it describes is published: whoever reads the log line and then asks
  // /readyz sees this attempt's failure there (CI once read /readyz between the two).
  if (!resume_problem.empty() && config_.on_resume_failed) {
    config_.on_resume_failed(resume_problem);
  }
  if (recovered) {
    std::vector<record> held;
    std::uint64_t dropped = 0;
    {
      std::lock_guard lock(queue_mutex_);
      held.swap(held_);
      dropped = std::exchange(held_dropped_, 0);
    }
    if (dropped != 0) {
      record event;
      event.kind = record_kind::event;
      event.timestamp_us = now_us();
      event.note = fmt::format(
          "{} request(s) answered while the audit log could not write were not kept for it (more than {} "
          "held): the forwarded ones among them are recorded from their in-flight notes at the gateway's "
          "next start, the others are not on the log",
          dropped, max_held_records);
      held.push_back(std::move(event));
    }
    for (auto& r : held) {
      append_async(
          std::move(r), payload{}, [](const status&, std::uint64_t) {}, true);
    }
  }
}

status audit_log::close() {
  {
    std::lock_guard lock(queue_mutex_);
    if (stopped_) {
      return failed_;
    }
    stopping_ = true;
    stopped_ = true;
  }
  queue_cv_.notify_all();
  const bool started = sequencer_.joinable();
  if (started) {
    sequencer_.join();
  }
  if (completer_.joinable()) {
    {
      std::lock_guard lock(done_mutex_);
      done_stop_ = true;
    }
    done_cv_.notify_all();
    completer_.join();
  }
  status s;
  {
    std::lock_guard lock(state_mutex_);
    if (started && failed_.is_ok()) {
      s = sign_checkpoint_locked();
    }
  }
  vault_.reset();
  if (store_) {
    // Leave SST files behind (not only the WAL) so readers open quickly and checksums cover them.
    std::vector<column> all;
    for (std::size_t i = 0; i < column_count; ++i) {
      all.push_back(static_cast<column>(i));
    }
    if (auto fs = store_->flush(all); s.is_ok()) {
      s = fs;
    }
  }
  store_.reset();
  return !failed_.is_ok() ? failed_ : s;
}

std::uint64_t audit_log::durable_size() const {
  std::lock_guard lock(state_mutex_);
  return durable_size_;
}

log_stats audit_log::stats() const {
  std::lock_guard lock(state_mutex_);
  return stats_;
}

std::optional<crypto::checkpoint> audit_log::latest_checkpoint() const {
  std::lock_guard lock(state_mutex_);
  return latest_;
}

}  // namespace sovgw::audit
