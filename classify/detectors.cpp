#include "classify/detectors.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "classify/detect_text.hpp"
#include "classify/fold.hpp"
#include "classify/table_columns.hpp"
#include "classify/unescape.hpp"

namespace sovgw::classify {
namespace {

using enum detector;
using namespace detail;

// Each scan_* calls hit(begin, end) for every finding, in text order, and stops (returning true)
// as soon as hit returns true.
// An address, internationalised ones too (RFC 6531: UTF-8 in the local part and the domain, a
// Unicode or punycode "xn--" top-level domain), a quoted local part ("\"alice smith\"@example.com")
// or an address literal ("alice@[192.0.2.1]"), with up to eight spaces, tabs or line breaks on
// either side of the '@' ("alice @ example.com", "alice\n@\ngmail.com" read as an address to a
// model), and up to two on either side of a dot of the domain when a lower-case label follows
// ("alice@example .com"; "at home . Then" is a sentence). An '@' that starts a line glued to what
// follows is a decorator's or a mention's ("    pass\n@app.post(\"/\")", "cc\n@team.dev"),
// unless the local part is alone on the line before and no call follows ("alice.martin\n@gmail.com").
#include "classify/tld_table.inc"

// Whether an ASCII top-level domain (any letter case) is one an address can end in: a delegated
// one or a name reserved for private use (tld_table.inc). "q@k.transpose(", "@pytest.fixture" and
// "@john.doe" at the start of a message glued to the word before it end in none.
bool known_tld(std::string_view tld) {
  char lowered[64];
  if (tld.size() > sizeof(lowered)) {
    return false;
  }
  for (std::size_t i = 0; i < tld.size(); ++i) {
    lowered[i] = to_lower(tld[i]);
  }
  return std::binary_search(std::begin(known_tlds), std::end(known_tlds),
                            std::string_view(lowered, tld.size()));
}

// Whether the local part at `begin` is a URL's userinfo: it follows "scheme://" and what is
// between is userinfo too ("postgres://app:changeme@db.internal", "ssh://git@bitbucket.org"). A
// login to a server, not a mailbox; an address in a URL's path or query
// ("https://example.com/contact?to=alice@example.com") is one.
bool url_userinfo(std::string_view t, std::size_t begin) {
  std::size_t k = begin;
  while (k > 0 && begin - k < 256) {
    const char c = t[k - 1];
    if (c == '/') {
      if (k >= 3 && t[k - 2] == '/' && t[k - 3] == ':') {
        return k >= 4 && is_alnum(t[k - 4]);  // the scheme's last character
      }
      return false;
    }
    // RFC 3986 userinfo: unreserved, percent-encoded, sub-delims and ':'.
    if (!(is_alnum(c) || static_cast<unsigned char>(c) >= 0x80 ||
          std::string_view("-._~%!$&'()*+,;=:").find(c) != npos)) {
      return false;
    }
    --k;
  }
  return false;
}

// Whether the local part at `begin` is the login a remote shell command is given ("ssh
// ubuntu@bastion.prod.internal", "scp -r ./out ci@build.example.com", "mosh alice@dev.example"):
// ssh, scp, sftp, rsync or mosh earlier on its line, with only options and their values between
// ("ssh -i key.pem -p 2222 deploy@web1"). A login to a server, not a mailbox.
bool remote_login(std::string_view t, std::size_t begin) {
  static constexpr std::string_view commands[] = {"ssh", "scp", "sftp", "rsync", "mosh"};
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  std::size_t k = begin;
  bool value = false;  // the token after this one was a value: this one must be an option
  for (int tokens = 0; tokens < 8; ++tokens) {
    while (k > 0 && blank(t[k - 1])) {
      --k;
    }
    const std::size_t end = k;
    while (k > 0 && !blank(t[k - 1]) && t[k - 1] != '\n' && t[k - 1] != '\r' && end - k < 64) {
      --k;
    }
    if (k == end || (k > 0 && !blank(t[k - 1]) && t[k - 1] != '\n' && t[k - 1] != '\r')) {
      return false;
    }
    std::size_t b = k;
    for (std::size_t p = k; p + 1 < end; ++p) {  // a JSON escape's line break ends the line
      if (t[p] == '\\' && (t[p + 1] == 'n' || t[p + 1] == 'r')) {
        b = p + 2;
      }
    }
    while (b < end && (t[b] == '`' || t[b] == '$' || t[b] == '"' || t[b] == '\'' || t[b] == '(')) {
      ++b;
    }
    if (one_of(t, b, end, commands, std::size(commands))) {
      return true;
    }
    const bool option = t[b] == '-';
    if (b > k || (!option && value) || k == 0 || !blank(t[k - 1])) {
      return false;  // the line's start, or two values in a row: no command's arguments
    }
    value = !option;
  }
  return false;
}

// Whether t[domain, end), an address's domain, is a mailbox provider's, which runs no shell nor
// site its users log in to by name ("ssh jana.schmidt@gmail.com", "https://jana@gmx.de"): one of
// the large providers' domains, or one of their brands before any top-level domain ("hotmail.fr",
// "yahoo.co.uk").
bool mailbox_provider(std::string_view t, std::size_t domain, std::size_t end) {
  static constexpr std::string_view domains[] = {
      "web.de",       "t-online.de", "freenet.de",   "arcor.de",    "posteo.de",      "mailbox.org",
      "email.de",     "live.com",    "msn.com",      "me.com",      "mac.com",        "aol.com",
      "proton.me",    "pm.me",       "tutanota.com", "tutanota.de", "tuta.io",        "mail.com",
      "zoho.com",     "mail.ru",     "orange.fr",    "wanadoo.fr",  "free.fr",        "sfr.fr",
      "laposte.net",  "libero.it",   "virgilio.it",  "tiscali.it",  "alice.it",       "seznam.cz",
      "centrum.cz",   "wp.pl",       "o2.pl",        "onet.pl",     "interia.pl",     "ziggo.nl",
      "kpnmail.nl",   "hetnet.nl",   "telenet.be",   "skynet.be",   "btinternet.com", "sky.com",
      "fastmail.com", "hey.com",     "bluewin.ch",   "abv.bg",      "freemail.hu",    "inbox.lv"};
  static constexpr std::string_view brands[] = {"gmail", "googlemail", "hotmail", "outlook",    "yahoo",
                                                "ymail", "gmx",        "icloud",  "protonmail", "yandex"};
  for (std::string_view d : domains) {
    if (end - domain == d.size() && cue_end(t, domain, d) == end) {
      return true;
    }
  }
  for (std::string_view b : brands) {
    const std::size_t e = cue_end(t, domain, b);
    if (e == npos || e >= end || t[e] != '.') {
      continue;
    }
    const std::string_view tld = t.substr(e + 1, end - e - 1);
    const std::size_t dot = tld.find('.');
    const std::string_view second = tld.substr(0, dot);
    if (dot == npos || ((second == "co" || second == "com") && tld.size() - dot - 1 == 2)) {
      return true;
    }
  }
  return false;
}

// Whether `local` is shaped as a person's name, as mailboxes are named and logins to servers
// rarely: words of two letters or more joined by dots ("jana.schmidt"), or letters and a year of
// birth ("jana1987", "john.doe1987").
bool personal_local_part(std::string_view local) {
  std::size_t letters_end = local.size();
  while (letters_end > 0 && is_digit(local[letters_end - 1])) {
    --letters_end;
  }
  const std::string_view digits = local.substr(letters_end);
  const bool year = digits.size() == 4 && (digits.starts_with("19") || digits.starts_with("20"));
  if (!digits.empty() && !year) {
    return false;
  }
  std::size_t words = 0;
  for (std::size_t b = 0; b <= letters_end;) {
    std::size_t e = b;
    while (e < letters_end && is_alpha(local[e])) {
      ++e;
    }
    if (e - b < 2 || (e < letters_end && local[e] != '.')) {
      return false;
    }
    ++words;
    b = e + 1;
  }
  return words >= 2 || (year && words == 1);
}

template <typename Hit>
bool scan_plain_email(std::string_view t, Hit&& hit) {
  const auto utf8 = [](char c) { return static_cast<unsigned char>(c) >= 0x80; };
  const auto local_char = [&](char c) {
    return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-' || utf8(c);
  };
  const auto domain_char = [&](char c) { return is_alnum(c) || c == '-' || c == '.' || c == '_' || utf8(c); };
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  const auto line_break = [](char c) { return c == '\n' || c == '\r'; };
  const auto space = [&](char c) { return blank(c) || line_break(c); };
  for (std::size_t at = t.find('@'); at != npos; at = t.find('@', at + 1)) {
    std::size_t local_end = at;
    while (local_end > 0 && at - local_end < 8 && space(t[local_end - 1])) {
      --local_end;
    }
    const bool broken_before = std::any_of(t.begin() + static_cast<std::ptrdiff_t>(local_end),
                                           t.begin() + static_cast<std::ptrdiff_t>(at), line_break);
    std::size_t begin = local_end;
    if (local_end >= 3 && t[local_end - 1] == '"') {  // "any text"@domain
      const std::size_t open = t.substr(0, local_end - 1).rfind('"');
      if (open == npos || local_end - 1 - open < 2 || local_end - 1 - open > 64 ||
          t.substr(open, local_end - open).find('\n') != npos) {
        continue;
      }
      begin = open;
    } else {
      while (begin > 0 && local_char(t[begin - 1]) && !escape_letter_at(t, begin - 1)) {
        --begin;
      }
      if (begin == local_end) {
        continue;
      }
    }
    std::size_t domain = at + 1;
    while (domain < t.size() && domain - at <= 8 && space(t[domain])) {
      ++domain;
    }
    // The '@' starts a line, glued to the domain: the local part must be alone on its line.
    const bool line_start_at = broken_before && domain == at + 1;
    if (line_start_at) {
      std::size_t k = begin;
      while (k > 0 && blank(t[k - 1])) {
        --k;
      }
      if (k > 0 && !line_break(t[k - 1])) {
        continue;
      }
    }
    std::size_t end = domain;
    if (domain < t.size() && t[domain] == '[') {  // an address literal: [192.0.2.1], [IPv6:2001:db8::1]
      const std::size_t close = t.find(']', domain);
      if (close == npos || close - domain < 8 || close - domain > 46) {
        continue;
      }
      const std::string_view literal = t.substr(domain + 1, close - domain - 1);
      if (!std::all_of(literal.begin(), literal.end(), [](char c) {
            return is_hex(c) || c == '.' || c == ':' || c == 'I' || c == 'P' || c == 'v';
          })) {
        continue;
      }
      end = close + 1;
    } else {
      // A dot with blanks around it, then a lower-case label: where that label starts, or npos.
      const auto spaced_dot = [&](std::size_t i, std::size_t& dot) {
        std::size_t j = i;
        while (j < t.size() && j - i < 2 && blank(t[j])) {
          ++j;
        }
        if (j >= t.size() || t[j] != '.') {
          return npos;
        }
        dot = j++;
        const std::size_t after = j;
        while (j < t.size() && j - after < 2 && blank(t[j])) {
          ++j;
        }
        const bool spaced = j > after || dot > i;
        return spaced && j < t.size() && ((t[j] >= 'a' && t[j] <= 'z') || is_digit(t[j])) ? j : npos;
      };
      std::size_t last_dot = npos;
      while (end < t.size()) {
        std::size_t dot = npos;
        if (const std::size_t label = end > domain ? spaced_dot(end, dot) : npos; label != npos) {
          last_dot = dot;
          end = label;
          continue;
        }
        if (!domain_char(t[end])) {
          break;
        }
        if (t[end] == '.') {
          last_dot = end;
        }
        ++end;
      }
      while (end > domain && t[end - 1] == '.') {  // a sentence's full stop
        --end;
      }
      // Markdown's italics or bold around it ("_jean.dupont@orange.fr_", "__…__"): the marks that
      // close it are not the domain's, nor those that open it the local part's.
      std::size_t closing = 0;
      while (end > domain && t[end - 1] == '_' && closing < 2) {
        --end;
        ++closing;
      }
      for (std::size_t n = 0; n < closing && t[begin] == '_' && begin + 1 < at; ++n) {
        ++begin;
      }
      // The top-level domain: letters of a known name (known_tld), a Unicode name or an xn-- one.
      // Labels after the last that is one are dropped: "alice@example.com.zz" is an address with
      // something stuck to it.
      const auto is_tld = [&](std::string_view tld) {
        const bool punycode =
            tld.size() > 4 && to_lower(tld[0]) == 'x' && to_lower(tld[1]) == 'n' && tld[2] == '-' &&
            tld[3] == '-' &&
            std::all_of(tld.begin() + 4, tld.end(), [](char c) { return is_alnum(c) || c == '-'; });
        const bool letters =
            std::all_of(tld.begin(), tld.end(), [&](char c) { return is_alpha(c) || utf8(c); });
        return punycode || (letters && (std::any_of(tld.begin(), tld.end(), utf8) || known_tld(tld)));
      };
      bool ends_in_tld = false;
      while (!ends_in_tld) {
        if (last_dot != npos && last_dot >= end) {
          last_dot = t.substr(0, end).rfind('.');
        }
        if (last_dot == npos || last_dot <= domain) {
          break;
        }
        std::size_t tld_begin = last_dot + 1;
        while (tld_begin < end && blank(t[tld_begin])) {
          ++tld_begin;
        }
        ends_in_tld = end - tld_begin >= 2 && is_tld(t.substr(tld_begin, end - tld_begin));
        // Capitals stuck to a lower-case top-level domain ("comA": an invisible tag character folds
        // to its ASCII) end it there.
        for (std::size_t p = tld_begin + 2; !ends_in_tld && p < end; ++p) {
          if (is_lower(t[p - 1]) && is_upper(t[p])) {
            ends_in_tld = known_tld(t.substr(tld_begin, p - tld_begin));
            end = ends_in_tld ? p : end;
            break;
          }
        }
        if (!ends_in_tld) {
          end = last_dot;
          while (end > domain && blank(t[end - 1])) {
            --end;
          }
        }
      }
      if (!ends_in_tld) {
        continue;
      }
      // An account's name, a host and a path or a port ("git@github.com:acme/x.git",
      // "deploy@host.example:~/in", "guest@rabbitmq.local:5672"): a login to a remote, not a
      // mailbox ("alice@example.com: see" is one). Not a person's address with a password or a
      // word after it ("alice.smith@example.com:hunter2", `curl -u`, a leaked combo list's
      // "john.doe1987@gmail.com:Passw0rd!", "alice@example.com:thanks"; probe round 31): the
      // account is one word of letters (no dot, no digit) and what follows a path or a port.
      if (end + 1 < t.size() && t[end] == ':') {
        const std::string_view account = t.substr(begin, at - begin);
        const bool service_account = std::all_of(account.begin(), account.end(), [](char c) {
          return is_alpha(c) || c == '-' || c == '_';
        });
        std::size_t k = end + 1;
        while (k < t.size() && (is_alnum(t[k]) || t[k] == '/' || t[k] == '~' || t[k] == '.' || t[k] == '-' ||
                                t[k] == '_')) {
          ++k;
        }
        const std::string_view rest = t.substr(end + 1, k - end - 1);
        const bool port = !rest.empty() && std::all_of(rest.begin(), rest.end(), is_digit);
        const bool path = rest.find('/') != std::string_view::npos || rest.starts_with('~');
        if (service_account && (port || path)) {
          continue;
        }
      }
    }
    // A login is none, unless it is a mailbox all the same (probe round 46): at a mailbox
    // provider, or a person's name ("ssh jana.schmidt@gmail.com", "https://alice.smith@example.com").
    const bool login = (url_userinfo(t, begin) || remote_login(t, begin)) &&
                       !mailbox_provider(t, domain, end) && !personal_local_part(t.substr(begin, at - begin));
    if (login || (line_start_at && end < t.size() && t[end] == '(')) {
      continue;
    }
    // A mailbox and a host have a letter or a digit in their names: "%@acme.com" (SQL's LIKE),
    // "+@example.com", "-@-.com" are patterns and placeholders, no address (probe round 33).
    const auto named = [&](std::size_t b, std::size_t e) {
      return std::any_of(t.begin() + static_cast<std::ptrdiff_t>(b),
                         t.begin() + static_cast<std::ptrdiff_t>(e),
                         [&](char c) { return is_alnum(c) || utf8(c); });
    };
    const std::size_t last_label = t.substr(domain, end - domain).rfind('.');
    if (t[begin] != '"' &&
        (!named(begin, at) || !named(domain, last_label == npos ? end : domain + last_label))) {
      continue;
    }
    if (hit(begin, end)) {
      return true;
    }
  }
  return false;
}

// An address with its '@' and dots written out or bracketed ("defanged"), as people write them to
// escape address harvesters and as a model reads them, in the words of the EU's languages:
// "alice [at] example [dot] com", "alice(at)example(punkt)de", "alice {at} example.com",
// "alice at example dot com", "alice arroba example punto com", "alice[@]example.com",
// "alice@example[.]com", "alice(a)example.com".
//
// A word that is also an ordinary word ("at", "point", "punto", "chiocciola": a snail, "małpa": a
// monkey) is `common`: bare, it counts only beside a written-out partner that vouches for it. A
// bare common '@' word needs a written-out dot that is bracketed, not common ("dot"), or common in
// a language it shares ("chiocciola ... punto", "małpa ... kropka"); a bare common dot word needs
// a written-out '@' ("see us at example.com", "we are at this point in time", "thanks @team point
// de" are sentences). Left out as too common to read: Latvian "et" (French "and"), Lithuanian
// "eta", Estonian and Croatian "ät"/"et", Romanian "a rond".
namespace lang {
enum : std::uint32_t {
  en = 1u << 0,
  de = 1u << 1,
  fr = 1u << 2,
  es = 1u << 3,
  it = 1u << 4,
  pt = 1u << 5,
  nl = 1u << 6,
  pl = 1u << 7,
  sv = 1u << 8,
  da = 1u << 9,
  fi = 1u << 10,
  cs = 1u << 11,
  sk = 1u << 12,
  hu = 1u << 13,
  ro = 1u << 14,
  el = 1u << 15,
  hr = 1u << 16,
  sl = 1u << 17,
  bg = 1u << 18,
  lt = 1u << 19,
  lv = 1u << 20,
  et = 1u << 21,
  ca = 1u << 22,
  ru = 1u << 23  // not the EU's, but the Baltic states' many speakers'
};
}  // namespace lang

struct spelled_word {
  std::string_view text;  // lower case
  char symbol;            // '@' or '.'
  bool common;            // also an ordinary word: see above
  std::uint32_t languages;
};

constexpr spelled_word spelled_words[] = {
    {"at", '@', true, lang::en | lang::de | lang::nl},
    {"at-sign", '@', false, lang::en},
    {"at sign", '@', false, lang::en},
    {"klammeraffe", '@', false, lang::de},
    {"arroba", '@', false, lang::es | lang::pt},
    {"arrova", '@', false, lang::ca},
    {"arobase", '@', false, lang::fr},
    {"arobas", '@', false, lang::fr},
    {"arrobe", '@', false, lang::fr},
    {"chiocciola", '@', true, lang::it},
    {"chiocciolina", '@', true, lang::it},
    {"ma\xc5\x82pa", '@', true, lang::pl},
    {"malpa", '@', true, lang::pl},
    {"ma\xc5\x82pka", '@', true, lang::pl},
    {"apenstaartje", '@', false, lang::nl},
    {"apenstaart", '@', false, lang::nl},
    {"apestaartje", '@', false, lang::nl},
    {"snabel-a", '@', false, lang::sv | lang::da},
    {"zavin\xc3\xa1\xc4\x8d", '@', false, lang::cs | lang::sk},
    {"zavinac", '@', false, lang::cs | lang::sk},
    {"kukac", '@', true, lang::hu},
    {"miukumauku", '@', false, lang::fi},
    {"afna", '@', true, lang::sl},
    {"\xcf\x80\xce\xb1\xcf\x80\xce\xac\xce\xba\xce\xb9", '@', true, lang::el},           // παπάκι
    {"\xd0\xba\xd0\xbb\xd1\x8c\xd0\xbe\xd0\xbc\xd0\xb1\xd0\xb0", '@', false, lang::bg},  // кльомба
    {"\xd1\x81\xd0\xbe\xd0\xb1\xd0\xb0\xd1\x87\xd0\xba\xd0\xb0", '@', false, lang::ru},  // собачка
    {"\xd1\x81\xd0\xbe\xd0\xb1\xd0\xb0\xd0\xba\xd0\xb0", '@', false, lang::ru},          // собака
    {"dot", '.', false, lang::en},
    {"punkt", '.', true, lang::de | lang::sv | lang::et},
    {"point", '.', true, lang::fr},
    {"punto", '.', true, lang::es | lang::it},
    {"ponto", '.', true, lang::pt},
    {"punt", '.', true, lang::nl | lang::ca},
    {"kropka", '.', true, lang::pl},
    {"punktum", '.', true, lang::da},
    {"piste", '.', true, lang::fi},
    {"pont", '.', true, lang::hu},
    {"punct", '.', true, lang::ro},
    {"te\xc4\x8dka", '.', true, lang::cs},
    {"tecka", '.', true, lang::cs},
    {"bodka", '.', true, lang::sk},
    {"to\xc4\x8dka", '.', true, lang::hr | lang::sl},
    {"tocka", '.', true, lang::hr | lang::sl},
    {"pika", '.', true, lang::sl},
    {"ta\xc5\xa1kas", '.', true, lang::lt},
    {"punkts", '.', true, lang::lv},
    {"\xcf\x84\xce\xb5\xce\xbb\xce\xb5\xce\xaf\xce\xb1", '.', true, lang::el},     // τελεία
    {"\xd1\x82\xd0\xbe\xd1\x87\xd0\xba\xd0\xb0", '.', true, lang::bg | lang::ru},  // точка
};
constexpr auto spelled_index = make_pair_index(spelled_words, [](const spelled_word& w) { return w.text; });

struct spelled_view {
  enum kind : std::uint8_t { original, bracketed, bare };
  struct mark {
    kind how = original;
    std::uint8_t word = 0;  // spelled_words[word] when bare
  };
  std::string text;
  std::vector<std::uint32_t> origin;  // as folded_text::origin
  std::vector<mark> marks;            // what gave text[i]
};

// The written-out marker at t[i] (end, or npos), with the symbol it stands for: "[at]" "(at)"
// "{at}" "<at>" (any word of spelled_words), the symbol in brackets ("[@]", "(.)"; blanks
// inside allowed) or "(a)" for '@' (not bare: "a" is a word), or a bare word between blanks; up to two blanks
// either side are part of it, and a letter or digit follows it.
std::size_t marker_at(std::string_view t, std::size_t i, char& symbol, spelled_view::mark& mark) {
  const auto blank = [](char c) { return c == ' ' || c == '\t'; };
  const char c = t[i];
  if (i == 0 || (!blank(c) && c != '[' && c != '(' && c != '{' && c != '<') ||
      !(is_alnum(t[i - 1]) || static_cast<unsigned char>(t[i - 1]) >= 0x80)) {
    return npos;
  }
  const auto skip_blanks = [&](std::size_t k) {
    for (std::size_t n = 0; n < 2 && k < t.size() && blank(t[k]); ++n) {
      ++k;
    }
    return k;
  };
  // The longest word at k that `fits` (what follows it), or npos.
  const auto word_at = [&](std::size_t k, auto&& fits) {
    std::size_t best = npos;
    std::size_t best_end = k;
    spelled_index.for_each(t, k, [&](std::size_t w) {
      const spelled_word& word = spelled_words[w];
      const std::size_t e = word_end_any_case(t, k, word.text);
      if (e != npos && e > best_end && fits(e)) {
        best = w;
        best_end = e;
      }
      return false;
    });
    return std::pair(best, best_end);
  };
  static constexpr std::string_view open = "[({<";
  static constexpr std::string_view close = "])}>";
  const std::size_t j = skip_blanks(i);
  std::size_t end = npos;
  if (const std::size_t bracket = j < t.size() ? open.find(t[j]) : npos; bracket != npos) {
    const auto closes = [&](std::size_t e) {
      e = skip_blanks(e);
      return e < t.size() && t[e] == close[bracket];
    };
    std::size_t k = skip_blanks(j + 1);
    if (k < t.size() && (t[k] == '@' || t[k] == '.' || to_lower(t[k]) == 'a') && closes(k + 1)) {
      symbol = t[k] == '.' ? '.' : '@';
    } else if (const auto [w, e] = word_at(k, closes); w != npos) {
      symbol = spelled_words[w].symbol;
      k = e - 1;
    } else {
      return npos;
    }
    mark = {spelled_view::bracketed, 0};
    end = skip_blanks(skip_blanks(k + 1) + 1);
  } else {
    const auto [w, e] = word_at(j, [&](std::size_t e) { return e < t.size() && blank(t[e]); });
    if (j == i || w == npos) {
      return npos;
    }
    symbol = spelled_words[w].symbol;
    mark = {spelled_view::bare, static_cast<std::uint8_t>(w)};
    end = skip_blanks(e);
  }
  return end < t.size() && is_alnum(t[end]) ? end : npos;
}

// The view of t with its written-out markers replaced by '@' and '.'; false when it cannot hold
// an address that the plain scan does not see (no marker but bare common '@' words).
bool spell_out(std::string_view t, spelled_view& out) {
  char symbol = 0;
  spelled_view::mark mark;
  // Useful: an '@' marker that counts alone, or a common '@' word with a dot marker, or a dot
  // marker beside a real '@' ("alice@example dot com").
  const bool real_at = t.find('@') != std::string_view::npos;
  bool common_at = false;
  bool dot = false;
  bool useful = false;
  for (std::size_t i = 1; i < t.size() && !useful; ++i) {
    if (marker_at(t, i, symbol, mark) == npos) {
      continue;
    }
    const bool common = mark.how == spelled_view::bare && spelled_words[mark.word].common;
    common_at = common_at || (symbol == '@' && common);
    dot = dot || symbol == '.';
    useful = (symbol == '@' && !common) || (dot && (common_at || real_at));
  }
  if (!useful) {
    return false;
  }
  out.text.clear();
  out.origin.clear();
  out.marks.clear();
  for (std::size_t i = 0; i < t.size();) {
    const std::size_t end = marker_at(t, i, symbol, mark);
    out.origin.push_back(static_cast<std::uint32_t>(i));
    if (end != npos) {
      out.text.push_back(symbol);
      out.marks.push_back(mark);
      i = end;
    } else {
      out.text.push_back(t[i]);
      out.marks.push_back({});
      ++i;
    }
  }
  out.origin.push_back(static_cast<std::uint32_t>(t.size()));
  return true;
}

// Whether the address of `view` with its '@' at `at` and its domain up to `end` has written-out
// markers that count (the rules above spelled_words), and not only the plain scan's symbols.
bool spelled_address(const spelled_view& view, std::size_t at, std::size_t end) {
  const auto common = [&](const spelled_view::mark& m) {
    return m.how == spelled_view::bare && spelled_words[m.word].common;
  };
  const spelled_view::mark& at_mark = view.marks[at];
  for (std::size_t k = at + 1; k < end; ++k) {
    const spelled_view::mark& m = view.marks[k];
    if (view.text[k] != '.' || m.how == spelled_view::original) {
      continue;
    }
    if (!common(m)) {  // bracketed, or "dot"
      return true;
    }
    if (at_mark.how == spelled_view::bracketed ||
        (at_mark.how == spelled_view::bare && (!common(at_mark) || (spelled_words[at_mark.word].languages &
                                                                    spelled_words[m.word].languages) != 0))) {
      return true;
    }
  }
  return at_mark.how != spelled_view::original && !common(at_mark);
}

// What a scanner reads beside the text it scans: the text as the client wrote it, and where each
// byte of the scanned text came from when that is its folded form (fold.hpp; else nullptr).
struct scan_source {
  std::string_view written;
  const folded_text* folded = nullptr;
};

// Whether the character written at t[at] is a middle dot (U+00B7, U+0387, U+2027, U+2E31, U+2E33,
// U+30FB, U+FF65) or a Syriac full stop (U+0701, U+0702), which a model reads as a dot between a
// domain's labels ("gmail\u00b7com"). fold.hpp reads the middle dots as '-', as they separate a
// number's groups, and the stops as marks.
bool dot_like(std::string_view t, std::size_t at) {
  static constexpr std::string_view dots[] = {"\u00b7", "\u0387", "\u2027", "\u2e31", "\u2e33",
                                              "\u30fb", "\uff65", "\u0701", "\u0702"};
  return std::any_of(std::begin(dots), std::end(dots),
                     [&](std::string_view d) { return t.substr(at, d.size()) == d; });
}

// `t` with the middle dots and full stops written before a top-level domain there is (known_tld)
// read as the dot they stand for ("alice@gmail\u00b7com"), into `out`; false (leaving `out` alone)
// when there are none. Only a folded text holds them.
bool dots_read(std::string_view t, const scan_source& source, std::string& out) {
  if (source.folded == nullptr || t.find('@') == npos) {
    return false;
  }
  bool any = false;
  for (std::size_t p = 1; p + 2 < t.size(); ++p) {
    if ((t[p] != '-' && t[p] != mark_byte) || !is_alnum(t[p - 1]) ||
        !dot_like(source.written, source.folded->origin[p])) {
      continue;
    }
    std::size_t e = p + 1;
    while (e < t.size() && is_alpha(t[e]) && e - p < 25) {
      ++e;
    }
    if (e - p < 3 || !ends_word(t, e) || !known_tld(t.substr(p + 1, e - p - 1))) {
      continue;
    }
    if (!any) {
      out.assign(t);
      any = true;
    }
    out[p] = '.';
  }
  return any;
}

template <typename Hit>
bool scan_email(std::string_view t, const scan_source& source, Hit&& hit) {
  thread_local std::string dotted;
  if (scan_plain_email(dots_read(t, source, dotted) ? std::string_view(dotted) : t, hit)) {
    return true;
  }
  thread_local spelled_view view;
  if (!spell_out(t, view)) {
    return false;
  }
  return scan_plain_email(view.text, [&](std::size_t begin, std::size_t end) {
    const std::size_t at = view.text.find('@', begin);
    return spelled_address(view, at, end) && hit(view.origin[begin], view.origin[end]);
  });
}

// Digits from i on, allowing up to `max_seps` characters of `seps` between two digits ("6 12",
// ") 6"). Stops before anything else. Returns the digits; `end` is past the last digit taken.
std::string digit_run(std::string_view t, std::size_t i, std::string_view seps, std::size_t max_digits,
                      std::size_t& end, std::size_t max_seps = 1) {
  std::string digits;
  end = i;
  while (i < t.size() && digits.size() <= max_digits) {
    if (is_digit(t[i])) {
      digits.push_back(t[i]);
      end = ++i;
      continue;
    }
    std::size_t k = i;
    while (k < t.size() && k - i < max_seps && seps.find(t[k]) != npos) {
      ++k;
    }
    if (k == i || digits.empty() || k >= t.size() || !is_digit(t[k])) {
      break;
    }
    i = k;
  }
  return digits;
}

// The lengths of the digit groups of t[begin, end), a number whose groups separators split (a
// run of them is one; the numbers read here have at most 19 digits: longer ones count their first
// 19 groups).
struct digit_groups {
  std::array<std::size_t, 19> lengths{};
  std::size_t count = 0;

