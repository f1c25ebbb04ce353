"""One router per concern: ``health``, ``ofrep`` (flag evaluation), ``flags`` (flag admin, token-guarded writes)."""
