"""The webhook key rule: generated keys and random keys of 32+ characters pass, hand-made ones do not."""

import random
import secrets
import string
import uuid

import pytest

from flows.webhook_keys import new_webhook_key, strong_key


def test_generated_and_random_keys_always_pass() -> None:
    for _ in range(2000):
        assert strong_key(new_webhook_key())
        assert strong_key(uuid.uuid4().hex) and strong_key(str(uuid.uuid4()))
        assert strong_key(secrets.token_hex(16)) and strong_key(secrets.token_urlsafe(32))


_SEEDED = random.Random(2026)  # parameters are the same in every pytest-xdist worker


def _random_key(length: int) -> str:
    return "".join(_SEEDED.choice(string.ascii_letters + string.digits + "-_") for _ in range(length))


@pytest.mark.parametrize(
    "key",
    [
        None,
        42,
        "my-webhook-key",  # short
        _random_key(31),  # one short
        "a" * 40,  # one character
        "aaaaaaaaaaaaaaaaaaaaaaaabcdefghi",  # little entropy
        "abcdefghijklmnopqrstuvwxyzABCDEF",  # a run
        "0123456789abcdef" * 2,  # repeated
        "secret-key-123" * 3,  # repeated
        _random_key(32) + "/x",  # not URL-safe
        _random_key(32) + " ",
        _random_key(201),  # too long
    ],
)
def test_hand_made_keys_are_refused(key) -> None:
    assert not strong_key(key)
