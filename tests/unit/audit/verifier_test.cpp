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
using sovgw::audit::testing::temp_log_dir;

namespace {

constexpr std::uint64_t base_us = 1'780'000'000'000'000;  // 2026-05-28

void write_log(const temp_log_dir& d, std::uint64_t n, payload_mode mode = payload_mode::digest,
               std::string_view run = "v") {
  auto log = audit_log::open(config_for(d));
  REQUIRE_MESSAGE(log.is_ok(), log.error().message());
  for (std::uint64_t i = 0; i < n; ++i) {
    REQUIRE(
        log.value()->append(synthetic_record("v", i, base_us, mode), synthetic_payload(i, 64)).get().is_ok());
  }
  REQUIRE(log.value()->close().is_ok());
}

std::unique_ptr<store> open_store(const temp_log_dir& d,
                                  store::open_mode mode = store::open_mode::read_only) {
  auto s = store::open(d.db, mode);
  REQUIRE_MESSAGE(s.is_ok(), s.error().message());
  return std::move(s.value());
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
  REQUIRE(r.ok());
  const auto payloads = verify_payloads(*open_store(d), r.events, &keys);
  CHECK_MESSAGE(payloads.ok(), payloads.problems.front().text);
  CHECK(payloads.checked == 20);
  CHECK(payloads.opened == 20);  // record 1 still opens: its data key v1 was not replaced
}
