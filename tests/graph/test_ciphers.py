"""The national ciphers against published vectors and against gmssl's independent code, and the
pitfalls of gmssl shown to be handled: its nonces, its key parsing, its lenient verification."""

from __future__ import annotations

import json
import os
import secrets
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from gmssl import func as gmssl_func
from gmssl import sm2 as gmssl_sm2
from gmssl import sm3 as gmssl_sm3
from gmssl import sm4 as gmssl_sm4

from graph.ciphers import sm2, sm4
from graph.ciphers.keyring import Keyring, KeyFileError
from graph.ciphers.sealing import Sealer
from graph.ciphers.sm3 import hmac_sm3, sm3

# --- SM3 ---------------------------------------------------------------------------------------
# GB/T 32905-2016 《信息安全技术 SM3密码杂凑算法》, Appendix A, examples 1 and 2.
SM3_VECTORS = [
    (b"abc", "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"),
    (b"abcd" * 16, "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"),
]


def gmssl_sm3_digest(data: bytes) -> bytes:
    return bytes.fromhex(gmssl_sm3.sm3_hash(list(data)))


def rfc2104_hmac(key: bytes, data: bytes) -> bytes:
    """HMAC as RFC 2104 defines it, on gmssl's pure-Python SM3 (block size 64 bytes)."""
    if len(key) > 64:
        key = gmssl_sm3_digest(key)
    key = key.ljust(64, b"\x00")
    inner = gmssl_sm3_digest(bytes(byte ^ 0x36 for byte in key) + data)
    return gmssl_sm3_digest(bytes(byte ^ 0x5C for byte in key) + inner)


@pytest.mark.parametrize(("message", "expected"), SM3_VECTORS)
def test_sm3_matches_the_standard_examples(message: bytes, expected: str) -> None:
    assert sm3(message).hex() == expected
    assert gmssl_sm3_digest(message).hex() == expected


def test_sm3_agrees_with_gmssl_on_random_inputs() -> None:
    for length in [0, 1, 55, 56, 63, 64, 65, 119, 128, 1000, *(secrets.randbelow(300) for _ in range(20))]:
        data = secrets.token_bytes(length)
        assert sm3(data) == gmssl_sm3_digest(data), length


def test_hmac_sm3_is_rfc_2104_on_sm3() -> None:
    for key_length in (0, 1, 16, 32, 63, 64, 65, 100):
        for data_length in (0, 1, 18, 64, 200):
            key, data = secrets.token_bytes(key_length), secrets.token_bytes(data_length)
            assert hmac_sm3(key, data) == rfc2104_hmac(key, data), (key_length, data_length)


# --- SM4 ---------------------------------------------------------------------------------------
# GB/T 32907-2016 《信息安全技术 SM4分组密码算法》, Appendix A, example 1 (one block) and
# example 2 (the same block encrypted 1,000,000 times).
SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")
SM4_CIPHERTEXT = "681edf34d206965e86b3e94f536e4246"
SM4_MILLION = "595298c7c6fd271f0402f804c33d3f66"


def test_sm4_block_matches_the_standard_through_openssl() -> None:
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    assert (encryptor.update(SM4_KEY) + encryptor.finalize()).hex() == SM4_CIPHERTEXT
    decryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).decryptor()
    assert decryptor.update(bytes.fromhex(SM4_CIPHERTEXT)) + decryptor.finalize() == SM4_KEY


def test_sm4_block_matches_the_standard_through_gmssl() -> None:
    crypt = gmssl_sm4.CryptSM4()
    crypt.set_key(SM4_KEY, gmssl_sm4.SM4_ENCRYPT)
    assert bytes(crypt.one_round(crypt.sk, list(SM4_KEY))).hex() == SM4_CIPHERTEXT
    # gmssl's ECB always pads (PKCS#7): the first block is the standard's, a padding block follows
    padded = crypt.crypt_ecb(SM4_KEY)
    assert len(padded) == 32 and padded[:16].hex() == SM4_CIPHERTEXT
    crypt.set_key(SM4_KEY, gmssl_sm4.SM4_DECRYPT)
    assert crypt.crypt_ecb(padded) == SM4_KEY


