#include "audit/payload_verifier.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "audit/store.hpp"
#include "common/plural.hpp"
#include "crypto/base64.hpp"
#include "crypto/sha256.hpp"

namespace sovgw::audit {
namespace {

constexpr std::size_t max_problems = 20;

class payload_checker {
 public:
  payload_checker(const store& s, const log_events& events, const auditor_keys* auditor,
                  std::uint64_t signed_records, std::optional<period_payloads> period)
      : store_(s), events_(events), auditor_(auditor), signed_records_(signed_records) {
    if (auditor_ != nullptr) {
      out_.opened = 0;
    }
    out_.period = std::move(period);
  }

  payload_report run() {
    // A block that fails its checksum hides what it holds from the iteration below (store.hpp):
    // nothing is judged missing unless every block of the payload and key tables reads.
    for (const auto& [c, what] : {std::pair{column::payloads, "the stored payloads"},
                                  std::pair{column::keys, "the data key store"}}) {
      if (const status tables = store_.verify_table_checksums(std::array{c}); !tables.is_ok()) {
        problem(problem_kind::read_failed, std::nullopt,
                fmt::format("reading {} failed: {}", what, tables.message()));
        return std::move(out_);
      }
    }
    read_keys();
    auto payloads = store_.iterate(column::payloads, false);
    payloads->SeekToFirst();
    auto leaves = store_.iterate(column::leaves, false);
    for (leaves->SeekToFirst(); leaves->Valid(); leaves->Next()) {
      if (leaves->key().size() != 8) {
        continue;  // verify_log names it
      }
      const std::uint64_t seq = read_be64(leaves->key().ToStringView());
      skip_payloads_before(*payloads, seq);
      const bool stored = payloads->Valid() && payloads->key().ToStringView() == be64(seq);
      if (seq >= signed_records_) {
        out_.unsigned_payloads += stored ? 1 : 0;
      } else {
        check_record(seq, leaves->value().ToStringView(),
                     stored ? std::optional(payloads->value().ToStringView()) : std::nullopt,
                     payloads->Valid() || payloads->status().ok());
      }
      if (stored) {
        payloads->Next();
      }
    }
    if (!leaves->status().ok()) {
      problem(problem_kind::read_failed, std::nullopt,
              "reading the records failed: " + leaves->status().ToString());
    }
    skip_payloads_before(*payloads, UINT64_MAX);
    if (!payloads->status().ok()) {
      problem(problem_kind::read_failed, std::nullopt,
              "reading the stored payloads failed: " + payloads->status().ToString());
    }
    finish_period();
    report_unopened_keys();
    report_failed_opens();
    judge_commitments();
    if (dropped_ > 0) {
      out_.problems.push_back(
          {problem_kind::more, std::nullopt,
           fmt::format("... and {} more {}", dropped_, plural(dropped_, "problem", "problems"))});
    }
    return std::move(out_);
  }

 private:
  void problem(problem_kind kind, std::optional<std::uint64_t> seq, std::string text) {
    if (seq && (!out_.first_bad_record || *seq < *out_.first_bad_record)) {
      out_.first_bad_record = seq;
    }
    if (out_.problems.size() < max_problems) {
      out_.problems.push_back({kind, seq, std::move(text)});
    } else {
      ++dropped_;
    }
  }

  [[nodiscard]] bool in_period() const {
    const auto& p = out_.period;
    return p && (!p->since_us || record_.timestamp_us >= *p->since_us) &&
           (!p->until_us || record_.timestamp_us < *p->until_us);
  }

  // A payload of the period that the event at `event_seq` took (dropped or made unreadable).
  void period_loss(std::uint64_t event_seq, bool retention) {
    if (!in_period()) {
      return;
    }
    ++(retention ? out_.period->dropped_by_retention : out_.period->shredded);
    auto& e = period_events_[event_seq];
    e.seq = event_seq;
    e.retention = retention;
    e.tenant = retention ? std::string() : record_.tenant;
    ++e.payloads;
  }

  // The responsible events in log order, with their times (few: one read each).
  void finish_period() {
    if (!out_.period) {
      return;
    }
    for (auto& [seq, e] : period_events_) {
      if (auto leaf = store_.get(column::leaves, be64(seq)); leaf.is_ok() && leaf->has_value()) {
        record r;
        if (decode_into(bytes_of(**leaf), r).is_ok()) {
          e.timestamp_us = r.timestamp_us;
        }
      }
      out_.period->events.push_back(std::move(e));
    }
  }

