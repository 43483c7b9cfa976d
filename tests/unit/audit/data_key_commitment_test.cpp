// The data key commitments in the signed records (record::data_key_*, payload_vault.hpp): an
// operator who controls the host files and the database, but neither the process nor the auditor's
// secret, cannot swap the auditor key or a data key without verify saying so, without the auditor
// key (probe round 48, tester 3, finding 1). tests/cli/test_audit_auditor_swap.py replays the attack.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "audit/log_verifier.hpp"
#include "audit/payload_verifier.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"
#include "crypto/base64.hpp"
#include "crypto/sha256.hpp"
#include "tamper_support.hpp"
#include "test_support.hpp"

using namespace sovgw::audit;
using sovgw::audit::testing::config_for;
using sovgw::audit::testing::open_store;
using sovgw::audit::testing::temp_log_dir;

namespace {

constexpr std::uint64_t base_us = sovgw::audit::testing::synthetic_base_us;

// Records run-first .. run-(first+n-1), sealed payloads unless told otherwise.
void write_log(const temp_log_dir& d, std::uint64_t n, payload_mode mode = payload_mode::sealed,
               std::string_view run = "v", std::uint64_t first = 0) {
  sovgw::audit::testing::write_synthetic_log(d, n, mode, run, first);
}

using problem_list = std::vector<std::pair<problem_kind, std::uint64_t>>;

// Where the data key store keeps tenant's data key `version` (audit/payload_vault.cpp).
std::string data_key_key(std::string_view tenant, std::uint32_t version) {
  return "dk" + length_prefixed(tenant) +
         std::string{static_cast<char>(version >> 24), static_cast<char>(version >> 16),
                     static_cast<char>(version >> 8), static_cast<char>(version)};
}

record read_record(const store& s, std::uint64_t seq) {
  auto r = decode(bytes_of(s.get(column::leaves, be64(seq)).value().value()));
  REQUIRE(r.is_ok());
  return r.value();
}

// Like the holder of the signing key: `change` the stored records (and the rest of the store), then
// rebuild the tree and sign a checkpoint over the log as it is now.
void change_and_resign(const temp_log_dir& d,
                       const std::function<void(store&, rocksdb::WriteBatch&)>& change) {
  auto s = open_store(d, store::open_mode::write_existing);
  rocksdb::WriteBatch wb;
  change(*s, wb);
  REQUIRE(s->write(wb, true).is_ok());
  rocksdb::WriteBatch signed_again;
  sovgw::audit::testing::resign(*s, d.keys, signed_again);
  REQUIRE(s->write(signed_again, true).is_ok());
}

void rewrite_record(store& s, rocksdb::WriteBatch& wb, std::uint64_t seq,
                    const std::function<void(record&)>& edit) {
  record r = read_record(s, seq);
  edit(r);
  const auto bytes = encode(r);
  wb.Put(s.cf(column::leaves), be64(seq), std::string(bytes.begin(), bytes.end()));
}

verify_report verify(const temp_log_dir& d) {
  verify_options options;
  options.indexes = false;
  return verify_log(*open_store(d), load_verifier(d.keys + "/signing.pub"), options);
}

payload_report verify_payloads(const temp_log_dir& d, const auditor_key_pair* auditor = nullptr) {
  const auto r = verify(d);
  REQUIRE_MESSAGE(r.ok(), r.problems.front().text);
  if (auditor == nullptr) {
    return verify_payloads(*open_store(d), r.events, nullptr, r.signed_records());
  }
  const auditor_keys keys{auditor->public_key, auditor->secret_key};
  return verify_payloads(*open_store(d), r.events, &keys, r.signed_records());
}

problem_list kinds(const payload_report& r) {
  problem_list out;
  for (const auto& p : r.problems) {
    out.emplace_back(p.kind, p.record.value_or(UINT64_MAX));
  }
  return out;
}

const problem* find_kind(const payload_report& r, problem_kind kind) {
  const auto it =
      std::find_if(r.problems.begin(), r.problems.end(), [&](const problem& p) { return p.kind == kind; });
  return it == r.problems.end() ? nullptr : &*it;
}

auditor_key_pair auditor_of(const temp_log_dir& d) {
  return load_auditor_key(default_auditor_dir(d.keys) + "/auditor.key");
}

// The operator's own key pair (init_keys in d.root/evil) and a writer key directory with the log's
// signing key and kek.key but that auditor.pub: what the probe's operator ran the writer with.
struct operator_keys {
  std::string dir;
  std::string auditor_key_file;
  sovgw::crypto::box_public_key auditor_public{};
};
operator_keys make_operator_keys(const temp_log_dir& d) {
  namespace fs = std::filesystem;
  const std::string evil = d.root + "/evil";
  (void)init_keys(evil, "test.example/log");
  operator_keys out{d.root + "/opkeys", default_auditor_dir(evil) + "/auditor.key",
                    load_auditor_public(evil + "/auditor.pub")};
  fs::create_directory(out.dir);
  fs::permissions(out.dir, fs::perms::owner_all);
  for (const char* f : {"signing.key", "signing.pub", "kek.key"}) {
    fs::copy_file(d.keys + "/" + f, out.dir + "/" + f);
  }
  fs::copy_file(evil + "/auditor.pub", out.dir + "/auditor.pub");
  return out;
}

}  // namespace

