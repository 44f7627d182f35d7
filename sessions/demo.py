def seed(*, stdout) -> list[str]:
    """Nothing to create: alice and bob (funded by the wallet demo) can play hilo."""
    return ["demo game  http://127.0.0.1:8000/play/  (log in as alice or bob)"]