def test_sm4_a_million_times_matches_the_standard() -> None:
    encryptor = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    block = SM4_KEY
    for _ in range(1_000_000):
        block = encryptor.update(block)
    assert block.hex() == SM4_MILLION


# RFC 8998 (ShangMi Cipher Suites for TLS 1.3), Appendix A.1, "SM4-GCM Test Vectors".
GCM = {
    "key": "0123456789ABCDEFFEDCBA9876543210",
    "iv": "00001234567800000000ABCD",
    "aad": "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
    "plaintext": "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
    "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
    "ciphertext": "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
    "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
    "tag": "83DE3541E4C2B58177E065A9BF7B62EC",
}


def test_sm4_gcm_matches_rfc_8998() -> None:
    key, iv, aad, plaintext = (bytes.fromhex(GCM[name]) for name in ("key", "iv", "aad", "plaintext"))
    ciphertext, tag = sm4.encrypt_gcm(key, iv, plaintext, aad)
    assert ciphertext.hex().upper() == GCM["ciphertext"]
    assert tag.hex().upper() == GCM["tag"]
    assert sm4.decrypt_gcm(key, iv, ciphertext, tag, aad) == plaintext


def test_sm4_gcm_refuses_a_changed_tag_ciphertext_or_aad() -> None:
    key, iv, aad = (bytes.fromhex(GCM[name]) for name in ("key", "iv", "aad"))
    ciphertext, tag = bytes.fromhex(GCM["ciphertext"]), bytes.fromhex(GCM["tag"])
    changed_tag = bytes([tag[0] ^ 1]) + tag[1:]
    changed_text = ciphertext[:-1] + bytes([ciphertext[-1] ^ 0x80])
    for arguments in [(ciphertext, changed_tag, aad), (changed_text, tag, aad), (ciphertext, tag, aad + b"x")]:
        with pytest.raises(sm4.SealError):
            sm4.decrypt_gcm(key, iv, *arguments)


def test_sm4_refuses_a_key_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        sm4.seal(bytes(15), b"x")


