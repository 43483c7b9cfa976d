// Tamper tool for tests: changes a log's RocksDB contents the way an attacker with file access
// (but without the signing key) could.
//
// usage: audit_tamper DB flip SEQ            flip one byte in the middle of record SEQ
//        audit_tamper DB flip-payload SEQ    flip one byte in the middle of record SEQ's payload
//        audit_tamper DB delete-newest N     delete the N newest records
//        audit_tamper DB swap A B            exchange records A and B
//        audit_tamper DB forge-checkpoint    rewrite the latest checkpoint's root (keeping the signature)
//        audit_tamper DB delete SEQ          delete record SEQ
//        audit_tamper DB delete-index IDX SEQ         delete record SEQ's entry in index IDX
//        audit_tamper DB repoint-index IDX SEQ TO     make record SEQ's entry in IDX name record TO
//        audit_tamper DB delete-checkpoints-from SIZE delete the stored checkpoints of size >= SIZE
//        audit_tamper DB put-checkpoint SIZE FILE     store the signed note in FILE as the checkpoint at SIZE
//        audit_tamper DB copy-leaf FROM TO  store record FROM's bytes as record TO as well
//        audit_tamper DB damage-tile SEQ     zero record SEQ's hash in the stored tree
//        audit_tamper DB delete-tile SEQ     delete the stored tree tile holding record SEQ's hash
//        audit_tamper DB truncate N          remove the N newest records without a trace: their
//                                            leaves, index entries and checkpoints, and the tree
//                                            rewritten to the remaining records
//        audit_tamper DB delete-payload SEQ  delete record SEQ's stored payload
//        audit_tamper DB note-in-flight KEYS ID...  leave an in-flight note per request id in
//                                            DB.in-flight, as a gateway killed while forwarding them
//        audit_tamper DB delete-data-keys TENANT      delete every entry of TENANT in the data key store
//        audit_tamper DB replace-data-key TENANT V AUDITOR_PUB   store a new random data key, sealed
//                                            to AUDITOR_PUB, as TENANT's data key version V
//        audit_tamper DB reseal-data-key TENANT V AUDITOR_KEY AUDITOR_PUB   open TENANT's data key
//                                            version V with AUDITOR_KEY (it was sealed to that key)
//                                            and store the same key sealed to AUDITOR_PUB instead
//        audit_tamper DB delete-meta NAME    delete the meta entry NAME (e.g. auditor_key)
//        audit_tamper DB append-byte SEQ     append one byte to record SEQ (it no longer decodes)
//        audit_tamper DB resign KEYS         what the holder of the signing key can do: rebuild the
//                                            stored tree from the records as they are, delete every
//                                            checkpoint and sign one over the whole log with KEYS
//        audit_tamper DB append-at KEYS TIME   append a request record with this time (Unix
//                                            microseconds) through the writer, as a gateway whose
//                                            clock is wrong would (or a writer forging it)
//        audit_tamper DB append-with KEYS FIELD VALUE  append a request record (now) whose FIELD
//                                            (model, path, request_id, tenant, note,
//                                            client_country) holds VALUE,
//                                            written with C escapes (\n, \t, \r, \e, \0, \xNN, \\)
//        audit_tamper DB append-forwarded KEYS PROMPT SENT  append a forwarded request record (now)
//                                            that seals PROMPT but whose forwarded_digest is the
//                                            Content-Digest of SENT (equal: as a gateway writes it)
//        audit_tamper DB rewrite SEQ model VALUE   re-encode record SEQ with its model changed (its
//                                            leaf only: `resign` after it, as its holder would)
//        audit_tamper DB swap-payloads A B   exchange the stored payloads of A and B and the
//                                            payload hashes their records commit to (then `resign`)
//        audit_tamper DB append-synthetic KEYS RUN N [--payload none|digest|sealed] [--force]
//                                            the tests' fixture: N synthetic records (run RUN, times
//                                            from now, 1 KB payloads) through the writer, as a
//                                            gateway writes records, without the event and marks of
//                                            `sovgw audit append` (its own tests cover those)
//        audit_tamper DB corrupt-sst COLUMN data|footer   flush COLUMN (leaves, keys, payloads, ...)
//                                            to a table file and flip a byte of it: in its first
//                                            data block (found on read) or its footer (found at open)
// IDX: time, tenant, request, decision or country.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <future>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/audit_log.hpp"
#include "audit/keys.hpp"
#include "audit/store.hpp"
#include "audit/synthetic.hpp"
#include "audit/tree_tiles.hpp"
#include "crypto/aead.hpp"
#include "crypto/base64.hpp"
#include "crypto/content_digest.hpp"
#include "tamper_support.hpp"