  void read_keys() {
    auto keys = read_data_key_store(store_);
    if (!keys.is_ok()) {
      keys_unread_ = true;
      problem(problem_kind::read_failed, std::nullopt, std::string(keys.error().message()));
      return;
    }
    keys_ = std::move(keys.value());
    out_.data_keys = keys_.entries;
    if (keys_.malformed > 0) {
      problem(problem_kind::data_key_malformed, std::nullopt,
              fmt::format("the data key store holds {} malformed entr{} (neither a data key nor a current "
                          "version)",
                          keys_.malformed, keys_.malformed == 1 ? "y" : "ies"));
    }
    for (const auto& [tenant, stored] : keys_.tenants) {
      if (stored.data_keys.empty()) {
        continue;
      }
      const std::uint32_t newest = stored.data_keys.rbegin()->first;
      if (!stored.current || *stored.current < newest) {
        problem(problem_kind::data_key_missing, std::nullopt,
                stored.current
                    ? fmt::format("the data key store holds tenant '{}' data keys up to v{} but its "
                                  "current-version entry says v{}: the next writer would reuse a version and "
                                  "replace a data key",
                                  tenant, newest, *stored.current)
                    : fmt::format("the data key store holds tenant '{}' data keys up to v{} but no "
                                  "current-version entry for it: the next writer would reuse a version and "
                                  "replace a data key",
                                  tenant, newest));
      }
    }
  }

  // Payloads stored under keys before record `seq`'s: their record is missing (or the key is
  // malformed).
  void skip_payloads_before(rocksdb::Iterator& payloads, std::uint64_t seq) {
    const std::string until = be64(seq);
    for (; payloads.Valid() && (seq == UINT64_MAX || payloads.key().ToStringView() < std::string_view(until));
         payloads.Next()) {
      if (payloads.key().size() != 8) {
        problem(problem_kind::payload_malformed, std::nullopt, "a stored payload has a malformed key");
        continue;
      }
      const std::uint64_t orphan = read_be64(payloads.key().ToStringView());
      ++out_.checked;
      problem(problem_kind::payload_unexpected, orphan,
              fmt::format("record {}: a payload is stored but the record is missing", orphan));
    }
  }

  // `payloads_readable`: the payload store was read up to here (else a payload not found is not
  // known to be gone).
  void check_record(std::uint64_t seq, std::string_view leaf, std::optional<std::string_view> blob,
                    bool payloads_readable) {
    if (!decode_into(bytes_of(leaf), record_).is_ok()) {
      if (blob) {
        ++out_.checked;
        problem(problem_kind::record_malformed, seq,
                fmt::format("record {}: a payload is stored but the record does not decode", seq));
      }
      return;
    }
    note_commitment(seq);
    if (record_.payload == payload_mode::sealed && in_period()) {
      ++out_.period->sealed;
    }
    if (record_.payload != payload_mode::sealed) {
      if (blob) {
        ++out_.checked;
        problem(problem_kind::payload_unexpected, seq,
                fmt::format("record {}: a payload is stored but the record says payload mode {}", seq,
                            to_string(record_.payload)));
      }
      return;
    }
    if (!blob) {
      if (!payloads_readable) {
        return;
      }
      if (const auto* retention = events_.retention_covering(seq, record_.timestamp_us)) {
        // Its key shredded first: unreadable since that shred, whatever retention did after.
        if (const auto* shred = events_.first_shred_after(seq, record_.tenant);
            shred != nullptr && shred->seq < retention->seq) {
          ++out_.shredded;
          ++out_.shredded_then_dropped;
          period_loss(shred->seq, false);
        } else {
          ++out_.dropped_by_retention;
          period_loss(retention->seq, true);
        }
      } else if (const auto* later = events_.uncovered_retention_covering(seq, record_.timestamp_us)) {
        problem(problem_kind::payload_missing, seq,
                fmt::format("record {}: its sealed payload is missing; the retention event at record {} "
                            "would explain this, but no signed checkpoint covers it yet: verify again after "
                            "the next checkpoint",
                            seq, later->seq));
      } else {
        problem(
            problem_kind::payload_missing, seq,
            fmt::format("record {}: its sealed payload is missing, and no retention event logged after it "
                        "covers its time: deleted outside retention",
                        seq));
      }
      return;
    }
    ++out_.checked;
    const auto digest = crypto::sha256(*blob);
    if (record_.payload_digest.size() != digest.size() ||
        !std::equal(digest.begin(), digest.end(), record_.payload_digest.begin())) {
      problem(
          problem_kind::payload_altered, seq,
          fmt::format("record {}: the stored payload does not match the hash its record commits to", seq));
      return;
    }
    const auto version = payload_key_version(*blob);
    if (!version) {
      problem(problem_kind::payload_malformed, seq,
              fmt::format("record {}: the stored payload is malformed", seq));
      return;
    }
    if (!keys_unread_) {
      check_data_key(seq, *blob, *version);
    }
  }

