// Fuzz target: the data-class detectors and the redact obligation over arbitrary request bodies.
// Checks that findings lie inside the text, and that redaction keeps a body's JSON structure: the
// input is placed in a JSON string (escaped), and after redaction the text outside strings is the
// same and no quote or backslash was added or removed.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "classify/detectors.hpp"

namespace {

void check(bool ok) {
  if (!ok) {
    std::abort();
  }
}

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

// The text outside JSON strings, and the number of quotes and backslashes overall.
struct shape {
  std::string outside;
  std::size_t quotes = 0;
  std::size_t backslashes = 0;
  bool escapes_valid = true;  // every escape is one JSON allows
};

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

shape shape_of(std::string_view body) {
  shape s;
  bool in_string = false;
  for (std::size_t i = 0; i < body.size(); ++i) {
    const char c = body[i];
    s.quotes += c == '"' ? 1 : 0;
    s.backslashes += c == '\\' ? 1 : 0;
    if (!in_string) {
      s.outside.push_back(c);
      in_string = c == '"';
    } else if (c == '\\' && i + 1 < body.size()) {
      const char e = body[i + 1];
      s.backslashes += e == '\\' ? 1 : 0;
      s.quotes += e == '"' ? 1 : 0;
      if (e == 'u') {
        s.escapes_valid = s.escapes_valid && i + 5 < body.size() && is_hex(body[i + 2]) &&
                          is_hex(body[i + 3]) && is_hex(body[i + 4]) && is_hex(body[i + 5]);
      } else {
        s.escapes_valid = s.escapes_valid && std::string_view("\"\\/bfnrt").find(e) != std::string_view::npos;
      }
      ++i;
    } else if (c == '"') {
      in_string = false;
      s.outside.push_back(c);
    }
  }
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  const std::uint32_t all = sovgw::classify::implemented_detectors();
  const std::uint32_t found = sovgw::classify::detect(raw, all);
  check((found & ~all) == 0);
  std::uint32_t seen = 0;
  for (const auto& f : sovgw::classify::find_all(raw, all)) {
    check(f.begin < f.end && f.end <= raw.size());
    seen |= 1u << f.detector;
  }
  check(seen == found);

  std::string body =
      R"({"n":12,"messages":[{"content":)" + json_string(raw) + R"(}],"k":)" + json_string(raw) + "}";
  const shape before = shape_of(body);
  (void)sovgw::classify::redact_json_strings(body, all);
  const shape after = shape_of(body);
  check(before.outside == after.outside && before.quotes == after.quotes &&
        before.backslashes == after.backslashes && after.escapes_valid);
  return 0;
}
