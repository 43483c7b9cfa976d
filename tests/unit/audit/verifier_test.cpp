// What verify_log finds in a log whose signed history was rewritten, or whose records are not
// what a gateway writes (tests/cli/test_audit_*.py cover the CLI's words for the same).
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>

#include "audit/log_verifier.hpp"
#include "audit/payload_verifier.hpp"
#include "audit/proof_file.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"
#include "tamper_support.hpp"
#include "test_support.hpp"

using namespace sovgw::audit;
using sovgw::audit::testing::config_for;
using sovgw::audit::testing::open_store;
using sovgw::audit::testing::temp_log_dir;

namespace {

constexpr std::uint64_t base_us = sovgw::audit::testing::synthetic_base_us;

// Records run-first .. run-(first+n-1), digest payloads unless told otherwise.
void write_log(const temp_log_dir& d, std::uint64_t n, payload_mode mode = payload_mode::digest,
               std::string_view run = "v", std::uint64_t first = 0) {
  sovgw::audit::testing::write_synthetic_log(d, n, mode, run, first);
}

// Rewrites record `seq`'s stored bytes with `change`, then (like the holder of the signing key)
// rebuilds the tree and signs a checkpoint over the log as it is now.
void rewrite_and_resign(const temp_log_dir& d, std::uint64_t seq,
                        const std::function<void(std::string&)>& change) {
  auto s = open_store(d, store::open_mode::write_existing);
  std::string leaf = s->get(column::leaves, be64(seq)).value().value();
  change(leaf);
  rocksdb::WriteBatch wb;
  wb.Put(s->cf(column::leaves), be64(seq), leaf);
  REQUIRE(s->write(wb, true).is_ok());
  rocksdb::WriteBatch signed_again;
  sovgw::audit::testing::resign(*s, d.keys, signed_again);
  REQUIRE(s->write(signed_again, true).is_ok());
}

verify_report verify(const temp_log_dir& d, const verify_options& options = {}) {
  return verify_log(*open_store(d), load_verifier(d.keys + "/signing.pub"), options);
}

const problem* find_kind(const verify_report& r, problem_kind kind) {
  const auto it =
      std::find_if(r.problems.begin(), r.problems.end(), [&](const problem& p) { return p.kind == kind; });
  return it == r.problems.end() ? nullptr : &*it;
}

}  // namespace

TEST_CASE("verify decodes every record: a signed request record that does not decode is malformed") {
  temp_log_dir d;
  write_log(d, 20);
  rewrite_and_resign(d, 7, [](std::string& leaf) { leaf.push_back('\0'); });
  const auto r = verify(d);
  REQUIRE_FALSE(r.ok());
  const problem* p = find_kind(r, problem_kind::record_malformed);
  REQUIRE(p != nullptr);
  CHECK(p->record == 7);
  CHECK_MESSAGE(p->text == "record 7: trailing bytes after the record", p->text);
  CHECK(r.first_bad_record == 7);
  // Nor is a proof of it made: it would not verify offline.
  const auto proof = make_inclusion_proof(*open_store(d), 7);
  REQUIRE_FALSE(proof.is_ok());
  CHECK(proof.error().code() == sovgw::error_code::corruption);
  CHECK_MESSAGE(proof.error().message().find("record 7 does not decode (trailing bytes after the record)") !=
                    std::string::npos,
                proof.error().message());
}

TEST_CASE("a writer never reuses a data key version, even when the tenant's current-version entry is lost") {
  temp_log_dir d;
  write_log(d, 10, payload_mode::sealed);  // record 1 is globex's, sealed under its data key v1
  {
    auto s = open_store(d, store::open_mode::write_existing);
    rocksdb::WriteBatch wb;
    wb.Delete(s->cf(column::keys), "cur" + length_prefixed("globex"));
    REQUIRE(s->write(wb, true).is_ok());
  }
  CHECK(verify_payloads(*open_store(d), verify(d).events).problems.front().kind ==
        problem_kind::data_key_missing);
  write_log(d, 10, payload_mode::sealed, "w");  // a new writer seals globex's payloads again
  const auto auditor = load_auditor_key(default_auditor_dir(d.keys) + "/auditor.key");
  const auditor_keys keys{auditor.public_key, auditor.secret_key};
  const auto r = verify(d);
  REQUIRE_MESSAGE(r.ok(), r.problems.front().text);
  const auto payloads = verify_payloads(*open_store(d), r.events, &keys);
  CHECK_MESSAGE(payloads.ok(), payloads.problems.front().text);
  CHECK(payloads.checked == 20);
  CHECK(payloads.opened == 20);  // record 1 still opens: its data key v1 was not replaced
}