  [[nodiscard]] bool are(std::initializer_list<std::size_t> shape) const {
    return count == shape.size() && std::equal(shape.begin(), shape.end(), lengths.begin());
  }
};

digit_groups groups_of(std::string_view t, std::size_t begin, std::size_t end) {
  digit_groups g;
  std::size_t len = 0;
  for (std::size_t k = begin; k <= end; ++k) {
    if (k < end && is_digit(t[k])) {
      ++len;
      continue;
    }
    if (len > 0 && g.count < g.lengths.size()) {
      g.lengths[g.count++] = len;
    }
    len = 0;
  }
  return g;
}

// Whether the groups are an integer's in thousands: one to three digits, then groups of three
// ("4 111 111 111 111 111"). No card is printed so.
bool thousands_grouped(const digit_groups& g) {
  return g.count > 1 && g.lengths[0] >= 1 && g.lengths[0] <= 3 &&
         std::all_of(g.lengths.begin() + 1, g.lengths.begin() + static_cast<std::ptrdiff_t>(g.count),
                     [](std::size_t len) { return len == 3; });
}

// Whether `area`, a trunk 0 and an area code, is a mobile network's that gives 12-digit numbers:
// Germany's 015x, 016x and 017x, Austria's 065x to 069x.
bool mobile_area_code(std::string_view area) {
  return area.size() == 4 && area[0] == '0' &&
         ((area[1] == '1' && area[2] >= '5' && area[2] <= '7') || (area[1] == '6' && area[2] >= '5'));
}

// Trunk 0, an area code, a separator, the subscriber (Germany, Austria, the Netherlands, the UK,
// ...): "030 1234567", "089/12345678", "0221-1234567", "(030) 12345678", "06 1234 5678",
// "020 7946 0958", "030/1234-5678". The subscriber one group of five digits or more after an area
// code of three or more (10 to 12 digits), or two groups of three or four (10 or 11 digits:
// "06 123 456 78", the French form in other groups, is not one, nor Unicode's "0399 0308 0301"),
// or of three to five making 12 digits after a mobile's area code (mobile_area_code: "0151 1234
// 5678", "0176 123 45678") or a phone cue. The end, or npos; the finding starts at the '(' when
// there is one.
std::size_t area_code_phone_at(std::string_view t, std::size_t i, bool cued) {
  const bool parenthesised = i > 0 && t[i - 1] == '(';
  std::size_t k = i + 1;
  while (k < t.size() && is_digit(t[k]) && k - i < 7) {
    ++k;
  }
  const std::size_t area = k - i;
  if (area < 2 || area > 6 || k >= t.size()) {
    return npos;
  }
  if (parenthesised ? t[k] != ')' : t[k] != ' ' && t[k] != '-' && (t[k] != '/' || area < 3)) {
    return npos;
  }
  k += parenthesised && k + 1 < t.size() && t[k + 1] == ' ' ? 2 : 1;
  const auto group = [&](std::size_t from) {
    while (from < t.size() && is_digit(t[from])) {
      ++from;
    }
    return from;
  };
  const std::size_t first = group(k);
  const std::size_t first_len = first - k;
  // Not a piece of a longer number or of a hyphenated id ("…-0101-9821-8712-…" in a GUID,
  // "028-1234567-8901234", "030 1234567-01"), with one subscriber group or two.
  const auto joins = [&](std::size_t at, char next) {
    return t[at] == ' ' ? is_digit(next) : (t[at] == '-' || t[at] == '.' || t[at] == '/') && is_alnum(next);
  };
  const bool joined_before = i >= 2 && !parenthesised && joins(i - 1, t[i - 2]);
  const auto more_after = [&](std::size_t end) { return end + 1 < t.size() && joins(end, t[end + 1]); };
  if (first + 1 < t.size() && (t[first] == ' ' || t[first] == '-') && is_digit(t[first + 1])) {
    const std::size_t second = group(first + 1);
    const std::size_t second_len = second - first - 1;
    const std::size_t total = area + first_len + second_len;
    const bool short_groups = first_len >= 3 && first_len <= 4 && second_len >= 3 && second_len <= 4;
    // Twelve digits: a mobile's ("0151 1234 5678", "0176 123 45678"), or any after a phone cue;
    // a subscriber starts with no 0 ("0399 0308 0301" lists code points).
    const bool twelve = total == 12 && first_len >= 3 && first_len <= 5 && second_len >= 3 &&
                        second_len <= 5 && t[k] != '0' && (cued || mobile_area_code(t.substr(i, area)));
    if (((short_groups && total >= 10 && total <= 11) || twelve) && !joined_before && !more_after(second) &&
        ends_word(t, second)) {
      return second;
    }
  }
  const std::size_t total = area + first_len;
  if (area < 3 || first_len < 5 || total < 10 || total > 12 || joined_before || !ends_word(t, first)) {
    return npos;
  }
  if (!more_after(first)) {
    return first;
  }
  // After a phone cue, an extension ("Tel. 030 1234567-0", the switchboard's).
  const std::size_t extension = t[first] == '-' ? group(first + 1) : first;
  return cued && extension - first >= 2 && extension - first <= 5 && !more_after(extension) &&
                 ends_word(t, extension)
             ? extension
             : npos;
}

// The end of the word of Latin letters at t[i] (i when there is none), read up to `longest`
// bytes.
std::size_t latin_word_end(std::string_view t, std::size_t i, std::size_t longest = 24) {
  std::size_t e = i;
  while (e < t.size() && e - i < longest) {
    const latin_letter l = latin_letter_at(t, e);
    if (l.len == 0) {
      break;
    }
    e += l.len;
  }
  return e;
}

// Words that name a phone number, in the eight languages, Swedish and Danish: cues on their own
// (the abbreviations "Cel." and "kom." with their mark, below).
constexpr std::string_view phone_words[] = {
    "tel",       "tlf",          "telefon",        "telefono",  "tel\u00e9fono", "telefone",
    "telefonu",  "telefoon",     "telem\u00f3vel", "telemovel", "telefonnummer", "telefoonnummer",
    "rufnummer", "handynummer",  "mobilnummer",    "phone",     "telephone",     "cellphone",
    "cellulare", "cell",         "celular",        "mobile",    "mobil",         "m\u00f3vil",
    "movil",     "handy",        "whatsapp",       "gsm",       "chiamami",      "ll\u00e1mame",
    "llamame",   "zadzwo\u0144", "zadzwon",        "scrivimi",  "tfno",          "tlfno",
    "telf",      "sms",          "kom\u00f3rka",   "komorka",   "mob",           "fon",
    "mobiel",    "mobielnummer", "msisdn"};
// The bare words for "number": cues unless the words after them name another thing's number
// (number_of_another).
constexpr std::string_view number_words[] = {"nummer", "n\u00famero", "numero", "numer"};

// Whether the words from t[k] after a bare word for "number" name another thing's: a preposition
// and a noun that is no phone's ("número de pedido", "numero d'ordine", "Nummer des Artikels",
// "nummer van uw bestelling", past an article or a possessive), a noun of another number right
// after it ("Numero fattura"), or, after the Polish "numer", a noun in the genitive ("numer
// zamówienia", "numer faktury"). The phone's own phrases stay cues: a phone word or "contact"
// after the preposition ("numero di telefono", "número de contacto", "numer do mnie"), a verb or
// a mark after the word ("mi número es", "Mój numer to", "Nummer:").
bool number_of_another(std::string_view t, std::size_t k, bool polish) {
  static constexpr std::string_view prepositions[] = {"de",    "di",  "da",  "do",  "del", "della",
                                                      "dello", "dei", "des", "der", "van", "von",
                                                      "du",    "dos", "das", "of"};
  static constexpr std::string_view articles[] = {
      "la",     "el",     "il",     "lo",  "l",   "los",  "las", "uw",  "je",  "jouw",
      "mijn",   "zijn",   "haar",   "het", "mi",  "su",   "tu",  "mio", "mia", "suo",
      "sua",    "meu",    "minha",  "seu", "the", "your", "my",  "dem", "den", "ihres",
      "seines", "meines", "deines", "a",   "o",   "os",   "as"};
  // Contact words and the Polish words of a phone's own number ("numer komórki", "numer do mnie").
  static constexpr std::string_view contact[] = {
      "contacto", "contatto", "contato", "contact",      "kontakt", "kontaktu",       "kontaktowy", "mobiel",
      "mnie",     "mij",      "me",      "kom\u00f3rki", "komorki", "kom\u00f3rkowy", "to",         "jest"};
  // Nouns of other numbers written right after the word, without a preposition.
  static constexpr std::string_view other_nouns[] = {
      "fattura",  "ordine",   "factura", "pedido",     "encomenda",  "fatura",   "cliente",
      "conto",    "cuenta",   "conta",   "pratica",    "protocollo", "articolo", "art\u00edculo",
      "articulo", "serie",    "lotto",   "ticket",     "order",      "factuur",  "bestelling",
      "klant",    "rekening", "artikel", "referencia", "riferimento"};
  const auto word_at = [&](std::size_t from, std::size_t& end) {
    std::size_t b = from;
    while (b < t.size() && b - from < 3 && t[b] == ' ') {
      ++b;
    }
    end = latin_word_end(t, b);
    return b;
  };
  const auto is = [&](std::size_t b, std::size_t e, const auto& words) {
    return e > b && one_of(t, b, e, std::data(words), std::size(words));
  };
  const auto phone_word = [&](std::size_t b, std::size_t e) {
    return is(b, e, phone_words) || is(b, e, contact);
  };
  std::size_t e = 0;
  std::size_t b = word_at(k, e);
  if (b == k || e == b) {
    return false;  // a mark, a digit or nothing after the word
  }
  std::size_t noun = npos;
  if (e == b + 1 && (t[b] == 'd' || t[b] == 'D') && e < t.size() && t[e] == '\'') {
    noun = e + 1;  // "d'ordine"
  } else if (is(b, e, prepositions)) {
    noun = e;
  }
  if (noun == npos) {
    return !phone_word(b, e) && (is(b, e, other_nouns) || (polish && !is(b, e, prepositions)));
  }
  b = word_at(noun, e);
  if (is(b, e, articles) || (e == b + 1 && e < t.size() && t[e] == '\'')) {
    b = word_at(e < t.size() && t[e] == '\'' ? e + 1 : e, e);  // "de l'article"
  }
  return e > b && !phone_word(b, e);
}

// A word after which a phone number is expected ("Tel.", "Telefon:", "mi número es", "Handy",
// "WhatsApp", "numero di cellulare?"), in the eight languages and Swedish, in any case: a whole
// word (not "Telegram", "Bestellnummer" or "Kunden-Nummer"). Its end, or npos.
std::size_t phone_cue_at(std::string_view t, std::size_t i) {
  if (!starts_word(t, i) || (i > 0 && t[i - 1] == '-')) {
    return npos;
  }
  const std::size_t e = latin_word_end(t, i, 16);
  if (e <= i + 2 || !ends_word(t, e)) {
    return npos;
  }
  if (one_of(t, i, e, phone_words, std::size(phone_words))) {
    return e;
  }
  const char first = to_lower(t[i]);  // most words are none of these: one list is read per word
  if (first == 'n' && one_of(t, i, e, number_words, std::size(number_words))) {
    return number_of_another(t, e, e - i == 5) ? npos : e;  // "numer", Polish
  }
  // Spanish "Cel.", Polish "kom.": abbreviations, with their mark ("cel" is Dutch for a cell,
  // "kom" Swedish and Dutch for "come").
  static constexpr std::string_view abbreviations[] = {"cel", "kom"};
  if ((first == 'c' || first == 'k') && e < t.size() && (t[e] == '.' || t[e] == ':') &&
      one_of(t, i, e, abbreviations, std::size(abbreviations))) {
    return e;
  }
  // Asking to be called: "Bel me op", "Ruf mich unter … an", "Rappelle-moi au", "call me at",
  // "text me on", "reach me at"; the Dutch "bel" alone before a number with its trunk 0 ("bel
  // 06-12345678": "Bel 612 345 678" is none).
  static constexpr std::string_view call[] = {"bel",  "ruf",  "rufen", "rappelle", "rappelez",
                                              "call", "text", "reach", "ring"};
  static constexpr std::string_view me[] = {" me", " mij", " mich", " sie mich", "-moi"};
  if ((first == 'b' || first == 'r' || first == 'c' || first == 't') &&
      one_of(t, i, e, call, std::size(call))) {
    for (std::string_view object : me) {
      if (const std::size_t end = cue_end(t, e, object); end != npos && ends_word(t, end)) {
        return end;
      }
    }
    if (e - i == 3 && first == 'b' && e + 1 < t.size() && t[e] == ' ' && t[e + 1] == '0') {
      return e;
    }
  }
  return npos;
}

// A national number after a phone cue, in the groupings each country writes: a trunk 0 and 9 to
// 12 digits ("06-12345678", "070-123 45 67", "0470 12 34 56", "044 668 18 00", "0171 / 234 56
// 78", "030 / 12 34 56 78"), or, without one, 9 digits (Spain, Portugal, Poland: "612 345 678",
// "91 123 45 67", "22 123 45 67"), 10 starting with 3 (Italy's mobiles: "347 123 4567") or 8 in
// four pairs (Denmark, Norway: "20 12 34 56").
// Groups of two digits or more (an area code of up to five), each after a space, '-', '/' or
// '.' (dots only after a trunk 0: "123.456.789" is an amount), with spaces around a '-' or '/'
// allowed. Its end, or npos.
std::size_t national_phone_at(std::string_view t, std::size_t i) {
  const bool trunk = t[i] == '0';
  if (trunk && (i + 1 >= t.size() || t[i + 1] == '0')) {
    return npos;
  }
  std::size_t k = i;
  std::size_t digits = 0;
  std::size_t groups = 0;
  std::size_t first = 0;
  bool dots = false;
  bool pairs = true;
  while (true) {
    const std::size_t from = k;
    while (k < t.size() && is_digit(t[k]) && k - from < 13) {
      ++k;
    }
    const std::size_t len = k - from;
    first = groups == 0 ? len : first;
    pairs = pairs && len == 2;
    digits += len;
    if (len < 2 || ++groups > 6 || digits > 12) {
      return npos;
    }
    std::size_t s = k;
    if (s < t.size() && t[s] == ' ') {
      ++s;
    }
    bool dot = false;
    if (s < t.size() && (t[s] == '-' || t[s] == '/' || t[s] == '.')) {
      dot = t[s] == '.';
      ++s;
      if (s < t.size() && t[s] == ' ' && s - k == 2) {
        ++s;
      }
    }
    if (s == k || s >= t.size() || !is_digit(t[s])) {
      break;
    }
    dots = dots || dot;
    k = s;
  }
  if (!ends_word(t, k) || (k + 1 < t.size() && (t[k] == ',' || t[k] == '.') && is_digit(t[k + 1]))) {
    return npos;
  }
  if (trunk) {
    return digits >= 9 && (groups == 1 || first <= 5) ? k : npos;
  }
  const bool shape = digits == 9 || (digits == 10 && t[i] == '3') || (digits == 8 && groups == 4 && pairs);
  return shape && !dots && (groups == 1 || first <= 3) ? k : npos;
}

// Whether an amount's currency or unit follows t[end] ("+12 345 678 \u20ac", "+33 123 456 EUR",
// "5 %"): a symbol outside ASCII (fold.hpp's mark), '$', '%', or a currency's code, after one
// space at most.
bool currency_after(std::string_view t, std::size_t end) {
  std::size_t k = end < t.size() && t[end] == ' ' ? end + 1 : end;
  if (k >= t.size()) {
    return false;
  }
  if (t[k] == mark_byte || t[k] == '$' || t[k] == '%') {
    return true;
  }
  static constexpr std::string_view codes[] = {"eur", "euro", "euros", "usd", "chf",
                                               "gbp", "pln",  "sek",   "dkk"};
  std::size_t e = k;
  while (e < t.size() && is_alpha(t[e])) {
    ++e;
  }
  return one_of(t, k, e, codes, std::size(codes));
}

// Whether the pairs of "0X XX XX XX XX" at t[i, end) are a list: one piece of a longer run of
// pairs ("... 07 08 09 10 11 12"), or counting up by one ("01 02 03 04 05").
bool list_of_pairs(std::string_view t, std::size_t i, std::size_t end) {
  const std::string_view span = t.substr(i, end - i);
  if (span.size() != 14) {
    return false;
  }
  if (i >= 3 && t[i - 1] == span[2] && is_digit(t[i - 2]) && is_digit(t[i - 3])) {
    return true;
  }
  bool counting = true;
  for (std::size_t k = 3; k < 14 && counting; k += 3) {
    const int before = (span[k - 3] - '0') * 10 + (span[k - 2] - '0');
    counting = (span[k] - '0') * 10 + (span[k + 1] - '0') == before + 1;
  }
  return counting;
}

#include "classify/country_code_table.inc"

// The length of the country calling code `digits` start with (country_code_table.inc), or 0;
// `found` its entry. Calling codes are prefix-free: one of the first one, two or three digits is
// one at most.
std::size_t calling_code_length(std::string_view digits, const country_code*& found) {
  for (std::size_t len = 1; len <= 3 && len < digits.size(); ++len) {
    const std::string_view code = digits.substr(0, len);
    found = std::lower_bound(std::begin(country_codes), std::end(country_codes), code,
                             [](const country_code& c, std::string_view wanted) { return c.code < wanted; });
    if (found != std::end(country_codes) && found->code == code) {
      return len;
    }
  }
  return 0;
}

// Whether `digits`, written after the international prefix 00, are a country calling code and a
// national number of a length that country gives its fixed lines and mobiles.
bool e164_number(std::string_view digits) {
  const country_code* code = nullptr;
  const std::size_t len = calling_code_length(digits, code);
  const std::size_t national = digits.size() - len;
  return len != 0 && national >= code->shortest && national <= code->longest;
}

// Whether the digits from t[start] on (after 00, `end` past the last) are a document's number
// written with a 00 prefix rather than a phone number: a '/' right after the country code
// ("FV 0032/11/2024", "0033/2024/117": a phone number's country code is followed by a space, a
// dash, a dot or its area code, "0049 30/1234567"), or a year of this era as the group after it,
// between two of the same '-' or '.' ("0044-2024-118733": a sequence, a year, a number).
bool document_number_after_00(std::string_view t, std::size_t start, std::size_t end) {
  std::size_t k = start;
  while (k < end && is_digit(t[k]) && k - start < 3) {
    ++k;
  }
  const country_code* code = nullptr;
  const std::size_t len = calling_code_length(t.substr(start, k - start + 1), code);
  if (len == 0 || start + len >= end || !is_digit(t[start + len - 1])) {
    return false;
  }
  k = start + len;
  if (t[k] == '/') {
    return true;
  }
  const auto year = [&](std::size_t y) {
    return y + 4 < end &&
           std::all_of(t.begin() + static_cast<std::ptrdiff_t>(y),
                       t.begin() + static_cast<std::ptrdiff_t>(y + 4), is_digit) &&
           ((t[y] == '1' && t[y + 1] == '9' && t[y + 2] == '9') ||
            (t[y] == '2' && t[y + 1] == '0' && t[y + 2] <= '3'));
  };
  return (t[k] == '-' || t[k] == '.') && year(k + 1) && t[k + 5] == t[k];
}

// Whether the phone number t[begin, end) is a non-geographic service number, a company's hotline
// and never a person's line, as each numbering plan sets them apart: freephone and shared cost
// (Germany 0800, 0180x and 0900, France 08 0x and 09 69, Spain 900, 901 and 902, Italy 800 and
// 803, the Netherlands 0800 and 0900, the UK 0800, 0808 and 03, after +CC as well). Without a
// country code: a trunk 0 and 800, 900 or 180 (a UK number of the 01803 area reads as Germany's
// 0180 3 and is missed), 808 as a first group of its own ("0808 157 0192"; Germany's 08081 is
// an area code), 80 and 969 in the French ten digits; 800, 803, 900, 901 or 902 without one.
bool service_number(std::string_view t, std::size_t begin, std::size_t end) {
  std::array<char, 20> buffer{};
  std::size_t n = 0;
  for (std::size_t k = begin; k < end && n < buffer.size(); ++k) {
    if (is_digit(t[k])) {
      buffer[n++] = t[k];
    }
  }
  std::string_view digits(buffer.data(), n);
  const auto starts = [](std::string_view number, std::initializer_list<std::string_view> prefixes) {
    return std::any_of(prefixes.begin(), prefixes.end(),
                       [&](std::string_view p) { return number.substr(0, p.size()) == p; });
  };
  const bool plus = t[begin] == '+';
  if (plus || digits.substr(0, 2) == "00") {
    digits.remove_prefix(plus ? 0 : 2);
    const country_code* code = nullptr;
    const std::size_t len = calling_code_length(digits, code);
    std::string_view national = digits.substr(len);
    if (len == 0) {
      return false;
    }
    if (!national.empty() && national[0] == '0') {
      national.remove_prefix(1);  // "+49 (0)800 …"
    }
    const std::string_view cc = code->code;
    return (cc == "49" && starts(national, {"800", "180", "900"})) ||
           (cc == "33" && starts(national, {"80", "969"})) ||
           (cc == "34" && starts(national, {"900", "901", "902"})) ||
           (cc == "39" && starts(national, {"800", "803"})) ||
           (cc == "31" && starts(national, {"800", "900"})) ||
           (cc == "44" && starts(national, {"800", "808", "3"}));
  }
  if (digits[0] == '0') {
    const std::string_view national = digits.substr(1);
    const bool own_group = end - begin > 4 && !is_digit(t[begin + 4]);
    return starts(national, {"800", "900", "180"}) || (own_group && starts(national, {"808"})) ||
           (digits.size() == 10 && starts(national, {"80", "969"}));
  }
  return digits.size() == 9 && starts(digits, {"800", "803", "900", "901", "902"});
}

// An international number's `digits` read on across a line break (up to two) while they are
// fewer than its country gives its numbers ("+33 6 12 34\n56 78", "+49\n30\n12345678": a number
// wrapped in a PDF or a mail, read as the JSON inspector reads it across two messages), when the
// number they make is one of a length that country gives (e164_number); `end` past them. A number
// whole on its line takes nothing from the next ("+49 30 12345678\n2024").
void wrapped_phone(std::string_view t, std::string& digits, std::size_t& end) {
  const auto short_of_number = [](std::string_view d) {
    const country_code* code = nullptr;
    const std::size_t len = calling_code_length(d, code);
    return d.size() < 8 || (len != 0 && d.size() - len < code->shortest);
  };
  std::string wrapped = digits;
  std::size_t wrapped_end = end;
  for (int breaks = 0; breaks < 2 && short_of_number(wrapped); ++breaks) {
    std::size_t k = wrapped_end;
    while (k < t.size() && k - wrapped_end < 2 && (t[k] == ' ' || t[k] == '\t')) {
      ++k;
    }
    k += k + 1 < t.size() && t[k] == '\r' && t[k + 1] == '\n' ? 1 : 0;
    if (k >= t.size() || t[k] != '\n') {
      break;
    }
    const std::size_t line = ++k;
    while (k < t.size() && k - line < 2 && (t[k] == ' ' || t[k] == '\t')) {
      ++k;
    }
    if (k >= t.size() || !is_digit(t[k])) {
      break;
    }
    wrapped += digit_run(t, k, " -.()/", 16, wrapped_end, 2);
  }
  if (wrapped_end != end && wrapped.size() <= 15 && e164_number(wrapped)) {
    digits = std::move(wrapped);
    end = wrapped_end;
  }
}

// What the key a number is the value of says of it: the number at t[i] read back past a quote,
// ':' or '=' and a quote ("{\"to\": \"4915112345678\"}", "phoneNumber=..."). `recipient`: a
// messaging API's `to`, `from` or `wa_id` (the WhatsApp Cloud API's, with the number's country
// code and no '+'), quoted or before '='; `phone`: a key of which a word is a phone word
// ("phoneNumber", "recipient_msisdn"), a cue.
enum class phone_key { none, recipient, phone };

phone_key phone_key_before(std::string_view t, std::size_t i) {
  std::size_t k = i;
  const auto skip = [&](auto&& what, std::size_t most) {
    for (std::size_t n = 0; n < most && k > 0 && what(t[k - 1]); ++n) {
      --k;
    }
  };
  const auto quote = [](char c) { return c == '"' || c == '\''; };
  const auto blank = [](char c) { return c == ' '; };
  const auto backslash = [](char c) { return c == '\\'; };  // JSON in a JSON string, as sent
  skip(quote, 1);
  skip(backslash, 1);
  skip(blank, 2);
  if (k < 2 || (t[k - 1] != ':' && t[k - 1] != '=')) {
    return phone_key::none;
  }
  const bool equals = t[--k] == '=';
  skip(blank, 2);
  const bool quoted = k > 0 && quote(t[k - 1]);
  skip(quote, 1);
  skip(backslash, 1);
  const std::size_t key_end = k;
  skip([](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; }, 48);
  const std::string_view key = t.substr(k, key_end - k);
  static constexpr std::string_view recipients[] = {"to", "from", "wa_id", "waid"};
  if ((quoted || equals) && one_of(key, 0, key.size(), recipients, std::size(recipients))) {
    return phone_key::recipient;
  }
  for (std::size_t b = 0; b < key.size();) {  // its words: "phone_number", "phoneNumber"
    if (!is_alpha(key[b])) {
      ++b;
      continue;
    }
    std::size_t e = b + 1;
    while (e < key.size() && is_alpha(key[e]) && !(is_lower(key[e - 1]) && is_upper(key[e]))) {
      ++e;
    }
    if (one_of(key, b, e, phone_words, std::size(phone_words))) {
      return phone_key::phone;
    }
    b = e;
  }
  return phone_key::none;
}

// Whether t[i] follows a link to a WhatsApp chat, whose number has its country code and no '+'
// ("https://wa.me/4915112345678").
bool whatsapp_link_before(std::string_view t, std::size_t i) {
  return i >= 6 && cue_end(t, i - 6, "wa.me/") == i && (i == 6 || !is_alnum(t[i - 7]));
}

// Whether the digits `digits` of one run (a timestamp's, "202412072130") start with a date of
// this era, YYYYMMDD: a key's value in the form of an international number without its '+' may be
// one ("from", "to").
bool compact_date(std::string_view digits) {
  const auto two = [&](std::size_t at) { return (digits[at] - '0') * 10 + (digits[at + 1] - '0'); };
  return digits.size() >= 8 && (two(0) == 19 || two(0) == 20) && two(4) >= 1 && two(4) <= 12 && two(6) >= 1 &&
         two(6) <= 31;
}

// An international number written without '+' or 00 where its context says it is one (after a
// phone cue, a WhatsApp link or as a phone key's value): one run of 10 to 15 digits, a country
// calling code and a national number of a length that country gives (e164_number). Its end, or
// npos.
std::size_t unprefixed_international_at(std::string_view t, std::size_t i, bool date_may_be) {
  std::size_t end = i;
  while (end < t.size() && is_digit(t[end]) && end - i <= 15) {
    ++end;
  }
  const std::string_view digits = t.substr(i, end - i);
  if (digits.size() < 10 || digits.size() > 15 || digits[0] == '0' || !ends_word(t, end) ||
      (end + 1 < t.size() && (t[end] == '.' || t[end] == ',') && is_digit(t[end + 1]))) {
    return npos;
  }
  return e164_number(digits) && !(date_may_be && compact_date(digits)) ? end : npos;
}

// How the number at t[i] is cued (scan_phone).
struct phone_context {
  bool cued = false;           // the first after a phone cue or a phone key's value
  bool international = false;  // may start with its country code without '+' or 00
  bool date_may_be = false;    // only by a key that also takes dates ("from", "to")
};

// The phone number that starts at t[i] (a '+', or a digit starting a word): its end, or npos,
// `begin` where the finding starts ("(030) 1234567" from its '('). `cued`: the first number after
// a phone cue, which may also be written in the national forms only a cue tells from other
// numbers (national_phone_at), or with its country code and no '+' (unprefixed_international_at),
// as is a number after a WhatsApp link or a messaging API's `to`.
std::size_t phone_at(std::string_view t, std::size_t i, const phone_context& context, std::size_t& begin) {
  const bool cued = context.cued;
  begin = i;
  std::size_t start = npos;
  if (t[i] == '+' && i + 1 < t.size() && is_digit(t[i + 1]) && t[i + 1] != '0' && starts_word(t, i)) {
    start = i + 1;
  } else if (t[i] == '0' && i + 2 < t.size() && t[i + 1] == '0' && is_digit(t[i + 2]) && t[i + 2] != '0' &&
             starts_word(t, i)) {
    start = i + 2;
  }
  if (start != npos) {
    std::size_t end = 0;
    // "+33 (0)6 12 34 56 78", "+49/30/12345678": up to two separators between digits; the
    // trunk 0 counts as a digit. Not an amount with its sign ("+12 345 678 \u20ac").
    std::string digits = digit_run(t, start, " -.()/", 16, end, 2);
    wrapped_phone(t, digits, end);
    const bool amount = thousands_grouped(groups_of(t, start, end)) && currency_after(t, end);
    // Zeros padding an id or an account ("P.IVA 00743110157", "GL 0049100000") look like 00 and a
    // country code: written in one run and without a cue, such a number is one only when its
    // country gives numbers of that length (00 7 43110157 has 8 digits where Russia's have 10).
    const bool ungrouped = t[i] == '0' && end - start == digits.size();
    if (ungrouped && !cued && !e164_number(digits)) {
      return npos;
    }
    if (t[i] == '0' && !cued && document_number_after_00(t, start, end)) {
      return npos;
    }
    return digits.size() >= 8 && digits.size() <= 15 && ends_word(t, end) && !amount ? end : npos;
  }
  if (!is_digit(t[i]) || !starts_word(t, i)) {
    return npos;
  }
  // National form 0X XX XX XX XX (France, Belgium mobile, ...): ten digits in pairs after 0X.
  if (t[i] == '0' && i + 1 < t.size() && is_digit(t[i + 1]) && t[i + 1] != '0') {
    std::size_t end = 0;
    const std::string digits = digit_run(t, i, " .-", 11, end);
    if (digits.size() == 10 && ends_word(t, end)) {
      // Grouped in pairs (or not at all): "06 12 34 56 78", "06.12.34.56.78", "0612345678".
      const std::string_view span = t.substr(i, end - i);
      bool pairs = span.size() == 10;
      if (span.size() == 14) {
        pairs = true;
        for (std::size_t k = 2; k < 14; k += 3) {
          pairs = pairs && !is_digit(span[k]) && span[k] == span[2];
        }
      }
      if (pairs) {
        return list_of_pairs(t, i, end) ? npos : end;
      }
    }
    if (const std::size_t end = area_code_phone_at(t, i, cued); end != npos) {
      begin = i > 0 && t[i - 1] == '(' ? i - 1 : i;
      return end;
    }
  }
  if (const std::size_t end = cued ? national_phone_at(t, i) : npos; end != npos) {
    return end;
  }
  return context.international ? unprefixed_international_at(t, i, context.date_may_be) : npos;
}

// Whether the number at `i` is the first after a phone cue that ends at most cue_reach bytes
// before it ("Telefon: 0171 ...", "numero di cellulare?\n347 ...", the question in one message and
// the answer in the next). Looked for back from a number, which is rarer than a word.
bool cued_number_at(std::string_view t, std::size_t i) {
  constexpr std::size_t cue_reach = 40;
  constexpr std::size_t longest_cue = 16;
  const std::size_t from = i > cue_reach + longest_cue ? i - cue_reach - longest_cue : 0;
  for (std::size_t k = i; k-- > from;) {
    const char c = t[k];
    if (is_digit(c) || c == '+') {
      return false;  // a number between: that one was the cue's
    }
    if (is_alpha(c) && starts_word(t, k)) {
      if (const std::size_t e = phone_cue_at(t, k); e != npos && e <= i && i - e < cue_reach) {
        return true;
      }
    }
  }
  return false;
}

template <typename Hit>
bool scan_iban(std::string_view t, Hit&& hit);

// Whether t[begin, end) overlaps an IBAN (scan_iban): the groups "0044 0532 0130 00" of
// "DE89 3704 0044 0532 0130 00" read as a UK number. Asked for a phone number found, which is
// rare: the IBAN is looked for around it only, from the word it may start in 80 bytes before
// (34 characters and the separators between its groups).
bool inside_iban(std::string_view t, std::size_t begin, std::size_t end) {
  std::size_t from = begin > 80 ? begin - 80 : 0;
  while (from > 0 && is_alnum(t[from - 1])) {
    --from;
  }
  const std::size_t to = std::min(t.size(), end + 80);
  bool inside = false;
  scan_iban(t.substr(from, to - from), [&](std::size_t b, std::size_t e) {
    inside = from + b < end && from + e > begin;
    return inside || from + b >= end;
  });
  return inside;
}

template <typename Hit>
bool scan_phone(std::string_view t, Hit&& hit) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (c != '+' && !is_digit(c)) {
      continue;
    }
    phone_context context;
    const phone_key key = c != '+' && starts_word(t, i) ? phone_key_before(t, i) : phone_key::none;
    context.cued = key == phone_key::phone || cued_number_at(t, i);
    context.international = context.cued || key == phone_key::recipient || whatsapp_link_before(t, i);
    context.date_may_be = !context.cued && key == phone_key::recipient;
    std::size_t begin = i;
    const std::size_t end = phone_at(t, i, context, begin);
    if (end != npos) {
      if (!service_number(t, begin, end) && !inside_iban(t, begin, end) && hit(begin, end)) {
        return true;
      }
      i = end - 1;
    } else if (c != '+') {
      while (i + 1 < t.size() && is_digit(t[i + 1])) {
        ++i;  // the rest of this number
      }
    }
  }
  return false;
}

