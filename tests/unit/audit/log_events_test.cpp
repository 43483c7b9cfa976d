#include "audit/log_events.hpp"

#include <doctest/doctest.h>

using namespace sovgw::audit;

namespace {

record event(std::uint64_t seq, std::string note, std::string tenant = {}) {
  record r;
  r.kind = record_kind::event;
  r.seq = seq;
  r.note = std::move(note);
  r.tenant = std::move(tenant);
  return r;
}

constexpr std::uint64_t cutoff = 1'796'431'145'250'000;  // 2026-12-05T00:39:05.25Z

}  // namespace

TEST_CASE("a retention event covers the payloads of records logged before it and older than its cut-off") {
  CHECK(retention_note(3, cutoff) ==
        "retention: dropped 3 stored payload(s) of records older than 2026-12-05T00:39:05.250000Z");
  CHECK(retention_note(0, cutoff - 250'000, "forced") ==
        "retention: dropped 0 stored payload(s) of records older than 2026-12-05T00:39:05Z; forced");
  log_events events;
  events.add(event(10, retention_note(3, cutoff)));
  REQUIRE(events.retention_covering(9, cutoff - 1) != nullptr);
  CHECK(events.retention_covering(9, cutoff - 1)->seq == 10);
  CHECK(retention_cutoff_text(*events.retention_covering(9, cutoff - 1)) == "2026-12-05T00:39:05.250000Z");
  CHECK(events.retention_covering(9, cutoff) == nullptr);       // not older than the cut-off
  CHECK(events.retention_covering(10, cutoff - 1) == nullptr);  // logged after the event
  CHECK(events.retention_covering(11, 0) == nullptr);
}

TEST_CASE("a cut-off written to the second, as older events did, covers that whole second") {
  log_events events;
  events.add(event(10, "retention: dropped 3 stored payload(s) of records older than 2026-12-05T00:39:05Z"));
  CHECK(events.retention_covering(0, cutoff + 749'999) != nullptr);
  CHECK(events.retention_covering(0, cutoff + 750'000) == nullptr);
}

TEST_CASE("a shred event names the key versions it destroyed; older ones destroyed all of them") {
  CHECK(shred_note({1, 2, 3, 5}) ==
        "crypto-shred: data key version(s) 1-3, 5 of the tenant destroyed; its payloads are unreadable");
  log_events events;
  events.add(event(20, shred_note({1, 2, 3, 5}), "globex"));
  CHECK(events.shred_covering(19, "globex", 2) != nullptr);
  CHECK(events.shred_covering(19, "globex", 4) == nullptr);
  CHECK(events.shred_covering(19, "acme", 2) == nullptr);
  CHECK(events.shred_covering(20, "globex", 2) == nullptr);
  events.add(event(30,
                   "crypto-shred: 2 data key version(s) of the tenant destroyed; its payloads are unreadable",
                   "acme"));
  CHECK(events.shred_covering(29, "acme", 7) != nullptr);
  // An event that is not a shred, or one without its tenant, explains nothing.
  events.add(event(40, "crypto-shred: data key version(s) x of the tenant destroyed", "initech"));
  events.add(event(41, shred_note({1})));
  record request = event(42, shred_note({1}), "hooli");
  request.kind = record_kind::request;
  events.add(request);
  CHECK(events.shred_covering(0, "initech", 1) == nullptr);
  CHECK(events.shred_covering(0, "", 1) == nullptr);
  CHECK(events.shred_covering(0, "hooli", 1) == nullptr);
}