using namespace sovgw::audit;
using sovgw::audit::testing::delete_checkpoints_from;

namespace {

// The wall clock, in microseconds since 1970 (a record's time).
std::uint64_t now_us() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

int die(const std::string& msg) {
  std::fprintf(stderr, "audit_tamper: %s\n", msg.c_str());
  return 2;
}

column index_column(const std::string& name) {
  for (const column c : index_columns) {
    const std::string full = index_name(c);
    if (full == name || full.substr(0, full.find(' ')) == name) {
      return c;
    }
  }
  std::fprintf(stderr, "audit_tamper: unknown index '%s'\n", name.c_str());
  std::exit(2);
}

// The key record `seq` has in index `c`.
std::string index_key_of(const std::string& leaf, column c, std::uint64_t seq) {
  index_fields f;
  if (!read_index_fields(bytes_of(leaf), f)) {
    std::fprintf(stderr, "audit_tamper: record %llu does not decode\n", static_cast<unsigned long long>(seq));
    std::exit(2);
  }
  std::string key;
  append_index_key(c, f, seq, key);
  return key;
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// Every key of the data key store that belongs to `tenant` (`cur` || u16 length || tenant, `dk` ||
// u16 length || tenant || be32 version: audit/payload_vault.cpp).
void delete_data_keys(store& s, const std::string& tenant, rocksdb::WriteBatch& wb) {
  const std::string named = length_prefixed(tenant);
  auto it = s.iterate(column::keys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    const auto key = it->key().ToStringView();
    if (key == "cur" + named || key.substr(0, 2 + named.size()) == "dk" + named) {
      wb.Delete(s.cf(column::keys), it->key());
    }
  }
}

}  // namespace

// "a\nb" -> a, newline, b (the escapes append-with takes).
std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out += s[i];
      continue;
    }
    const char c = s[++i];
    if (c == 'x' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c == 'e' ? '\x1b' : c == '0' ? '\0' : c;
    }
  }
  return out;
}

// The fixture: `n` synthetic records, as a gateway appends records (no event, no marks).
int append_synthetic(log_config config, const std::string& run, std::uint64_t n, std::span<char*> options) {
  payload_mode mode = payload_mode::sealed;
  for (std::size_t i = 0; i < options.size(); ++i) {
    const std::string option = options[i];
    if (option == "--force") {
      config.allow_unverified_open = true;
    } else if (option == "--payload" && i + 1 < options.size() && parse_payload_mode(options[i + 1], mode)) {
      ++i;
    } else {
      return die("append-synthetic takes --payload none|digest|sealed and --force, not " + option);
    }
  }
  auto log = audit_log::open(config);
  if (!log.is_ok()) {
    return die(log.error().message());
  }
  // Records are 1 ms apart from now on, or from where the last session's ended if that is later:
  // sessions of one log never overlap in time, so each one's time index entries are a key range of
  // their own (corrupt-sst later-in-level needs table files that do not overlap; sessions started
  // within 100 ms of each other made it fail now and then).
  const std::string clock_file = config.db_dir + ".synthetic-clock";
  std::uint64_t base = now_us();
  if (std::ifstream in(clock_file); in) {
    std::uint64_t next = 0;
    in >> next;
    base = std::max(base, next);
  }
  std::ofstream(clock_file, std::ios::trunc) << base + n * 1000 + 1000;
  std::vector<std::future<sovgw::result<std::uint64_t>>> pending;
  for (std::uint64_t i = 0; i < n; ++i) {
    pending.push_back(log.value()->append(synthetic_record(run, i, base, mode), synthetic_payload(i, 1024)));
  }
  std::uint64_t last = 0;
  for (auto& f : pending) {
    auto seq = f.get();
    if (!seq.is_ok()) {
      return die(seq.error().message());
    }
    last = seq.value();
  }
  if (!log.value()->close().is_ok()) {
    return die("closing the log failed");
  }
  std::printf("appended %llu record(s); last seq %llu\n", static_cast<unsigned long long>(n),
              static_cast<unsigned long long>(last));
  return 0;
}