// The length of the IBANs of a country (ISO 13616 registry), or 0 when not listed here.
std::size_t iban_length(char a, char b) {
  static constexpr std::string_view table =
      "AD24AE23AL28AT20AZ28BA20BE16BG22BH22BI27BR29BY28CH21CR22CY28CZ24DE22DJ27DK18DO28EE20EG29ES24FI18"
      "FK18FO18FR27GB22GE22GI23GL18GR27GT28HR21HU28IE22IL23IQ23IS26IT27JO30KW30KZ20LB28LC32LI21LT20LU20"
      "LV21LY25MC27MD24ME22MK19MN20MR27MT31MU30NI28NL18NO15OM23PK24PL28PS29PT25QA29RO24RS22RU33SA24SC31SD18SE"
      "24"
      "SI19SK24SM27SO23ST25SV28TL23TN24TR26UA29VA22VG24XK20YE30";
  for (std::size_t i = 0; i + 4 <= table.size(); i += 4) {
    if (table[i] == a && table[i + 1] == b) {
      return static_cast<std::size_t>((table[i + 2] - '0') * 10 + (table[i + 3] - '0'));
    }
  }
  return 0;
}

// A separator a reader skips between an IBAN's groups at t[k]: its length in bytes, or 0. Spaces,
// tabs and line breaks and the ASCII punctuation numbers are grouped with (`plain`), and the
// rarer marks: every other ASCII mark, and every mark outside ASCII (fold.hpp's mark_byte in the
// folded text; the middle dot, bullet and the like fold to '-').
std::size_t iban_separator(std::string_view t, std::size_t k, bool& plain) {
  static constexpr auto table = [] {
    std::array<std::uint8_t, 256> kinds{};  // 1: plain, 2: rarer
    for (const char c : std::string_view(" \t\n\r-./_,:;|")) {
      kinds[static_cast<unsigned char>(c)] = 1;
    }
    for (const char c : std::string_view("~*+=#\\!\"$%&'()<>?@[]^`{}")) {
      kinds[static_cast<unsigned char>(c)] = 2;
    }
    kinds[static_cast<unsigned char>(mark_byte)] = 2;  // any mark outside ASCII (fold.hpp)
    return kinds;
  }();
  const std::uint8_t kind = table[static_cast<unsigned char>(t[k])];
  plain = kind == 1;
  return kind != 0 ? 1 : 0;
}

