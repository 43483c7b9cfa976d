// write_mmdb OUT.mmdb 4|6 CIDR=CC...: the test MaxMind DB writer (mmdb_writer.hpp) as a command, so
// the CLI tests (tests/cli/test_policy_cli.py) make their databases with the same code as the unit
// tests.
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "tests/unit/policy/mmdb_writer.hpp"

int main(int argc, char** argv) {
  const std::string_view version = argc > 2 ? argv[2] : "";
  if (argc < 3 || (version != "4" && version != "6")) {
    std::fputs("usage: write_mmdb OUT.mmdb 4|6 CIDR=CC...\n", stderr);
    return 2;
  }
  std::vector<sovgw::policy::test::mmdb_entry> entries;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto eq = arg.find('=');
    if (eq == std::string::npos) {
      std::fprintf(stderr, "write_mmdb: '%s' is not CIDR=CC\n", arg.c_str());
      return 2;
    }
    entries.push_back({arg.substr(0, eq), arg.substr(eq + 1)});
  }
  try {
    sovgw::policy::test::write_mmdb(argv[1], entries, version == "4" ? 4 : 6);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "write_mmdb: %s\n", e.what());
    return 2;
  }
  return 0;
}
