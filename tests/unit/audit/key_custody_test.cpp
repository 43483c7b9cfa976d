// Who can open a stored payload: only the auditor key. The gateway's own keys (kek.key,
// signing.key, auditor.pub) and the database together open nothing; logs that still hold
// KEK-wrapped data keys (older logs) lose those copies when a writer opens them.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include "audit/audit_log.hpp"
#include "audit/keys.hpp"
#include "audit/payload_vault.hpp"
#include "audit/query.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"
#include "crypto/aead.hpp"
#include "crypto/key_file.hpp"
#include "test_support.hpp"

using namespace sovgw::audit;
using sovgw::audit::testing::config_for;
using sovgw::audit::testing::temp_log_dir;

namespace {

// Appends `n` sealed records per tenant, then closes the writer (each call is one gateway run).
void run_writer(const temp_log_dir& d, std::string_view run, int n) {
  auto log = audit_log::open(config_for(d));
  REQUIRE_MESSAGE(log.is_ok(), log.error().message());
  for (int i = 0; i < n; ++i) {
    for (const char* tenant : {"acme", "globex"}) {
      record r =
          synthetic_record(run, static_cast<std::uint64_t>(i), 1'700'000'000'000'000, payload_mode::sealed);
      r.tenant = tenant;
      REQUIRE(
          log.value()->append(r, payload{"prompt of " + std::string(tenant), "completion"}).get().is_ok());
    }
  }
  REQUIRE(log.value()->close().is_ok());
}

std::uint32_t be32_at(std::string_view b) {
  return std::uint32_t{static_cast<unsigned char>(b[0])} << 24 |
         std::uint32_t{static_cast<unsigned char>(b[1])} << 16 |
         std::uint32_t{static_cast<unsigned char>(b[2])} << 8 |
         std::uint32_t{static_cast<unsigned char>(b[3])};
}

struct data_key_entry {
  std::string key;    // "dk" || u16 length || tenant || be32 version
  std::string value;  // be32 wrapped length || KEK-wrapped copy || sealed to the auditor
};

std::vector<data_key_entry> data_key_entries(const store& s) {
  std::vector<data_key_entry> out;
  auto it = s.iterate(column::keys);
  for (it->Seek("dk"); it->Valid() && it->key().starts_with("dk"); it->Next()) {
    out.push_back({it->key().ToString(), it->value().ToString()});
  }
  REQUIRE(it->status().ok());
  return out;
}

// Every way the gateway host's KEK could open a stored data key: the wrapped part under the
// associated data the writer used ("sovgw-data-key-v1" || tenant || version), or the whole value.
bool kek_opens(const sovgw::crypto::secret_bytes& kek, const data_key_entry& e) {
  const std::string ad = "sovgw-data-key-v1" + e.key.substr(2);
  const std::vector<std::uint8_t> ad_bytes(ad.begin(), ad.end());
  const std::uint32_t wrapped = be32_at(e.value);
  const auto wrapped_part = bytes_of(std::string_view(e.value).substr(4, wrapped));
  return sovgw::crypto::aead_open(kek, wrapped_part, ad_bytes).has_value() ||
         sovgw::crypto::aead_open(kek, bytes_of(e.value), ad_bytes).has_value();
}

// All bytes of every file of the database (SSTs, WAL, MANIFEST): what a copy or a backup holds.
std::string all_files(const std::string& dir) {
  std::string out;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) {
      std::ifstream in(f.path(), std::ios::binary);
      out.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
  }
  return out;
}

std::vector<record> sealed_records(const store& s) {
  std::vector<record> out;
  query_filter all;
  REQUIRE(run_query(s, all, [&](const record& r) {
            if (r.payload == payload_mode::sealed) {
              out.push_back(r);
            }
            return true;
          }).is_ok());
  return out;
}

}  // namespace