// The end of the separators between two groups from t[k] ("  ", " - ", "\t\t", " · "), or k when
// there are none: up to three that are not blanks, and up to eight characters in all. `wide`:
// more than three characters or a rarer mark, as people write between groups of four only.
std::size_t after_iban_separators(std::string_view t, std::size_t k, bool& wide) {
  std::size_t marks = 0;
  std::size_t n = 0;
  wide = false;
  for (; n < 8 && k < t.size(); ++n) {
    bool plain = false;
    const std::size_t len = iban_separator(t, k, plain);
    if (len == 0 || (t[k] != ' ' && t[k] != '\t' && ++marks > 3)) {
      break;
    }
    wide = wide || !plain;
    k += len;
  }
  wide = wide || n > 3;
  return k;
}

int mod97(std::string_view rearranged) {
  int r = 0;
  for (char c : rearranged) {
    if (is_digit(c)) {
      r = (r * 10 + (c - '0')) % 97;
    } else {
      r = (r * 100 + (to_upper(c) - 'A' + 10)) % 97;
    }
  }
  return r;
}

template <typename Hit>
bool scan_iban(std::string_view t, Hit&& hit) {
  std::size_t last_end = npos;  // where the last IBAN found ended: the next may follow at once
  for (std::size_t i = 0; i + 4 < t.size(); ++i) {
    // The check digits follow the country code, or separators after it ("GB 82 WEST ...").
    if (!is_digit(t[i + 2]) && (is_alnum(t[i + 2]) || !is_upper(t[i]) || !is_upper(t[i + 1]))) {
      continue;  // most text ends here
    }
    if (!is_alpha(t[i]) || !is_alpha(t[i + 1])) {
      continue;
    }
    const bool capitals = is_upper(t[i]) && is_upper(t[i + 1]);
    std::size_t check = i + 2;
    bool wide = false;  // unused: a country code is not a group of four
    if (capitals && !is_alnum(t[check])) {
      check = after_iban_separators(t, check, wide);
    }
    const bool glued = check == i + 2;
    if (check + 1 >= t.size() || !is_digit(t[check]) || !is_digit(t[check + 1])) {
      continue;
    }
    // A country's IBANs have one length: only that candidate. Elsewhere (a country that issues
    // IBANs outside the registry) the longest candidate that checks, written in capitals as IBANs
    // are: a shorter prefix also checks one time in 97, and would leave the rest of the IBAN
    // unredacted; and lower-case hex ("ea99e45d-c31d-...", a UUID) checks one time in 97 too.
    const std::size_t length = iban_length(to_upper(t[i]), to_upper(t[i + 1]));
    // Spaced after its country code, or glued to its label ("IBANGB82..."): a registry country's,
    // in capitals and digits only, or "de 12 casas ..." would be read as one (and an upper-case
    // GUID's "…ABE16…" as a Belgian IBAN).
    const bool labelled = i >= 4 && cue_end(t, i - 4, "iban") == i;
    const bool strict = !glued || labelled;
    if ((length == 0 && !capitals) || (strict && (length == 0 || !capitals)) ||
        (i != last_end && !starts_identifier(t, i) && !labelled)) {
      continue;
    }
    // Alphanumerics, in groups separated by what a reader skips: "DE89 3704 0044 0532 0130 00",
    // "DE89 - 3704 - ...", "DE89/3704/...", a tab or a line break; wider or rarer separators
    // ("DE89    3704", "DE89 · 3704", "DE89~3704") between groups of four only, as IBANs are
    // printed, or code ("ED448 = 12", "FP1616      root_x") would read as one.
    std::string chars;
    std::array<bool, 35> boundary{};       // boundary[n]: a word could end after n characters
    std::array<std::size_t, 35> end_at{};  // end_at[n]: the text position after n characters
    std::size_t first_wide = npos;         // chars before the first wide separator
    std::size_t first_off = npos;          // chars before the first separator off the groups of four
    std::size_t k = i;
    while (k < t.size() && chars.size() < 34) {
      if (is_alnum(t[k])) {
        chars.push_back(t[k]);
        ++k;
        boundary[chars.size()] = ends_identifier(t, k);
        end_at[chars.size()] = k;
        continue;
      }
      const std::size_t next = chars.empty() ? k : after_iban_separators(t, k, wide);
      if (next == k || next >= t.size() || !is_alnum(t[next])) {
        break;
      }
      if (wide && first_wide == npos) {
        first_wide = chars.size();
      }
      if (chars.size() % 4 != 0 && chars.size() != 2 && first_off == npos) {
        first_off = chars.size();
      }
      k = next;
    }
    for (std::size_t n = chars.size(); n >= 15; --n) {
      if (!boundary[n] || (length != 0 && n != length) || (first_wide < n && first_off < n)) {
        continue;
      }
      const std::string candidate = chars.substr(0, n);
      if (strict && std::any_of(candidate.begin(), candidate.end(), is_lower)) {
        break;
      }
      if (mod97(candidate.substr(4) + candidate.substr(0, 4)) == 1) {
        if (hit(i, end_at[n])) {
          return true;
        }
        last_end = end_at[n];
        i = end_at[n] - 1;
        break;
      }
    }
  }
  return false;
}

bool luhn(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (std::size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) {
        d -= 9;
      }
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

// A card network's prefix, at a length it issues: Visa 16 to 19 (its 13-digit numbers are no
// longer issued, and a German EAN-13 starts with 400-440 and passes the Luhn check one time in
// ten; no network issues 13 digits, which a Belgian or French EAN-13 also has), American Express
// 15 and no other network 15 (an IMEI has 15 digits and a Luhn digit, its TAC often 35),
// Mastercard 16, JCB, Discover and UnionPay 16 to 19, Diners Club 14 or 16 to 19 (a SIRET has 14
// digits and a Luhn digit: a Diners prefix only is left to its label, other_identifier_before).
bool card_network_prefix(std::string_view d) {
  const std::size_t n = d.size();
  if (n < 14 || n > 19) {
    return false;
  }
  const auto prefix = [&](std::size_t len) { return std::stoi(std::string(d.substr(0, len))); };
  const int p2 = prefix(2);
  const int p3 = prefix(3);
  const int p4 = prefix(4);
  if (d[0] == '4') {
    return n >= 16;  // Visa
  }
  if (p2 == 34 || p2 == 37) {
    return n == 15;  // American Express
  }
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) {
    return n == 16;  // Mastercard
  }
  if (p4 == 6011 || p2 == 65 || (p3 >= 644 && p3 <= 649) || p2 == 62 || (p4 >= 3528 && p4 <= 3589)) {
    return n >= 16;  // Discover, UnionPay, JCB
  }
  if (p2 == 36 || p2 == 38 || (p3 >= 300 && p3 <= 305)) {
    return n == 14 || n >= 16;  // Diners Club
  }
  return false;
}

// Whether the number at i, of `length` digits, comes right after a label that names another
// identifier of that length whose digits can pass a card's checks: a company's SIRET (14 digits
// with a Luhn digit: a Diners prefix at 14), a pallet's SSCC (18: a Visa length), a trade item's
// GTIN-14 ("N° SIRET : …", "SSCC 340…", "\"gtin\": \"…"). Between them only marks and spaces, and
// a word for "number". Only at the identifier's own length, and only identifiers with a fixed
// one: a label is the client's to write, and "order number 4111 1111 1111 1111" or "IMEI: <a
// card>" must not hide a card (a free-form number after "order" passes a card's checks one time
// in ten at most, an IMEI's 15 digits no network but Amex issues, with its own prefixes).
bool other_identifier_before(std::string_view t, std::size_t i, std::size_t length) {
  struct label {
    std::string_view word;
    std::size_t length;
  };
  static constexpr label labels[] = {{"siret", 14}, {"sscc", 18}, {"gtin", 14}};
  static constexpr std::string_view fillers[] = {"no",     "nr",          "n\u00b0",     "n\u00ba",
                                                 "number", "nummer",      "num",         "id",
                                                 "numer",  "num\u00e9ro", "n\u00famero", "numero"};
  const auto mark = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':' || c == '#' || c == '=' || c == '"' ||
           c == '\'' || c == '.' || c == '-' || c == '(' || c == '[';
  };
  std::size_t k = i;
  for (int words = 0; words < 2; ++words) {
    const std::size_t marks_end = k;
    while (k > 0 && marks_end - k < 8 && mark(t[k - 1])) {
      --k;
    }
    const std::size_t word_end = k;
    while (k > 0 && word_end - k < 24 &&
           (is_alpha(t[k - 1]) || static_cast<unsigned char>(t[k - 1]) >= 0x80)) {
      --k;
    }
    if (k == word_end || (k > 0 && is_alnum(t[k - 1]))) {
      return false;
    }
    for (const label& l : labels) {
      if (length == l.length && word_end - k == l.word.size() && one_of(t, k, word_end, &l.word, 1)) {
        return true;
      }
    }
    if (!one_of(t, k, word_end, fillers, std::size(fillers))) {
      return false;
    }
  }
  return false;
}