// Appends `r` through the writer, as a gateway (or a writer forging records) would.
int append_record(const log_config& config, const record& r, const payload& p = {}) {
  auto log = audit_log::open(config);
  if (!log.is_ok()) {
    return die(log.error().message());
  }
  if (auto seq = log.value()->append(r, p).get(); !seq.is_ok()) {
    return die(seq.error().message());
  }
  return log.value()->close().is_ok() ? 0 : die("closing the log failed");
}

// Flushes `name`'s column family, closes the log and flips one byte of its first table file.
int corrupt_sst(std::unique_ptr<store> s, const std::string& name, const std::string& where) {
  // data: the first data block of a table file; footer: its footer; later-in-level: the first data
  // block of the last of several table files on level 1 (each of the column's files compacted there
  // alone first), which RocksDB 7.8's iterators step over silently (audit/store.hpp).
  if (where != "data" && where != "footer" && where != "later-in-level") {
    return die("corrupt-sst takes data, footer or later-in-level, not " + where);
  }
  std::optional<column> c;
  for (std::size_t i = 0; i < column_count; ++i) {
    if (s->cf(static_cast<column>(i))->GetName() == name) {
      c = static_cast<column>(i);
    }
  }
  if (!c) {
    return die("unknown column family " + name);
  }
  rocksdb::FlushOptions fo;
  fo.wait = true;
  if (!s->db().Flush(fo, s->cf(*c)).ok()) {
    return die("flush failed");
  }
  std::vector<rocksdb::LiveFileMetaData> files;
  s->db().GetLiveFilesMetaData(&files);
  if (where == "later-in-level") {
    std::sort(files.begin(), files.end(),
              [](const auto& a, const auto& b) { return a.smallestkey < b.smallestkey; });
    for (const auto& f : files) {
      if (f.column_family_name == name && f.level == 0 &&
          !s->db().CompactFiles(rocksdb::CompactionOptions(), s->cf(*c), {f.name}, 1).ok()) {
        return die("cannot compact " + f.name + " to level 1");
      }
    }
    files.clear();
    s->db().GetLiveFilesMetaData(&files);
  }
  std::string path;
  std::uint64_t size = 0;
  std::string largest_first;
  std::size_t on_level_1 = 0;
  for (const auto& f : files) {
    if (f.column_family_name != name) {
      continue;
    }
    if (where != "later-in-level") {
      path = f.db_path + f.name;
      size = f.size;
      break;
    }
    if (f.level == 1 && (++on_level_1 == 1 || f.smallestkey > largest_first)) {
      path = f.db_path + f.name;
      size = f.size;
      largest_first = f.smallestkey;
    }
  }
  if (path.empty()) {
    return die("column family " + name + " has no table file");
  }
  if (where == "later-in-level" && on_level_1 < 2) {
    return die("column family " + name + " has fewer than two table files on level 1");
  }
  s.reset();  // closed: nothing rewrites the file now
  // A data block starts the file; the footer (with its magic number) ends it.
  const std::uint64_t at = where == "footer" ? size - 4 : 8;
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char b = 0;
  f.read(&b, 1);
  b = static_cast<char>(b ^ 0x5a);
  f.seekp(static_cast<std::streamoff>(at));
  f.write(&b, 1);
  return f ? 0 : die("cannot rewrite " + path);
}

