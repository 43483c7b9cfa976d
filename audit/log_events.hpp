#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/record.hpp"
#include "audit/status.hpp"

// The log's own events that explain why stored data is gone: retention (the payloads of records
// older than a cut-off dropped) and crypto-shredding (a tenant's data keys destroyed). The writer
// words these events with the functions below, and verify and show read them back with
// log_events: a payload or data key that is gone without such an event logged after its record
// was deleted outside them (docs/auditing.md).
namespace sovgw::audit {

class store;

// "retention: dropped N stored payload(s) of records older than 2026-12-05T00:39:05.250000Z" (the
// cut-off to the microsecond; whole seconds without a fraction), then "; <remark>" if any.
[[nodiscard]] std::string retention_note(std::uint64_t dropped, std::uint64_t cutoff_us,
                                         std::string_view remark = {});
// "crypto-shred: data key version(s) 1-3, 5 of the tenant destroyed; its payloads are unreadable"
// (the event's tenant field names the tenant). `versions` ascending.
[[nodiscard]] std::string shred_note(const std::vector<std::uint32_t>& versions);

class log_events {
 public:
  struct retention {
    std::uint64_t seq = 0;        // the event's record
    std::uint64_t cutoff_us = 0;  // records older than this had their payloads dropped
    // The note gives the cut-off to the second (events from before the fraction was written, when
    // the cut-off was cut to the second): the records of that whole second may have been dropped.
    bool whole_second = false;
  };
  struct shred {
    std::uint64_t seq = 0;
    // The key versions destroyed; nullopt for an event written before they were named (all of
    // the tenant's versions then stored).
    std::optional<std::vector<std::uint32_t>> versions;
  };

  // Takes in an event record (others are ignored). Events are added in log order.
  void add(const record& r);
  // Sets the events of records `seq` and later apart: no signature covers them, so they explain no
  // payload gone (whoever can write the database could append one that "retains" everything); the
  // uncovered_* lookups below still find them, to say what the next checkpoint may explain.
  void drop_from(std::uint64_t seq);

  // The first retention event logged after record `seq` whose cut-off is later than `time_us`: it
  // dropped that record's payload.
  [[nodiscard]] const retention* retention_covering(std::uint64_t seq, std::uint64_t time_us) const;
  // The first crypto-shred event of `tenant` logged after record `seq` that destroyed key
  // `version`.
  [[nodiscard]] const shred* shred_covering(std::uint64_t seq, const std::string& tenant,
                                            std::uint32_t version) const;
  // The same among the events drop_from set apart (no signed checkpoint covers them yet).
  [[nodiscard]] const retention* uncovered_retention_covering(std::uint64_t seq, std::uint64_t time_us) const;
  [[nodiscard]] const shred* uncovered_shred_covering(std::uint64_t seq, const std::string& tenant,
                                                      std::uint32_t version) const;
  // The first crypto-shred event of `tenant` logged after record `seq`, whatever versions it named:
  // it destroyed every data key of the tenant stored then, so the one a payload of record `seq` was
  // sealed under (stored from that record on, until a shred).
  [[nodiscard]] const shred* first_shred_after(std::uint64_t seq, const std::string& tenant) const;

 private:
  using retentions = std::vector<retention>;  // in log order
  using shreds = std::map<std::string, std::vector<shred>, std::less<>>;
  static const retention* find_retention(const retentions& in, std::uint64_t seq, std::uint64_t time_us);
  static const shred* find_shred(const shreds& in, std::uint64_t seq, const std::string& tenant,
                                 std::uint32_t version);

  retentions retentions_;
  shreds shreds_;
  retentions uncovered_retentions_;
  shreds uncovered_shreds_;
};

// A retention event's cut-off as its note gives it (RFC 3339).
[[nodiscard]] std::string retention_cutoff_text(const log_events::retention& e);

// The events of records `first_seq` onwards, read from the records themselves (not an index):
// `show` explains a missing payload or data key by the events logged after its record.
[[nodiscard]] result<log_events> read_log_events(const store& s, std::uint64_t first_seq);

}  // namespace sovgw::audit