// A card number in groups with one separator throughout, of one to three characters of " -./,_|"
// and white space (a group per line, a tab-separated paste) with one mark at most
// ("4111.1111.1111.1111", "4111  1111  1111  1111", "4111 / 1111 / ...", "4111\r\n1111\r\n...",
// "4111|1111|..."; a comma only alone, as "4000, 4500, 5000, 4000" is a list), in the groups
// cards are printed in:
// 4-4-4-4 (a fifth of 1 to 3 digits for 17 to 19), American Express 4-6-5, Diners 4-6-4, and
// no more groups before or after. Its end, with its digits in `digits`, or npos.
std::size_t grouped_card_at(std::string_view t, std::size_t i, std::string& digits) {
  const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  // Not the marks of sums, lists, relations and amounts ("4210 + 3875 + 4390 + 4527 = ?",
  // "Jan;4210;3875", "4210 → 3875", "4210 € 3875 €"): four figures of four digits with a network's
  // prefix pass the Luhn check one time in ten.
  const auto separator = [&](char c) {
    return blank(c) || c == '-' || c == '.' || c == '/' || c == ',' || c == '_' || c == '|';
  };
  std::array<std::size_t, 6> groups{};
  std::size_t count = 0;
  std::string_view between;
  std::size_t k = i;
  digits.clear();
  while (count < groups.size()) {
    const std::size_t from = k;
    while (k < t.size() && is_digit(t[k]) && k - from < 7) {
      digits.push_back(t[k++]);
    }
    groups[count++] = k - from;
    if (groups[0] != 4) {
      return npos;  // most numbers end here
    }
    std::size_t next = k;
    while (next < t.size() && next - k < 3 && separator(t[next])) {
      ++next;
    }
    const std::string_view sep = t.substr(k, next - k);
    if (next == k || next >= t.size() || !is_digit(t[next]) || (!between.empty() && sep != between)) {
      break;
    }
    const auto marks = std::count_if(sep.begin(), sep.end(), [&](char c) { return !blank(c); });
    if (marks > 1 || (sep.find(',') != npos && sep != ",")) {
      break;
    }
    between = sep;
    k = next;
  }
  const auto are = [&](std::initializer_list<std::size_t> sizes) {
    return sizes.size() == count && std::equal(sizes.begin(), sizes.end(), groups.begin());
  };
  const bool printed = are({4, 4, 4, 4}) || are({4, 6, 5}) || are({4, 6, 4}) ||
                       (count == 5 && are({4, 4, 4, 4, groups[4]}) && groups[4] <= 3);
  // Not the tail of a longer list ("1234.5678.4111.1111.1111.1111").
  const bool tail = i > between.size() && t.substr(i - between.size(), between.size()) == between &&
                    is_digit(t[i - between.size() - 1]);
  return printed && !tail && ends_identifier(t, k) ? k : npos;
}

// Whether the digit at t[i], after a letter, is inside a word of hex digits (a digest, a trace or
// request id) or a hex literal ("0x4000000000000002"), where a run of digits is no number of its
// own. The answer holds for the whole word: `word` remembers the last one, so that a scan asking
// for every digit of a long word ("a1a1a1...") reads it once, not once per digit.
struct hex_word {
  std::size_t begin = npos;
  std::size_t end = 0;
  bool hex = false;
};

bool in_hex_word(std::string_view t, std::size_t i, hex_word& word) {
  if (word.begin != npos && i >= word.begin && i < word.end) {
    return word.hex;
  }
  std::size_t b = i;
  while (b > 0 && is_alnum(t[b - 1])) {
    --b;
  }
  word.begin = b;
  if (i - b >= 2 && t[b] == '0' && (t[b + 1] == 'x' || t[b + 1] == 'X')) {
    b += 2;
  }
  std::size_t e = i;
  while (e < t.size() && is_alnum(t[e])) {
    ++e;
  }
  word.end = e;
  word.hex = std::all_of(t.begin() + static_cast<std::ptrdiff_t>(b),
                         t.begin() + static_cast<std::ptrdiff_t>(e), is_hex);
  return word.hex;
}

// Whether the single spaces or dashes in the digits t[begin, end) may split a card: any split may
// (a card written "4111 1111 1111 111 1" or "4 1 1 1 ..." to slip past a reader of printed groups
// is still a card; probe round 22's strict groupings let such evasions through), but not the
// printed shapes of identifiers that pass a card's checks: an integer in thousands groups
// ("4 111 111 111 111 111"), an Amazon-style order number (3-7-7: "302-4817263-5519024"), a SIRET
// in its groups (3-3-3-5), an IMEI in its (2-6-6-1).
bool card_grouping(std::string_view t, std::size_t begin, std::size_t end) {
  const digit_groups g = groups_of(t, begin, end);
  return !thousands_grouped(g) && !g.are({3, 7, 7}) && !g.are({3, 3, 3, 5}) && !g.are({2, 6, 6, 1});
}

// A card's digits from t[i] with what people write between its groups: a space or a dash, a dash
// with spaces around it ("4111 - 1111 1111 1111"; not two spaces: an HTML table's cells read
// "4111  1111 …"), or a line break with up to two blanks either side ("Card: 4111 1111\n1111
// 1111", "…1111 \r\n1111": a number wrapped in a PDF or a mail, read as the JSON inspector reads
// it across two messages), on four lines at most (a fifth is a list's: no digits). Returns the
// digits (up to 20, or none for a fifth line); `end` is past the last one taken.
std::string card_run(std::string_view t, std::size_t i, std::size_t& end) {
  std::string digits;
  std::size_t breaks = 0;
  end = i;
  while (i < t.size() && digits.size() <= 19) {
    if (is_digit(t[i])) {
      digits.push_back(t[i]);
      end = ++i;
      continue;
    }
    std::size_t k = i;
    std::size_t dashes = 0;
    while (k < t.size() && k - i < 3 && (t[k] == ' ' || t[k] == '-')) {
      dashes += t[k++] == '-' ? 1 : 0;
    }
    if (k >= t.size() || !is_digit(t[k]) || (k - i > 1 && dashes != 1)) {
      k = i;
      while (k < t.size() && k - i < 2 && (t[k] == ' ' || t[k] == '\t')) {
        ++k;
      }
      k += k + 1 < t.size() && t[k] == '\r' && t[k + 1] == '\n' ? 1 : 0;
      if (k >= t.size() || t[k] != '\n') {
        break;
      }
      const std::size_t line = ++k;
      while (k < t.size() && k - line < 2 && (t[k] == ' ' || t[k] == '\t')) {
        ++k;
      }
      if (k < t.size() && is_digit(t[k]) && ++breaks > 3) {
        digits.clear();
        break;
      }
    }
    if (k == i || digits.empty() || k >= t.size() || !is_digit(t[k])) {
      break;
    }
    i = k;
  }
  return digits;
}

// Whether digits may follow t[k], past more than a single space or dash that ends a digit_run:
// where card_run may read on (most numbers end at a word).
bool runs_on(std::string_view t, std::size_t k) {
  for (std::size_t n = k; n < t.size() && n - k < 8; ++n) {
    if (is_digit(t[n])) {
      return n > k;
    }
    if (t[n] != ' ' && t[n] != '-' && t[n] != '\t' && t[n] != '\r' && t[n] != '\n') {
      return false;
    }
  }
  return false;
}

// Whether the card-like number t[begin, end) (`digits` its digits) is figures written in a way no
// card is:
// - four groups of four counting on by one step ("ports 4040 4041 4042 4043", "EXPOSE 3000 3001
//   3002 3003"; a card's groups that repeat, "4242 4242 4242 4242", stay one);
// - the cells of a table row, tab- or '|'-separated, with another cell on its line or a row of as
//   many cells above or below it (an Excel copy under "Q1\tQ2\tQ3\tQ4", "| 4210 | 3875 | … |");
// - a list, one figure per line: groups on several lines, the first alone on its line (but for a
//   list's '-' or '*'), unless the line before names a card ("Sales per region:\n4210\n3875\n…";
//   "Card: 4111 1111\n1111 1111", "4111 1111\n1111 1111" and "Card number:\n4111\n1111\n…" are
//   cards);
// - the value of an id's key, ungrouped and longer than the 16 digits cards are issued with: a
//   64-bit trace or request id ("dd.trace_id=4986947095633979044", "\"spanId\": …", "Trace ID:
//   …"; not after a key naming a card, "card_id");
// - a printed array of small integers: numbers of one to three digits, spaces apart, inside
//   square brackets with nothing else (numpy's print of an int array, "[46 85 73 74 60 85 14 71]":
//   one random array in twenty passed a card's checks; probe round 33).
bool figures_not_card(std::string_view t, std::size_t begin, std::size_t end, std::string_view digits) {
  const digit_groups g = groups_of(t, begin, end);
  if (std::all_of(g.lengths.begin(), g.lengths.begin() + static_cast<std::ptrdiff_t>(g.count),
                  [](std::size_t n) { return n <= 3; })) {
    const auto spaced_digits = [](char c) { return is_digit(c) || c == ' '; };
    std::size_t open = begin;
    while (open > 0 && spaced_digits(t[open - 1]) && begin - open < 256) {
      --open;
    }
    std::size_t close = end;
    while (close < t.size() && spaced_digits(t[close]) && close - end < 256) {
      ++close;
    }
    if (open > 0 && t[open - 1] == '[' && close < t.size() && t[close] == ']' &&
        t.substr(begin, end - begin).find_first_not_of("0123456789 ") == npos) {
      return true;
    }
  }
  if (g.are({4, 4, 4, 4})) {
    std::array<int, 4> v{};
    for (std::size_t k = 0; k < 4; ++k) {
      v[k] = std::stoi(std::string(digits.substr(k * 4, 4)));
    }
    if (v[1] != v[0] && v[2] - v[1] == v[1] - v[0] && v[3] - v[2] == v[1] - v[0]) {
      return true;
    }
  }
  const std::string_view span = t.substr(begin, end - begin);
  // The number's line, read up to 256 bytes either side.
  std::size_t line_begin = begin;
  while (line_begin > 0 && t[line_begin - 1] != '\n' && begin - line_begin < 256) {
    --line_begin;
  }
  std::size_t line_end = end;
  while (line_end < t.size() && t[line_end] != '\n' && line_end - end < 256) {
    ++line_end;
  }
  // The line before the one that starts at `at`, and the one after the one that ends at `at`,
  // read up to 256 bytes.
  const auto line_before = [&](std::size_t at) {
    std::size_t from = at - 1;
    while (from > 0 && t[from - 1] != '\n' && at - 1 - from < 256) {
      --from;
    }
    return t.substr(from, at - 1 - from);
  };
  const auto line_after = [&](std::size_t at) {
    std::size_t to = at + 1;
    while (to < t.size() && t[to] != '\n' && to - at - 1 < 256) {
      ++to;
    }
    return t.substr(at + 1, to - at - 1);
  };
  for (const char cell : {'\t', '|'}) {
    if (span.find(cell) == npos) {
      continue;
    }
    const auto cells = [&](std::string_view line) {
      return static_cast<std::size_t>(std::count(line.begin(), line.end(), cell));
    };
    if (cells(t.substr(line_begin, begin - line_begin)) > 0 || cells(t.substr(end, line_end - end)) > 0 ||
        (line_begin > 0 && t[line_begin - 1] == '\n' && cells(line_before(line_begin)) + 1 >= g.count) ||
        (line_end < t.size() && t[line_end] == '\n' && cells(line_after(line_end)) + 1 >= g.count)) {
      return true;
    }
  }
  if (const std::size_t first_break = span.find('\n'); first_break != npos) {
    const std::string_view before = t.substr(line_begin, begin - line_begin);
    const bool labelled = std::any_of(before.begin(), before.end(), [](char c) {
      return is_alpha(c) || static_cast<unsigned char>(c) >= 0x80;
    });
    const std::string_view first = span.substr(0, first_break);
    const std::size_t gap = first.find_first_not_of("0123456789");
    const bool groups = gap != npos && first.find_first_of("0123456789", gap) != npos;
    if (!labelled && !groups) {
      static constexpr std::string_view card_words[] = {"card",  "kart", "carte", "carta",      "tarjeta",
                                                        "kaart", "visa", "amex",  "cart\u00e3o"};
      std::string_view heading = line_begin > 0 && t[line_begin - 1] == '\n' ? line_before(line_begin) : "";
      heading.remove_prefix(heading.size() > 64 ? heading.size() - 64 : 0);
      bool card = false;
      for (std::size_t k = 0; k < heading.size() && !card; ++k) {
        for (std::string_view w : card_words) {
          card = card || cue_end(heading, k, w) != npos;
        }
      }
      if (!card) {
        return true;
      }
    }
  }
  if (digits.size() > 16 && end - begin == digits.size()) {
    std::size_t k = begin;
    const auto skip = [&](auto&& what, std::size_t most) {
      for (std::size_t n = 0; n < most && k > 0 && what(t[k - 1]); ++n) {
        --k;
      }
    };
    const auto quote = [](char c) { return c == '"' || c == '\''; };
    const auto blank = [](char c) { return c == ' '; };
    skip(quote, 1);
    skip(blank, 2);
    if (k == 0 || (t[k - 1] != '=' && t[k - 1] != ':')) {
      return false;
    }
    --k;
    skip(blank, 2);
    skip(quote, 1);
    const std::size_t key_end = k;
    skip([](char c) { return is_alnum(c) || c == '_' || c == '-' || c == '.'; }, 48);
    const std::string_view key = t.substr(k, key_end - k);
    const std::size_t n = key.size();
    if (n < 2 || to_lower(key[n - 2]) != 'i' || to_lower(key[n - 1]) != 'd') {
      return false;
    }
    const bool own_word = n == 2 || key[n - 3] == '_' || key[n - 3] == '-' || key[n - 3] == '.' ||
                          (key[n - 2] == 'I' && is_lower(key[n - 3]));
    bool card = false;
    for (std::size_t j = 0; j + 4 <= n && !card; ++j) {
      card = cue_end(key, j, "card") != npos;
    }
    return own_word && !card;
  }
  return false;
}

// Digits, grouped or not, glued to a word or not ("x4111 1111 1111 1111", "4111111111111111exp":
// where digits meet letters a reader sees the number start and end, but not inside a hex word),
// with a network's prefix and a valid Luhn digit, and not figures written as no card is
// (figures_not_card).
template <typename Hit>
bool scan_payment_card(std::string_view t, Hit&& hit) {
  std::string digits;
  hex_word word;
  const auto card = [&](std::size_t end) {
    return digits.size() <= 19 && ends_identifier(t, end) && card_network_prefix(digits) && luhn(digits);
  };
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!is_digit(t[i]) || !(starts_word(t, i) || (is_alpha(t[i - 1]) && !in_hex_word(t, i, word)))) {
      continue;
    }
    // Where the scan goes on when no card starts here: past the digits single spaces or dashes
    // split, so that a number ending a line ("Order #12345\n4111 …") hides none on the next.
    std::size_t next = 0;
    digits = digit_run(t, i, " -", 19, next);
    std::size_t end = next;
    if (!card(end) || !card_grouping(t, i, end)) {
      if (runs_on(t, next)) {
        digits = card_run(t, i, end);
      }
      if (!card(end) || !card_grouping(t, i, end)) {
        const std::size_t grouped = grouped_card_at(t, i, digits);
        if (grouped == npos || !card(grouped)) {
          i = next;
          continue;
        }
        end = grouped;
      }
    }
    if (figures_not_card(t, i, end, digits)) {
      i = next;
      continue;
    }
    if (other_identifier_before(t, i, digits.size())) {
      i = end;
      continue;
    }
    if (hit(i, end)) {
      return true;
    }
    i = end;
  }
  return false;
}

// France: 1 or 2, YY MM, département (2 digits, 2A or 2B), commune 3, order 3, key 2 = 97 - n mod 97.
// Each *_at returns the end of the identifier starting at i, or npos.
std::size_t nir_at(std::string_view t, std::size_t i) {
  if (t[i] != '1' && t[i] != '2') {
    return npos;
  }
  std::string chars;
  std::size_t k = i;
  char slashed = 0;  // '/' or '_' between the groups: then only that one
  bool plain = false;
  bool wrapped = false;
  while (k < t.size() && chars.size() < 15) {
    std::size_t wrap = 0;
    if (is_digit(t[k]) || ((t[k] == 'A' || t[k] == 'B') && chars.size() == 6 && chars.back() == '2')) {
      chars.push_back(t[k++]);
    } else if ((t[k] == ' ' || t[k] == '-' || t[k] == '.' || t[k] == '/' || t[k] == '_') &&
               k + 1 < t.size() && is_alnum(t[k + 1]) && !chars.empty()) {
      if (t[k] == '/' || t[k] == '_') {
        if (slashed != 0 && slashed != t[k]) {
          return npos;
        }
        slashed = t[k];
      } else {
        plain = true;
      }
      ++k;
    } else if (!wrapped && !chars.empty() && (wrap = line_break_at(t, k)) != 0 && k + wrap < t.size() &&
               is_alnum(t[k + wrap])) {
      wrapped = true;  // once: "1 85 05 78\n006 084 91"
      k += wrap;
    } else {
      break;
    }
  }
  if (chars.size() != 15 || !ends_identifier(t, k) || (plain && slashed != 0)) {
    return npos;
  }
  const int month = (chars[3] - '0') * 10 + (chars[4] - '0');
  if (month < 1 || (month > 12 && month < 20)) {  // 20-99: special registrations
    return npos;
  }
  std::uint64_t n = 0;
  for (std::size_t j = 0; j < 13; ++j) {
    n = n * 10 + static_cast<std::uint64_t>(is_digit(chars[j]) ? chars[j] - '0' : 0);
  }
  if (chars[6] == 'A') {
    n -= 1000000;  // Corsica: 2A counts as 19, 2B as 18
  } else if (chars[6] == 'B') {
    n -= 2000000;
  }
  const int key = (chars[13] - '0') * 10 + (chars[14] - '0');
  return key == static_cast<int>(97 - n % 97) ? k : npos;
}

// Italy: codice fiscale, 16 characters (surname 3, name 3, year 2, month 1, day 2, town 4, check
// 1), whole or in groups at its fields ("RSS MRA 85T10 A562S", "RSSMRA 85T10 A562S"); the check
// letter from the odd/even position tables. Letters that replace digits (omocodia) are read in
// the whole form only.
std::size_t codice_fiscale_at(std::string_view t, std::size_t i) {
  const auto separator = [&](std::size_t at) -> std::size_t {
    if (at >= t.size() || !(t[at] == ' ' || t[at] == '-' || t[at] == '.' || t[at] == '\t' || t[at] == '\n' ||
                            t[at] == '\r' || t[at] == '\\')) {
      return 0;
    }
    if (const std::size_t wrap = line_break_at(t, at); wrap != 0) {
      return wrap;  // "RSSMRA\n85T10A562S": once
    }
    return t[at] == ' ' || t[at] == '-' || t[at] == '.' ? 1 : 0;
  };
  const auto digit = [&](std::size_t at) { return at < t.size() && is_digit(t[at]); };
  const bool whole = i + 16 <= t.size() && ends_word(t, i + 16);
  // Grouped, the year's first digit follows the first separator: "RSS MRA 85…", "RSSMRA 85…",
  // "RSSMRA85T10 A562S".
  if (!whole && !((digit(i + 8) && separator(i + 3) && separator(i + 7)) ||
                  (digit(i + 7) && separator(i + 6)) || (digit(i + 6) && separator(i + 11)) ||
                  separator(i + 3) > 1 || separator(i + 6) > 1 || separator(i + 11) > 1)) {
    return npos;  // most words fail here
  }
  static constexpr std::string_view omocodia = "LMNPQRSTUV";  // letters that may replace digits
  static constexpr std::string_view months = "ABCDEHLMPRST";
  static constexpr std::array<int, 26> odd_letters = {1,  0,  5, 7, 9, 13, 15, 17, 19, 21, 2,  4,  18,
                                                      20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23};
  static constexpr std::array<int, 10> odd_digits = {1, 0, 5, 7, 9, 13, 15, 17, 19, 21};
  std::array<char, 16> s{};
  std::size_t n = 0;
  std::size_t k = i;
  bool grouped = false;
  bool wrapped = false;
  while (n < 16 && k < t.size()) {
    if (const std::size_t sep = n == 3 || n == 6 || n == 11 ? separator(k) : 0;
        sep != 0 && k + sep < t.size() && is_alnum(t[k + sep])) {
      const bool wrap = sep > 1 || t[k] == '\n';
      if (wrap && wrapped) {
        return npos;
      }
      wrapped = wrapped || wrap;
      grouped = true;
      k += sep;
    }
    const char c = to_upper(t[k]);
    const bool letter_slot = n < 6 || n == 8 || n == 11 || n == 15;
    const bool fits = letter_slot ? is_upper(c) : is_digit(c) || (!grouped && omocodia.find(c) != npos);
    if (!fits) {
      return npos;
    }
    s[n++] = c;
    ++k;
  }
  if (n != 16 || !ends_word(t, k) || months.find(s[8]) == npos) {
    return npos;
  }
  int sum = 0;
  for (std::size_t j = 0; j < 15; ++j) {
    const char c = s[j];
    if (j % 2 == 0) {  // odd position, 1-based
      sum += is_digit(c) ? odd_digits[static_cast<std::size_t>(c - '0')]
                         : odd_letters[static_cast<std::size_t>(c - 'A')];
    } else {
      sum += is_digit(c) ? c - '0' : c - 'A';
    }
  }
  return s[15] == static_cast<char>('A' + sum % 26) ? k : npos;
}

