// Runs the fuzz target over every file of the seed corpus (a regression test built with the
// normal toolchain): usage: fuzz_audit_corpus DIR...
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

int main(int argc, char** argv) {
  std::size_t files = 0;
  for (int i = 1; i < argc; ++i) {
    for (const auto& entry : std::filesystem::directory_iterator(argv[i])) {
      std::ifstream in(entry.path(), std::ios::binary);
      const std::vector<char> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), data.size());
      // Every prefix too: truncated inputs are the commonest bad input.
      for (std::size_t n = 0; n < data.size(); n += 1 + data.size() / 64) {
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(data.data()), n);
      }
      ++files;
    }
  }
  std::printf("fuzz_audit_corpus: %zu inputs ok\n", files);
  return files > 0 ? 0 : 1;
}
