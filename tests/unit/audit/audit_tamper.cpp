// Tamper tool for tests: changes a log's RocksDB contents the way an attacker with file access
// (but without the signing key) could.
//
// usage: audit_tamper DB flip SEQ            flip one byte in the middle of record SEQ
//        audit_tamper DB flip-payload SEQ    flip one byte in the middle of record SEQ's payload
//        audit_tamper DB delete-newest N     delete the N newest records
//        audit_tamper DB swap A B            exchange records A and B
//        audit_tamper DB forge-checkpoint    rewrite the latest checkpoint's root (keeping the signature)
//        audit_tamper DB delete SEQ          delete record SEQ
#include <cstdio>
#include <string>

#include "audit/store.hpp"
#include "crypto/base64.hpp"

using namespace sovgw::audit;

namespace {

int die(const std::string& msg) {
  std::fprintf(stderr, "audit_tamper: %s\n", msg.c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    return die("usage: audit_tamper DB flip SEQ|flip-payload SEQ|delete-newest N|swap A B|forge-checkpoint|delete SEQ");
  }
  auto opened = store::open(argv[1], store::open_mode::read_write);
  if (!opened.is_ok()) {
    return die(opened.error().message());
  }
  store& s = *opened.value();
  const std::string op = argv[2];
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
  } else {
    return die("unknown or incomplete operation '" + op + "'");
  }
  if (auto st = s.write(wb, true); !st.is_ok()) {
    return die(st.message());
  }
  return 0;
}