  void check_data_key(std::uint64_t seq, std::string_view blob, std::uint32_t version) {
    const auto tenant = keys_.tenants.find(record_.tenant);
    const std::string* entry = nullptr;
    if (tenant != keys_.tenants.end()) {
      const auto found = tenant->second.data_keys.find(version);
      entry = found == tenant->second.data_keys.end() ? nullptr : &found->second;
    }
    const auto* shred = events_.shred_covering(seq, record_.tenant, version);
    const bool first = reported_.insert({record_.tenant, version}).second;
    if (entry == nullptr) {
      if (shred != nullptr) {
        ++out_.shredded;
        period_loss(shred->seq, false);
      } else if (first) {
        report_missing_key(seq, version);
      }
      return;
    }
    if (shred != nullptr) {
      if (first) {
        problem(problem_kind::data_key_unexpected, seq,
                fmt::format("tenant '{}' data key v{} is still stored (record {} needs it), though the "
                            "crypto-shred event at record {} destroyed it: its payloads are readable",
                            record_.tenant, version, seq, shred->seq));
      }
      return;
    }
    need_key(seq, version, *entry);
    if (auditor_ != nullptr) {
      open_with_auditor(seq, blob, version, *entry);
    }
  }

  // A signed record's data key commitment, kept once per distinct (digest, auditor key).
  void note_commitment(std::uint64_t seq) {
    if (record_.data_key_digest.empty()) {
      return;
    }
    if (!first_commitment_) {
      first_commitment_ = seq;
      first_auditor_key_ = record_.auditor_key;
    }
    auto& list = commitments_[{record_.tenant, record_.data_key_version}];
    const auto same = std::find_if(list.begin(), list.end(), [&](const commitment& c) {
      return c.digest == record_.data_key_digest && c.auditor_key == record_.auditor_key;
    });
    if (same == list.end()) {
      list.push_back({record_.data_key_digest, record_.auditor_key, seq});
    }
  }

  // A stored data key a checked payload needs, to judge against the commitments after the pass.
  void need_key(std::uint64_t seq, std::uint32_t version, const std::string& entry) {
    if (needed_.count({record_.tenant, version}) == 0) {
      needed_.emplace(key_version{record_.tenant, version},
                      needed_key{seq, data_key_entry_digest(entry).value_or(std::string())});
    }
  }

  // The stored data keys against the commitments in the signed records (no secret needed), and
  // every commitment's auditor key against the log's.
  void judge_commitments() {
    if (first_commitment_) {
      judge_auditor_keys();
    }
    for (const auto& [kv, need] : needed_) {
      const auto& [tenant, version] = kv;
      const auto found = commitments_.find(kv);
      if (found == commitments_.end()) {
        if (first_commitment_ && need.first_use > *first_commitment_) {
          problem(
              problem_kind::data_key_uncommitted, need.first_use,
              fmt::format("tenant '{}' data key v{} seals payloads from record {} on, after the log began "
                          "committing its data keys (record {}), but no signed record commits to it: a "
                          "writer that does not commit data keys (an older sovgw, or a modified one) "
                          "stored it, or it was replaced; to whom it was sealed is not known",
                          tenant, version, need.first_use, *first_commitment_));
        } else {
          ++out_.uncommitted_data_keys;
        }
        continue;
      }
      const auto& list = found->second;
      if (list.size() > 1) {
        problem(problem_kind::data_key_committed_twice, list[1].seq,
                fmt::format("records {} and {} commit to two different data keys as tenant '{}' data key v{} "
                            "(SHA-256 {}... and {}...): at most one of them sealed its payloads (two writers "
                            "made one version, or records were forged and signed)",
                            list[0].seq, list[1].seq, tenant, version, list[0].digest.substr(0, 16),
                            list[1].digest.substr(0, 16)));
      }
      const std::string& stored = need.digest;
      const bool matches =
          std::any_of(list.begin(), list.end(), [&](const commitment& c) { return c.digest == stored; });
      if (!matches) {
        problem(problem_kind::data_key_not_committed_one, list.front().seq,
                fmt::format("tenant '{}' data key v{} is not the one the log committed at record {}: it was "
                            "replaced after it was sealed (its SHA-256 is {}..., the record commits to "
                            "{}...); whoever replaced it may have read the payloads sealed under it, from "
                            "record {} on",
                            tenant, version, list.front().seq, need.digest.substr(0, 16),
                            list.front().digest.substr(0, 16), need.first_use));
      } else if (list.size() == 1) {
        ++out_.committed_data_keys;
      }
    }
  }