TEST_CASE("the first records sealed under a data key commit to it until one is durable; verify checks them") {
  temp_log_dir d;
  write_log(d, 10);  // five tenants: records 0..4 start their data keys v1
  write_log(d, 3, payload_mode::digest, "d", 10);
  write_log(d, 2, payload_mode::none, "n", 13);
  const auto auditor = auditor_of(d);
  {
    auto s = open_store(d);
    for (std::uint64_t seq = 0; seq < 15; ++seq) {
      const record r = read_record(*s, seq);
      CAPTURE(seq);
      if (seq < 5) {
        CHECK(r.data_key_version == 1);
        CHECK(r.auditor_key == sovgw::crypto::to_base64(auditor.public_key));
        const auto entry = s->get(column::keys, data_key_key(r.tenant, 1)).value().value();
        CHECK(r.data_key_digest == data_key_entry_digest(entry));
      } else {
        CHECK(r.data_key_digest.empty());
        CHECK(r.auditor_key.empty());
        CHECK(r.data_key_version == 0);
      }
    }
  }
  const auto log = verify(d);
  REQUIRE(log.ok());
  CHECK(log.request_payloads.sealed == 10);
  CHECK(log.request_payloads.digest == 3);
  CHECK(log.request_payloads.none == 2);
  CHECK(log.committed_auditor_keys == std::vector{sovgw::crypto::to_base64(auditor.public_key)});
  const auto plain = verify_payloads(d);
  CHECK_MESSAGE(plain.ok(), plain.problems.front().text);
  CHECK(plain.committed_data_keys == 5);
  CHECK(plain.uncommitted_data_keys == 0);
  const auto opened = verify_payloads(d, &auditor);
  CHECK_MESSAGE(opened.ok(), opened.problems.front().text);
  CHECK(opened.opened == 10);

  // A second writer starts data keys v2 and commits them; a commitment repeated verbatim (records
  // sealed while the first was not yet durable) is no problem.
  // Records 16 and 21: globex's (20, 22 and 24 are denied: nothing sealed).
  write_log(d, 10, payload_mode::sealed, "w", 15);
  change_and_resign(d, [](store& s, rocksdb::WriteBatch& wb) {
    const record first = read_record(s, 16);
    REQUIRE(first.data_key_version == 2);
    rewrite_record(s, wb, 21, [&](record& r) {
      REQUIRE(r.tenant == first.tenant);
      r.data_key_version = first.data_key_version;
      r.data_key_digest = first.data_key_digest;
      r.auditor_key = first.auditor_key;
    });
  });
  const auto again = verify_payloads(d, &auditor);
  CHECK_MESSAGE(again.ok(), again.problems.front().text);
  CHECK(again.committed_data_keys == 10);
  CHECK(again.opened == 17);
}