namespace {

constexpr std::uint64_t minute_us = 60'000'000;

// A log whose records have these times (latency 0), in this order.
void write_times(const temp_log_dir& d, const std::vector<std::uint64_t>& times) {
  auto log = audit_log::open(config_for(d));
  REQUIRE(log.is_ok());
  for (std::size_t i = 0; i < times.size(); ++i) {
    record r = synthetic_record("t", i, 0, payload_mode::none);
    r.timestamp_us = times[i];
    r.latency_us = 0;
    REQUIRE(log.value()->append(r).get().is_ok());
  }
  REQUIRE(log.value()->close().is_ok());
}

std::vector<std::pair<problem_kind, std::uint64_t>> time_problems(const verify_report& r) {
  std::vector<std::pair<problem_kind, std::uint64_t>> out;
  for (const auto& p : r.problems) {
    if (p.kind == problem_kind::time_backwards || p.kind == problem_kind::time_implausible) {
      out.emplace_back(p.kind, p.record.value_or(UINT64_MAX));
    }
  }
  return out;
}

}  // namespace

TEST_CASE("verify flags record times that go back beyond the tolerance, lie in the future or before 2020") {
  temp_log_dir d;
  const std::uint64_t t = base_us;
  write_times(d, {t, t + minute_us, t - 4 * minute_us,  // 5 minutes back: within the tolerance
                  t + 2 * minute_us, t - 60 * minute_us, t - 59 * minute_us,  // an hour back, twice
                  t + 3 * minute_us, 5'000'000,                               // 1970
                  UINT64_MAX, t + 4 * minute_us});
  // A writer (no verification time) does not judge its clock.
  CHECK(verify(d).ok());
  verify_options options;
  options.check_times_at_us = t + 10 * minute_us;
  const auto r = verify(d, options);
  using enum problem_kind;
  CHECK(time_problems(r) == std::vector<std::pair<problem_kind, std::uint64_t>>{
                                {time_backwards, 4}, {time_implausible, 7}, {time_implausible, 8}});
  const auto text = [&](std::uint64_t seq) {
    return std::find_if(r.problems.begin(), r.problems.end(),
                        [&](const problem& p) { return p.record == seq; })
        ->text;
  };
  CHECK_MESSAGE(
      text(4).starts_with("records 4..5 end up to 62 min before record 3 did (2026-05-28T20:28:40Z): "
                          "the clock went back more than 10 min, or their times are forged"),
      text(4));
  CHECK_MESSAGE(text(7) ==
                    "record 7: its time 1970-01-01T00:00:05Z is before 2020-01-01, earlier than any sovgw "
                    "log: a clock that was not set, or a forged time",
                text(7));
  CHECK_MESSAGE(
      text(8).starts_with("record 8: it ended after 9999-12-31 (18446744073709551615 us since 1970), "
                          "more than 10 min after this verification's time"),
      text(8));
  CHECK_FALSE(r.first_bad_record);  // the records are as they were signed
  // Ten minutes in the future is within the tolerance.
  options.check_times_at_us = t + minute_us;
  CHECK(time_problems(verify(d, options)).size() == 3);
}

TEST_CASE("a request recorded after its gateway stopped is not taken to have ended when it came") {
  // Probe round 44: a stream of 11 minutes, the gateway killed, its in-flight note recorded at the
  // next start with the time it came (and the milliseconds it took to forward): every verification
  // failed, "the clock went back more than 10 min".
  temp_log_dir d;
  const std::uint64_t t = base_us;
  {
    auto log = audit_log::open(config_for(d));
    REQUIRE(log.is_ok());
    const std::vector<std::pair<std::uint64_t, bool>> records = {
        {t, false}, {t + 15 * minute_us, false}, {t + minute_us, true}, {t + 16 * minute_us, false}};
    for (std::size_t i = 0; i < records.size(); ++i) {
      record r = synthetic_record("s", i, 0, payload_mode::none);
      r.timestamp_us = records[i].first;
      r.latency_us = 6'000;
      if (records[i].second) {
        r.status = 0;
        r.error_kind = std::string(gateway_stopped_error_kind);
      }
      REQUIRE(log.value()->append(r).get().is_ok());
    }
    REQUIRE(log.value()->close().is_ok());
  }
  verify_options options;
  options.check_times_at_us = t + 20 * minute_us;
  CHECK(time_problems(verify(d, options)).empty());
  // Its time is still when it came: what follows it must not end 10 minutes before that.
  temp_log_dir later;
  {
    auto log = audit_log::open(config_for(later));
    REQUIRE(log.is_ok());
    record stopped = synthetic_record("s", 0, 0, payload_mode::none);
    stopped.timestamp_us = t + 30 * minute_us;
    stopped.status = 0;
    stopped.error_kind = std::string(gateway_stopped_error_kind);
    REQUIRE(log.value()->append(stopped).get().is_ok());
    record after = synthetic_record("s", 1, 0, payload_mode::none);
    after.timestamp_us = t;
    after.latency_us = 0;
    REQUIRE(log.value()->append(after).get().is_ok());
    REQUIRE(log.value()->close().is_ok());
  }
  options.check_times_at_us = t + 40 * minute_us;
  CHECK(time_problems(verify(later, options)) ==
        std::vector<std::pair<problem_kind, std::uint64_t>>{{problem_kind::time_backwards, 1}});
}

