"""IBM Cloudant IAM: an API key exchanged for bearer tokens, refreshed before they expire.

The exchange and the refresh (at 80 % of a token's lifetime, and at once within 10 s of its expiry) are
`ibm-cloud-sdk-core`'s token manager, the one IBM's own Cloudant SDK uses; this module only hangs it on the
`requests` session of `couch.Couch`.
"""

from __future__ import annotations

import requests
from ibm_cloud_sdk_core import ApiException
from ibm_cloud_sdk_core.token_managers.iam_token_manager import IAMTokenManager

from .couch import Unauthorized

IAM_TOKEN_URL = "https://iam.cloud.ibm.com/identity/token"


class IAMAuth(requests.auth.AuthBase):
    """`Authorization: Bearer <IAM token>` on every request; the token is fetched and renewed as needed."""

    def __init__(self, apikey: str, token_url: str = IAM_TOKEN_URL):
        self._tokens = IAMTokenManager(apikey, url=token_url)
        self.token_url = token_url

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        try:
            token = self._tokens.get_token()
        except (ApiException, requests.RequestException, ValueError) as exc:
            raise Unauthorized(401, "iam", f"no IAM token from {self.token_url}: {_reason(exc)}") from None
        request.headers["Authorization"] = f"Bearer {token}"
        return request


def _reason(exc: Exception) -> str:
    if isinstance(exc, ApiException):
        return f"HTTP {exc.status_code} {exc.message or ''}".strip()
    return exc.__class__.__name__