TEST_CASE("a data key version's commitment rides on records until one of them is durable") {
  temp_log_dir d;
  auto s = open_store(d, store::open_mode::read_write);
  const auto keys = load_writer_keys(d.keys);
  payload_vault vault(*s, keys.kek, keys.auditor_public);
  const std::vector<std::uint8_t> plain{1, 2, 3};
  auto a = vault.seal("acme", plain, {});
  auto b = vault.seal("acme", plain, {});
  REQUIRE(a.is_ok());
  REQUIRE(b.is_ok());
  CHECK(a->carries_commitment);
  CHECK(b->carries_commitment);  // sealed before a record carrying it was durable: carried again
  CHECK(a->data_key_version == 1);
  CHECK(a->data_key_digest == b->data_key_digest);
  CHECK(a->auditor_key == sovgw::crypto::to_base64(keys.auditor_public));
  const auto entry = s->get(column::keys, data_key_key("acme", 1)).value().value();
  CHECK(a->data_key_digest == data_key_entry_digest(entry));
  a->committed->store(true);  // what the log does once a's record is durable
  auto c = vault.seal("acme", plain, {});
  REQUIRE(c.is_ok());
  CHECK_FALSE(c->carries_commitment);
  CHECK(c->data_key_digest.empty());
  auto g = vault.seal("globex", plain, {});
  REQUIRE(g.is_ok());
  CHECK(g->carries_commitment);
}

TEST_CASE("a record that fails to append leaves its data key's commitment to the next record") {
  temp_log_dir d;
  {
    auto log = audit_log::open(config_for(d));
    REQUIRE(log.is_ok());
    record bad = synthetic_record("f", 0, base_us, payload_mode::sealed);
    bad.endpoint_address_country = "DE";  // without an endpoint address: validate() refuses it after sealing
    CHECK_FALSE(log.value()->append(bad, synthetic_payload(0, 64)).get().is_ok());
    auto seq = log.value()
                   ->append(synthetic_record("f", 5, base_us, payload_mode::sealed), synthetic_payload(5, 64))
                   .get();
    REQUIRE(seq.is_ok());
    CHECK(*seq == 0);
    REQUIRE(log.value()->close().is_ok());
  }
  const record r = read_record(*open_store(d), 0);
  CHECK(r.tenant == "acme");
  CHECK(r.data_key_version == 1);
  CHECK_FALSE(r.data_key_digest.empty());
  const auto payloads = verify_payloads(d);
  CHECK_MESSAGE(payloads.ok(), payloads.problems.front().text);
  CHECK(payloads.committed_data_keys == 1);
}

TEST_CASE(
    "a data key re-sealed after sealing (same key, same auditor) is found without the auditor's secret") {
  temp_log_dir d;
  write_log(d, 10);
  const auto auditor = auditor_of(d);
  {
    // The probe's cover-up: open the data key with the key it was sealed to, seal it again.
    auto s = open_store(d, store::open_mode::write_existing);
    const std::string key = data_key_key("globex", 1);
    const auto data_key =
        open_data_key(s->get(column::keys, key).value().value(), {auditor.public_key, auditor.secret_key});
    REQUIRE(data_key);
    const auto sealed = sovgw::crypto::box_seal(auditor.public_key, data_key->view());
    rocksdb::WriteBatch wb;
    wb.Put(s->cf(column::keys), key, std::string(4, '\0') + std::string(sealed.begin(), sealed.end()));
    REQUIRE(s->write(wb, true).is_ok());
  }
  const auto plain = verify_payloads(d);
  REQUIRE(kinds(plain) == problem_list{{problem_kind::data_key_not_committed_one, 1}});
  const std::string& text = plain.problems.front().text;
  CHECK_MESSAGE(
      text.starts_with("tenant 'globex' data key v1 is not the one the log committed at record 1: it was "
                       "replaced after it was sealed"),
      text);
  CHECK_MESSAGE(text.find("from record 1 on") != std::string::npos, text);
  CHECK(to_string(problem_kind::data_key_not_committed_one) == std::string("data_key_not_committed_one"));
  // The auditor key opens it (the same key): only the commitment tells.
  const auto opened = verify_payloads(d, &auditor);
  CHECK(opened.opened == 10);
  CHECK(kinds(opened) == kinds(plain));
}

