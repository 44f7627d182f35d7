from common.devtools import demo_base_url


def seed(*, stdout) -> list[str]:
    """Nothing to create: alice and bob (funded by the wallet demo) can play hilo."""
    return [f"demo game  {demo_base_url()}/play/  (log in as alice or bob)"]
