"""AWS Signature Version 4 as an auth scheme (``aws_sigv4``): botocore signs, botocore finds the credentials.

A spec names it with ``auth: {scheme: aws_sigv4, signing_name: <service>, signing_region: "{region}",
package_extra: <extra>}``. Nothing here is cryptography of our own: the canonical request, the string to sign
and the signature are botocore's ``SigV4Auth``, and the credentials come from botocore's chain (environment
variables, shared credentials and config files with profiles, SSO, assumed roles, web identity, container
and instance metadata), so whatever works for the AWS CLI works here.

botocore is imported on the first signed request, never before: clients of other providers, and clients of
this one that use an API key instead, do not pay for it and do not need it installed. Without it, signing
fails with one line naming the package extra to install; without credentials, with an `AuthenticationError`
listing where botocore looked.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from vllora_llm.engine.errors import AuthenticationError
from vllora_llm.engine.wire import AuthSpec, WireRequest

from .auth import Credentials, register_auth_scheme

__all__ = ["AwsSigV4Scheme", "SigningCredentials"]

_ENV_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
_PLACEHOLDER = re.compile(r"\{([^}]*)\}")


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class SigningCredentials(Credentials):
    """Where to find AWS credentials (resolved lazily, then kept); hides itself like `Credentials`."""

    environ: Mapping[str, str] = field(default_factory=dict)
    _resolved: list[Any] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def provider(self, spec: AuthSpec) -> Any:
        """botocore's credentials object (refreshable ones refresh themselves), found once."""
        if self._resolved:
            return self._resolved[0]
        with self._lock:
            if not self._resolved:
                self._resolved.append(_find_credentials(self.environ, spec))
        return self._resolved[0]


def _need(spec: AuthSpec) -> str:
    extra = spec.package_extra
    install = f"pip install 'vllora-llm[{extra}]'" if extra else "pip install botocore"
    alternative = ""
    if spec.api_key is not None:
        names = " or ".join(spec.api_key.env)
        alternative = f" (or use an API key: pass api_key={' or set ' + names if names else ''})"
    return f"{install}{alternative}"


def _botocore(spec: AuthSpec) -> tuple[Any, Any]:
    """(SigV4Auth, AWSRequest), importing botocore now; a one-line error naming the extra when it is missing."""
    try:
        from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
        from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
    except ImportError:
        raise AuthenticationError(
            f"aws_sigv4 request signing needs botocore, which is not installed: {_need(spec)}"
        ) from None
    return SigV4Auth, AWSRequest


def _find_credentials(environ: Mapping[str, str], spec: AuthSpec) -> Any:
    _botocore(spec)
    import botocore.session  # type: ignore[import-untyped]
    from botocore.credentials import EnvProvider  # type: ignore[import-untyped]
    from botocore.exceptions import BotoCoreError  # type: ignore[import-untyped]

    try:
        found = EnvProvider(environ=dict(environ)).load()  # the given environment first (botocore's own reader)
        if found is not None:
            return found
        session = botocore.session.Session()
        found = session.get_credentials()  # then the whole default chain
    except BotoCoreError as exc:  # a broken profile, an expired SSO token, a failed role assumption
        raise AuthenticationError(f"aws_sigv4: finding AWS credentials failed: {exc}") from None
    if found is None:
        resolver = session.get_component("credential_provider")
        looked = ", ".join(getattr(p, "METHOD", type(p).__name__) for p in getattr(resolver, "providers", ()))
        alternative = ""
        if spec.api_key is not None and spec.api_key.env:
            alternative = f"; or use an API key: pass api_key= or set {' or '.join(spec.api_key.env)}"
        raise AuthenticationError(
            "no AWS credentials to sign the request with (aws_sigv4"
            + (f", service {spec.signing_name}" if spec.signing_name else "")
            + f"): looked for AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, then botocore's chain ({looked})"
            + alternative
        )
    return found


class AwsSigV4Scheme:
    """``auth.scheme: aws_sigv4``: sign each request with botocore's ``SigV4Auth``."""

    def credentials(self, spec: AuthSpec, api_key: str | None, environ: Mapping[str, str]) -> Credentials:
        if api_key:
            raise AuthenticationError(
                "aws_sigv4 signs requests with AWS credentials; this spec declares no API-key form, so api_key= "
                "cannot be used (set AWS credentials: environment, profile, SSO or role)"
            )
        secrets = {name: environ[name] for name in _ENV_SECRETS if environ.get(name)}
        return SigningCredentials(None, secrets, environ)

    def apply(self, wire: WireRequest, spec: AuthSpec, credentials: Credentials) -> WireRequest:
        if not isinstance(credentials, SigningCredentials):
            raise AuthenticationError("aws_sigv4 needs credentials from its own credentials() step")
        if not spec.signing_name:
            raise AuthenticationError("auth scheme 'aws_sigv4' needs auth.signing_name (the service to sign for)")
        region = spec.signing_region or ""
        missing = _PLACEHOLDER.findall(region)
        if not region or missing:
            option = missing[0] if missing else "region"
            raise AuthenticationError(
                f"aws_sigv4: no region to sign for; pass {option}= to the client or set the variable the spec "
                f"declares for {{{option}}} (endpoint.placeholders)"
            )
        sigv4_auth, aws_request = _botocore(spec)
        frozen = credentials.provider(spec).get_frozen_credentials()
        request = aws_request(method=wire.method, url=wire.url, headers=dict(wire.headers), data=wire.body)
        sigv4_auth(frozen, spec.signing_name, region).add_auth(request)
        return msgspec.structs.replace(wire, headers={str(k): str(v) for k, v in request.headers.items()})


register_auth_scheme("aws_sigv4", AwsSigV4Scheme())
