"""China's national ciphers for the hub (GB/T 39786-2021, application layer).

SM3 and SM4 go through OpenSSL (pyca `cryptography`, C speed); SM2 through `gmssl`, with every
nonce drawn from `secrets` and public keys normalised here, because gmssl draws its own nonce
from `random` and strips characters from keys it parses.
"""
