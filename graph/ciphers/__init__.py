"""China's national ciphers for the hub (GB/T 39786-2021, application layer).

SM3 and SM4 go through OpenSSL (pyca `cryptography`, C speed); SM2's curve arithmetic is the
hub's own integer code (`sm2_curve`), with every nonce drawn from `secrets` and keys normalised
(`sm2`); gmssl, which draws its nonces from `random` and strips characters from keys it parses,
is kept only as independent code to test against.
"""
