"""Key lifecycle: JWKS caching and discovery, KeyRing rotation, JWT revocation."""
