#include "crypto/signed_note.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

#include "crypto/checkpoint.hpp"

namespace c = sovgw::crypto;

TEST_CASE("signed note: sign, verify, vkey round trip") {
  auto pair = c::ed25519_generate_key_pair();
  c::note_signer signer("example.com/log", std::move(pair.secret_key));
  const auto vkey = signer.verifier().to_vkey();
  CHECK(vkey.rfind("example.com/log+", 0) == 0);
  auto verifier = c::note_verifier::parse(vkey);
  REQUIRE(verifier);
  CHECK(verifier->key_id == signer.verifier().key_id);

  const std::string text = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  const auto note = signer.sign(text);
  CHECK(note.find("\n\n\xE2\x80\x94 example.com/log ") != std::string::npos);
  auto v = c::verify_note(note, *verifier);
  CHECK(v.verdict == c::note_verdict::ok);
  CHECK(v.text == text);

  std::string forged = note;
  forged[text.size() - 3] = 'B';
  CHECK(c::verify_note(forged, *verifier).verdict == c::note_verdict::bad_signature);

  auto other = c::ed25519_generate_key_pair();
  c::note_signer other_signer("example.com/other", std::move(other.secret_key));
  CHECK(c::verify_note(other_signer.sign(text), *verifier).verdict == c::note_verdict::no_known_signature);

  // A foreign signature appended is ignored; ours still verifies.
  const auto cosigned = note + other_signer.sign(text).substr(text.size() + 1);
  CHECK(c::verify_note(cosigned, *verifier).verdict == c::note_verdict::ok);

  CHECK(c::verify_note(text, *verifier).verdict == c::note_verdict::malformed);
  CHECK(c::verify_note("a\x01\n\n\xE2\x80\x94 x AAAA\n", *verifier).verdict == c::note_verdict::malformed);
  CHECK_THROWS_AS(c::note_signer("bad name", c::ed25519_generate_key_pair().secret_key),
                  std::invalid_argument);
  CHECK_THROWS_AS((void)signer.sign("no newline"), std::invalid_argument);
}

TEST_CASE("key id follows the C2SP recommendation") {
  // A wrong key id in a vkey is refused.
  auto pair = c::ed25519_generate_key_pair();
  c::note_signer signer("n", std::move(pair.secret_key));
  auto vkey = signer.verifier().to_vkey();
  vkey[2] = vkey[2] == '0' ? '1' : '0';
  CHECK_FALSE(c::note_verifier::parse(vkey));
  CHECK_FALSE(c::note_verifier::parse("n+00000000"));
  CHECK_FALSE(c::note_verifier::parse("garbage"));

  // parse_vkey says why: a wrong key id is told apart from a malformed vkey.
  const auto mismatch = c::parse_vkey(vkey);
  CHECK(mismatch.error == c::vkey_error::key_id_mismatch);
  CHECK(mismatch.verifier.key_id == signer.verifier().key_id);
  CHECK(mismatch.stated_key_id != signer.verifier().key_id);
  CHECK(mismatch.verifier.label() == signer.verifier().label());
  CHECK(c::parse_vkey("n+00000000").error == c::vkey_error::malformed);
  CHECK(c::parse_vkey("bad name+00000000+AAAA").error == c::vkey_error::malformed);
  const auto good = c::parse_vkey(signer.verifier().to_vkey() + "\n");
  REQUIRE(good.ok());
  CHECK(good.verifier.public_key == signer.verifier().public_key);
  CHECK(signer.verifier().label() == signer.verifier().to_vkey().substr(0, 10));
}

TEST_CASE("a note's signers are named for messages") {
  auto pair = c::ed25519_generate_key_pair();
  c::note_signer signer("example.com/log", std::move(pair.secret_key));
  const std::string text = "example.com/log\n3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n";
  CHECK(c::note_signer_labels(signer.sign(text)) == signer.verifier().label());
  auto other = c::ed25519_generate_key_pair();
  c::note_signer other_signer("example.com/other", std::move(other.secret_key));
  const auto cosigned = signer.sign(text) + other_signer.sign(text).substr(text.size() + 1);
  CHECK(c::note_signer_labels(cosigned) ==
        signer.verifier().label() + ", " + other_signer.verifier().label());
  CHECK(c::note_signer_labels("not a note") == "no key");
}

TEST_CASE("checkpoint text: format and strict parse") {
  c::checkpoint cp{"example.com/log", 20852163, {}};
  cp.root[0] = 0x0a;
  const auto text = cp.to_text();
  auto back = c::checkpoint::parse(text);
  REQUIRE(back);
  CHECK(*back == cp);
  CHECK(c::checkpoint::parse("o\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"));
  CHECK(c::checkpoint::parse("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next\n"));
  CHECK_FALSE(c::checkpoint::parse("o\n05\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"));
  CHECK_FALSE(c::checkpoint::parse("o\n-5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"));
  CHECK_FALSE(c::checkpoint::parse("o\n5\nAAAA\n"));
  CHECK_FALSE(c::checkpoint::parse("\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"));
  CHECK_FALSE(c::checkpoint::parse("o\n5\n"));
  CHECK_FALSE(
      c::checkpoint::parse("o\n99999999999999999999999\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"));
}
