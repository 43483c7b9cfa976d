#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <string>
#include <unordered_map>

#include "classify/json_body.hpp"
#include "classify/json_sax.hpp"

namespace sovgw::classify {
namespace {

using error_code = boost::system::error_code;
using sv = boost::json::string_view;

// SAX handler of redact(): writes the document back, each key and string decoded, rewritten
// where a finding (or a piece of one) lies inside it, and re-encoded.
class redact_handler : public detail::no_size_limits {
 public:
  redact_handler(std::string& out, std::span<const finding> findings, std::uint32_t which)
      : out_(out), findings_(findings), which_(which) {}

  [[nodiscard]] std::size_t redacted() const { return redacted_; }

  bool on_document_begin(error_code&) { return true; }
  bool on_document_end(error_code&) { return true; }
  bool on_object_begin(error_code&) {
    keys_.emplace_back();
    return open('{');
  }
  bool on_object_end(std::size_t, error_code&) {
    keys_.pop_back();
    return close('}');
  }
  bool on_array_begin(error_code&) { return open('['); }
  bool on_array_end(std::size_t, error_code&) { return close(']'); }
  bool on_key_part(sv s, std::size_t, error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_key(sv s, std::size_t, error_code& ec) {
    const bool top = first_.size() == 1;
    string(s);
    if (!unique_key(ec)) {
      return false;
    }
    out_.push_back(':');
    after_key_ = true;
    model_next_ = top && was_model_;
    return true;
  }
  bool on_string_part(sv s, std::size_t, error_code&) {
    part_.append(s.data(), s.size());
    return true;
  }
  bool on_string(sv s, std::size_t, error_code&) {
    string(s, !model_next_);
    model_next_ = false;
    return true;
  }
  bool on_number_part(sv s, error_code&) {
    if (!in_number_) {
      separate();
      in_number_ = true;
      number_begin_ = out_.size();
    }
    out_.append(s.data(), s.size());
    pos_ += s.size();
    return true;
  }
  bool on_int64(std::int64_t, sv s, error_code& ec) { return number(s, ec); }
  bool on_uint64(std::uint64_t, sv s, error_code& ec) { return number(s, ec); }
  bool on_double(double, sv s, error_code& ec) { return number(s, ec); }
  bool on_bool(bool b, error_code&) { return literal(b ? "true" : "false"); }
  bool on_null(error_code&) { return literal("null"); }
  bool on_comment_part(sv, error_code&) { return true; }
  bool on_comment(sv, error_code&) { return true; }

 private:
  // A ',' before every value but the first of its container (a value after a key has none).
  void separate() {
    model_next_ = false;
    if (after_key_) {
      after_key_ = false;
    } else if (!first_.empty() && !first_.back()) {
      out_.push_back(',');
    }
    if (!first_.empty()) {
      first_.back() = false;
    }
  }
  bool open(char c) {
    separate();
    out_.push_back(c);
    first_.push_back(true);
    return true;
  }
  bool close(char c) {
    out_.push_back(c);
    first_.pop_back();
    return true;
  }
  bool literal(std::string_view s) {
    separate();
    out_ += s;
    return true;
  }
  bool number(sv s, error_code&) {
    if (!in_number_) {
      separate();
      number_begin_ = out_.size();
    }
    out_.append(s.data(), s.size());
    pos_ += s.size() + 1;  // its digits and the '\n' after them in the text
    char as_read[64];      // the inspector's text holds the number as a server reads it too
    pos_ += detail::number_as_read(std::string_view(out_).substr(number_begin_), as_read);
    in_number_ = false;
    return true;
  }

  // A redacted key must not repeat another key of its object ({"DE89…": 1, "GB82…": 2} would become
  // two "[redacted:iban]": a reader keeps one of them, and the gateway itself refuses such a body):
  // it is numbered ("[redacted:iban]#2"). A key as the client wrote it that repeats an earlier
  // redacted one cannot be renamed: the redaction fails, and the request is refused.
  bool unique_key(error_code& ec) {
    std::string written = out_.substr(last_open_ + 1, out_.size() - last_open_ - 2);
    std::unordered_map<std::string, bool>& seen = keys_.back();
    if (const auto it = seen.find(written); it != seen.end() && (rewritten_ || it->second)) {
      if (!rewritten_) {
        ec = make_error_code(boost::system::errc::file_exists);
        return false;
      }
      out_.pop_back();  // the closing quote
      const std::string base = written;
      for (int n = 2; seen.contains(written); ++n) {
        written = base + "#" + std::to_string(n);
      }
      out_ += std::string_view(written).substr(base.size());
      out_.push_back('"');
    }
    seen.emplace(std::move(written), rewritten_);
    return true;
  }

  // A key or a string value; `rewrite`: apply the findings that lie in it.
  void string(sv last, bool rewrite = true) {
    std::string_view value(last.data(), last.size());
    if (!part_.empty()) {
      part_.append(last.data(), last.size());
      value = part_;
    }
    separate();
    was_model_ = value == "model";
    const std::size_t begin = pos_;
    const std::size_t end = pos_ + value.size();
    pos_ = end + 1;  // the '\n' after each string in the text
    last_open_ = out_.size();
    out_.push_back('"');
    std::size_t copied = 0;
    rewritten_ = false;
    // A finding that straddles strings (an IBAN split over two parts of a prompt) is redacted
    // piece by piece, each in its own string.
    for (std::size_t k = next_; k < findings_.size() && findings_[k].begin < end; ++k) {
      const finding& f = findings_[k];
      const std::size_t b = std::max(f.begin, begin);
      const std::size_t e = std::min(f.end, end);
      if (!rewrite || (which_ & (1u << f.detector)) == 0 || e <= b || b < begin + copied) {
        continue;  // not asked for, passed, or overlapping the previous one
      }
      encode(value.substr(copied, b - begin - copied));
      out_ += "[redacted:";
      out_ += detector_names[f.detector];
      out_ += ']';
      copied = e - begin;
      rewritten_ = true;
      redacted_ += b == f.begin ? 1 : 0;  // a finding in pieces counts once
    }
    while (next_ < findings_.size() && findings_[next_].end <= pos_) {
      ++next_;
    }
    encode(value.substr(copied));
    out_.push_back('"');
    part_.clear();
  }
  void encode(std::string_view s) {
    static constexpr char hex[] = "0123456789abcdef";
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_.push_back('\\');
        out_.push_back(c);
      } else if (u >= 0x20) {
        out_.push_back(c);
      } else if (c == '\n') {
        out_ += "\\n";
      } else if (c == '\t') {
        out_ += "\\t";
      } else if (c == '\r') {
        out_ += "\\r";
      } else {
        out_ += "\\u00";
        out_.push_back(hex[u >> 4]);
        out_.push_back(hex[u & 0xf]);
      }
    }
  }