TEST_CASE("a writer refuses a log whose records commit its data keys to another auditor key") {
  temp_log_dir d;
  write_log(d, 5);
  const auto op = make_operator_keys(d);
  auto config = config_for(d);
  config.key_dir = op.dir;
  {
    auto s = open_store(d, store::open_mode::write_existing);
    rocksdb::WriteBatch wb;
    wb.Delete(s->cf(column::meta), "auditor_key");  // unsigned: the operator can delete it
    REQUIRE(s->write(wb, true).is_ok());
  }
  auto refused = audit_log::open(config);
  REQUIRE_FALSE(refused.is_ok());
  CHECK(refused.error().code() == sovgw::error_code::invalid_argument);
  CHECK_MESSAGE(
      refused.error().message().find("its signed records commit its data keys as sealed to "
                                     "sovgw-auditor-x25519 " +
                                     sovgw::crypto::to_base64(auditor_of(d).public_key)) != std::string::npos,
      refused.error().message());
  {
    // Nor when the meta entry names the operator's key.
    auto s = open_store(d, store::open_mode::write_existing);
    rocksdb::WriteBatch wb;
    wb.Put(s->cf(column::meta), "auditor_key",
           "sovgw-auditor-x25519 " + sovgw::crypto::to_base64(op.auditor_public));
    REQUIRE(s->write(wb, true).is_ok());
  }
  CHECK_FALSE(audit_log::open(config).is_ok());
  // With the entry gone again, the log's own auditor.pub opens it.
  {
    auto s = open_store(d, store::open_mode::write_existing);
    rocksdb::WriteBatch wb;
    wb.Delete(s->cf(column::meta), "auditor_key");
    REQUIRE(s->write(wb, true).is_ok());
  }
  write_log(d, 5, payload_mode::sealed, "again", 5);
}

TEST_CASE("a log without commitments nor the meta entry (an older writer's) opens with any auditor key") {
  temp_log_dir d;
  write_log(d, 5, payload_mode::digest);
  const auto op = make_operator_keys(d);
  {
    auto s = open_store(d, store::open_mode::write_existing);
    rocksdb::WriteBatch wb;
    wb.Delete(s->cf(column::meta), "auditor_key");
    REQUIRE(s->write(wb, true).is_ok());
  }
  auto config = config_for(d);
  config.key_dir = op.dir;
  auto log = audit_log::open(config);
  REQUIRE_MESSAGE(log.is_ok(), log.error().message());
  REQUIRE(log.value()->close().is_ok());
}

TEST_CASE("data keys sealed to another auditor key by a later writer are named, and so is their cover-up") {
  temp_log_dir d;
  write_log(d, 10);
  const auto auditor = auditor_of(d);
  const auto op = make_operator_keys(d);
  const auto log_key = sovgw::crypto::to_base64(auditor.public_key);
  const auto other_key = sovgw::crypto::to_base64(op.auditor_public);
  // What a writer with the operator's auditor.pub writes (the writer refuses to: built by hand):
  // record 10, acme's, sealed under a new data key v2 sealed to the operator's key.
  change_and_resign(d, [&](store& s, rocksdb::WriteBatch& wb) {
    const auto keys = load_writer_keys(op.dir);
    payload_vault vault(s, keys.kek, keys.auditor_public);
    record r = synthetic_record("evil", 10, base_us, payload_mode::sealed);
    r.seq = 10;
    auto sealed = vault.seal(r.tenant, encode_payload(synthetic_payload(10, 64)), payload_associated_data(r));
    REQUIRE(sealed.is_ok());
    REQUIRE(sealed->data_key_version == 2);
    const auto digest = sovgw::crypto::sha256(std::string_view(sealed->blob));
    r.payload_digest.assign(digest.begin(), digest.end());
    r.data_key_version = sealed->data_key_version;
    r.data_key_digest = sealed->data_key_digest;
    r.auditor_key = sealed->auditor_key;
    const auto bytes = encode(r);
    wb.Put(s.cf(column::leaves), be64(10), std::string(bytes.begin(), bytes.end()));
    wb.Put(s.cf(column::payloads), be64(10), sealed->blob);
  });
  const auto before = verify_payloads(d);
  REQUIRE(kinds(before) == problem_list{{problem_kind::data_key_other_auditor, 10}});
  CHECK_MESSAGE(
      before.problems.front().text ==
          "records 10..: tenant 'acme' data key v2 was sealed to auditor key " + other_key +
              ", not the log's (" + log_key +
              ", as its first commitment at record 0 names): the writer ran with another auditor.pub, "
              "and whoever holds that key's secret can read the payloads sealed under it (from record "
              "10 on)",
      before.problems.front().text);
  CHECK(find_kind(verify_payloads(d, &auditor), problem_kind::data_key_other_auditor) != nullptr);
  // The cover-up: the data key re-sealed to the log's auditor key. The auditor key opens it now,
  // and the commitment still names the operator's key, sealed bytes that are no longer stored.
  {
    auto s = open_store(d, store::open_mode::write_existing);
    const std::string key = data_key_key("acme", 2);
    const auto evil = load_auditor_key(op.auditor_key_file);
    const auto data_key =
        open_data_key(s->get(column::keys, key).value().value(), {evil.public_key, evil.secret_key});
    REQUIRE(data_key);
    const auto sealed = sovgw::crypto::box_seal(auditor.public_key, data_key->view());
    rocksdb::WriteBatch wb;
    wb.Put(s->cf(column::keys), key, std::string(4, '\0') + std::string(sealed.begin(), sealed.end()));
    REQUIRE(s->write(wb, true).is_ok());
  }
  const auto after = verify_payloads(d, &auditor);
  CHECK(after.opened == 11);
  CHECK(kinds(after) == problem_list{{problem_kind::data_key_other_auditor, 10},
                                     {problem_kind::data_key_not_committed_one, 10}});
  CHECK(kinds(verify_payloads(d)) == kinds(after));
}

