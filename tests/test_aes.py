import base64
import json

import pytest

from cams_biometric.protocol import aes

BODY = {
	"RealTime": {"PunchLog": {"UserId": "2", "LogTime": "2024-09-17 07:48:22 GMT +0300"}, "AuthToken": "t"}
}


@pytest.mark.parametrize(
	"secret, derivation",
	[
		("0123456789abcdef0123456789abcdef", "raw"),  # 32 characters: AES-256 as is
		("0123456789abcdef", "raw"),
		("my device key", "sha256"),
		("my device key", "sha1-128"),
		("my device key", "md5"),
		("my device key", "zero-padded-256"),
		(base64.b64encode(b"k" * 32).decode(), "base64"),
		("00112233445566778899aabbccddeeff", "hex"),
	],
)
def test_round_trip_and_the_derivation_is_reported(secret, derivation):
	body = aes.encrypt(json.dumps(BODY), secret, derivation)
	doc, used = aes.decrypt(body, secret)
	assert doc == BODY
	# Two derivations may coincide for some keys (a 32-byte key is both raw and zero-padded).
	assert aes.derive_key(secret, used) == aes.derive_key(secret, derivation)


def test_preferred_derivation_is_tried_first():
	body = aes.encrypt(json.dumps(BODY), "0123456789abcdef0123456789abcdef", "zero-padded-256")
	_, used = aes.decrypt(body, "0123456789abcdef0123456789abcdef", preferred="zero-padded-256")
	assert used == "zero-padded-256"


def test_known_vector_matches_java_aes_ecb_pkcs5():
	# AES-128-ECB of "{}" + PKCS#7 under the raw key "0123456789abcdef", as Java's
	# Cipher.getInstance("AES/ECB/PKCS5PADDING") produces it.
	from Crypto.Cipher import AES

	expected = base64.b64encode(AES.new(b"0123456789abcdef", AES.MODE_ECB).encrypt(b"{}" + b"\x0e" * 14))
	assert aes.encrypt("{}", "0123456789abcdef", "raw") == expected


def test_quoted_and_wrapped_base64_is_accepted():
	body = aes.encrypt(json.dumps(BODY), "k3y", "sha256").decode()
	wrapped = '"' + "\n".join(body[i : i + 20] for i in range(0, len(body), 20)) + '"'
	assert aes.decrypt(wrapped.encode(), "k3y")[0] == BODY


def test_wrong_key_is_refused():
	body = aes.encrypt(json.dumps(BODY), "right key", "sha256")
	with pytest.raises(aes.AESDecryptError):
		aes.decrypt(body, "wrong key")


@pytest.mark.parametrize("body", [b"", b"not base64 at all!", b"QUJD", base64.b64encode(b"x" * 15), b"{}"])
def test_non_ciphertext_is_refused(body):
	with pytest.raises(aes.AESDecryptError):
		aes.decrypt(body, "key")


def test_ciphertext_of_non_json_is_refused():
	with pytest.raises(aes.AESDecryptError):
		aes.decrypt(aes.encrypt("hello", "key", "sha256"), "key")
	with pytest.raises(aes.AESDecryptError):
		aes.decrypt(aes.encrypt("[1, 2]", "key", "sha256"), "key")


def test_derivation_that_does_not_apply_is_an_error():
	with pytest.raises(ValueError):
		aes.encrypt("{}", "short", "raw")