# --- SM2 ---------------------------------------------------------------------------------------
# GB/T 32918.2-2016 (= GM/T 0003.2) signature example on the recommended 256-bit curve, as given
# in GB/T 32918.5-2017 / GM/T 0003.5-2012 (parameter definition), with signer ID
# "1234567812345678", message "message digest" and the fixed nonce k.
SM2_PRIVATE = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
SM2_PUBLIC = (
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
SM2_MESSAGE = b"message digest"
SM2_NONCE = "59276E27D506861A16680F3AD9C02DCCEF3CC1FA3CDBE4CE6D54B80DEAC1BC21"
SM2_R = "F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3"
SM2_S = "B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA"
SM2_SIGNATURE = bytes.fromhex(SM2_R + SM2_S)

P = int(gmssl_sm2.default_ecc_table["p"], 16)
N = int(gmssl_sm2.default_ecc_table["n"], 16)
G_HEX = gmssl_sm2.default_ecc_table["g"]


def test_sm2_public_key_of_the_standard_private_key() -> None:
    assert sm2.public_key_of(SM2_PRIVATE) == SM2_PUBLIC.lower()


def test_sm2_signature_matches_the_standard() -> None:
    signature = sm2.sign_with_nonce(SM2_PRIVATE, SM2_MESSAGE, SM2_NONCE, signer_id=b"1234567812345678")
    assert signature.hex().upper() == SM2_R + SM2_S
    assert sm2.verify(SM2_PUBLIC, SM2_MESSAGE, signature)
    assert sm2.verify("04" + SM2_PUBLIC, SM2_MESSAGE, signature)


def test_sm2_digest_agrees_with_gmssl() -> None:
    crypt = gmssl_sm2.CryptSM2(private_key=SM2_PRIVATE, public_key=SM2_PUBLIC)
    assert sm2.digest(SM2_PUBLIC, SM2_MESSAGE).hex() == crypt._sm3_z(SM2_MESSAGE)


def test_sm2_fresh_signatures_verify_and_another_signer_id_does_not() -> None:
    private = sm2.generate_private_key()
    public = sm2.public_key_of(private)
    signature = sm2.sign(private, b"owners' vote, estate 12")
    assert sm2.verify(public, b"owners' vote, estate 12", signature)
    assert not sm2.verify(public, b"owners' vote, estate 12", signature, signer_id=b"ALICE123@YAHOO.COM")
    other = sm2.sign(private, b"x", signer_id=b"ALICE123@YAHOO.COM")
    assert sm2.verify(public, b"x", other, signer_id=b"ALICE123@YAHOO.COM")
    assert not sm2.verify(public, b"x", other)


def test_sm2_never_signs_with_gmssls_nonce(monkeypatch: pytest.MonkeyPatch) -> None:
    """gmssl's nonce comes from `random.choice`; made constant, its own signatures repeat (so the
    private key could be solved for), while ours still differ: they draw from `secrets`."""
    monkeypatch.setattr(gmssl_func, "random_hex", lambda length: "7" * length)
    monkeypatch.setattr(gmssl_func, "choice", lambda sequence: sequence[7])
    crypt = gmssl_sm2.CryptSM2(private_key=SM2_PRIVATE, public_key=SM2_PUBLIC)
    assert crypt.sign_with_sm3(SM2_MESSAGE) == crypt.sign_with_sm3(SM2_MESSAGE)  # the pitfall

    first = sm2.sign(SM2_PRIVATE, SM2_MESSAGE)
    second = sm2.sign(SM2_PRIVATE, SM2_MESSAGE)
    assert first != second
    assert first[:32] != second[:32]  # r differs, so k differed
    assert sm2.verify(SM2_PUBLIC, SM2_MESSAGE, first)
    assert sm2.verify(SM2_PUBLIC, SM2_MESSAGE, second)


def _add(left: tuple[int, int], right: tuple[int, int]) -> tuple[int, int]:
    """Affine point addition (distinct, non-opposite points): enough to walk d·G, (d+1)·G, …"""
    slope = (right[1] - left[1]) * pow(right[0] - left[0], -1, P) % P
    x = (slope * slope - left[0] - right[0]) % P
    return x, (slope * (left[0] - x) - left[1]) % P


def _key_whose_public_hex_starts_with(prefix: str) -> tuple[str, str]:
    """Walk generated keys d, d+1, d+2, … (random start) until x's hex begins with `prefix`."""
    g = (int(G_HEX[:64], 16), int(G_HEX[64:], 16))
    private = int(sm2.generate_private_key(), 16) // 2
    public = sm2.public_key_of(format(private, "064x"))
    point = (int(public[:64], 16), int(public[64:], 16))
    while not format(point[0], "064x").startswith(prefix):
        point, private = _add(point, g), private + 1
    found = format(private, "064x")
    assert sm2.public_key_of(found) == format(point[0], "064x") + format(point[1], "064x")
    return found, sm2.public_key_of(found)


@pytest.mark.parametrize("prefix", ["04", "0", "44"])
def test_sm2_keys_that_gmssl_would_mangle_sign_and_verify(prefix: str) -> None:
    private, public = _key_whose_public_hex_starts_with(prefix)
    assert public.startswith(prefix) and len(public) == 128
    # the pitfall: gmssl's constructor strips leading '0's and '4's after a 04 prefix
    mangled = gmssl_sm2.CryptSM2(private_key=private, public_key="04" + public).public_key
    assert mangled != public
    signature = sm2.sign(private, b"export-370202001-geojson.geojson")
    for form in (public, "04" + public, public.upper(), "04" + public.upper()):
        assert sm2.verify(form, b"export-370202001-geojson.geojson", signature), form
    assert sm2.normalise_public_key("04" + public) == public


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "up to 64 hex digits"),
        ("xyz", "up to 64 hex digits"),
        ("1" * 65, "up to 64 hex digits"),
        ("0", "1..n-2"),
        (format(N, "x"), "1..n-2"),
        (format(N - 1, "x"), "1..n-2"),
        ("g" + "1" * 63, "up to 64 hex digits"),
    ],
)
def test_bad_private_keys_are_refused_with_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        sm2.normalise_private_key(text)


