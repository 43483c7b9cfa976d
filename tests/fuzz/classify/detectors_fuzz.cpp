// Fuzz target: the data-class detectors over arbitrary bytes, and the same bytes as a JSON string
// value through the body inspector and the redact obligation. Checks that findings lie inside the
// text and agree with detect(); that the bytes, placed in a JSON body, are accepted exactly when
// they are UTF-8 and then found at least as the raw scan finds them; and that redaction leaves a
// body the inspector accepts, with the same fields.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "classify/detectors.hpp"
#include "classify/json_body.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using sovgw::fuzz::check;

namespace {

std::string json_string(std::string_view raw) {
  std::string out = "\"";
  for (const char c : raw) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += "\\u00";
      out.push_back("0123456789abcdef"[static_cast<unsigned char>(c) >> 4]);
      out.push_back("0123456789abcdef"[c & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// An oracle independent of the parser's: RFC 3629 well-formed UTF-8.
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
    } else if (c >= 0x80) {
      return false;
    }
    if (i + n >= s.size() && n > 0) {
      return false;
    }
    for (std::size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      const unsigned lo = k > 1 ? 0x80 : c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
      const unsigned hi = k > 1 ? 0xbf : c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
      if (d < lo || d > hi) {
        return false;
      }
    }
    i += n + 1;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sovgw::classify;
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const std::uint32_t all = implemented_detectors();
  const std::uint32_t found = detect(raw, all);
  check((found & ~all) == 0);
  std::uint32_t seen = 0;
  for (const finding& f : find_all(raw, all)) {
    check(f.begin < f.end && f.end <= raw.size());
    seen |= 1u << f.detector;
  }
  check(seen == found);

  std::string body = R"({"model":"m","n":12,"messages":[{"content":)" + json_string(raw) + R"(}],"k":)" +
                     json_string(raw) + "}";
  json_inspector inspector;
  const inspection got = inspector.inspect(body, {all, true});
  check(got.ok() == valid_utf8(raw));
  if (!got.ok()) {
    check(got.error == body_error::not_utf8);
    return 0;
  }
  check((got.scan.found & found) == found);
  for (const finding& f : got.scan.findings) {
    check(f.begin < f.end && f.end <= inspector.text().size());
  }
  const std::size_t redacted = redact(body, got.scan.findings, all);
  check(redacted <= got.scan.findings.size());
  const inspection after = inspector.inspect(body, {all, false});
  check(after.ok() && after.fields.model == "m");
  return 0;
}