template <typename Hit>
bool scan_labelled_ids(std::string_view t, Hit&& hit);

template <typename Hit>
bool scan_national_id(std::string_view t, Hit&& hit) {
  if (scan_labelled_ids(t, hit)) {
    return true;
  }
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (!starts_word(t, i) || !is_alnum(t[i])) {
      continue;
    }
    // Each starts its own way: a NIR with 1 or 2, a DNI with a digit, a NIE with X, Y or Z, a
    // codice fiscale with a letter and a digit in its 7th to 9th place or a line break in it (most
    // words fail here), Finland's and Belgium's with a digit. A DNI's shape after a product's or an
    // order's number label is that number ("Part number 12345678Z"; one in 23 passes).
    const char c = to_upper(t[i]);
    std::size_t end = c == '1' || c == '2' ? nir_at(t, i) : npos;
    if (end == npos && (is_digit(c) || c == 'X' || c == 'Y' || c == 'Z')) {
      end = dni_at(t, i, false);
      end = end != npos && thing_label_before(t, i) ? npos : end;
    }
    if (end == npos && is_digit(c) && i + 10 < t.size() &&
        (t[i + 2] == '.' || (is_digit(t[i + 5]) && !is_digit(t[i + 6])))) {
      end = distinctive_national_id_at(t, i);
    }
    const auto blank = [&](std::size_t at) {
      return t[at] == ' ' || t[at] == '\t' || t[at] == '\n' || t[at] == '\r' || t[at] == '\\';
    };
    if (end == npos && is_upper(c) && i + 8 < t.size() &&
        (is_digit(t[i + 6]) || is_digit(t[i + 7]) || is_digit(t[i + 8]) ||
         std::string_view("LMNPQRSTUV").find(to_upper(t[i + 6])) != npos ||
         (blank(i + 3) && line_break_at(t, i + 3) != 0) || (blank(i + 6) && line_break_at(t, i + 6) != 0))) {
      end = codice_fiscale_at(t, i);
    }
    if (end != npos) {
      if (hit(i, end)) {
        return true;
      }
      i = end - 1;
    }
  }
  return false;
}

bool ipv4_at(std::string_view t, std::size_t i, std::size_t& end) {
  std::size_t k = i;
  for (int part = 0; part < 4; ++part) {
    if (part > 0) {
      if (k >= t.size() || t[k] != '.') {
        return false;
      }
      ++k;
    }
    int value = 0;
    std::size_t len = 0;
    while (k < t.size() && is_digit(t[k]) && len < 4) {
      value = value * 10 + (t[k++] - '0');
      ++len;
    }
    if (len == 0 || len > 3 || value > 255) {
      return false;
    }
  }
  end = k;
  // Not part of a longer dotted number ("1.2.3.4.5", a version string).
  return ends_word(t, k) && !(k + 1 < t.size() && t[k] == '.' && is_digit(t[k + 1]));
}

template <typename Hit>
bool scan_ip_address(std::string_view t, Hit&& hit) {
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (is_digit(t[i]) && starts_word(t, i) && (i == 0 || t[i - 1] != '.')) {
      std::size_t end = 0;
      // Not a product's version as browsers write it ("Chrome/120.0.0.0" in a User-Agent): after
      // a name and '/', ending in .0.0.0, which no host address does.
      const bool version = i >= 2 && t[i - 1] == '/' && is_alnum(t[i - 2]) && ipv4_at(t, i, end) &&
                           std::string_view(t).substr(0, end).ends_with(".0.0.0");
      if (!version && ipv4_at(t, i, end)) {
        if (hit(i, end)) {
          return true;
        }
        i = end - 1;
        continue;
      }
    }
    // IPv6: a run of hex digits, colons (and dots, for an embedded IPv4) with at least two colons,
    // two non-empty groups and four hex digits ("fe80::1", not "std::map" or "a::b").
    if ((is_hex(t[i]) || t[i] == ':') && starts_word(t, i) && (i == 0 || t[i - 1] != ':')) {
      std::size_t k = i;
      int colons = 0;
      int groups = 0;
      int hex = 0;
      bool in_group = false;
      while (k < t.size() && (is_hex(t[k]) || t[k] == ':' || t[k] == '.') && k - i < 45) {
        if (t[k] == ':') {
          ++colons;
          in_group = false;
        } else if (!in_group) {
          in_group = true;
          ++groups;
        }
        hex += is_hex(t[k]) ? 1 : 0;
        ++k;
      }
      if (colons >= 2 && groups >= 2 && hex >= 4 && ends_word(t, k)) {
        std::string candidate(t.substr(i, k - i));
        while (!candidate.empty() && candidate.back() == '.') {
          candidate.pop_back();
        }
        in6_addr addr{};
        if (::inet_pton(AF_INET6, candidate.c_str(), &addr) == 1 && hit(i, i + candidate.size())) {
          return true;
        }
      }
      i = k > i ? k - 1 : i;
    }
  }
  return false;
}

// A numeric or written date: 12/03/1985, 12.3.1985, 1985-03-12, 12 March 1985, March 12, 1985.
std::size_t date_at(std::string_view t, std::size_t i) {
  std::size_t k = i;
  const auto number = [&](std::size_t min_len, std::size_t max_len) {
    std::size_t len = 0;
    while (k < t.size() && is_digit(t[k]) && len < max_len) {
      ++k;
      ++len;
    }
    return len >= min_len && (k >= t.size() || !is_digit(t[k]));
  };
  const auto sep = [&](std::string_view seps) {
    if (k < t.size() && seps.find(t[k]) != npos) {
      ++k;
      return true;
    }
    return false;
  };
  const auto word = [&] {
    std::size_t len = 0;
    while (k < t.size() && (is_alpha(t[k]) || static_cast<unsigned char>(t[k]) >= 0x80) && len < 12) {
      ++k;
      ++len;
    }
    if (k < t.size() && t[k] == '.') {
      ++k;  // "12 Jan. 1985"
    }
    return len >= 3;
  };
  if (!is_digit(t[i])) {
    if (!word() || !sep(" ") || !number(1, 2)) {
      return npos;
    }
    sep(",");
    sep(" ");
    return number(4, 4) ? k : npos;
  }
  if (number(4, 4)) {
    return sep("-/.") && number(1, 2) && sep("-/.") && number(1, 2) ? k : npos;
  }
  k = i;
  if (!number(1, 2)) {
    return npos;
  }
  const std::size_t after_day = k;
  if (sep("/.-") && number(1, 2) && sep("/.-") && number(4, 4)) {
    return k;
  }
  k = after_day;
  if (k + 1 < t.size() && t[k] == '.' && t[k + 1] == ' ') {
    ++k;  // the German ordinal's dot: "3. Mai 1985"
  }
  return sep(" ") && word() && sep(" ") && number(4, 4) ? k : npos;
}

// Whether the word at t[i] is a label of its own, a compound naming some other number
// ("Artikelnummer", "Kassenzeichen", "Kundennr", "ordernumber"): what follows it is that number.
bool other_label_at(std::string_view t, std::size_t i) {
  std::size_t e = i;
  while (e < t.size() && is_alpha(t[e])) {
    ++e;
  }
  const std::string_view word = t.substr(i, e - i);
  const auto ends_with = [&](std::string_view suffix) {
    if (word.size() <= suffix.size() + 1) {
      return false;  // the suffix alone ("Nummer", "Nr") is the cue's own noun
    }
    for (std::size_t j = 0; j < suffix.size(); ++j) {
      if (to_lower(word[word.size() - suffix.size() + j]) != suffix[j]) {
        return false;
      }
    }
    return true;
  };
  return ends_with("nummer") || ends_with("number") || ends_with("zeichen") || ends_with("nr");
}

// What a scanner of values after cues may add (scan_after_cue): whether the cue found at
// t[begin, end) counts there, and whether the word at t[k] after it ends its reach.
struct any_cue {
  bool operator()(std::string_view, std::size_t, std::size_t, std::string_view) const { return true; }
};
struct no_end {
  bool operator()(std::string_view, std::size_t) const { return false; }
};

// Where the next value of a list after a cue may start (scan_after_cue): past blanks and line
// breaks (a raw body's "\n" too), one ',', ';' or '&' (or a list's '-' or '*' on a new line) and
// one conjunction ("65929970489 und 86095742719", "44051401359, 44051401359", "E11.9, J45 and
// I10"), at most 16 characters; npos at anything else.
std::size_t next_in_list(std::string_view t, std::size_t end) {
  static constexpr std::string_view conjunctions[] = {"and", "und",  "et", "y", "e",   "i",  "oraz", "en",
                                                      "or",  "oder", "ou", "o", "lub", "of", "sowie"};
  const std::size_t limit = std::min(t.size(), end + 16);
  bool line = false;
  bool mark = false;
  bool conjunction = false;
  std::size_t k = end;
  while (k < limit) {
    const char c = t[k];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      line = line || c == '\n';
      ++k;
    } else if (c == '\\' && k + 1 < t.size() && (t[k + 1] == 'n' || t[k + 1] == 'r')) {
      line = true;
      k += 2;
    } else if (!mark && !conjunction &&
               (c == ',' || c == ';' || c == '&' || (line && (c == '-' || c == '*')))) {
      mark = true;
      ++k;
    } else if (is_alpha(c) && !conjunction) {
      const std::size_t e = latin_word_end(t, k, 8);
      if (e >= t.size() || t[e] != ' ' || !one_of(t, k, e, conjunctions, std::size(conjunctions))) {
        break;  // a value may start with a letter ("QQ123456C", "J45")
      }
      conjunction = true;
      k = e;
    } else {
      break;
    }
  }
  return k > end && k < limit && is_alnum(t[k]) && starts_word(t, k) ? k : npos;
}

// The end of the first of `cues` at t[i], its text in `found`, or npos. Cues are lower case and
// matched case-insensitively as prefixes ("diagnos" finds "diagnosed"), a space of a cue as up
// to eight spaces or tabs ("n\u00e9  le"); a cue in `whole_words` must also end a word ("dx", not
// "dxf").
template <std::size_t N>
std::size_t first_cue_at(std::string_view t, std::size_t i, const std::array<std::string_view, N>& cues,
                         std::initializer_list<std::string_view> whole_words, std::string_view& found) {
  for (std::string_view cue : cues) {
    if (cue[0] != to_lower(t[i]) || t.size() - i < cue.size()) {
      continue;
    }
    std::size_t j = 1;
    while (j < cue.size() && to_lower(t[i + j]) == cue[j]) {
      ++j;
    }
    std::size_t k = i + j;  // j: into cue, k: into t
    // Stopped at a blank where the cue has a space, or more blanks after one: read again, each
    // space of the cue as blanks.
    const bool again =
        j < cue.size() && (t[k] == ' ' || t[k] == '\t') && (cue[j] == ' ' || cue[j - 1] == ' ');
    if (again) {
      j = 1;
      k = i + 1;
    }
    while (again && j < cue.size() && k < t.size()) {
      if (cue[j] == ' ' && (t[k] == ' ' || t[k] == '\t')) {
        const std::size_t from = k;
        while (k < t.size() && k - from < 8 && (t[k] == ' ' || t[k] == '\t')) {
          ++k;
        }
        ++j;
      } else if (to_lower(t[k]) == cue[j]) {
        ++j;
        ++k;
      } else {
        break;
      }
    }
    if (j < cue.size()) {
      continue;
    }
    const bool whole = std::find(whole_words.begin(), whole_words.end(), cue) != whole_words.end();
    if (!whole || k >= t.size() || !is_alnum(t[k])) {
      found = cue;
      return k;
    }
  }
  return npos;
}

// A label's explanation in parentheses before its colon ("Steuer-ID (steht oben rechts auf dem
// Schreiben vom Finanzamt): 65929970489"): where the value may start after the colon, or npos. The
// parentheses close within 160 characters on the same line.
std::size_t after_explained_label(std::string_view t, std::size_t from) {
  std::size_t k = from;
  while (k < t.size() && t[k] == ' ') {
    ++k;
  }
  if (k >= t.size() || t[k] != '(') {
    return npos;
  }
  const std::size_t limit = std::min(t.size(), k + 160);
  while (k < limit && t[k] != ')' && t[k] != '\n') {
    ++k;
  }
  if (k >= limit || t[k] != ')') {
    return npos;
  }
  ++k;
  while (k < t.size() && t[k] == ' ') {
    ++k;
  }
  return k < t.size() && t[k] == ':' ? k + 1 : npos;
}

// A value (date_at, icd10_at: its end, or npos) that starts a word within 48 characters after a
// cue that starts a word (first_cue_at), or after the colon that ends the cue's explanation in
// parentheses (after_explained_label), with no other label between them (other_label_at) and no
// word that `ends` says ends the cue's reach, and the values listed after it (next_in_list);
// `counts` may refuse a cue where it stands.
// `cues` may also be a function finding one at a word's start: cues(t, i, found), its end or npos.
template <typename Cues, typename ValueAt, typename Hit, typename Counts = any_cue, typename Ends = no_end>
bool scan_after_cue(std::string_view t, const Cues& cues, std::initializer_list<std::string_view> whole_words,
                    ValueAt&& value_at, Hit&& hit, Counts&& counts = {}, Ends&& ends = {}) {
  constexpr bool finder = std::is_invocable_v<const Cues&, std::string_view, std::size_t, std::string_view&>;
  std::uint32_t first_letters = 0;  // bit c - 'a': some cue starts with c
  // second_letters[c - 'a'], bit d - 'a': some cue starts with c and d. A byte after c that is
  // no ASCII letter ("d.o.b", "s\u00fcnniaeg") is let through by may_start without a bit: a cue
  // with one does not open c to every letter.
  std::array<std::uint32_t, 26> second_letters{};
  if constexpr (!finder) {
    for (std::string_view cue : cues) {
      first_letters |= 1u << (cue[0] - 'a');
      second_letters[cue[0] - 'a'] |= cue.size() < 2 ? ~0u : is_lower(cue[1]) ? 1u << (cue[1] - 'a') : 0u;
    }
  }
  const auto may_start = [&](char c, std::size_t i) {
    const char d = i + 1 < t.size() ? to_lower(t[i + 1]) : ' ';
    return !is_lower(d) || (second_letters[c - 'a'] & (1u << (d - 'a'))) != 0;
  };
  std::string_view cue;  // the one first_cue_at found
  const auto value_of = [&](std::size_t k) {
    if constexpr (std::is_invocable_v<ValueAt, std::string_view, std::size_t, std::string_view>) {
      return value_at(t, k, cue);  // a value of the kind the cue names
    } else {
      return value_at(t, k);
    }
  };
  // The values within 48 characters from t[from]: true when hit stops the scan, the end of the
  // last one in `last` (npos: none).
  const auto read_from = [&](std::size_t from, std::size_t& last) {
    const std::size_t to = std::min(t.size(), from + 48);
    for (std::size_t k = from; k < to; ++k) {
      if (!is_alnum(t[k]) || !starts_word(t, k)) {
        continue;
      }
      if ((is_alpha(t[k]) && other_label_at(t, k)) || ends(t, k)) {
        return false;
      }
      last = value_of(k);
      if (last == npos) {
        continue;
      }
      if (hit(k, last)) {
        return true;
      }
      for (std::size_t next = next_in_list(t, last); next != npos && !ends(t, next);
           next = next_in_list(t, last)) {
        const std::size_t next_end = value_of(next);
        if (next_end == npos) {
          break;
        }
        if (hit(next, next_end)) {
          return true;
        }
        last = next_end;
      }
      return false;
    }
    return false;
  };
  for (std::size_t i = 0; i < t.size(); ++i) {
    std::size_t from = npos;
    if constexpr (finder) {
      if (!(is_alpha(t[i]) || static_cast<unsigned char>(t[i]) >= 0xC0) || !starts_word(t, i)) {
        continue;  // a cue starts with a letter (or a UTF-8 lead byte)
      }
      from = cues(t, i, cue);
    } else {
      const char c = to_lower(t[i]);
      if (!is_lower(c) || (first_letters & (1u << (c - 'a'))) == 0 || !may_start(c, i) || !starts_word(t, i)) {
        continue;
      }
      from = first_cue_at(t, i, cues, whole_words, cue);
    }
    if (from == npos || !counts(t, i, from, cue)) {
      continue;
    }
    std::size_t last = npos;
    if (read_from(from, last)) {
      return true;
    }
    if (const std::size_t after = last == npos ? after_explained_label(t, from) : npos;
        after != npos && read_from(after, last)) {
      return true;
    }
    if (last != npos) {
      i = last - 1;
    }
  }
  return false;
}

// National ids whose shape alone says too little (any nine or eleven digits pass a check one time
// in ten or eleven), found after the label people write them with (national_id_label_at): Poland's
// PESEL, the Netherlands' BSN, Germany's Steuer-ID, the UK's National Insurance number, and the
// other member states' (detect_national_ids.cpp), each the id its label names.
template <typename Hit>
bool scan_labelled_ids(std::string_view t, Hit&& hit) {
  if (scan_after_cue(t, national_id_label_at, {}, labelled_national_id_at, hit)) {
    return true;
  }
  // A table's header cell that is a label (no digits, a label at one of its words) binds its column.
  const auto label_of = [&](std::size_t b, std::size_t e) {
    std::string_view label;
    if (e - b > 48 || std::any_of(t.begin() + static_cast<std::ptrdiff_t>(b),
                                  t.begin() + static_cast<std::ptrdiff_t>(e), is_digit)) {
      return label;
    }
    for (std::size_t p = b; p < e; ++p) {
      if (starts_word(t, p) && national_id_label_at(t, p, label) <= e) {
        return label;
      }
    }
    return std::string_view();
  };
  return scan_table_columns(t, label_of, labelled_national_id_at, hit);
}

// Whether the word at t[b] (its end in `e`) is one of `words`.
template <std::size_t N>
bool word_in(std::string_view t, std::size_t b, std::size_t& e, const std::string_view (&words)[N]) {
  e = latin_word_end(t, b);
  return e > b && one_of(t, b, e, words, N);
}

// The start of the word after t[e], past spaces (up to three), or npos.
std::size_t next_word(std::string_view t, std::size_t e) {
  std::size_t b = e;
  while (b < t.size() && b - e < 3 && t[b] == ' ') {
    ++b;
  }
  return b > e && b < t.size() && latin_letter_at(t, b).len != 0 ? b : npos;
}

