#pragma once

// The cluster's credential in what the cluster answers (probe round 46): a cluster that echoes what
// it was sent (a debug handler, an error message quoting the key it refused, an echo model) would
// hand the gateway's credential for it to every tenant, and into the audit log's sealed completion.
// The gateway masks it in the answer's body, byte for byte (the body keeps its length, so a
// Content-Length answer keeps its framing), and drops a header field that holds it, in the forms an
// echo writes it: as sent, in another letter case (a hex token read back upper-cased), and base64
// (a Basic credential or a header dump echoed encoded, at any of the three alignments); and each of
// its characters as the encoders of the answer's format may escape it, alone or mixed with the
// others as written (probe round 48: Gson writes '=' as \u003d, System.Text.Json '+' as \u002B,
// PHP '/' as \/, a URL or a query '%2B', Go's html/template '&#43;'): JSON's \uXXXX and \/ \" \\,
// percent-encoding, HTML's numeric and named character references. A cluster that means to leak
// its own credential can always spell it some other way; this is against the echo, which is the
// common case, not against a cluster that wants to give its key away.

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sovgw::gateway {

// The forms of one secret, made once per credential (cluster_credentials).
class secret_forms {
 public:
  secret_forms() = default;  // none
  // The forms of a credential's value as the gateway sends it (a bearer token, or a header's whole
  // value), and of the secrets inside it (its words; what a base64 word spells, and each side of
  // its ':'); none of them under 8 characters.
  explicit secret_forms(std::string_view value);

  [[nodiscard]] bool empty() const { return forms_.empty(); }
  // Whether `text` holds the secret in one of its forms (a header field's value).
  [[nodiscard]] bool found_in(std::string_view text) const;

 private:
  friend class secret_mask;
  struct form {
    std::string pattern;  // lower-cased when any_case
    bool any_case = false;
    std::array<std::uint8_t, 256> skip{};  // Horspool's shifts (at most 255)
  };
  void add_secret(std::string_view secret);
  void add(std::string text, bool any_case);
  // Calls `hit(begin, end)` for every occurrence of a form in `text`, as written or with escapes of
  // its characters; returns how long a tail of `text` may begin one (0 when `text` is whole).
  template <typename hit_fn>
  std::size_t scan(std::string_view text, bool whole, hit_fn&& hit) const;

  std::vector<form> forms_;
  std::size_t longest_ = 0;         // the longest form, in characters
  std::array<bool, 256> wanted_{};  // the characters the forms hold (an escape of another is left)
  std::array<bool, 256> first_{};   // the forms' first characters, lower-cased
};

// One answer's body, masked as it is relayed.
class secret_mask {
 public:
  secret_mask() = default;  // inactive
  explicit secret_mask(const secret_forms* forms)
      : forms_(forms != nullptr && !forms->empty() ? forms : nullptr) {}

  [[nodiscard]] bool active() const { return forms_ != nullptr; }
  // Body bytes: appends `data` to `out` with every form of the secret replaced by '*', holding back
  // a tail that may be the start of one (only such a tail: an event's last bytes are not delayed).
  void feed(std::string_view data, std::string& out);
  // The body's end: what was held back.
  void finish(std::string& out);

 private:
  const secret_forms* forms_ = nullptr;  // outlives the mask (the relay holds its credential)
  std::string held_;
  std::string work_;
};

}  // namespace sovgw::gateway
