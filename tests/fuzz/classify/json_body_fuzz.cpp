// Fuzz target: the JSON request-body inspector and the redact obligation over arbitrary bodies.
// Checks the inspector against Boost.JSON's DOM parser (a body it accepts is one strict JSON
// object with the fields it reported; a body the DOM parser accepts is refused only for what the
// gateway adds: keys, field types, the model's bounds), that findings lie inside the decoded text,
// (or hidden in nested escapes), and that a redacted body is accepted again with the same fields.
#include <boost/json.hpp>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "classify/json_body.hpp"
#include "tests/fuzz/fuzz_check.hpp"

using sovgw::fuzz::check;

namespace {

using namespace sovgw::classify;

void check_fields(const boost::json::object& o, const body_fields& f) {
  const boost::json::value* model = o.if_contains("model");
  check(model == nullptr || model->is_null() ? f.model.empty() : model->as_string() == f.model);
  const boost::json::value* stream = o.if_contains("stream");
  check(stream == nullptr || stream->is_null() ? !f.stream : stream->as_bool() == f.stream);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const std::uint32_t all = implemented_detectors();
  json_inspector inspector;
  const inspection got = inspector.inspect(body, {all, true});
  check(got.offset <= body.size());
  check(got.ok() == got.message.empty());

  boost::system::error_code ec;
  const boost::json::value dom = boost::json::parse(body, ec);
  if (!got.ok()) {
    const body_error e = got.error;
    check(ec || e == body_error::not_object || e == body_error::duplicate_key ||
          e == body_error::case_variant_key || e == body_error::wrong_type ||
          e == body_error::model_too_long || e == body_error::model_control_char ||
          e == body_error::model_in_url || e == body_error::other_models);
    check(got.scan.found == 0 && got.scan.findings.empty());
    return 0;
  }
  check(!ec && dom.is_object());
  check_fields(dom.as_object(), got.fields);
  std::uint32_t seen = 0;
  for (const finding& f : got.scan.findings) {
    check(f.begin < f.end && f.end <= inspector.text().size());
    seen |= 1u << f.detector;
  }
  // What is found only inside nested escapes (json_inspector::scan_nested) has no finding.
  check((seen | got.scan.hidden) == got.scan.found && (got.scan.found & ~all) == 0);

  std::string redacted(body);
  const std::size_t count = redact(redacted, got.scan.findings, all);
  check(count <= got.scan.findings.size());
  check((count == 0) == (redacted == body));
  const inspection again = inspector.inspect(redacted, {0, false});
  if (again.error == body_error::duplicate_key || again.error == body_error::case_variant_key) {
    check(count > 0 && redacted.find("[redacted:") != std::string::npos);  // top-level keys redacted alike
    return 0;
  }
  check(again.ok());
  check(again.fields.model == got.fields.model && again.fields.stream == got.fields.stream &&
        again.fields.include_usage == got.fields.include_usage);
  return 0;
}
