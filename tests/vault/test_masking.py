"""Masker: every occurrence of every secret value in JSON-like data becomes ******."""

import json
import time

from vault.masking import MASK, Masker


def test_masks_strings_in_nested_structures_and_leaves_other_values():
    data = {"url": "https://x/?k=hunter2", "list": ["a hunter2 b", 42, None, True], "nested": {"t": ("hunter2",)}}
    masked = Masker(["hunter2"]).mask(data)
    assert masked == {"url": f"https://x/?k={MASK}", "list": [f"a {MASK} b", 42, None, True], "nested": {"t": (MASK,)}}
    assert data["url"] == "https://x/?k=hunter2"  # a copy, the original is untouched


def test_dict_keys_are_masked_at_any_depth():
    """A key can carry a secret too (`{{ {secret('X'): 1} }}`, an upstream keyed by a token)."""
    data = {"hunter2": "hunter2", "a": [{"x-hunter2": {"hunter2": 1}}], 3: "k"}
    assert Masker(["hunter2"]).mask(data) == {MASK: MASK, "a": [{f"x-{MASK}": {MASK: 1}}], 3: "k"}


def test_longest_value_wins_when_one_secret_contains_another():
    assert Masker(["abc", "abcdef"]).mask_text("x abcdef y abc") == f"x {MASK} y {MASK}"


def test_short_and_empty_values_are_ignored():
    masker = Masker(["", "ab", "xyz"])
    assert masker.mask_text("ab ab xyz") == f"ab ab {MASK}"
    assert not Masker(["", "a"])
    assert Masker(["xyz"])


def test_values_are_matched_literally_not_as_patterns():
    assert Masker(["a.b*c"]).mask_text("axbbc a.b*c") == f"axbbc {MASK}"


def test_json_escaped_form_is_masked_too():
    secret = 'pa"ss\\word'
    text = json.dumps({"password": secret})
    assert secret not in Masker([secret]).mask_text(text)
    assert json.loads(Masker([secret]).mask_text(text)) == {"password": MASK}


def test_large_output_with_many_secrets():
    secrets = [f"secret-value-{n:04d}" for n in range(200)]
    text = ("filler " * 1000 + secrets[7] + " ") * 150  # ~1 MiB
    started = time.monotonic()
    masked = Masker(secrets).mask_text(text)
    assert masked.count(MASK) == 150
    assert "secret-value" not in masked
    assert time.monotonic() - started < 5