TEST_CASE("the gateway's keys and the database open no payload; the auditor key opens them all") {
  temp_log_dir d;
  run_writer(d, "first", 3);
  run_writer(d, "after-restart", 2);  // a restarted writer cannot read its old keys: new versions
  CHECK_FALSE(std::filesystem::exists(d.keys + "/auditor.key"));

  auto s = store::open(d.db, store::open_mode::read_only);
  REQUIRE(s.is_ok());
  const auto kek = sovgw::crypto::read_secret_key_file(d.keys + "/kek.key", kek_kind);
  const auto entries = data_key_entries(*s.value());
  REQUIRE(entries.size() == 4);  // two tenants, two writer runs
  const auto auditor = load_auditor_key(default_auditor_dir(d.keys) + "/auditor.key");
  const std::string files = all_files(d.db);
  for (const auto& e : entries) {
    CHECK(be32_at(e.value) == 0);  // no KEK-wrapped copy
    CHECK_FALSE(kek_opens(kek, e));
    // The auditor opens it; its plaintext is nowhere in the database's files.
    const auto data_key = sovgw::crypto::box_open(auditor.public_key, auditor.secret_key,
                                                  bytes_of(std::string_view(e.value).substr(4)));
    REQUIRE(data_key);
    const auto v = data_key->view();
    CHECK(files.find(std::string_view(reinterpret_cast<const char*>(v.data()), v.size())) ==
          std::string::npos);
  }
  const auto sealed = sealed_records(*s.value());
  REQUIRE(sealed.size() == 10);
  for (const auto& r : sealed) {
    auto p = testing::open_payload(*s.value(), r, auditor);
    REQUIRE_MESSAGE(p.is_ok(), p.error().message());
    CHECK(p->prompt == "prompt of " + r.tenant);
  }
}

TEST_CASE("a log with KEK-wrapped data keys (an older log) opens, loses those copies, and says so") {
  temp_log_dir d;
  run_writer(d, "old", 2);
  const auto kek = sovgw::crypto::read_secret_key_file(d.keys + "/kek.key", kek_kind);
  const auto auditor = load_auditor_key(default_auditor_dir(d.keys) + "/auditor.key");
  std::vector<std::string> wrapped_copies;
  {
    // What older writers stored: be32 length || the key wrapped by the KEK || the sealed key.
    auto s = store::open(d.db, store::open_mode::write_existing);
    REQUIRE(s.is_ok());
    rocksdb::WriteBatch batch;
    for (const auto& e : data_key_entries(*s.value())) {
      const auto sealed = std::string_view(e.value).substr(4);
      const auto key = sovgw::crypto::box_open(auditor.public_key, auditor.secret_key, bytes_of(sealed));
      REQUIRE(key);
      const std::string ad = "sovgw-data-key-v1" + e.key.substr(2);
      const auto wrapped =
          sovgw::crypto::aead_seal(kek, key->view(), std::vector<std::uint8_t>(ad.begin(), ad.end()));
      std::string old_entry = {static_cast<char>(wrapped.size() >> 24),
                               static_cast<char>(wrapped.size() >> 16),
                               static_cast<char>(wrapped.size() >> 8), static_cast<char>(wrapped.size())};
      old_entry.append(wrapped.begin(), wrapped.end());
      old_entry.append(sealed);
      batch.Put(s.value()->cf(column::keys), e.key, old_entry);
      wrapped_copies.emplace_back(wrapped.begin(), wrapped.end());
    }
    REQUIRE(s.value()->write(batch, true).is_ok());
    for (const auto& e : data_key_entries(*s.value())) {
      CHECK(kek_opens(kek, e));  // the positive control: the test can see a wrapped copy
    }
  }
  for (const auto& w : wrapped_copies) {
    REQUIRE(all_files(d.db).find(w) != std::string::npos);  // what a backup taken now would keep
  }
  {
    auto log = audit_log::open(config_for(d));
    REQUIRE_MESSAGE(log.is_ok(), log.error().message());
    REQUIRE(log.value()->close().is_ok());
  }
  auto s = store::open(d.db, store::open_mode::read_only);
  REQUIRE(s.is_ok());
  for (const auto& e : data_key_entries(*s.value())) {
    CHECK(be32_at(e.value) == 0);
    CHECK_FALSE(kek_opens(kek, e));
  }
  const std::string files = all_files(d.db);
  for (const auto& w : wrapped_copies) {
    CHECK(files.find(w) == std::string::npos);  // compacted away, not only hidden
  }
  for (const auto& r : sealed_records(*s.value())) {
    CHECK(testing::open_payload(*s.value(), r, auditor).is_ok());
  }
  std::vector<std::string> events;
  query_filter all;
  REQUIRE(run_query(*s.value(), all, [&](const record& r) {
            if (r.kind == record_kind::event) {
              events.push_back(r.note);
            }
            return true;
          }).is_ok());
  REQUIRE(events.size() == 1);
  CHECK(events[0] ==
        "key-migration: removed the KEK-wrapped copies of 2 data key(s); only the auditor key opens "
        "them now");
}

