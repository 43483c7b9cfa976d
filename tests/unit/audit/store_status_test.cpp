// The shared status/result types, and the error kinds the store and the proofs report as types:
// busy, not an audit log, a truncated proof.
#include <doctest/doctest.h>
#include <rocksdb/db.h>
#include <sys/stat.h>

#include <array>
#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/proof_file.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"
#include "common/status.hpp"
#include "crypto/base64.hpp"
#include "test_support.hpp"

using namespace sovgw::audit;
using sovgw::audit::testing::config_for;
using sovgw::audit::testing::temp_log_dir;

namespace {

std::unique_ptr<audit_log> open_log(const temp_log_dir& d) {
  auto log = audit_log::open(config_for(d));
  REQUIRE_MESSAGE(log.is_ok(), log.error().message());
  return std::move(log.value());
}

}  // namespace

TEST_CASE("result: value() on an error throws logic_error naming the error, never UB") {
  sovgw::result<int> ok = 7;
  CHECK(ok.is_ok());
  CHECK(ok.value() == 7);
  CHECK(*ok == 7);
  CHECK(ok.error().is_ok());
  sovgw::result<std::string> failed = sovgw::status{sovgw::error_code::busy, "held by another writer"};
  CHECK_FALSE(failed.is_ok());
  CHECK(failed.error().code() == sovgw::error_code::busy);
  CHECK_THROWS_WITH_AS((void)failed.value(), "result::value() called on an error: held by another writer",
                       std::logic_error);
  CHECK_THROWS_AS((void)failed->size(), std::logic_error);
  CHECK_THROWS_AS((void)*failed, std::logic_error);
  const auto& const_failed = failed;
  CHECK_THROWS_AS((void)const_failed.value(), std::logic_error);
  CHECK(std::string(sovgw::to_string(sovgw::error_code::busy)) == "busy");
}

TEST_CASE("a second writer is told the log is busy (by the lock, not by RocksDB's message)") {
  temp_log_dir d;
  auto first = open_log(d);
  for (const auto mode : {store::open_mode::read_write, store::open_mode::write_existing}) {
    auto second = store::open(d.db, mode);
    REQUIRE_FALSE(second.is_ok());
    CHECK(second.error().code() == sovgw::error_code::busy);
    CHECK(second.error().message().find("in use by another writer") != std::string::npos);
  }
  auto writer = audit_log::open(config_for(d));
  REQUIRE_FALSE(writer.is_ok());
  CHECK(writer.error().code() == sovgw::error_code::busy);
  CHECK(store::open(d.db, store::open_mode::read_only).is_ok());  // readers are never locked out
  REQUIRE(first->close().is_ok());
  first.reset();
  CHECK(store::open(d.db, store::open_mode::write_existing).is_ok());  // released with the writer
}

TEST_CASE("a RocksDB database with other column families is not an audit log, and is left alone") {
  temp_log_dir d;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(o, d.db, &raw).ok());
    delete raw;
  }
  for (const auto mode :
       {store::open_mode::read_only, store::open_mode::write_existing, store::open_mode::read_write}) {
    auto s = store::open(d.db, mode);
    REQUIRE_FALSE(s.is_ok());
    CHECK(s.error().code() == sovgw::error_code::not_found);
    CHECK_MESSAGE(s.error().message().find("is not a sovgw audit log") != std::string::npos,
                  s.error().message());
  }
  std::vector<std::string> families;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), d.db, &families).ok());
  CHECK(families == std::vector<std::string>{"default"});
}

TEST_CASE("a log whose creation was interrupted is finished by a writer, named as such to readers") {
  // RocksDB creates the database, then each column family in turn: a gateway stopped in between
  // left some of ours, and every later start refused the folder as "not a sovgw audit log".
  temp_log_dir d;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    REQUIRE(rocksdb::DB::Open(o, d.db, &raw).ok());
    rocksdb::ColumnFamilyHandle* h = nullptr;
    REQUIRE(raw->CreateColumnFamily(rocksdb::ColumnFamilyOptions(), "leaves", &h).ok());
    REQUIRE(raw->DestroyColumnFamilyHandle(h).ok());
    delete raw;
  }
  auto reader = store::open(d.db, store::open_mode::read_only);
  REQUIRE_FALSE(reader.is_ok());
  CHECK_MESSAGE(
      reader.error().message().find("was never finished: its creation was interrupted") != std::string::npos,
      reader.error().message());
  auto writer = store::open(d.db, store::open_mode::read_write);
  REQUIRE_MESSAGE(writer.is_ok(), writer.error().message());
  writer.value().reset();
  std::vector<std::string> families;
  REQUIRE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), d.db, &families).ok());
  CHECK(families.size() > 2);
  CHECK(store::open(d.db, store::open_mode::read_only).is_ok());
}

