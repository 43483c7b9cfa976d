#include "classify/multipart.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

#include "classify/json_body.hpp"
#include "classify/media_type.hpp"
#include "classify/mime_decoding.hpp"
#include "common/ascii.hpp"
#include "common/printable.hpp"

namespace sovgw::classify {
namespace {

bool blank(char c) noexcept { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && blank(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && blank(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

// A value for a message: at most 64 bytes, as a terminal shows it.
std::string shown(std::string_view s) { return printable(s.substr(0, 64)) + (s.size() > 64 ? "..." : ""); }

// The media type of a Content-Type value, in lower case: what comes before its first ';'.
std::string_view media_of(std::string_view type, std::string& lowered) {
  (void)ascii_lower_into(trim(type.substr(0, type.find(';'))), lowered);
  return lowered;
}

// `attribute` as an RFC 2231 section: `name*`, `name*N`, `name*N*`; false for a plain attribute.
bool parse_section(std::string_view attribute, mime_reader::section& s) {
  const std::size_t star = attribute.find('*');
  if (star == std::string_view::npos || star == 0) {
    return false;
  }
  s.attribute = attribute.substr(0, star);
  std::string_view rest = attribute.substr(star + 1);
  s.number = 0;
  s.extended = rest.empty() || rest.back() == '*';
  if (!rest.empty() && rest.back() == '*') {
    rest.remove_suffix(1);
  }
  if (rest.size() > 6 ||
      !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  for (const char c : rest) {
    s.number = s.number * 10 + static_cast<std::size_t>(c - '0');
  }
  return true;
}

}  // namespace

bool mime_reader::fail(mime_error e, std::string message) {
  if (out_->error == mime_error::none) {
    out_->error = e;
    out_->message = std::move(message);
  }
  return false;
}

void mime_reader::entity_head::clear() {
  for (std::string* s : {&type, &transfer_encoding, &content_encoding, &charset, &boundary, &name, &where}) {
    s->clear();
  }
  has_type = has_transfer_encoding = has_content_encoding = false;
}

void mime_reader::add_name(std::string_view name) {
  // The names' readings are bounded as the heads' text is (add_text): RFC 2231 continuations joined
  // and their words decoded would otherwise add a value once more per reading (the multipart fuzzer
  // found names of 1.09 times three readings of the body).
  if (out_->names.size() + name.size() > names_budget_) {
    fail(mime_error::too_many_readings,
         "a part's name has more encoded and continued readings than the gateway reads; send a plain name");
    return;
  }
  out_->names.append(name);
  out_->name_ends.push_back(out_->names.size());
}

// A value a server reads, with its encoded words decoded, to the text; as it is too when `as_is`
// (the raw scan has read it otherwise).
void mime_reader::add_text(std::string_view value, bool as_is, entity_head& head) {
  if (value.empty()) {
    return;
  }
  // Each reading of a value may add it once more (a folded field as written and with its words
  // decoded, then each parameter and its words): the heads' text stays within three times the
  // input (the content's reading adds one more at most), and
  // a head that would pass that is refused rather than read in part (the multipart fuzzer found
  // one at five times).
  if (out_->text.size() + 2 * (value.size() + 1) > text_budget_) {
    fail(mime_error::too_many_readings,
         fmt::format("{} has more encoded and folded header values than the gateway reads; send plain "
                     "parameters",
                     head.where));
    return;
  }
  if (as_is) {
    out_->text.append(value);
    out_->text += '\n';
  }
  std::string_view charset;
  if (std::optional<std::string> words = decode_encoded_words(value, &charset)) {
    out_->text.append(*words);
    out_->text += '\n';
  }
  if (!charset.empty()) {
    fail(mime_error::charset,
         fmt::format("{} has an RFC 2047 encoded word in charset '{}', whose text the gateway cannot read; "
                     "encode it in UTF-8",
                     head.where, shown(charset)));
  }
}

void mime_reader::read_parameters(std::string_view v, bool disposition, entity_head& head) {
  sections_.clear();
  section_values_.clear();
  for (std::size_t i = 0; i < v.size();) {
    while (i < v.size() && (blank(v[i]) || v[i] == ';')) {
      ++i;
    }
    const std::size_t begin = i;
    while (i < v.size() && v[i] != '=' && v[i] != ';') {
      ++i;
    }
    const std::string_view attribute = trim(v.substr(begin, i - begin));
    if (i >= v.size() || v[i] == ';') {
      continue;  // no value: the disposition's type, a flag
    }
    ++i;
    while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) {
      ++i;
    }
    value_.clear();
    std::string_view raw;
    if (i < v.size() && v[i] == '"') {
      std::size_t j = i + 1;
      for (; j < v.size() && v[j] != '"'; ++j) {
        j += v[j] == '\\' && j + 1 < v.size() ? 1 : 0;
        value_ += v[j];
      }
      raw = v.substr(i, std::min(j + 1, v.size()) - i);
      i = std::min(v.find(';', j), v.size());
    } else {
      const std::size_t end = std::min(v.find(';', i), v.size());
      raw = trim(v.substr(i, end - i));
      value_ = raw;
      i = end;
    }
    section s;
    if (parse_section(attribute, s)) {
      s.begin = section_values_.size();
      s.size = value_.size();
      section_values_.append(value_);
      sections_.push_back(s);
      continue;
    }
    add_text(value_, true, head);
    if (ascii_iequals(attribute, "charset")) {
      head.charset = value_;
    } else if (ascii_iequals(attribute, "boundary") && !value_.empty()) {
      if (!head.boundary.empty() && head.boundary != value_) {
        fail(mime_error::ambiguous,
             fmt::format("{} names two boundaries ('{}', '{}'): a server may split it at "
                         "either; name one",
                         head.where, shown(head.boundary), shown(value_)));
      }
      head.boundary = value_;
    } else if (disposition && ascii_iequals(attribute, "name")) {
      add_name(value_);
      // name='_method': single quotes, as some parsers take them.
      if (raw.size() >= 2 && raw.front() == '\'' && raw.back() == '\'') {
        add_name(raw.substr(1, raw.size() - 2));
      }
      if (std::optional<std::string> words = decode_encoded_words(value_)) {
        add_name(*words);
      }
      head.name = head.name.empty() ? value_ : head.name;
    }
  }
  join_sections(disposition, head);
}

// RFC 2231 sections, joined in their numbers' order (as Python's email, Go's mime and busboy do),
// the percent-encoded ones decoded; the first one's charset'language' prefix read off.
void mime_reader::join_sections(bool disposition, entity_head& head) {
  if (sections_.empty()) {
    return;
  }
  std::stable_sort(sections_.begin(), sections_.end(), [](const section& a, const section& b) {
    const std::size_t n = std::min(a.attribute.size(), b.attribute.size());
    for (std::size_t k = 0; k < n; ++k) {
      if (ascii_lower(a.attribute[k]) != ascii_lower(b.attribute[k])) {
        return ascii_lower(a.attribute[k]) < ascii_lower(b.attribute[k]);
      }
    }
    return a.attribute.size() != b.attribute.size() ? a.attribute.size() < b.attribute.size()
                                                    : a.number < b.number;
  });
  for (std::size_t i = 0; i < sections_.size();) {
    const std::string_view attribute = sections_[i].attribute;
    value_.clear();
    std::size_t j = i;
    for (; j < sections_.size() && ascii_iequals(sections_[j].attribute, attribute); ++j) {
      std::string_view piece =
          std::string_view(section_values_).substr(sections_[j].begin, sections_[j].size);
      if (!sections_[j].extended) {
        value_.append(piece);
        continue;
      }
      if (j == i) {
        const std::size_t first = piece.find('\'');
        const std::size_t second = first == std::string_view::npos ? first : piece.find('\'', first + 1);
        if (second != std::string_view::npos) {
          const std::string_view charset = piece.substr(0, first);
          const charset_reading reading = charset_reading_of(charset);
          if (reading == charset_reading::unread) {
            fail(mime_error::charset,
                 fmt::format(
                     "{} gives its parameter '{}' in charset '{}', whose text the gateway cannot read; "
                     "send it in UTF-8",
                     head.where, shown(attribute), shown(charset)));
          }
          out_->opaque = out_->opaque || reading == charset_reading::wide;
          piece.remove_prefix(second + 1);
        }
      }
      for (std::size_t k = 0; k < piece.size(); ++k) {
        if (piece[k] == '%' && k + 2 < piece.size() && hex_digit_value(piece[k + 1]) >= 0 &&
            hex_digit_value(piece[k + 2]) >= 0) {
          value_ += static_cast<char>(hex_digit_value(piece[k + 1]) * 16 + hex_digit_value(piece[k + 2]));
          k += 2;
        } else {
          value_ += piece[k];
        }
      }
    }
    add_text(value_, true, head);
    if (ascii_iequals(attribute, "charset")) {
      head.charset = value_;
    } else if (disposition && ascii_iequals(attribute, "name")) {
      add_name(value_);
      if (std::optional<std::string> words = decode_encoded_words(value_)) {
        add_name(*words);
      }
      head.name = head.name.empty() ? value_ : head.name;
    }
    i = j;
  }
}

void mime_reader::read_field(std::string_view name, std::string_view value, bool folded, entity_head& head) {
  name = trim(name);
  value = trim(value);
  add_text(value, folded, head);
  const auto once = [&](bool& given, std::string& kept) {
    if (given && !ascii_iequals(trim(kept), value)) {
      fail(mime_error::ambiguous,
           fmt::format("{} gives {} twice ('{}', '{}'): a server may read either; give it once", head.where,
                       shown(name), shown(kept), shown(value)));
    }
    given = true;
    kept = value;
  };
  if (ascii_iequals(name, "content-type")) {
    once(head.has_type, head.type);
  } else if (ascii_iequals(name, "content-transfer-encoding")) {
    once(head.has_transfer_encoding, head.transfer_encoding);
  } else if (ascii_iequals(name, "content-encoding")) {
    once(head.has_content_encoding, head.content_encoding);
  }
  if (value.find('=') != std::string_view::npos) {
    read_parameters(value, ascii_iequals(name, "content-disposition"), head);
  }
}

// Calls read_part for each part of `content` between delimiter lines of `boundary`; returns
// whether it found one.
bool mime_reader::walk(std::string_view content, std::string_view boundary, std::size_t depth) {
  bool found = false;
  std::size_t part = std::string_view::npos;  // where the current part starts
  for (std::size_t line = 0; line <= content.size() && out_->ok();) {
    const std::size_t eol = std::min(content.find('\n', line), content.size());
    const std::string_view l = content.substr(line, eol - line);
    // Read no further than the line: linear however the boundary begins the lines.
    if (l.size() >= 2 + boundary.size() && l.starts_with("--") && l.substr(2, boundary.size()) == boundary) {
      std::string_view rest = l.substr(2 + boundary.size());
      const bool close = rest.starts_with("--");
      rest.remove_prefix(close ? 2 : 0);
      if (trim(rest).empty()) {
        if (part != std::string_view::npos) {
          std::size_t end = line;
          end -= end > part && content[end - 1] == '\n' ? 1 : 0;
          end -= end > part && content[end - 1] == '\r' ? 1 : 0;
          read_part(content.substr(part, end - part), depth);
        }
        found = true;
        // After the closing delimiter, the epilogue is not a part; a delimiter line after it is
        // read as one more, which a reader that does not stop at the close would read.
        part = close ? std::string_view::npos : std::min(eol + 1, content.size());
      }
    }
    line = eol + 1;
  }
  if (part != std::string_view::npos && out_->ok()) {
    read_part(content.substr(part), depth);  // no closing delimiter: the last part runs to the end
  }
  return found;
}

void mime_reader::read_part(std::string_view part, std::size_t depth) {
  const std::size_t index = ++out_->parts;
  if (heads_.size() <= depth) {
    heads_.resize(depth + 1);
  }
  entity_head& head = heads_[depth];
  head.clear();
  fmt::format_to(std::back_inserter(head.where), "part {} of the multipart body", index);
  if (depth > max_mime_depth) {
    fail(mime_error::too_deep,
         fmt::format("{} is nested {} levels deep; the gateway reads parts {} levels deep", head.where, depth,
                     max_mime_depth));
    return;
  }
  // The header fields, up to the first empty line; a line that starts with white space goes on
  // the field before it (obsolete folding, which MIME libraries unfold).
  std::size_t at = 0;
  std::string_view name;
  bool pending = false;
  bool folded = false;
  const auto flush = [&] {
    if (pending) {
      read_field(name, field_, folded, head);
      pending = false;
    }
  };
  while (at < part.size()) {
    const std::size_t eol = std::min(part.find('\n', at), part.size());
    std::string_view line = part.substr(at, eol - at);
    at = eol + 1;
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty()) {
      break;
    }
    if ((line.front() == ' ' || line.front() == '\t') && pending) {
      field_.append(line);
      folded = true;
      continue;
    }
    flush();
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      continue;  // not a field
    }
    name = line.substr(0, colon);
    field_.assign(line.substr(colon + 1));
    pending = true;
    folded = false;
  }
  flush();
  if (!head.name.empty()) {
    fmt::format_to(std::back_inserter(head.where), " (name '{}')", shown(head.name));
  }
  if (out_->ok()) {
    read_content(part.substr(std::min(at, part.size())), depth);
  }
}

// An entity's content, by the header fields read into heads_[depth]; whether it is multipart and a
// delimiter line was found.
bool mime_reader::read_content(std::string_view content, std::size_t depth) {
  entity_head& head = heads_[depth];
  if (head.has_content_encoding && !identity_encoding(head.content_encoding)) {
    return fail(
        mime_error::content_encoding,
        fmt::format("{} has Content-Encoding '{}': the gateway reads parts as sent; send it without a "
                    "content coding",
                    head.where, shown(head.content_encoding)));
  }
  static thread_local std::string lowered;
  (void)ascii_lower_into(trim(head.transfer_encoding), lowered);
  const std::string_view encoding = lowered;
  const bool as_is = encoding.empty() || encoding == "7bit" || encoding == "8bit" || encoding == "binary";
  if (!as_is && encoding != "quoted-printable" && encoding != "base64") {
    return fail(
        mime_error::transfer_encoding,
        fmt::format("{} has Content-Transfer-Encoding '{}', which the gateway does not decode (it reads "
                    "7bit, 8bit, binary, quoted-printable and base64): send it unencoded or in base64",
                    head.where, shown(head.transfer_encoding)));
  }
  const charset_reading charset = charset_reading_of(trim(head.charset));
  if (charset == charset_reading::unread) {
    return fail(mime_error::charset,
                fmt::format("{} is in charset '{}', whose text the gateway cannot read (it reads UTF-8 and "
                            "charsets that write ASCII as ASCII): send it in UTF-8",
                            head.where, shown(head.charset)));
  }
  out_->opaque = out_->opaque || charset == charset_reading::wide;
  static thread_local std::string media_buffer;
  const std::string_view media = media_of(head.type, media_buffer);
  const bool multipart = media.find("multipart") != std::string_view::npos && !head.boundary.empty();
  const bool message = media.starts_with("message/");
  if ((multipart || message) && !as_is) {
    return fail(
        mime_error::transfer_encoding,
        fmt::format("{} is {} with Content-Transfer-Encoding '{}', which MIME forbids and the gateway "
                    "does not decode: send it unencoded",
                    head.where, shown(media), shown(head.transfer_encoding)));
  }
  if (multipart) {
    const std::string boundary = head.boundary;  // heads_ grows for the parts
    return walk(content, boundary, depth + 1);
  }
  if (message) {
    read_part(content, depth + 1);
    return false;
  }
  if (as_is) {
    if (depth >= 1 && !head.name.empty()) {
      fields_.add(head.name, content);
    }
    return false;  // the raw scan reads it
  }
  // Decoded: text to the text, anything else opaque. Base64 read both ways when it holds '-' or
  // '_', which Node reads as URL-safe base64 and Python drops.
  bool text = false;
  for (const bool url_safe : {false, true}) {
    if (url_safe && (encoding != "base64" || content.find_first_of("-_") == std::string_view::npos)) {
      break;
    }
    decoded_.clear();
    if (encoding == "base64") {
      decode_base64_lenient(content, url_safe, decoded_);
    } else {
      decode_quoted_printable(content, decoded_);
    }
    if (readable_text(decoded_)) {
      if (!text && depth >= 1 && !head.name.empty()) {
        fields_.add(head.name, decoded_);
      }
      text = true;
      out_->text.append(decoded_);
      out_->text += '\n';
    }
  }
  out_->opaque = out_->opaque || !text;
  return false;
}

void mime_reader::read(std::string_view body, std::string_view content_type, mime_reading& out) {
  out_ = &out;
  out.multipart = false;
  out.parts = 0;
  out.error = mime_error::none;
  out.message.clear();
  out.text.clear();
  out.opaque = false;
  out.names.clear();
  out.name_ends.clear();
  out.repeated.clear();
  fields_.clear();
  text_budget_ = 3 * (body.size() + content_type.size());  // and a reading of the content
  names_budget_ = 3 * body.size();
  if (heads_.empty()) {
    heads_.resize(1);
  }
  entity_head& head = heads_[0];
  head.clear();
  head.where = "the request body";
  read_field("Content-Type", content_type, false, head);
  head.has_type = !content_type.empty();
  static thread_local std::string media;
  const bool multipart = media_of(content_type, media).find("multipart") != std::string_view::npos;
  out.multipart = out.ok() && read_content(body, 0);
  // Or by the body's first line, as servers that take the boundary from the body read it.
  if (multipart && !out.multipart && out.ok() && body.starts_with("--")) {
    const std::string_view first = trim(body.substr(2, body.find('\n') - 2));
    if (!first.empty() && first != heads_[0].boundary) {
      out.multipart = walk(body, std::string(first), 1);
    }
  }
  if (out.ok()) {
    fields_.join(out.repeated);
  }
}

}  // namespace sovgw::classify