TEST_CASE("a data key no record commits to, first used after the log began committing, is named") {
  temp_log_dir d;
  write_log(d, 5);                                // records 0..4 commit data keys v1
  write_log(d, 5, payload_mode::sealed, "w", 5);  // records 5..9 commit data keys v2
  // Records 0..4 as an older writer made them: counted, not judged.
  change_and_resign(d, [](store& s, rocksdb::WriteBatch& wb) {
    for (std::uint64_t seq = 0; seq < 5; ++seq) {
      rewrite_record(s, wb, seq, [](record& r) {
        r.data_key_version = 0;
        r.data_key_digest.clear();
        r.auditor_key.clear();
      });
    }
  });
  const auto older = verify_payloads(d);
  CHECK_MESSAGE(older.ok(), older.problems.front().text);
  CHECK(older.uncommitted_data_keys == 5);
  CHECK(older.committed_data_keys == 5);
  // Record 7's commitment removed (and the log signed again): initech's v2 comes after the first
  // commitment (record 5) with none.
  change_and_resign(d, [](store& s, rocksdb::WriteBatch& wb) {
    rewrite_record(s, wb, 7, [](record& r) {
      r.data_key_version = 0;
      r.data_key_digest.clear();
      r.auditor_key.clear();
    });
  });
  const auto stripped = verify_payloads(d);
  REQUIRE(kinds(stripped) == problem_list{{problem_kind::data_key_uncommitted, 7}});
  CHECK_MESSAGE(
      stripped.problems.front().text.starts_with(
          "tenant 'initech' data key v2 seals payloads from record 7 on, after the log began committing "
          "its data keys (record 5), but no signed record commits to it"),
      stripped.problems.front().text);
}

TEST_CASE("two different commitments to one data key version are named") {
  temp_log_dir d;
  write_log(d, 10);
  change_and_resign(d, [](store& s, rocksdb::WriteBatch& wb) {
    rewrite_record(s, wb, 5, [&](record& r) {  // acme's again, under v1
      const record first = read_record(s, 0);
      r.data_key_version = 1;
      r.data_key_digest = std::string(64, 'a');
      r.auditor_key = first.auditor_key;
    });
  });
  const auto payloads = verify_payloads(d);
  REQUIRE(kinds(payloads) == problem_list{{problem_kind::data_key_committed_twice, 5}});
  CHECK_MESSAGE(payloads.problems.front().text.starts_with(
                    "records 0 and 5 commit to two different data keys as tenant 'acme' data key v1"),
                payloads.problems.front().text);
}