TEST_CASE("a new log's directory is created 0700") {
  temp_log_dir d;
  auto log = open_log(d);
  struct stat st {};
  REQUIRE(::stat(d.db.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0700);
}

TEST_CASE(
    "a truncated consistency proof is reported as not fitting its checkpoint, an altered one as "
    "inconsistent") {
  temp_log_dir d;
  {
    auto log = open_log(d);
    for (int run = 0; run < 2; ++run) {
      for (std::uint64_t i = 0; i < 30; ++i) {
        REQUIRE(log->append(synthetic_record("c" + std::to_string(run), i, 1'700'000'000'000'000,
                                             payload_mode::digest))
                    .get()
                    .is_ok());
      }
      REQUIRE(log->checkpoint_now().is_ok());
    }
    REQUIRE(log->close().is_ok());
  }
  auto s = store::open(d.db, store::open_mode::read_only);
  REQUIRE(s.is_ok());
  const auto key = load_verifier(d.keys + "/signing.pub");
  const auto proof = make_consistency_proof(*s.value(), 30, 60);
  REQUIRE(proof.is_ok());
  REQUIRE(verify_consistency_proof(proof.value(), key).is_ok());
  auto parsed = parse_consistency_proof(proof.value());
  REQUIRE(parsed.is_ok());
  REQUIRE(parsed->path.size() > 1);

  auto truncated = parsed.value();
  truncated.path.pop_back();
  auto v = verify_consistency_proof(format_proof(truncated), key);
  REQUIRE_FALSE(v.is_ok());
  CHECK(v.error().kind == proof_failure::proof_too_short);
  CHECK(v.error().code() == sovgw::error_code::verification_failed);
  CHECK_MESSAGE(
      v.error().text.find("does not fit its checkpoint: it holds 5 hash(es), but sizes 30 and 60 need 6: "
                          "it was cut short in transit, or its hashes and its checkpoint come from "
                          "two different proofs") != std::string::npos,
      v.error().text);
  CHECK(v.error().text.find("rewritten") == std::string::npos);

  auto longer = parsed.value();
  longer.path.push_back(longer.path.front());
  CHECK(verify_consistency_proof(format_proof(longer), key).error().kind == proof_failure::proof_too_long);

  auto altered = parsed.value();
  altered.path.back()[0] ^= 1;
  const auto kind = verify_consistency_proof(format_proof(altered), key).error().kind;
  CHECK((kind == proof_failure::root_mismatch || kind == proof_failure::old_root_mismatch));

  auto inclusion = make_inclusion_proof(*s.value(), 17);
  REQUIRE(inclusion.is_ok());
  auto incl = parse_inclusion_proof(inclusion.value());
  REQUIRE(incl.is_ok());
  incl->path.pop_back();
  CHECK(verify_inclusion_proof(format_proof(incl.value()), key).error().kind ==
        proof_failure::proof_too_short);
}

TEST_CASE(
    "checking a writer's table files while its compactions replace them reads every one, never a gone one") {
  // A writer compacts in the background: a file listed as live may be deleted before it is read.
  // verify_table_checksums holds deletions back meanwhile (CI once saw the writer refuse to open,
  // "reading the stored tree failed: IO error: No such file or directory", after a SIGKILL).
  temp_log_dir d;
  auto opened = store::open(d.db, store::open_mode::read_write);
  REQUIRE_MESSAGE(opened.is_ok(), opened.error().message());
  store& s = *opened.value();
  std::atomic<bool> done{false};
  std::thread compactor([&] {
    for (std::uint64_t round = 0; round < 120; ++round) {
      for (std::uint64_t i = 0; i < 20; ++i) {
        (void)s.db().Put(rocksdb::WriteOptions(), s.cf(column::tree), std::to_string(round * 20 + i),
                         std::string(100, 'x'));
      }
      (void)s.db().Flush(rocksdb::FlushOptions(), s.cf(column::tree));
      (void)s.db().CompactRange(rocksdb::CompactRangeOptions(), s.cf(column::tree), nullptr, nullptr);
    }
    done = true;
  });
  std::string failure;
  while (!done.load() && failure.empty()) {
    const sovgw::status checked = s.verify_table_checksums(std::array{column::tree});
    if (!checked.is_ok()) {
      failure = checked.message();
    }
  }
  compactor.join();
  CHECK_MESSAGE(failure.empty(), failure);
}