// Things, not people, that are "born" or have a "date of birth" ("the project was born", "data
// di nascita del progetto", "fecha de nacimiento de la empresa").
constexpr std::string_view born_things[] = {"project",
                                            "progetto",
                                            "proyecto",
                                            "projeto",
                                            "projet",
                                            "projekt",
                                            "company",
                                            "empresa",
                                            "azienda",
                                            "societ\u00e0",
                                            "societa",
                                            "entreprise",
                                            "soci\u00e9t\u00e9",
                                            "societe",
                                            "firma",
                                            "firm",
                                            "unternehmens",
                                            "unternehmen",
                                            "marca",
                                            "brand",
                                            "product",
                                            "prodotto",
                                            "producto",
                                            "produto",
                                            "produit",
                                            "app",
                                            "software",
                                            "platform",
                                            "piattaforma",
                                            "plataforma",
                                            "plateforme",
                                            "startup",
                                            "band",
                                            "gruppo",
                                            "grupo",
                                            "groupe",
                                            "city",
                                            "citt\u00e0",
                                            "ciudad",
                                            "cidade",
                                            "ville",
                                            "idea",
                                            "idee",
                                            "id\u00e9e",
                                            "movement",
                                            "movimento",
                                            "movimiento",
                                            "partito",
                                            "partido",
                                            "website",
                                            "site",
                                            "sito",
                                            "sitio",
                                            "language",
                                            "framework",
                                            "library",
                                            "tool",
                                            "business",
                                            "initiative",
                                            "concept",
                                            "standard",
                                            "protocol",
                                            "system",
                                            "game",
                                            "series",
                                            "show",
                                            "magazine",
                                            "newspaper",
                                            "club",
                                            "republic",
                                            "repubblica",
                                            "rep\u00fablica"};

// Whether a date of birth cue at t[begin, end) is about a person. Not the birthday of an event or
// a feature ("birthday party on 15.03.2024", "birthday discount", "Geburtstagsfeier"), not a
// thing born ("Rust 1.0 was born on", "the company was born", "nascita del progetto").
bool birth_cue_counts(std::string_view t, std::size_t begin, std::size_t end, std::string_view cue) {
  static constexpr std::string_view events[] = {
      "party",   "parties", "discount", "feature",      "cake",       "card",        "cards",
      "present", "gift",    "gifts",    "reminder",     "reminders",  "celebration", "event",
      "voucher", "coupon",  "offer",    "promo",        "promotion",  "sale",        "campaign",
      "email",   "mail",    "message",  "greeting",     "greetings",  "wishes",      "song",
      "lunch",   "dinner",  "bash",     "calendar",     "week",       "month",       "bonus",
      "reward",  "deal",    "banner",   "notification", "newsletter", "club",        "paradox",
      "problem", "surprise"};
  static constexpr std::string_view german_events[] = {
      "feier", "party",    "fest",      "rabatt",          "kuchen",
      "karte", "geschenk", "gutschein", "aktion",          "kalender",
      "essen", "lied",     "gru\u00df", "gr\u00fc\u00dfe", "\u00fcberraschung"};
  static constexpr std::string_view of[] = {"del", "della",   "dello",   "de",    "da",    "do",
                                            "des", "du",      "of",      "di",    "der",   "von",
                                            "vom", "unseres", "unserer", "eures", "ihres", "ihrer"};
  static constexpr std::string_view articles[] = {"la", "el", "il", "lo", "the", "a", "o", "le", "l"};
  static constexpr std::string_view auxiliaries[] = {"was",  "were", "is",    "are",
                                                     "been", "be",   "being", "got"};
  std::size_t e = 0;
  if (cue == "geburtstag") {
    const std::size_t word_end = latin_word_end(t, begin);
    const std::size_t rest = end < word_end && t[end] == 's' ? end + 1 : end;
    if (rest != word_end) {
      return !one_of(t, rest, word_end, german_events, std::size(german_events));
    }  // else "Geburtstag des Unternehmens", below
  }
  if (cue == "birth") {
    const std::size_t word_end = latin_word_end(t, begin);
    const std::size_t b = cue_end(t, begin, "birthday") == npos ? npos : next_word(t, word_end);
    if (b != npos && word_in(t, b, e, events)) {
      return false;
    }
  }
  if (cue == "born") {
    // The subject before "born", past an auxiliary: a version number or a thing's noun.
    std::size_t k = begin;
    for (int words = 0; words < 2; ++words) {
      while (k > 0 && t[k - 1] == ' ') {
        --k;
      }
      const std::size_t word_end = k;
      bool digit = false;
      while (k > 0 && (is_alnum(t[k - 1]) || t[k - 1] == '.')) {
        --k;
        digit = digit || is_digit(t[k]);
      }
      if (k == word_end) {
        return true;
      }
      if (digit || one_of(t, k, word_end, born_things, std::size(born_things))) {
        return false;
      }
      if (!one_of(t, k, word_end, auxiliaries, std::size(auxiliaries))) {
        return true;
      }
    }
    return true;
  }
  // "nascita del progetto", "nacimiento de la empresa", "date of birth of the company",
  // "Geburtstag des Unternehmens".
  std::size_t b = next_word(t, latin_word_end(t, begin));
  if (b == npos || !word_in(t, b, e, of)) {
    return true;
  }
  b = next_word(t, e);
  if (b != npos && (word_in(t, b, e, articles))) {
    b = e < t.size() && t[e] == '\'' ? e + 1 : next_word(t, e);
  }
  return b == npos || !word_in(t, b, e, born_things);
}

// Whether the word at t[k], after a date of birth cue, ends its reach: a clause after a ';', a
// verb or a word that dates something else ("geb. 1998, renoviert 12.03.2015", "born at Google;
// the first commit is dated 2014-06-06"), an example or a format ("dob (format date, example
// 2000-01-01)"), or a year on its own: the year of birth, or a building's ("geb. 1998").
bool birth_reach_ends(std::string_view t, std::size_t k) {
  static constexpr std::string_view others[] = {
      "dated",    "datiert", "renoviert",      "renovated", "renovado",    "built",
      "gebaut",   "erbaut",  "died",           "gestorben", "deceased",    "updated",
      "released", "founded", "gegr\u00fcndet", "married",   "verheiratet", "example",
      "beispiel", "ejemplo", "esempio",        "exemple",   "format",      "formato"};
  std::size_t p = k;
  while (p > 0 && t[p - 1] == ' ') {
    --p;
  }
  if (p > 0 && t[p - 1] == ';') {
    return true;
  }
  if (is_digit(t[k])) {
    std::size_t e = k;
    while (e < t.size() && is_digit(t[e])) {
      ++e;
    }
    return e - k == 4 && date_at(t, k) == npos;
  }
  std::size_t e = 0;
  return word_in(t, k, e, others);
}

// A date (date_at) in 1900 or later: an earlier one is no living person's date of birth ("Marie
// Curie: born 7 November 1867").
std::size_t birth_date_at(std::string_view t, std::size_t k) {
  const std::size_t end = date_at(t, k);
  if (end == npos) {
    return npos;
  }
  for (std::size_t p = k; p + 4 <= end; ++p) {
    if (is_digit(t[p]) && (p == k || !is_digit(t[p - 1])) && is_digit(t[p + 1]) && is_digit(t[p + 2]) &&
        is_digit(t[p + 3])) {
      return t.substr(p, 4) >= "1900" ? end : npos;
    }
  }
  return end;
}

// The date before "geboren" in its clause, as German and Dutch write it ("wurde am 03.05.1985
// geboren", "is op 3 mei 1985 in Utrecht geboren"): the last that starts within 48 characters
// before the word and ends before it, with no clause's end between (a ';', a line break, or a
// '.', '!' or '?' after a word). Its start in `begin` and its end, or npos.
std::size_t date_before_geboren(std::string_view t, std::size_t cue, std::size_t& begin) {
  std::size_t clause = cue;
  while (clause > 0 && cue - clause < 48) {
    const char c = t[clause - 1];
    if (c == ';' || c == '\n' || c == '!' || c == '?' ||
        (c == '.' && clause < t.size() && t[clause] == ' ' && clause >= 2 && !is_digit(t[clause - 2]))) {
      break;
    }
    --clause;
  }
  std::size_t end = npos;
  for (std::size_t k = clause; k < cue; ++k) {
    if (is_alnum(t[k]) && starts_word(t, k)) {
      if (const std::size_t e = birth_date_at(t, k); e != npos && e <= cue) {
        begin = k;
        end = e;
        k = e - 1;
      }
    }
  }
  return end;
}

// Dates before "geboren" (date_before_geboren), in text order: at most Max, in `out`; their count.
template <std::size_t Max>
std::size_t dates_before_geboren(std::string_view t,
                                 std::array<std::pair<std::size_t, std::size_t>, Max>& out) {
  std::size_t n = 0;
  // Looked for at its "bor", rarer than a 'g' (and "GEBOREN" in capitals is not looked for).
  for (std::size_t b = t.find("bor"); b != npos && n < Max; b = t.find("bor", b + 1)) {
    const std::size_t i = b - 2;
    const std::size_t e = b >= 2 ? cue_end(t, i, "geboren") : npos;
    if (e == npos || !starts_word(t, i) || !ends_word(t, e)) {
      continue;
    }
    std::size_t begin = 0;
    if (const std::size_t end = date_before_geboren(t, i, begin); end != npos) {
      if (n == 0 || out[n - 1].first != begin) {
        out[n++] = {begin, end};
      }
    }
  }
  return n;
}

template <typename Hit>
bool scan_date_of_birth(std::string_view t, Hit&& hit) {
  // "birth" also covers "date of birth" and "birthday"; "geb." "Geb.-Datum"; "urodz" the Polish
  // "data urodzenia", "urodzony", "urodzona", and "ur." its abbreviation ("ur. 12.05.1985 w
  // Krakowie"); "född" and "födelsedatum" the Swedish.
  static constexpr std::array<std::string_view, 69> cues = {
      "born", "birth", "dob", "d.o.b", "n\xc3\xa9 le", "n\xc3\xa9\x65 le", "n\\u00e9 le", "n\\u00e9e le",
      "naissance", "geboren", "geburtsdatum", "geburtstag", "nacido", "nacida", "nacimiento", "nato il",
      "nata il", "nato a", "nata a", "nascita", "geb.", "geboortedatum", "urodz", "ur.", "nascimento",
      "nascido", "nascida", "f\u00f6dd", "f\u00f6delsedatum",
      // and the other EU languages' words
      "fecha nac", "f. nac", "f\u00f8dselsdato", "f\u00f8dt", "syntym\u00e4aika", "datum narozen\u00ed",
      "narozen", "data na\u0219terii", "data nasterii", "datum ro\u0111enja", "datum rodjenja",
      "sz\u00fcletett", "sz\u00fcl.",
      // Slovak, Lithuanian, Latvian, Estonian, Slovenian, Finnish, Croatian, Hungarian, Romanian,
      // Irish, Maltese ("naroden" the Slovak "dátum narodenia", "narodený", "narodená")
      "naroden", "nar.", "gimimo data", "gim\u0119s", "gimusi", "dzim\u0161anas", "dzimsanas", "dzimis",
      "dzimusi", "s\u00fcnniaeg", "sunniaeg", "s\u00fcndinud", "datum rojstva", "rojen", "syntynyt",
      "ro\u0111en", "rodjen", "sz\u00fclet\u00e9si", "szuletesi", "n\u0103scut", "nascut",
      "data na\u015fterii", "d\u00e1ta breithe", "data breithe", "data tat-twelid", "imwieled", "imwielda"};
  // The dates before "geboren" are merged into the findings after cues, in text order and once.
  std::array<std::pair<std::size_t, std::size_t>, 16> before{};
  const std::size_t count = dates_before_geboren(t, before);
  std::size_t next = 0;
  const auto merged = [&](std::size_t begin, std::size_t end) {
    for (; next < count && before[next].first <= begin; ++next) {
      if (before[next].first != begin && hit(before[next].first, before[next].second)) {
        return true;
      }
    }
    return hit(begin, end);
  };
  if (scan_after_cue(t, cues, {}, birth_date_at, merged, birth_cue_counts, birth_reach_ends)) {
    return true;
  }
  for (; next < count; ++next) {
    if (hit(before[next].first, before[next].second)) {
      return true;
    }
  }
  return false;
}

// An ICD-10 code: a letter, two digits, optionally a dot and one to four letters or digits
// (E11.9, J45, U07.1, S72.001A); a whole word.
std::size_t icd10_at(std::string_view t, std::size_t i) {
  if (!is_alpha(t[i]) || t.size() - i < 3 || !is_digit(t[i + 1]) || !is_digit(t[i + 2])) {
    return npos;
  }
  std::size_t k = i + 3;
  if (k + 1 < t.size() && t[k] == '.' && is_alnum(t[k + 1])) {
    std::size_t len = 0;
    ++k;
    while (k < t.size() && is_alnum(t[k]) && len < 4) {
      ++k;
      ++len;
    }
  }
  return k < t.size() && is_alnum(t[k]) ? npos : k;
}

// Whether the word at t[k] names a device's fault or a device: what follows a diagnosis cue is
// then an appliance's or a machine's error code ("Diagnose Geschirrspüler: Fehlercode E15",
// "Diagnostic lave-linge : code erreur E21", "Dx of the outage: … R12"), not a disease's.
bool device_fault_at(std::string_view t, std::size_t k) {
  // As prefixes: errors in each language and German compounds ("Fehlercode", "Störungsmeldung",
  // "errore", "błędu", "Geschirrspüler").
  static constexpr std::string_view prefixes[] = {"fehler",         "st\u00f6rung",  "stoerung",
                                                  "error",          "erreur",        "erro",
                                                  "fout",           "storing",       "b\u0142\u0105d",
                                                  "b\u0142\u0119d", "geschirrsp",    "sp\u00fclmaschin",
                                                  "waschmaschin",   "trockner",      "k\u00fchlschrank",
                                                  "heizung",        "dishwasher",    "washing",
                                                  "lave",           "s\u00e8che",    "chaudi\u00e8re",
                                                  "lavatric",       "lavastoviglie", "lavadora",
                                                  "lavavajillas",   "wasmachine",    "vaatwasser",
                                                  "pralk",          "zmywark",       "drucker"};
  // As whole words.
  static constexpr std::string_view words[] = {
      "therme",    "boiler",     "washer",   "dryer",      "fridge",    "oven",      "caldaia",  "caldera",
      "droger",    "ketel",      "printer",  "imprimante", "stampante", "impresora", "engine",   "motor",
      "appliance", "ger\u00e4t", "appareil", "machine",    "maschine",  "outage",    "incident", "revision"};
  for (std::string_view prefix : prefixes) {
    if (cue_end(t, k, prefix) != npos) {
      return true;
    }
  }
  std::size_t e = 0;
  return word_in(t, k, e, words);
}

// Whether the code-shaped word at t[k] (its end `end`) names a place or a part rather than a
// disease: after a word for a cell, a rack, a room, a frame, a section, ... ("cell B12", "rack
// B12", "room B12", "frame F01", "section A12.3", "bay A12", "grid G10", "Zelle B12") or a
// preposition of place ("the formula in D10", "at B12"), or before an operator or a range's
// colon ("C10 * 2", "B12:C14").
bool place_or_cell(std::string_view t, std::size_t k, std::size_t end) {
  static constexpr std::string_view places[] = {
      "cell",         "cells",     "range",    "column",  "col",      "row",     "sheet",
      "tab",          "node",      "rack",     "switch",  "room",     "frame",   "section",
      "bay",          "grid",      "slot",     "port",    "pin",      "gate",    "seat",
      "table",        "field",     "register", "line",    "level",    "floor",   "block",
      "zone",         "unit",      "shelf",    "aisle",   "figure",   "fig",     "page",
      "chapter",      "paragraph", "clause",   "annex",   "appendix", "step",    "item",
      "part",         "server",    "host",     "pod",     "board",    "chip",    "socket",
      "channel",      "lane",      "platform", "dock",    "hall",     "desk",    "box",
      "bin",          "cabinet",   "building", "wing",    "sector",   "area",    "stand",
      "booth",        "key",       "button",   "bus",     "route",    "flight",  "model",
      "version",      "zelle",     "spalte",   "zeile",   "raum",     "knoten",  "schrank",
      "feld",         "abschnitt", "kapitel",  "tabelle", "blatt",    "platz",   "halle",
      "gleis",        "cellule",   "salle",    "baie",    "case",     "colonne", "ligne",
      "onglet",       "feuille",   "celda",    "sala",    "columna",  "fila",    "hoja",
      "secci\u00f3n", "cella",     "colonna",  "riga",    "foglio",   "sezione", "stanza",
      "kom\u00f3rka", "sekcja",    "sektor",   "kolumna", "wiersz",   "arkusz",  "pok\u00f3j",
      "cel",          "kamer",     "kolom",    "rij",     "blad",     "sectie",  "in",
      "at",           "on",        "dans"};
  std::size_t e = k;
  while (e > 0 && k - e < 3 && (t[e - 1] == ' ' || t[e - 1] == '#')) {
    --e;
  }
  std::size_t b = e;
  while (b > 0 && e - b < 16 && (is_alpha(t[b - 1]) || static_cast<unsigned char>(t[b - 1]) >= 0x80)) {
    --b;
  }
  if (b < e && e < k && one_of(t, b, e, places, std::size(places))) {
    return true;
  }
  std::size_t a = end;
  while (a < t.size() && a - end < 2 && t[a] == ' ') {
    ++a;
  }
  return a < t.size() && (t[a] == '=' || t[a] == '*' || t[a] == '+' || t[a] == '<' || t[a] == '>' ||
                          (t[a] == ':' && a == end && a + 1 < t.size() && is_alpha(t[a + 1])));
}

// An ICD-10 code (icd10_at) that no error's word follows ("E15 Fehler", "F05 error"), and not a
// place's or a cell's (place_or_cell).
std::size_t diagnosis_code_at(std::string_view t, std::size_t k) {
  const std::size_t end = icd10_at(t, k);
  const std::size_t next = end == npos ? npos : next_word(t, end);
  return (next != npos && device_fault_at(t, next)) || (end != npos && place_or_cell(t, k, end)) ? npos : end;
}

