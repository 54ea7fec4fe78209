"""The webhook key rule: generated keys and random keys of 32+ characters pass, hand-made ones do not."""

import secrets
import uuid

import pytest

from flows.webhook_keys import new_webhook_key, strong_key


def test_generated_and_random_keys_always_pass() -> None:
    for _ in range(2000):
        assert strong_key(new_webhook_key())
        assert strong_key(uuid.uuid4().hex) and strong_key(str(uuid.uuid4()))
        assert strong_key(secrets.token_hex(16)) and strong_key(secrets.token_urlsafe(32))


@pytest.mark.parametrize(
    "key",
    [
        None,
        42,
        "my-webhook-key",  # short
        secrets.token_urlsafe(24)[:31],  # one short
        "a" * 40,  # one character
        "aaaaaaaaaaaaaaaaaaaaaaaabcdefghi",  # little entropy
        "abcdefghijklmnopqrstuvwxyzABCDEF",  # a run
        "0123456789abcdef" * 2,  # repeated
        "secret-key-123" * 3,  # repeated
        secrets.token_urlsafe(24) + "/x",  # not URL-safe
        secrets.token_urlsafe(24) + " ",
        secrets.token_urlsafe(160)[:201],  # too long
    ],
)
def test_hand_made_keys_are_refused(key) -> None:
    assert not strong_key(key)
