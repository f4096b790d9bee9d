"""AES for devices with a security key: ``AES/ECB/PKCS5PADDING`` over UTF-8, Base64 on the wire.

The vendor's Java sample turns the key into an AES key with a ``getKey(key)`` helper it
does not show, so we try the derivations such helpers commonly use and report which one
produced a readable body. The device remembers it, so later bodies try it first.
"""

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad

AES_KEY_SIZES = (16, 24, 32)


class AESDecryptError(ValueError):
	"""No derivation of the key turned the body into a JSON object."""


def _raw(secret: str) -> bytes | None:
	key = secret.encode()
	return key if len(key) in AES_KEY_SIZES else None


def _base64(secret: str) -> bytes | None:
	try:
		key = base64.b64decode(secret, validate=True)
	except (binascii.Error, ValueError):
		return None
	return key if len(key) in AES_KEY_SIZES else None


def _hex(secret: str) -> bytes | None:
	try:
		key = bytes.fromhex(secret)
	except ValueError:
		return None
	return key if len(key) in AES_KEY_SIZES else None


def _zero_padded(secret: str) -> bytes:
	return secret.encode().ljust(32, b"\0")[:32]


# name -> derivation; a derivation that does not apply to a key returns None.
KEY_DERIVATIONS = {
	"raw": _raw,  # the key's UTF-8 bytes, when they are 16, 24 or 32 long
	"sha256": lambda s: hashlib.sha256(s.encode()).digest(),  # AES-256, as the docs name it
	"sha1-128": lambda s: hashlib.sha1(s.encode()).digest()[:16],  # the classic Java getKey()
	"md5": lambda s: hashlib.md5(s.encode()).digest(),
	"base64": _base64,
	"hex": _hex,
	"zero-padded-256": _zero_padded,
}


def derive_key(secret: str, derivation: str) -> bytes:
	key = KEY_DERIVATIONS[derivation](secret)
	if key is None:
		raise ValueError(f"The '{derivation}' derivation does not apply to this key")
	return key


def encrypt(plaintext: bytes | str, secret: str, derivation: str = "sha256") -> bytes:
	"""Encrypt as the gateway does: Base64(AES-ECB(PKCS#7(plaintext)))."""
	if isinstance(plaintext, str):
		plaintext = plaintext.encode()
	cipher = AES.new(derive_key(secret, derivation), AES.MODE_ECB)
	return base64.b64encode(cipher.encrypt(pad(plaintext, AES.block_size)))


def decode_ciphertext(body: bytes) -> bytes | None:
	"""The ciphertext bytes of a Base64 body (possibly quoted), or None if it is not one."""
	text = body.strip()
	if text[:1] == b'"' and text[-1:] == b'"':
		text = text[1:-1]
	text = b"".join(text.split()).replace(b"\\/", b"/")
	try:
		ciphertext = base64.b64decode(text, validate=True)
	except (binascii.Error, ValueError):
		try:
			ciphertext = base64.urlsafe_b64decode(text)
		except (binascii.Error, ValueError):
			return None
	if not ciphertext or len(ciphertext) % AES.block_size:
		return None
	return ciphertext


def decrypt(body: bytes, secret: str, preferred: str | None = None) -> tuple[dict, str]:
	"""Decrypt a body with every plausible derivation of ``secret``.

	Returns the JSON object and the name of the derivation that produced it; raises
	AESDecryptError when none does.
	"""
	ciphertext = decode_ciphertext(body)
	if ciphertext is None:
		raise AESDecryptError("The body is neither JSON nor Base64 AES ciphertext")
	for name in _ordered(preferred):
		try:
			key = derive_key(secret, name)
		except ValueError:
			continue
		try:
			plaintext = unpad(AES.new(key, AES.MODE_ECB).decrypt(ciphertext), AES.block_size)
			doc = json.loads(plaintext.decode("utf-8-sig"))
		except (ValueError, RecursionError):
			continue
		if isinstance(doc, dict):
			return doc, name
	raise AESDecryptError("No derivation of the security key decrypts this body")


def _ordered(preferred: str | None) -> Iterable[str]:
	if preferred in KEY_DERIVATIONS:
		yield preferred
	yield from (name for name in KEY_DERIVATIONS if name != preferred)