// Whether a health cue counts where it stands. The words IT shares with medicine count only
// where they name a diagnosis' code: "ICD" (also an interface control document, an inland
// container depot) before its revision, a colon, a word for "code" or the code ("ICD-10", "ICD10:",
// "ICD code", "ICD: E11.9"; not "the ICD for the telemetry link", "ICD Tughlakabad");
// "diagnostic" (an adjective of IT things: "diagnostic formula") before a colon, a word for
// "code", a verb or the French noun's qualifiers ("diagnostic code: E11.9", "Le diagnostic
// principal est E11.9"), "diagnostics" (a program's: "the diagnostics job", "Run diagnostics: A01
// failed") only before a word for "code"; "dx" (a variable: "Dx = C10 * 2", "for each dx in") before a
// mark, "of", "is" or "was" or the code; the abbreviations "Diag.", "Diagn." and "Dg." with their
// mark.
struct health_cue_counts {
  bool operator()(std::string_view t, std::size_t begin, std::size_t end, std::string_view cue) const {
    static constexpr std::string_view code_words[] = {
        "code", "codes", "kode", "kod", "codice", "codigo", "c\u00f3digo", "diagnose", "diagnosis"};
    static constexpr std::string_view verbs[] = {"is",         "was",          "est",        "code",
                                                 "codes",      "principal",    "principale", "primaire",
                                                 "secondaire", "associ\u00e9", "final",      "retenu"};
    static constexpr std::string_view of[] = {"of", "is", "was"};
    std::size_t word_end = end;
    while (word_end < t.size() && is_alpha(t[word_end])) {
      ++word_end;
    }
    std::size_t k = word_end;
    while (k < t.size() && k - word_end < 2 && t[k] == ' ') {
      ++k;
    }
    std::size_t e = k;
    while (e < t.size() && e - k < 16 && (is_alpha(t[e]) || static_cast<unsigned char>(t[e]) >= 0x80)) {
      ++e;
    }
    const bool colon = k < t.size() && t[k] == ':';
    const bool code = k < t.size() && icd10_at(t, k) != npos;
    const auto next_is = [&](const auto& words) {
      return e > k && one_of(t, k, e, std::data(words), std::size(words));
    };
    if (cue == "icd") {
      const bool revision = word_end < t.size() && (is_digit(t[word_end]) || t[word_end] == '-');
      return word_end == end && (revision || colon || code || next_is(code_words));
    }
    if (cue == "diagnos" && word_end - begin == 10 && cue_end(t, begin, "diagnostic") == word_end) {
      return colon || code || next_is(verbs);
    }
    if (cue == "diagnos" && word_end - begin == 11 && cue_end(t, begin, "diagnostics") == word_end) {
      return next_is(code_words);
    }
    if (cue == "dx") {
      std::size_t m = end < t.size() && t[end] == '.' ? end + 1 : end;
      while (m < t.size() && m - end < 3 && t[m] == ' ') {
        ++m;
      }
      return m < t.size() && (t[m] == ':' || t[m] == '-' || icd10_at(t, m) != npos || next_is(of));
    }
    if (cue == "diag" || cue == "diagn" || cue == "dg") {
      return end < t.size() && (t[end] == '.' || t[end] == ':');
    }
    return true;
  }
};

// The classification's name and its revision at t[i] ("ICD-10", "ICD 10", "ICD10", "I.C.D. 10",
// "MKB 10", "MKCH-10", "RHK-10", "МКБ-10"): a name of letters, or of three letters each followed
// by a dot; then up to two blanks, a '-' and up to two blanks more; then "10", no digit after it.
// Its end, or npos.
std::size_t classification_at(std::string_view t, std::size_t i) {
  // ICD and the names of its translations: French, Spanish, Portuguese, Polish, Czech and
  // Slovenian, Croatian, Hungarian, Slovak, Estonian, Latvian, Lithuanian; Bulgarian's in Cyrillic.
  static constexpr std::string_view names[] = {"icd", "cim",  "cie", "cid", "mkn", "mkb",
                                               "bno", "mkch", "rhk", "ssk", "tlk"};
  static constexpr std::string_view cyrillic = "\u043c\u043a\u0431";  // мкб
  std::size_t k = npos;
  if (is_alpha(t[i])) {
    const char c = to_lower(t[i]);
    if (c != 'i' && c != 'c' && c != 'm' && c != 'b' && c != 'r' && c != 's' && c != 't') {
      return npos;
    }
    std::array<char, 4> name{};
    std::size_t n = 0;
    k = i;
    const bool dotted = i + 1 < t.size() && t[i + 1] == '.';
    while (k < t.size() && n < name.size() && is_alpha(t[k])) {
      name[n++] = to_lower(t[k++]);
      if (dotted && (k >= t.size() || t[k] != '.') && n < 3) {
        return npos;
      }
      if (dotted && k < t.size() && t[k] == '.') {
        ++k;
      }
    }
    if (n < 3 || (k < t.size() && is_alpha(t[k])) ||
        !one_of(std::string_view(name.data(), n), 0, n, names, std::size(names))) {
      return npos;
    }
  } else {
    k = word_end_any_case(t, i, cyrillic);
    if (k == npos) {
      return npos;
    }
  }
  const auto blanks = [&] {
    const std::size_t from = k;
    while (k < t.size() && k - from < 2 && (t[k] == ' ' || t[k] == '\t')) {
      ++k;
    }
  };
  blanks();
  if (k < t.size() && t[k] == '-') {
    ++k;
    blanks();
  }
  const bool revision =
      t.size() - k >= 2 && t[k] == '1' && t[k + 1] == '0' && (k + 2 >= t.size() || !is_digit(t[k + 2]));
  return revision ? k + 2 : npos;
}

// Whether the compound word at t[begin] names a machine's or a program's diagnosis by its first
// part ("Fehlerdiagnose", "Motordiagnose", "Systemdiagnose", "Netzwerkdiagnose").
bool machine_compound(std::string_view t, std::size_t begin) {
  static constexpr std::string_view heads[] = {
      "system",   "motor",    "fahrzeug",   "kfz",     "auto",   "netz",   "network",  "netwerk",
      "software", "hardware", "ger\u00e4t", "maschin", "anlage", "server", "computer", "rechner"};
  if (device_fault_at(t, begin)) {
    return true;
  }
  return std::any_of(std::begin(heads), std::end(heads),
                     [&](std::string_view head) { return cue_end(t, begin, head) != npos; });
}

// The health cues (health_cues::at) that start with a Latin letter: "diagnos" covers diagnosis,
// diagnosed, diagnostic, Diagnose, diagnosi; "diagnoo" Finnish diagnoosi and Estonian diagnoos;
// "dijagnoz" Croatian and Serbian, "dijanjos" Maltese, "diagnóis" Irish.
constexpr std::array<std::string_view, 16> health_cue_words = {"icd",
                                                               "dx",
                                                               "diagnos",
                                                               "diagnoz",
                                                               "diagn\xc3\xb3z",
                                                               "diagn\xc3\xb3stic",
                                                               "diagn\\u00f3stic",
                                                               "diagnoo",
                                                               "diagn\xc3\xb3is",
                                                               "dijagnoz",
                                                               "dijanjos",
                                                               "rozpoznani",
                                                               "befund",
                                                               "diagn",
                                                               "diag",
                                                               "dg"};

// Whether a health cue word or a classification's name may start with c, d (lower case): bit
// d - 'a' of [c - 'a'] (each starts with two ASCII letters).
constexpr auto health_cue_pairs = [] {
  std::array<std::uint32_t, 26> pairs{};
  const auto add = [&](std::string_view cue) { pairs[cue[0] - 'a'] |= 1u << (cue[1] - 'a'); };
  for (std::string_view cue : health_cue_words) {
    add(cue);
  }
  for (std::string_view name : {"ic", "ci", "mk", "bn", "rh", "ss", "tl"}) {
    add(name);
  }
  return pairs;
}();

// The health cues at the words of a text, asked for in text order (scan_after_cue): at(t, i,
// found) is a cue's end at t[i], a word's start, or npos: the classification's name
// (classification_at), a word for a diagnosis or its abbreviation in Latin letters, Greek or
// Cyrillic, or a compound ending in (or holding) one.
//
// Compounds ("Hauptdiagnose", "Nebendiagnosen", "Entlassungsdiagnose", "Hoofddiagnose",
// "Huvuddiagnos", "Bidiagnoser", "Päädiagnoosi", "Põhidiagnoos", "Fődiagnózis") are found from
// their "gno" (or "GNO"), looked for once ahead through the text, each read back to its word's
// start (at most 64 bytes): a text is not read again at every word for them. Their first part is
// two letters or more and names no machine (machine_compound).
class health_cues {
 public:
  explicit health_cues(std::string_view t) { next(t); }

  std::size_t at(std::string_view t, std::size_t i, std::string_view& found) {
    while (word_ < i) {  // npos: no compound ahead
      next(t);
    }
    const char c = to_lower(t[i]);
    if (is_lower(c)) {
      const char d = i + 1 < t.size() ? to_lower(t[i + 1]) : ' ';
      if (!is_lower(d) || (health_cue_pairs[c - 'a'] & (1u << (d - 'a'))) != 0) {
        if (const std::size_t end = classification_at(t, i); end != npos) {
          found = "icd-10";
          return end;
        }
        if (const std::size_t end =
                first_cue_at(t, i, health_cue_words, {"dx", "diagn", "diag", "dg"}, found);
            end != npos) {
          return health_cue_counts{}(t, i, end, found) ? end : npos;
        }
      }
    } else if (const auto lead = static_cast<unsigned char>(t[i]);
               (lead == 0xCE || lead == 0xCF || lead == 0xD0 || lead == 0xD1) &&
               (i == 0 || static_cast<unsigned char>(t[i - 1]) < 0x80)) {
      if (const std::size_t end = other_script_at(t, i, found); end != npos) {
        return end;
      }
    }
    return word_ == i ? compound_at(t, i, found) : npos;
  }

 private:
  // Greek διάγνωση (with and without its accent, διαγνώσεις), Bulgarian and Russian диагноза and
  // диагноз, Serbian and Macedonian дијагноза, Ukrainian діагноз, in any letter case; МКБ-10.
  static std::size_t other_script_at(std::string_view t, std::size_t i, std::string_view& found) {
    static constexpr std::string_view words[] = {
        "\u03b4\u03b9\u03ac\u03b3\u03bd\u03c9\u03c3",       "\u03b4\u03b9\u03b1\u03b3\u03bd\u03ce\u03c3",
        "\u03b4\u03b9\u03b1\u03b3\u03bd\u03c9\u03c3",       "\u0434\u0438\u0430\u0433\u043d\u043e\u0437",
        "\u0434\u0438\u0458\u0430\u0433\u043d\u043e\u0437", "\u0434\u0456\u0430\u0433\u043d\u043e\u0437"};
    if (const std::size_t end = classification_at(t, i); end != npos) {
      found = "icd-10";
      return end;
    }
    for (std::string_view word : words) {
      if (const std::size_t end = word_end_any_case(t, i, word); end != npos) {
        found = word;
        return end;
      }
    }
    return npos;
  }

  // The compounds whose word starts at t[i]: the first whose cue counts, its end, or npos.
  std::size_t compound_at(std::string_view t, std::size_t i, std::string_view& found) {
    for (; word_ == i; next(t)) {
      const std::size_t end = first_cue_at(t, cue_, compound_cues, {}, found);
      if (end != npos && !machine_compound(t, i) && health_cue_counts{}(t, cue_, end, found)) {
        return end;
      }
    }
    return npos;
  }

  // Moves to the next "diagno" (any case) after the last, inside a word, with its word's start.
  void next(std::string_view t) {
    const auto letter = [&](std::size_t k) {
      return (is_alpha(t[k]) || static_cast<unsigned char>(t[k]) >= 0x80) && !escape_letter_at(t, k);
    };
    while (true) {
      if (lower_ != npos && lower_ <= searched_) {
        lower_ = t.find("gno", searched_ + 1);
      }
      if (upper_ != npos && upper_ <= searched_) {
        upper_ = t.find("GNO", searched_ + 1);
      }
      searched_ = std::min(lower_, upper_);
      if (searched_ == npos) {
        word_ = npos;
        return;
      }
      const std::size_t d = searched_ - 3;
      if (searched_ < 5 || to_lower(t[d]) != 'd' || to_lower(t[d + 1]) != 'i' || to_lower(t[d + 2]) != 'a' ||
          !letter(d - 1) || !letter(d - 2)) {
        continue;
      }
      std::size_t b = d - 2;
      while (b > 0 && d - b < 64 && letter(b - 1)) {
        --b;
      }
      word_ = b;
      cue_ = d;
      return;
    }
  }

  static constexpr std::array<std::string_view, 4> compound_cues = {"diagnos", "diagnoz", "diagn\xc3\xb3z",
                                                                    "diagnoo"};
  std::size_t lower_ = 0;     // the next "gno", or npos
  std::size_t upper_ = 0;     // the next "GNO", or npos
  std::size_t searched_ = 0;  // the last of them taken
  std::size_t word_ = 0;      // the start of the word of the compound's cue at cue_, or npos
  std::size_t cue_ = 0;
};

template <typename Hit>
bool scan_health_code(std::string_view t, Hit&& hit) {
  // A diagnosis code after a cue (health_cues): "ICD-10 E11.9", "diagnosis: J45.909", "CIM-10
  // F32", "Diagnose F41.1", "Hauptdiagnose: E11.9", "diagnóstico E66", "Diagnoza", "Rozpoznanie",
  // "Befund", "Diag.", "Dg.", "Διάγνωση", "Диагноза". A bare code (a product "E11" or a seat "J45")
  // is not health data on its own.
  health_cues cues(t);
  const auto cue_at = [&cues](std::string_view text, std::size_t i, std::string_view& found) {
    return cues.at(text, i, found);
  };
  return scan_after_cue(t, cue_at, {}, diagnosis_code_at, hit, any_cue{}, device_fault_at);
}

}  // namespace

std::uint32_t implemented_detectors() noexcept {
  return bit(email) | bit(phone) | bit(iban) | bit(payment_card) | bit(national_id) | bit(ip_address) |
         bit(person_name) | bit(health_code) | bit(postal_address) | bit(date_of_birth) |
         bit(opaque_content) | bit(remote_tools);
}

namespace {

// Calls scan(detector, scanner) for each implemented detector in `which`, in index order.
template <typename Each>
void for_each_detector(std::uint32_t which, Each&& each) {
  which &= implemented_detectors();
  const auto run = [&](detector d, auto scanner) {
    if ((which & bit(d)) != 0) {
      each(d, scanner);
    }
  };
  run(email,
      [](std::string_view t, const scan_source& source, auto&& hit) { return scan_email(t, source, hit); });
  run(phone, [](std::string_view t, const scan_source&, auto&& hit) { return scan_phone(t, hit); });
  run(iban, [](std::string_view t, const scan_source&, auto&& hit) { return scan_iban(t, hit); });
  run(payment_card,
      [](std::string_view t, const scan_source&, auto&& hit) { return scan_payment_card(t, hit); });
  run(national_id,
      [](std::string_view t, const scan_source&, auto&& hit) { return scan_national_id(t, hit); });
  run(ip_address, [](std::string_view t, const scan_source&, auto&& hit) { return scan_ip_address(t, hit); });
  run(person_name,
      [](std::string_view t, const scan_source&, auto&& hit) { return scan_person_name(t, hit_ref(hit)); });
  run(health_code,
      [](std::string_view t, const scan_source&, auto&& hit) { return scan_health_code(t, hit); });
  run(postal_address, [](std::string_view t, const scan_source&, auto&& hit) {
    return scan_postal_address(t, hit_ref(hit));
  });
  run(date_of_birth,
      [](std::string_view t, const scan_source&, auto&& hit) { return scan_date_of_birth(t, hit); });
}

}  // namespace

namespace {

// The text the detectors scan: `text`, or its folded form (fold.hpp) when anything in it folds.
std::string_view scanned_text(std::string_view text, const folded_text*& folded,
                              const fold_reading& reading) {
  thread_local folded_text buffer;
  folded = fold(text, buffer, reading) ? &buffer : nullptr;
  return folded != nullptr ? std::string_view(buffer.text) : text;
}

// The readings of `text` beyond the first (tags as the ASCII they spell) and the detectors each
// runs, calling each(reading, which): without the tags, where there are any (what is shown:
// "4111<tag>1111…"); with lookalike letters read as Latin, for the detectors whose checks keep
// Cyrillic and Greek prose from reading as what they find: the IBAN's mod 97 ("ВЕ68 5390 …"),
// the national ids' check characters and shapes (a codice fiscale's check letter, a DNI's or
// NIE's mod 23, a NINO after its label: "RSSMR\u041085T10A562S", "DNI 12345678\u0396"; probe
// round 37). Not a health code's: its cues' exceptions are read in their own letters ("Störung").
template <typename Each>
void for_each_other_reading(std::string_view text, std::uint32_t which, Each&& each) {
  if (has_tags(text)) {
    each(fold_reading{.marks = true, .without_tags = true}, which);
  }
  constexpr std::uint32_t checked = bit(iban) | bit(national_id);
  if ((which & checked) != 0 && has_lookalikes(text)) {
    each(fold_reading{.marks = true, .without_tags = true, .lookalikes = true}, which & checked);
  }
}

void find_in(std::string_view text, std::uint32_t which, const fold_reading& reading,
             std::vector<finding>& out) {
  const folded_text* folded = nullptr;
  const std::string_view t = scanned_text(text, folded, reading);
  const scan_source source{text, folded};
  for_each_detector(which, [&](detector d, auto scanner) {
    scanner(t, source, [&](std::size_t begin, std::size_t end) {
      if (folded != nullptr) {  // where the client wrote it
        begin = folded->origin[begin];
        end = folded->origin[end];
      }
      out.push_back({begin, end, static_cast<unsigned>(d)});
      return false;
    });
  });
}

}  // namespace

std::uint32_t detect(std::string_view text, std::uint32_t wanted) {
  const folded_text* folded = nullptr;
  const std::string_view t = scanned_text(text, folded, fold_reading{.marks = true});
  const scan_source source{text, folded};
  std::uint32_t found = 0;
  for_each_detector(wanted, [&](detector d, auto scanner) {
    if (scanner(t, source, [](std::size_t, std::size_t) { return true; })) {
      found |= bit(d);
    }
  });
  for_each_other_reading(text, wanted & ~found, [&](const fold_reading& reading, std::uint32_t which) {
    const folded_text* other = nullptr;
    const std::string_view o = scanned_text(text, other, reading);
    for_each_detector(which & ~found, [&](detector d, auto scanner) {
      if (scanner(o, scan_source{text, other}, [](std::size_t, std::size_t) { return true; })) {
        found |= bit(d);
      }
    });
  });
  return found;
}

std::vector<finding> find_all(std::string_view text, std::uint32_t which) {
  std::vector<finding> out;
  find_in(text, which, fold_reading{.marks = true}, out);
  for_each_other_reading(text, which, [&](const fold_reading& reading, std::uint32_t detectors) {
    // What another reading finds where those before found nothing of its kind: one search in
    // the findings so far, by detector and start, each.
    const auto by_start = [](const finding& a, const finding& b) {
      return std::pair(a.detector, a.begin) < std::pair(b.detector, b.begin);
    };
    const auto first = static_cast<std::ptrdiff_t>(out.size());
    std::sort(out.begin(), out.end(), by_start);
    find_in(text, detectors, reading, out);
    const auto seen = [&](const finding& f) {
      const auto after =
          std::lower_bound(out.begin(), out.begin() + first, finding{f.end, f.end, f.detector}, by_start);
      return after != out.begin() && std::prev(after)->detector == f.detector &&
             std::prev(after)->end > f.begin;
    };
    out.erase(std::remove_if(out.begin() + first, out.end(), seen), out.end());
  });
  // A finding two passes of a scanner report (a label's and its table column's) is listed once.
  const auto key = [](const finding& f) { return std::tuple(f.begin, f.end, f.detector); };
  std::sort(out.begin(), out.end(), [&](const finding& a, const finding& b) { return key(a) < key(b); });
  out.erase(std::unique(out.begin(), out.end(),
                        [&](const finding& a, const finding& b) { return key(a) == key(b); }),
            out.end());
  return out;
}

std::uint32_t detect_encoded(std::string_view text, std::uint32_t wanted) {
  std::uint32_t found = 0;
  static thread_local std::vector<base64_text> encoded;
  encoded.clear();
  find_base64_texts(text, encoded);
  for (const base64_text& run : encoded) {
    found |= detect(run.text, wanted);
  }
  return found;
}

}  // namespace sovgw::classify
