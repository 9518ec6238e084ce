"""Verifies gatehouse access tokens with PyJWT (docs/INTEGRATING.md).

    python3 verify_pyjwt.py ISSUER AUDIENCE TOKEN...

Prints "ok ALG SUB" for each token that verifies; exits 1 after the first that does not.
"""

import json
import sys
import urllib.request

import jwt

issuer, audience, *tokens = sys.argv[1:]
with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration") as answer:
    discovery = json.load(answer)

# PyJWKClient caches the keys and fetches them again for a kid it does not know.
keys = jwt.PyJWKClient(discovery["jwks_uri"], cache_keys=True, lifespan=300)

for token in tokens:
    try:
        key = keys.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            key,
            # The algorithm comes from the key, never from the token.
            algorithms=[key.algorithm_name],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as error:
        print(f"refused: {type(error).__name__}: {error}")
        sys.exit(1)
    print(f"ok {jwt.get_unverified_header(token)['alg']} {claims['sub']}")