def test_private_keys_are_normalised() -> None:
    assert sm2.normalise_private_key("  0xABC ") == "0" * 61 + "abc"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "128 hex digits"),
        (SM2_PUBLIC[:-1], "128 hex digits"),
        (SM2_PUBLIC + "00", "128 hex digits"),
        ("05" + SM2_PUBLIC, "128 hex digits"),
        (SM2_PUBLIC[:-1] + "g", "128 hex digits"),
        (SM2_PUBLIC[:-1] + ("4" if SM2_PUBLIC[-1] != "4" else "5"), "not a point on the curve"),
        ("0" * 128, "not a point on the curve"),
        ("f" * 128, "not a point on the curve"),
    ],
)
def test_bad_public_keys_are_refused_with_a_clear_error(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sm2.normalise_public_key(text)


def _flip(data: bytes, bit: int) -> bytes:
    changed = bytearray(data)
    changed[bit // 8] ^= 1 << (bit % 8)
    return bytes(changed)


def test_a_flipped_bit_in_message_or_signature_fails() -> None:
    for bit in (0, 7, 50, len(SM2_MESSAGE) * 8 - 1):
        assert not sm2.verify(SM2_PUBLIC, _flip(SM2_MESSAGE, bit), SM2_SIGNATURE)
    for bit in (0, 9, 255, 256, 300, 511):
        assert not sm2.verify(SM2_PUBLIC, SM2_MESSAGE, _flip(SM2_SIGNATURE, bit))
    assert not sm2.verify(SM2_PUBLIC, SM2_MESSAGE + b" ", SM2_SIGNATURE)


def test_verify_says_false_on_garbage() -> None:
    r, s = SM2_SIGNATURE[:32], SM2_SIGNATURE[32:]
    n = N.to_bytes(32, "big")
    garbage: list[object] = [
        b"",
        b"\x00" * 64,  # r = s = 0
        b"\xff" * 64,  # r, s ≥ n
        n + s,  # r = n
        r + n,  # s = n
        SM2_SIGNATURE[:63],
        SM2_SIGNATURE + b"\x00",
        SM2_SIGNATURE.hex(),  # text, not bytes
        None,
    ]
    for signature in garbage:
        assert sm2.verify(SM2_PUBLIC, SM2_MESSAGE, signature) is False  # type: ignore[arg-type]
    for key in ("", "zz", "0" * 128, "04" * 65, SM2_PUBLIC[:-1] + "0"):
        assert sm2.verify(key, SM2_MESSAGE, SM2_SIGNATURE) is False


def test_verify_checks_the_ranges_gmssl_does_not() -> None:
    """gmssl checks neither 1 ≤ r ≤ n-1 nor 1 ≤ s ≤ n-1: it takes 0·G to be G, and s = n makes it
    raise; GB/T 32918.2 §7.1 (steps B1-B2) says such a signature is simply not valid."""
    crypt = gmssl_sm2.CryptSM2(private_key="", public_key=SM2_PUBLIC)
    assert crypt._kg(0, G_HEX) == G_HEX  # the pitfall: 0·G is the point at infinity, not G
    with pytest.raises(TypeError):
        crypt.verify(SM2_R + format(N, "064x"), sm2.digest(SM2_PUBLIC, SM2_MESSAGE))
    for r, s in [(0, int(SM2_S, 16)), (int(SM2_R, 16), 0), (N, int(SM2_S, 16)), (int(SM2_R, 16), N)]:
        assert sm2.verify(SM2_PUBLIC, SM2_MESSAGE, r.to_bytes(32, "big") + s.to_bytes(32, "big")) is False


def test_sign_with_nonce_refuses_a_bad_nonce() -> None:
    for nonce in ("0", format(N, "x"), "zz", ""):
        with pytest.raises(ValueError, match="nonce"):
            sm2.sign_with_nonce(SM2_PRIVATE, SM2_MESSAGE, nonce)


# --- sealing -----------------------------------------------------------------------------------


@pytest.fixture
def sealer() -> Sealer:
    return Sealer.generate()


def test_sealing_round_trips_chinese_text(sealer: Sealer) -> None:
    for value in ("张三", "欧阳娜娜", "山东省青岛市市南区香港中路街道 12 号", ""):
        sealed = sealer.seal(value, field="name", owner="OW1")
        assert value.encode() not in sealed or not value
        assert sealer.open(sealed, field="name", owner="OW1") == value


def test_sealing_twice_gives_different_bytes_that_both_open(sealer: Sealer) -> None:
    first = sealer.seal("13812345678", field="phone", owner="OW1")
    second = sealer.seal("13812345678", field="phone", owner="OW1")
    assert first != second
    assert first[1:13] != second[1:13]  # the nonces
    assert sealer.open(first, field="phone", owner="OW1") == sealer.open(second, field="phone", owner="OW1")


def test_a_flipped_byte_fails_to_open(sealer: Sealer) -> None:
    sealed = sealer.seal("370202199001011234", field="id_number", owner="OW1")
    for position in (0, 1, 13, len(sealed) // 2, len(sealed) - 1):
        changed = bytearray(sealed)
        changed[position] ^= 0x01
        with pytest.raises(sm4.SealError):
            sealer.open(bytes(changed), field="id_number", owner="OW1")
    with pytest.raises(sm4.SealError):
        sealer.open(sealed[:-1], field="id_number", owner="OW1")
    with pytest.raises(sm4.SealError):
        sealer.open(b"", field="id_number", owner="OW1")


def test_a_sealed_value_is_bound_to_its_owner_and_field(sealer: Sealer) -> None:
    sealed = sealer.seal("张三", field="name", owner="OW-A")
    with pytest.raises(sm4.SealError):
        sealer.open(sealed, field="name", owner="OW-B")
    with pytest.raises(sm4.SealError):
        sealer.open(sealed, field="phone", owner="OW-A")
    with pytest.raises(sm4.SealError):
        Sealer.generate().open(sealed, field="name", owner="OW-A")


def test_blind_indexes_are_equal_for_equal_values_after_normalising(sealer: Sealer) -> None:
    assert sealer.index("id_number", "37020219900101123x") == sealer.index("id_number", "37020219900101123X")
    assert sealer.index("id_number", "３７０２０２１９９００１０１１２３Ｘ") == sealer.index(
        "id_number", "37020219900101123X"
    )  # NFKC: full-width digits and letter
    assert sealer.index("phone", "138 1234 5678") == sealer.index("phone", "13812345678")
    assert sealer.index("phone", "１３８-１２３４-５６７８") == sealer.index("phone", "13812345678")
    assert sealer.index("name", " 张三 ") == sealer.index("name", "张三")
    assert sealer.index("name", "张三") != sealer.index("name", "张四")
    assert sealer.index("phone", "13812345678") != sealer.index("phone", "13812345679")


def test_blind_indexes_differ_across_fields_and_keys(sealer: Sealer) -> None:
    assert sealer.index("name", "13812345678") != sealer.index("phone", "13812345678")
    assert sealer.index("id_number", "13812345678") != sealer.index("phone", "13812345678")
    assert Sealer.generate().index("phone", "13812345678") != sealer.index("phone", "13812345678")
    index = sealer.index("phone", "13812345678")
    assert len(index) == 64 and "13812345678" not in index


def test_a_sealer_refuses_keys_of_the_wrong_length() -> None:
    with pytest.raises(ValueError, match="16"):
        Sealer(data_key=bytes(32), index_key=bytes(32))
    with pytest.raises(ValueError, match="at least 16"):
        Sealer(data_key=bytes(16), index_key=bytes(8))


# --- keyring -----------------------------------------------------------------------------------


def _write_key_file(path: Path, content: dict[str, object]) -> None:
    path.write_text(json.dumps(content), encoding="utf-8")
    os.chmod(path, 0o600)


def test_a_saved_key_file_is_mode_600_and_loads_back(tmp_path: Path) -> None:
    keys = Keyring.generate()
    path = tmp_path / "hub.keys"
    keys.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keyring.load(path) == keys
    assert Keyring.load(path).sealer().index("phone", "1") == keys.sealer().index("phone", "1")


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660, 0o610])
def test_a_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "hub.keys"
    Keyring.generate().save(path)
    os.chmod(path, mode)
    with pytest.raises(KeyFileError, match=r"chmod 600"):
        Keyring.load(path)


def test_a_key_file_with_a_foreign_public_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.keys"
    content = json.loads(Keyring.generate().to_json())
    content["sm2_public"] = Keyring.generate().sm2_public
    _write_key_file(path, content)
    with pytest.raises(KeyFileError, match="does not belong to the private key"):
        Keyring.load(path)


@pytest.mark.parametrize(
    "change",
    [
        {"format": "hub-keys/0"},
        {"format": None},
        {"sm4_data_key": "not hex"},
        {"sm2_private": "xyz"},
        {"sm2_public": "04"},
    ],
)
def test_a_key_file_of_the_wrong_format_is_refused(tmp_path: Path, change: dict[str, object]) -> None:
    path = tmp_path / "hub.keys"
    content = json.loads(Keyring.generate().to_json())
    content.update(change)
    _write_key_file(path, content)
    with pytest.raises(KeyFileError, match="not a hub key file"):
        Keyring.load(path)


def test_a_key_file_that_is_not_json_or_misses_a_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.keys"
    path.write_text("sm2_private=abc\n", encoding="utf-8")
    os.chmod(path, 0o600)
    with pytest.raises(KeyFileError, match="not a hub key file"):
        Keyring.load(path)
    content = json.loads(Keyring.generate().to_json())
    del content["token_key"]
    _write_key_file(path, content)
    with pytest.raises(KeyFileError, match="not a hub key file"):
        Keyring.load(path)


def test_a_short_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "hub.keys"
    content = json.loads(Keyring.generate().to_json())
    content["sm4_data_key"] = "00" * 8
    _write_key_file(path, content)
    with pytest.raises(KeyFileError, match="wrong length"):
        Keyring.load(path)


def test_a_missing_key_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="hub keys init"):
        Keyring.load(tmp_path / "absent.keys")


def test_saving_never_overwrites_a_key_file(tmp_path: Path) -> None:
    path = tmp_path / "hub.keys"
    first = Keyring.generate()
    first.save(path)
    with pytest.raises(KeyFileError, match="exists"):
        Keyring.generate().save(path)
    assert Keyring.load(path) == first


def test_sm2_prehash_in_pieces_signs_what_verify_checks_whole() -> None:
    private = sm2.generate_private_key()
    public = sm2.public_key_of(private)
    message = secrets.token_bytes(10_000)
    context = sm2.prehash(public)
    for start in range(0, len(message), 4096):
        context.update(message[start : start + 4096])
    e = context.finalize()
    assert e == sm2.digest(public, message)
    signature = sm2.sign_digest(private, e)
    assert sm2.verify(public, message, signature)
    assert sm2.verify_digest(public, e, signature)
    assert not sm2.verify_digest(public, bytes(32), signature)
    assert not sm2.verify_digest(public, e[:31], signature)
    with pytest.raises(ValueError, match="32 bytes"):
        sm2.sign_digest(private, e[:31])
