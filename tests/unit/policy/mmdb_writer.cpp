#include "tests/unit/policy/mmdb_writer.hpp"

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <stdexcept>

#include "policy/ip_address.hpp"

namespace sovgw::policy::test {
namespace {

struct trie_node {
  std::unique_ptr<trie_node> child[2];
  int data = -1;  // index into the data records when this is a leaf
  std::uint32_t number = 0;
};

void put_string(std::string& out, const std::string& s) {
  out.push_back(static_cast<char>(0x40 | s.size()));
  out += s;
}

void put_uint(std::string& out, int type, std::uint64_t value, int bytes) {
  if (type <= 7) {
    out.push_back(static_cast<char>((type << 5) | bytes));
  } else {
    out.push_back(static_cast<char>(bytes));
    out.push_back(static_cast<char>(type - 7));
  }
  for (int i = bytes - 1; i >= 0; --i) {
    out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
  }
}

void number_nodes(trie_node* n, std::vector<trie_node*>& order) {
  if (n->data >= 0) {
    return;
  }
  n->number = static_cast<std::uint32_t>(order.size());
  order.push_back(n);
  for (auto& c : n->child) {
    if (c) {
      number_nodes(c.get(), order);
    }
  }
}

}  // namespace

void write_mmdb(const std::filesystem::path& path, const std::vector<mmdb_entry>& entries, int ip_version) {
  const unsigned bits = ip_version == 4 ? 32 : 128;
  trie_node root;
  std::string data;
  std::vector<std::uint32_t> offsets;
  std::map<std::string, int> by_country;
  for (const auto& e : entries) {
    std::string error;
    auto block = parse_cidr(e.cidr, error);
    if (!block) {
      throw std::runtime_error(error);
    }
    u128 value = block->base.value;
    unsigned prefix = block->prefix;
    if (block->base.v4 && ip_version == 6) {
      prefix += 96;
    } else if (!block->base.v4 && ip_version == 4) {
      throw std::runtime_error("IPv6 entry in an IPv4 database");
    }
    auto [it, fresh] = by_country.try_emplace(e.country, static_cast<int>(offsets.size()));
    if (fresh) {
      offsets.push_back(static_cast<std::uint32_t>(data.size()));
      data.push_back(static_cast<char>(0xE1));
      put_string(data, "country");
      data.push_back(static_cast<char>(0xE1));
      put_string(data, "iso_code");
      put_string(data, e.country);
    }
    trie_node* n = &root;
    for (unsigned depth = 0; depth < prefix; ++depth) {
      const int bit = static_cast<int>((value >> (bits - 1 - depth)) & 1);
      if (!n->child[bit]) {
        n->child[bit] = std::make_unique<trie_node>();
      }
      n = n->child[bit].get();
    }
    n->data = it->second;
  }
  std::vector<trie_node*> order;
  number_nodes(&root, order);
  const auto node_count = static_cast<std::uint32_t>(order.size());
  std::string out;
  for (trie_node* n : order) {
    for (auto& c : n->child) {
      std::uint32_t record = node_count;  // empty
      if (c && c->data >= 0) {
        record = node_count + 16 + offsets[static_cast<std::size_t>(c->data)];
      } else if (c) {
        record = c->number;
      }
      out.push_back(static_cast<char>((record >> 16) & 0xff));
      out.push_back(static_cast<char>((record >> 8) & 0xff));
      out.push_back(static_cast<char>(record & 0xff));
    }
  }
  out.append(16, '\0');
  out += data;
  out += "\xAB\xCD\xEFMaxMind.com";
  out.push_back(static_cast<char>(0xE9));  // map with 9 entries
  put_string(out, "node_count");
  put_uint(out, 6, node_count, 4);
  put_string(out, "record_size");
  put_uint(out, 5, 24, 2);
  put_string(out, "ip_version");
  put_uint(out, 5, static_cast<std::uint64_t>(ip_version), 2);
  put_string(out, "database_type");
  put_string(out, "sovgw-test-country");
  put_string(out, "languages");
  out.push_back(0x00);  // extended type: array (11), size 0
  out.push_back(0x04);
  put_string(out, "binary_format_major_version");
  put_uint(out, 5, 2, 2);
  put_string(out, "binary_format_minor_version");
  put_uint(out, 5, 0, 2);
  put_string(out, "build_epoch");
  put_uint(out, 9, 1700000000, 8);
  put_string(out, "description");
  out.push_back(static_cast<char>(0xE0));
  std::ofstream f(path, std::ios::binary);
  f << out;
}

}  // namespace sovgw::policy::test