  // The log's auditor key: the one given (unless it opens none of the data keys: then
  // auditor_key_wrong said so), else the one the first commitment names.
  void judge_auditor_keys() {
    std::string log_key = *first_auditor_key_;
    std::string whose = fmt::format("the log's ({}, as its first commitment at record {} names)", log_key,
                                    *first_commitment_);
    if (auditor_ != nullptr && !out_.auditor_key_opens_none) {
      log_key = crypto::to_base64(auditor_->public_key);
      whose = fmt::format("the auditor key given ({})", log_key);
    }
    for (const auto& [kv, list] : commitments_) {
      const auto& [tenant, version] = kv;
      for (const commitment& c : list) {
        if (c.auditor_key == log_key) {
          continue;
        }
        const auto need = needed_.find(kv);
        problem(
            problem_kind::data_key_other_auditor, c.seq,
            fmt::format("records {}..: tenant '{}' data key v{} was sealed to auditor key {}, not {}: "
                        "the writer ran with another auditor.pub, and whoever holds that key's secret "
                        "can read the payloads sealed under it{}",
                        c.seq, tenant, version, c.auditor_key, whose,
                        need == needed_.end() ? std::string()
                                              : fmt::format(" (from record {} on)", need->second.first_use)));
      }
    }
  }

  void report_missing_key(std::uint64_t seq, std::uint32_t version) {
    const std::string missing =
        fmt::format("tenant '{}' data key v{} is missing from the data key store (record {} needs it)",
                    record_.tenant, version, seq);
    if (const auto* later = events_.uncovered_shred_covering(seq, record_.tenant, version)) {
      problem(problem_kind::data_key_missing, seq,
              fmt::format("{}; a crypto-shred event of tenant '{}' at record {} would explain this, but no "
                          "signed checkpoint covers it yet: verify again after the next checkpoint",
                          missing, record_.tenant, later->seq));
      return;
    }
    problem(problem_kind::data_key_missing, seq,
            fmt::format("{}, and no crypto-shred event logged after record {} destroyed it: deleted outside "
                        "shredding",
                        missing, seq));
  }

  void open_with_auditor(std::uint64_t seq, std::string_view blob, std::uint32_t version,
                         const std::string& entry) {
    auto& key = opened_keys_[{record_.tenant, version}];
    if (!key) {
      key = open_data_key(entry, *auditor_);
      if (!*key) {
        unopened_.push_back({record_.tenant, version, seq});
      }
    }
    if (!*key) {
      return;
    }
    key_use& use = uses_[{record_.tenant, version}];
    if (const auto p = open_blob(blob, **key, record_)) {
      ++*out_.opened;
      ++use.opened;
      if (!is_forwarded_body(record_, p->prompt)) {
        problem(problem_kind::forwarded_digest_mismatch, seq,
                fmt::format("record {}: the sealed prompt is not the body the record says was forwarded {}",
                            seq, forwarded_body_mismatch(record_, p->prompt)));
      }
      return;
    }
    if (use.failed.size() < max_problems + 1) {
      use.failed.push_back(seq);
    }
    ++use.failures;
  }

  // A data key the auditor key does not open was replaced; when it opens none, the key given is the
  // likelier culprit: said once, naming no record (the records are not known to be bad).
  void report_unopened_keys() {
    if (unopened_.empty()) {
      return;
    }
    if (unopened_.size() == opened_keys_.size()) {
      out_.auditor_key_opens_none = true;
      problem(
          problem_kind::auditor_key_wrong, std::nullopt,
          fmt::format("the auditor key given opens none of the {} data {} the stored payloads need: it is "
                      "not this log's auditor key (or every data key was replaced); no payload was "
                      "opened, so none was checked against its record",
                      opened_keys_.size(), plural(opened_keys_.size(), "key", "keys")));
      return;
    }
    for (const unopened_key& k : unopened_) {
      problem(problem_kind::payload_undecryptable, k.seq,
              fmt::format("tenant '{}' data key v{} does not open with the auditor key (record {} needs it), "
                          "though the auditor key opens the log's other data keys: the data key was replaced",
                          k.tenant, k.version, k.seq));
    }
  }

