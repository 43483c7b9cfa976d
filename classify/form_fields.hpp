#pragma once

// The values of a form field given more than once, read as one text (probe round 46): a server
// reads `prompt=a&prompt=b`, `prompt[]=a&prompt[]=b` or two multipart parts named `prompt` as a
// list (FastAPI's `list[str] = Form()`, Flask's `getlist`, PHP's `[]`), whose items a model may
// read one after the other, as the JSON inspector reads a prose array's items: joined by a line
// break, and again with nothing between them. Pure; a joiner reused for bodies of the usual shape
// allocates nothing.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace sovgw::classify {

// One per thread (not thread-safe); reusing it reuses its buffers.
class form_field_joiner {
 public:
  // Forgets the values added.
  void clear();
  // Adds (copies) a value of the field `name`, as its server reads the name: decoded; a `[]` or
  // `[0]` list suffix is dropped.
  void add(std::string_view name, std::string_view value);
  // Writes to `out` (overwritten), for each field given more than once: its values in their order
  // joined by a line break, then joined with nothing between, each reading followed by a line
  // break. Empty when no field repeats; at most twice the values' size and a byte per value.
  void join(std::string& out);

 private:
  struct entry {
    std::size_t name_begin;  // into bytes_: the name, then the value
    std::size_t name_size;
    std::size_t value_size;
  };
  std::string bytes_;
  std::vector<entry> entries_;
  std::vector<std::size_t> order_;
};

// The fields of a form-urlencoded body (`&` or `;` between fields, `=` before a value), given
// more than once, joined (form_field_joiner::join) into `out`: the values as written (the reader
// of `out` decodes their percent-encoding and `+`), names percent-decoded and without a list
// suffix.
void join_repeated_form_fields(std::string_view body, form_field_joiner& joiner, std::string& out);

}  // namespace sovgw::classify
