// Fuzz target: the MIME reader of multipart bodies and its decodings over arbitrary bytes: the
// input's first line is the Content-Type, the rest the body. Checks the reader's bounds (what it
// decodes is at most three readings of the body and a line break per value; an error has a
// message), that a reader reused gives the same reading, and the decodings' own bounds.
#include <cstdint>
#include <string>
#include <string_view>

#include "classify/mime_decoding.hpp"
#include "classify/multipart.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using sovgw::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sovgw::classify;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t eol = input.find('\n');
  const std::string_view type = input.substr(0, eol);
  const std::string_view body = eol == std::string_view::npos ? std::string_view() : input.substr(eol + 1);

  static mime_reader reader;
  mime_reading first;
  reader.read(body, type, first);
  // Three readings of each byte at most, and a line break per value (a value is a byte or more).
  check(first.text.size() <= 4 * (body.size() + type.size()));
  check(first.names.size() <= 3 * body.size());
  check(first.name_ends.empty() || first.name_ends.back() == first.names.size());
  check(first.ok() == first.message.empty());
  mime_reading again;
  reader.read(body, type, again);
  check(again.text == first.text && again.error == first.error && again.opaque == first.opaque &&
        again.names == first.names && again.parts == first.parts);

  std::string decoded;
  decode_base64_lenient(body, false, decoded);
  check(decoded.size() <= body.size() * 3 / 4 + 2);
  decoded.clear();
  decode_quoted_printable(body, decoded);
  check(decoded.size() <= body.size());
  if (const auto words = decode_encoded_words(body)) {
    check(words->size() <= body.size());
  }
  written_binary binary;
  read_written_binary(body, binary);
  check(binary.text.size() <= 3 * body.size() + 64);
  return 0;
}