int main(int argc, char** argv) {
  if (argc < 3) {
    return die(
        "usage: audit_tamper DB flip SEQ|flip-payload SEQ|delete-newest N|swap A B|forge-checkpoint|delete "
        "SEQ");
  }
  if (argc >= 6 && std::string(argv[2]) == "append-synthetic") {
    log_config config;
    config.db_dir = argv[1];
    config.key_dir = argv[3];
    return append_synthetic(config, argv[4], std::stoull(argv[5]), std::span(argv + 6, argv + argc));
  }
  if (argc >= 5 && (std::string(argv[2]) == "append-at" || std::string(argv[2]) == "append-with")) {
    log_config config;
    config.db_dir = argv[1];
    config.key_dir = argv[3];
    const auto now = now_us();
    const bool at = std::string(argv[2]) == "append-at";
    record r = synthetic_record(at ? "at" : "with", at ? std::stoull(argv[4]) : now, now, payload_mode::none);
    r.timestamp_us = at ? std::stoull(argv[4]) : now;
    r.latency_us = 0;
    if (!at && argc == 6) {
      const std::string field = argv[4];
      std::string* into = field == "model"            ? &r.model
                          : field == "path"           ? &r.path
                          : field == "request_id"     ? &r.request_id
                          : field == "tenant"         ? &r.tenant
                          : field == "note"           ? &r.note
                          : field == "client_country" ? &r.client_country
                                                      : nullptr;
      if (into == nullptr) {
        return die("append-with takes model, path, request_id, tenant, note or client_country, not " + field);
      }
      *into = unescape(argv[5]);
    }
    return append_record(config, r);
  }
  if (argc >= 5 && std::string(argv[2]) == "note-in-flight") {
    log_config config;
    config.db_dir = argv[1];
    config.key_dir = argv[3];
    config.in_flight = true;
    auto log = audit_log::open(config);
    if (!log.is_ok()) {
      return die(log.error().message());
    }
    for (int i = 4; i < argc; ++i) {
      record r = synthetic_record("noted", 0, now_us(), payload_mode::none);
      r.request_id = argv[i];
      if (auto s = log.value()->note_in_flight(r); !s.is_ok()) {
        return die(s.message());
      }
    }
    return log.value()->close().is_ok() ? 0 : die("closing the log failed");
  }
  if (argc == 6 && std::string(argv[2]) == "append-forwarded") {
    log_config config;
    config.db_dir = argv[1];
    config.key_dir = argv[3];
    const auto now = now_us();
    record r = synthetic_record("fwd", 0, now, payload_mode::sealed);
    r.request_id = "fwd-" + std::to_string(now);
    r.endpoint = "llm.example:443";
    r.signature_keyid = "test-cluster-key";
    r.forwarded_digest = sovgw::crypto::content_digest(std::string_view(argv[5]));
    return append_record(config, r, payload{argv[4], "the completion"});
  }
  auto opened = store::open(argv[1], store::open_mode::read_write);
  if (!opened.is_ok()) {
    return die(opened.error().message());
  }
  const std::string op = argv[2];
  if (op == "corrupt-sst" && argc == 5) {
    return corrupt_sst(std::move(opened.value()), argv[3], argv[4]);
  }
  store& s = *opened.value();
  rocksdb::WriteBatch wb;
  const auto leaf = [&](std::uint64_t seq) {
    auto v = s.get(column::leaves, be64(seq));
    if (!v.is_ok() || !v->has_value()) {
      std::fprintf(stderr, "audit_tamper: no record %llu\n", static_cast<unsigned long long>(seq));
      std::exit(2);
    }
    return **v;
  };
  if (op == "flip" && argc == 4) {
    const auto seq = std::stoull(argv[3]);
    std::string bytes = leaf(seq);
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
    wb.Put(s.cf(column::leaves), be64(seq), bytes);
  } else if (op == "flip-payload" && argc == 4) {
    const auto seq = std::stoull(argv[3]);
    auto v = s.get(column::payloads, be64(seq));
    if (!v.is_ok() || !v->has_value()) {
      return die("no stored payload for record " + std::string(argv[3]));
    }
    std::string bytes = **v;
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x20);
    wb.Put(s.cf(column::payloads), be64(seq), bytes);
  } else if (op == "delete-payload" && argc == 4) {
    wb.Delete(s.cf(column::payloads), be64(std::stoull(argv[3])));
  } else if (op == "delete-data-keys" && argc == 4) {
    delete_data_keys(s, argv[3], wb);
  } else if (op == "replace-data-key" && argc == 6) {
    const auto version = static_cast<std::uint32_t>(std::stoul(argv[4]));
    const auto sealed =
        sovgw::crypto::box_seal(load_auditor_public(argv[5]), sovgw::crypto::aead_generate_key().view());
    wb.Put(s.cf(column::keys), "dk" + length_prefixed(argv[3]) + be32(version),
           be32(0) + std::string(sealed.begin(), sealed.end()));
  } else if (op == "reseal-data-key" && argc == 7) {
    const std::string key =
        "dk" + length_prefixed(argv[3]) + be32(static_cast<std::uint32_t>(std::stoul(argv[4])));
    auto entry = s.get(column::keys, key);
    const auto holder = load_auditor_key(argv[5]);
    const auto data_key = entry.is_ok() && entry->has_value()
                              ? open_data_key(**entry, auditor_keys{holder.public_key, holder.secret_key})
                              : std::nullopt;
    if (!data_key) {
      return die("the data key is not stored or does not open with " + std::string(argv[5]));
    }
    const auto sealed = sovgw::crypto::box_seal(load_auditor_public(argv[6]), data_key->view());
    wb.Put(s.cf(column::keys), key, be32(0) + std::string(sealed.begin(), sealed.end()));
  } else if (op == "delete-meta" && argc == 4) {
    wb.Delete(s.cf(column::meta), argv[3]);
  } else if (op == "rewrite" && argc == 6 && std::string(argv[4]) == "model") {
    const auto seq = std::stoull(argv[3]);
    auto r = decode(bytes_of(leaf(seq)));
    if (!r.is_ok()) {
      return die(r.error().message());
    }
    r->model = argv[5];
    const auto bytes = encode(r.value());
    wb.Put(s.cf(column::leaves), be64(seq), std::string(bytes.begin(), bytes.end()));
  } else if (op == "swap-payloads" && argc == 5) {
    const std::uint64_t seqs[2] = {std::stoull(argv[3]), std::stoull(argv[4])};
    std::optional<record> records[2];
    std::string blobs[2];
    for (int i = 0; i < 2; ++i) {
      auto r = decode(bytes_of(leaf(seqs[i])));
      auto blob = s.get(column::payloads, be64(seqs[i]));
      if (!r.is_ok() || !blob.is_ok() || !blob->has_value()) {
        return die("record " + std::to_string(seqs[i]) + " does not decode or has no stored payload");
      }
      records[i] = std::move(r.value());
      blobs[i] = **blob;
    }
    std::swap(records[0]->payload_digest, records[1]->payload_digest);
    for (int i = 0; i < 2; ++i) {
      const auto bytes = encode(*records[i]);
      wb.Put(s.cf(column::leaves), be64(seqs[i]), std::string(bytes.begin(), bytes.end()));
      wb.Put(s.cf(column::payloads), be64(seqs[i]), blobs[1 - i]);
    }
  } else if (op == "append-byte" && argc == 4) {
    const auto seq = std::stoull(argv[3]);
    wb.Put(s.cf(column::leaves), be64(seq), leaf(seq) + '\x00');
  } else if (op == "resign" && argc == 4) {
    sovgw::audit::testing::resign(s, argv[3], wb);
  } else if (op == "delete" && argc == 4) {
    wb.Delete(s.cf(column::leaves), be64(std::stoull(argv[3])));
  } else if (op == "delete-newest" && argc == 4) {
    auto count = s.leaf_count();
    const auto n = std::stoull(argv[3]);
    for (std::uint64_t i = 0; i < n && i < count.value(); ++i) {
      wb.Delete(s.cf(column::leaves), be64(count.value() - 1 - i));
    }
  } else if (op == "swap" && argc == 5) {
    const auto a = std::stoull(argv[3]);
    const auto b = std::stoull(argv[4]);
    const std::string la = leaf(a);
    const std::string lb = leaf(b);
    wb.Put(s.cf(column::leaves), be64(a), lb);
    wb.Put(s.cf(column::leaves), be64(b), la);
  } else if (op == "forge-checkpoint" && argc == 3) {
    auto it = s.iterate(column::checkpoints);
    it->SeekToLast();
    if (!it->Valid()) {
      return die("no checkpoint");
    }
    std::string note = it->value().ToString();
    // The root is the third line; change one base64 character of it.
    const auto first = note.find('\n');
    const auto second = note.find('\n', first + 1);
    note[second + 1] = note[second + 1] == 'A' ? 'B' : 'A';
    wb.Put(s.cf(column::checkpoints), it->key(), note);
  } else if (op == "delete-index" && argc == 5) {
    const auto seq = std::stoull(argv[4]);
    const column c = index_column(argv[3]);
    wb.Delete(s.cf(c), index_key_of(leaf(seq), c, seq));
  } else if (op == "repoint-index" && argc == 6) {
    const auto seq = std::stoull(argv[4]);
    const column c = index_column(argv[3]);
    const std::string key = index_key_of(leaf(seq), c, seq);
    wb.Delete(s.cf(c), key);
    wb.Put(s.cf(c), key.substr(0, key.size() - 8) + be64(std::stoull(argv[5])), "");
  } else if (op == "delete-checkpoints-from" && argc == 4) {
    delete_checkpoints_from(s, std::stoull(argv[3]), wb);
  } else if (op == "copy-leaf" && argc == 5) {
    wb.Put(s.cf(column::leaves), be64(std::stoull(argv[4])), leaf(std::stoull(argv[3])));
  } else if (op == "put-checkpoint" && argc == 5) {
    std::ifstream in(argv[4], std::ios::binary);
    const std::string note((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (note.empty()) {
      return die(std::string("cannot read ") + argv[4]);
    }
    wb.Put(s.cf(column::checkpoints), be64(std::stoull(argv[3])), note);
  } else if (op == "damage-tile" && argc == 4) {
    const auto seq = std::stoull(argv[3]);
    const std::string key = tile_key(0, seq / tile_width);
    auto v = s.get(column::tree, key);
    if (!v.is_ok() || !v->has_value() || (*v)->size() < 32 * (seq % tile_width + 1)) {
      return die("no stored hash for record " + std::string(argv[3]));
    }
    std::string tile = **v;
    std::fill_n(tile.begin() + static_cast<std::ptrdiff_t>(32 * (seq % tile_width)), 32, '\0');
    wb.Put(s.cf(column::tree), key, tile);
  } else if (op == "delete-tile" && argc == 4) {
    wb.Delete(s.cf(column::tree), tile_key(0, std::stoull(argv[3]) / tile_width));
  } else if (op == "truncate" && argc == 4) {
    const std::uint64_t count = s.leaf_count().value();
    const std::uint64_t keep = count - std::min<std::uint64_t>(std::stoull(argv[3]), count);
    tile_builder tree;
    const auto emit = [&](std::uint32_t level, std::uint64_t index,
                          std::span<const sovgw::crypto::merkle::hash> h) {
      wb.Put(s.cf(column::tree), tile_key(level, index), encode_tile(h));
    };
    auto all_tiles = s.iterate(column::tree);
    for (all_tiles->SeekToFirst(); all_tiles->Valid(); all_tiles->Next()) {
      wb.Delete(s.cf(column::tree), all_tiles->key());
    }
    for (std::uint64_t seq = 0; seq < count; ++seq) {
      const std::string bytes = leaf(seq);
      if (seq < keep) {
        tree.append(sovgw::crypto::merkle::leaf_hash(bytes_of(bytes)), emit);
        continue;
      }
      wb.Delete(s.cf(column::leaves), be64(seq));
      wb.Delete(s.cf(column::payloads), be64(seq));
      for (const column c : index_columns) {
        wb.Delete(s.cf(c), index_key_of(bytes, c, seq));
      }
    }
    tree.flush(emit);
    delete_checkpoints_from(s, keep + 1, wb);
  } else {
    return die("unknown or incomplete operation '" + op + "'");
  }
  if (auto st = s.write(wb, true); !st.is_ok()) {
    return die(st.message());
  }
  return 0;
}