TEST_CASE("key custody: the auditor key lives apart; unsafe key files are refused") {
  temp_log_dir d;
  const std::string auditor_dir = default_auditor_dir(d.keys);
  CHECK(auditor_dir == d.keys + "-auditor");
  CHECK(default_auditor_dir(d.keys + "//") == d.keys + "-auditor");
  for (const auto& dir : {d.keys, auditor_dir}) {
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
  }
  CHECK(std::filesystem::exists(auditor_dir + "/auditor.key"));
  CHECK(std::filesystem::exists(auditor_dir + "/signing.pub"));

  SUBCASE("a writer refuses a key directory that holds the auditor key") {
    std::filesystem::copy_file(auditor_dir + "/auditor.key", d.keys + "/auditor.key");
    CHECK_THROWS_WITH_AS((void)audit_log::open(config_for(d)),
                         doctest::Contains("belongs off the gateway host"), sovgw::crypto::key_file_error);
  }
  SUBCASE("public key files others can write are refused") {
    REQUIRE(::chmod((d.keys + "/auditor.pub").c_str(), 0664) == 0);
    CHECK_THROWS_WITH_AS((void)load_writer_keys(d.keys), doctest::Contains("chmod go-w"),
                         sovgw::crypto::key_file_error);
    REQUIRE(::chmod((d.keys + "/auditor.pub").c_str(), 0644) == 0);
    CHECK_NOTHROW((void)load_writer_keys(d.keys));
    REQUIRE(::chmod((d.keys + "/signing.pub").c_str(), 0646) == 0);
    const auto v = read_verifier(d.keys + "/signing.pub");
    REQUIRE_FALSE(v.is_ok());
    CHECK(v.error().code() == sovgw::error_code::io);
    CHECK(v.error().message().find("mode 0646 lets group or others change it") != std::string::npos);
  }
  SUBCASE("the key payloads are sealed to must belong to the writer (or root)") {
    // Probe round 27: a root-run gateway took an auditor.pub that user nobody owns (mode 0644), who
    // could swap in a key of their own and open every payload sealed from then on. An auditor's
    // reading of the gateway's signing.pub stays any owner's.
    if (::geteuid() != 0) {
      MESSAGE("not root: cannot give a file to another user, skipped");
      return;
    }
    REQUIRE(::chown((d.keys + "/auditor.pub").c_str(), 65534, 65534) == 0);
    CHECK_THROWS_WITH_AS((void)load_writer_keys(d.keys), doctest::Contains("belongs to uid 65534"),
                         sovgw::crypto::key_file_error);
    REQUIRE(::chown((d.keys + "/signing.pub").c_str(), 65534, 65534) == 0);
    CHECK(read_verifier(d.keys + "/signing.pub").is_ok());
    REQUIRE(::chown((d.keys + "/auditor.pub").c_str(), 0, 0) == 0);
    REQUIRE(::chown((d.keys + "/signing.pub").c_str(), 0, 0) == 0);
    CHECK_NOTHROW((void)load_writer_keys(d.keys));
  }
  SUBCASE("secret key files others can read are refused") {
    REQUIRE(::chmod((auditor_dir + "/auditor.key").c_str(), 0644) == 0);
    CHECK_THROWS_WITH_AS((void)load_auditor_key(auditor_dir + "/auditor.key"), doctest::Contains("chmod 600"),
                         sovgw::crypto::key_file_error);
  }
  SUBCASE("the auditor directory cannot be the key directory or inside it") {
    const std::string other = d.root + "/other";
    CHECK_THROWS_AS((void)init_keys(other, "x.example/log", other), std::invalid_argument);
    CHECK_THROWS_AS((void)init_keys(other, "x.example/log", other + "/auditor"), std::invalid_argument);
    CHECK_FALSE(std::filesystem::exists(other + "/signing.key"));
    const auto made = init_keys(other, "x.example/log", d.root + "/elsewhere/");
    CHECK(made.auditor_dir == d.root + "/elsewhere");
    CHECK(std::filesystem::exists(d.root + "/elsewhere/auditor.key"));
  }
}

TEST_CASE("a new auditor.pub under an existing log is refused at open, naming both keys and what to do") {
  // Probe round 38: a new auditor.pub was taken silently; `verify --payloads` then said the data
  // keys sealed to it "were replaced", with either auditor key.
  temp_log_dir d;
  run_writer(d, "before", 2);
  const std::string other = d.root + "/other-keys";
  (void)init_keys(other, "test.example/log", d.root + "/other-auditor");
  std::filesystem::permissions(d.keys + "/auditor.pub", std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::filesystem::copy_file(other + "/auditor.pub", d.keys + "/auditor.pub",
                             std::filesystem::copy_options::overwrite_existing);
  auto log = audit_log::open(config_for(d));
  REQUIRE_FALSE(log.is_ok());
  CHECK(log.error().code() == error_code::invalid_argument);
  const std::string msg(log.error().message());
  CHECK_MESSAGE(msg.find("is not the auditor key the audit log at") != std::string::npos, msg);
  CHECK_MESSAGE(msg.find("Rotating the auditor key") != std::string::npos, msg);
}