  std::string& out_;
  std::span<const finding> findings_;
  std::uint32_t which_;
  std::vector<bool> first_;  // per open container: no value written yet
  // per open object: the keys written (as encoded), and whether each was redacted
  std::vector<std::unordered_map<std::string, bool>> keys_;
  std::size_t last_open_ = 0;  // where the last key or string written opens its quote in out_
  bool rewritten_ = false;     // the last key or string written was redacted
  std::string part_;
  bool after_key_ = false;
  bool model_next_ = false;  // the next value is the top-level model
  bool was_model_ = false;   // the last string was "model"
  bool in_number_ = false;
  std::size_t number_begin_ = 0;  // where the number being read starts in out_
  std::size_t pos_ = 0;           // where the current string (or number) starts in the body's text
  std::size_t next_ = 0;          // the first finding not yet passed
  std::size_t redacted_ = 0;
};

}  // namespace

std::size_t redact(std::string& body, std::span<const finding> findings, std::uint32_t which) {
  if (std::none_of(findings.begin(), findings.end(),
                   [&](const finding& f) { return (which & (1u << f.detector)) != 0; })) {
    return 0;
  }
  std::string out;
  out.reserve(body.size());
  boost::json::parse_options strict;
  strict.max_depth = max_depth;
  boost::json::basic_parser<redact_handler> parser(strict, out, findings, which);
  error_code ec;
  const std::size_t used = parser.write_some(false, body.data(), body.size(), ec);
  if (ec || used != body.size() || !parser.done() || parser.handler().redacted() == 0) {
    return 0;
  }
  body.swap(out);
  return parser.handler().redacted();
}

}  // namespace sovgw::classify