  // A payload that does not open under a data key that opens others of its tenant was moved, or its
  // record rewritten (the associated data differs): each such record is named. A data key that opens
  // none was replaced: one problem names its records. Judged once every payload was read.
  void report_failed_opens() {
    for (const auto& [key, use] : uses_) {
      if (use.failures == 0) {
        continue;
      }
      const auto& [tenant, version] = key;
      if (use.opened > 0) {
        for (const std::uint64_t seq : use.failed) {
          problem(problem_kind::payload_record_mismatch, seq,
                  fmt::format("record {}: the stored payload matches the hash its record commits to but does "
                              "not open with the record's fields under tenant '{}' data key v{}, which opens "
                              "the tenant's other payloads: the record's fields or its payload were changed "
                              "after sealing (the record was rewritten, or a payload moved)",
                              seq, tenant, version));
        }
        dropped_ += use.failures - use.failed.size();
        continue;
      }
      constexpr std::size_t listed = 10;
      std::string records;
      const std::size_t shown = std::min(use.failed.size(), listed);
      for (std::size_t i = 0; i < shown; ++i) {
        if (i > 0) {
          records += i + 1 == shown && use.failures == shown ? " and " : ", ";
        }
        records += std::to_string(use.failed[i]);
      }
      if (use.failures > shown) {
        records += fmt::format(" and {} more", use.failures - shown);
      }
      problem(
          problem_kind::payload_undecryptable, use.failed.front(),
          use.failures == 1
              ? fmt::format("record {}: the stored payload matches the hash its record commits to but does "
                            "not open under tenant '{}' data key v{}, which seals no other payload: the data "
                            "key was replaced (or damaged), or the record's fields or its payload were "
                            "changed after sealing",
                            records, tenant, version)
              : fmt::format("records {}: the stored payloads match the hashes their records commit to but "
                            "none of them opens under tenant '{}' data key v{}: the data key was replaced",
                            records, tenant, version));
    }
  }

  const store& store_;
  const log_events& events_;
  const auditor_keys* auditor_;
  std::uint64_t signed_records_;
  payload_report out_;
  std::size_t dropped_ = 0;
  data_key_store keys_;
  bool keys_unread_ = false;
  record record_;
  using key_version = std::pair<std::string, std::uint32_t>;
  std::set<key_version> reported_;  // data keys a problem was reported for (once each)
  struct key_use {
    std::uint64_t opened = 0;           // payloads it opened
    std::uint64_t failures = 0;         // payloads it did not open
    std::vector<std::uint64_t> failed;  // the first of those (at most max_problems + 1)
  };
  std::map<key_version, key_use> uses_;  // what each data key opened, and did not
  struct unopened_key {
    std::string tenant;
    std::uint32_t version = 0;
    std::uint64_t seq = 0;  // the first record that needs it
  };
  std::vector<unopened_key> unopened_;  // data keys the auditor key does not open, in the order met
  // Data keys opened with the auditor key (nullopt inside: it does not open).
  std::map<key_version, std::optional<std::optional<crypto::secret_bytes>>> opened_keys_;
  std::map<std::uint64_t, period_payloads::event> period_events_;  // by the event's seq
  struct commitment {
    std::string digest;
    std::string auditor_key;
    std::uint64_t seq = 0;  // the first signed record that carries it
  };
  std::map<key_version, std::vector<commitment>> commitments_;  // distinct ones, in log order
  std::optional<std::uint64_t> first_commitment_;               // the first record carrying one
  std::optional<std::string> first_auditor_key_;                // the auditor key it names
  struct needed_key {
    std::uint64_t first_use = 0;  // the first checked payload sealed under it
    std::string digest;           // data_key_entry_digest of its stored entry
  };
  std::map<key_version, needed_key> needed_;  // stored data keys the checked payloads need
};

}  // namespace

payload_report verify_payloads(const store& s, const log_events& events, const auditor_keys* auditor,
                               std::uint64_t signed_records, std::optional<period_payloads> period) {
  return payload_checker(s, events, auditor, signed_records, std::move(period)).run();
}

}  // namespace sovgw::audit
