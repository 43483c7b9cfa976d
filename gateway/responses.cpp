#include "gateway/responses.hpp"

#include <fmt/format.h>

#include <charconv>

#include "gateway/log.hpp"

namespace sovgw::gateway {

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out += name;
  out += ": ";
  out += value;
  out += "\r\n";
}

void append_number(std::string& out, std::uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 205:
      return "Reset Content";
    case 206:
      return "Partial Content";
    case 300:
      return "Multiple Choices";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 402:
      return "Payment Required";
    case 406:
      return "Not Acceptable";
    case 407:
      return "Proxy Authentication Required";
    case 410:
      return "Gone";
    case 411:
      return "Length Required";
    case 412:
      return "Precondition Failed";
    case 416:
      return "Range Not Satisfiable";
    case 421:
      return "Misdirected Request";
    case 422:
      return "Unprocessable Content";
    case 426:
      return "Upgrade Required";
    case 428:
      return "Precondition Required";
    case 451:
      return "Unavailable For Legal Reasons";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Status";
  }
}

response json_response(std::string body, std::string_view request_id, bool close) {
  response r;
  r.status = 200;
  r.body = std::move(body);
  r.head = fmt::format(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Request-Id: {}\r\n{}\r\n",
      r.body.size(), request_id, close ? "Connection: close\r\n" : "");
  return r;
}

response error_response(outcome o, std::string_view message, std::string_view request_id, bool close,
                        std::int64_t retry_after_s) {
  const outcome_info& i = info(o);
  response r;
  r.status = i.status;
  r.body = "{\"error\":{\"message\":";
  append_json_string(r.body, message);
  r.body += ",\"type\":";
  append_json_string(r.body, i.type);
  r.body += ",\"param\":null,\"code\":";
  append_json_string(r.body, i.code);
  r.body += ",\"request_id\":";
  append_json_string(r.body, request_id);
  r.body += "}}\n";
  // The OpenAI SDKs retry every 429 (twice by default, after at most a minute): a monthly budget
  // used up is not back in a minute, and `x-should-retry: false` is how they are told so.
  r.head = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nX-Request-Id: "
      "{}\r\n{}{}{}\r\n",
      i.status, reason_phrase(i.status), r.body.size(), request_id,
      retry_after_s > 0 ? fmt::format("Retry-After: {}\r\n", retry_after_s) : std::string(),
      o == outcome::insufficient_quota ? "x-should-retry: false\r\n" : "",
      close ? "Connection: close\r\n" : "");
  return r;
}

}  // namespace sovgw::gateway
