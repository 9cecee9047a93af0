"""The pieces of signing in with the identity provider that need no network: the pending sign-in in its
cookie, the URL the browser is sent to, the provider's error codes and the client's HTTP Basic."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, unquote_plus, urlsplit

from hypothesis import example, given
from hypothesis import strategies as st

from api.authorization_code import PendingSignIn, _basic_auth, authorization_redirect, provider_error
from api.token_policy import SignInClient

CLIENT = SignInClient(
    "pjs", "https://idp.example/authorize?tenant=clinic", "https://idp.example/token", "https://pjs/cb"
)


def test_a_pending_sign_in_comes_back_from_its_cookie_and_goes_stale_after_its_time() -> None:
    pending = PendingSignIn.new(now=1_000_000)

    assert PendingSignIn.from_cookie(pending.cookie()) == pending
    assert pending.fresh(1_000_600, within_seconds=600)
    assert not pending.fresh(1_000_601, within_seconds=600)
    assert pending.fresh(999_970, within_seconds=600)  # another API process's clock a little behind
    assert not pending.fresh(999_939, within_seconds=600)  # over a minute ahead: made up


@given(st.one_of(st.text(max_size=80), st.lists(st.text(max_size=20), min_size=3, max_size=3).map(".".join)))
@example("state.verifier.\u00b2")  # a digit to str.isdigit, not to int()
@example("state.verifier.0000000000000000000000001")
def test_any_cookie_value_is_no_pending_sign_in_or_one_made_of_its_parts(value: str) -> None:
    parsed = PendingSignIn.from_cookie(value)

    assert parsed is None or value.startswith(f"{parsed.state}.{parsed.verifier}.")


def test_the_browser_is_sent_with_state_and_an_s256_challenge_of_the_verifier() -> None:
    pending = PendingSignIn.new(now=0)

    url = urlsplit(authorization_redirect(CLIENT, pending))
    query = {name: values[0] for name, values in parse_qs(url.query).items()}

    digest = hashlib.sha256(pending.verifier.encode()).digest()
    assert query["code_challenge"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert (query["state"], query["code_challenge_method"], query["tenant"]) == (
        pending.state,
        "S256",
        "clinic",
    )
    assert pending.verifier not in url.geturl()


def test_only_an_oauth_shaped_error_code_is_repeated() -> None:
    assert provider_error("access_denied") == "access_denied"
    for odd in (None, "", "<b>", "Access Denied", ["invalid_grant"], 7, "x" * 65):
        assert provider_error(odd) == "unspecified"


def test_http_basic_form_encodes_the_id_and_secret_first() -> None:
    header = _basic_auth("my client", "s3c:r&t")

    decoded = base64.b64decode(header.removeprefix("Basic ")).decode()
    client_id, _, secret = decoded.partition(":")
    assert (unquote_plus(client_id), unquote_plus(secret)) == ("my client", "s3c:r&t")
    assert decoded == "my+client:s3c%3Ar%26t"