TEST_CASE("verify names records that carry a request id another record carries") {
  temp_log_dir d;
  write_log(d, 10);
  write_log(d, 3, payload_mode::digest, "other");
  write_log(d, 2);  // records 13 and 14 repeat v-0 and v-1
  const auto r = verify(d);
  std::vector<std::pair<std::uint64_t, std::string>> found;
  for (const auto& p : r.problems) {
    if (p.kind == problem_kind::request_id_duplicate) {
      found.emplace_back(p.record.value_or(UINT64_MAX), p.text);
    }
  }
  CHECK(found ==
        std::vector<std::pair<std::uint64_t, std::string>>{
            {13,
             "records 0 and 13 carry the same request id 'v-0': a gateway gives every request its own "
             "random id, so one of them was forged or replayed"},
            {14,
             "records 1 and 14 carry the same request id 'v-1': a gateway gives every request its own "
             "random id, so one of them was forged or replayed"}});
  CHECK_FALSE(r.first_bad_record);
  // Events carry no request id: many of them are no duplicate.
  temp_log_dir events;
  write_log(events, 2);
  for (int i = 0; i < 3; ++i) {
    auto log = audit_log::open(config_for(events));
    REQUIRE(log.is_ok());
    REQUIRE(log.value()->drop_payloads_before(0).is_ok());
    REQUIRE(log.value()->close().is_ok());
  }
  CHECK(verify(events).ok());
}

namespace {

// Stores, as the checkpoint at `size`, one signed by the log's own key over another root: what a
// sibling log written with the same keys (a second gateway, a staging log) signs at that size.
void store_foreign_checkpoint(const temp_log_dir& d, std::uint64_t size) {
  const auto keys = load_writer_keys(d.keys);
  sovgw::crypto::checkpoint cp{keys.signer.verifier().name, size, {}};
  cp.root[0] = 0x5a;
  auto s = open_store(d, store::open_mode::write_existing);
  rocksdb::WriteBatch wb;
  wb.Put(s->cf(column::checkpoints), be64(size), keys.signer.sign(cp.to_text()));
  REQUIRE(s->write(wb, true).is_ok());
}

}  // namespace

TEST_CASE("a stored checkpoint of another history under the key, under later ones that sign the records") {
  // Probe round 44 (tester 2, finding 1): "records 0..9: at least one differs from what was signed".
  temp_log_dir d;
  write_log(d, 10, payload_mode::digest, "a");  // signed at 10 when it closes
  write_log(d, 10, payload_mode::digest, "b");  // and at 20
  store_foreign_checkpoint(d, 10);
  const auto r = verify(d);
  REQUIRE_FALSE(r.ok());
  CHECK(find_kind(r, problem_kind::record_altered) == nullptr);
  CHECK(find_kind(r, problem_kind::checkpoints_inconsistent) == nullptr);
  const problem* p = find_kind(r, problem_kind::checkpoint_mismatch);
  REQUIRE(p != nullptr);
  CHECK(p->record == 9);
  CHECK_MESSAGE(p->text.find("another log's that shares the key") != std::string::npos, p->text);
  CHECK(r.problems.size() == 1);
  CHECK_FALSE(r.first_bad_record.has_value());
  CHECK(r.failed_checkpoints() == 1);
  CHECK(r.contradicting_checkpoints == 0);
}

TEST_CASE("a stored checkpoint of another history at the size of a held one the records reproduce") {
  // Probe round 44 (tester 2, finding 2): "the log forked or was rewritten", the foreign one counted
  // as matching the records.
  temp_log_dir d;
  write_log(d, 20);
  const auto genuine = verify(d).latest;
  REQUIRE(genuine.has_value());
  REQUIRE(genuine->size == 20);
  store_foreign_checkpoint(d, 20);
  verify_options options;
  options.held = {*genuine};
  const auto r = verify(d, options);
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].kind == problem_kind::checkpoint_mismatch);
  CHECK_MESSAGE(r.problems[0].text.find("which the records do not reproduce, but the checkpoint you hold has "
                                        "root ") != std::string::npos,
                r.problems[0].text);
  CHECK(r.contradicting_checkpoints == 0);
  CHECK(r.failed_checkpoints() == 1);
  REQUIRE(r.held_verdicts.size() == 1);
  CHECK(r.held_verdicts[0] == verify_report::held_verdict::reproduced);
}
