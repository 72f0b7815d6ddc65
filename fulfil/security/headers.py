"""Security headers on every response, Secure cookies over HTTPS, and the opt-in ProxyFix.

One place for all of it, registered in create_app:

- Content-Security-Policy without 'unsafe-inline' or 'unsafe-eval': every script and
  style is a file under static/, so an injected <script>, style or on*= handler never
  runs. htmx is told (meta htmx-config in base.html) not to inject its own <style> and
  not to eval, so it works under this policy. Product images come from the marketplaces'
  own image hosts, hence images from any http(s) address (an image cannot run code).
- frame-ancestors 'none' + X-Frame-Options DENY: the one-tap buttons cannot be framed
  and clickjacked. nosniff, and a Referrer-Policy that never sends a path elsewhere.
- Cache-Control: no-store on everything fulfil draws (orders carry buyers' names and
  addresses, and a shared tablet's cache outlives a sign-out); static files keep their
  own caching, and a view that chose its own Cache-Control keeps it.
- Cookies are marked Secure whenever the request came over HTTPS (request.is_secure),
  the session and remember-me cookies alike; FULFIL_SECURE_COOKIES=1 forces it always.
- Behind a reverse proxy that ends TLS, FULFIL_PROXY_FIX=N (the number of proxies in
  front, usually 1) trusts their X-Forwarded-Proto/-For/-Host/-Port, so request.is_secure
  and redirects see what the browser used. Off by default: without a proxy those headers
  come from the client and must not be believed.
"""
from flask import Response, has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https: http:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


class SecureCookieResponse(Response):
    """Every cookie set on a response to an HTTPS request is Secure (session, remember-me,
    and any added later), whatever the code that set it passed."""

    def set_cookie(self, key, *args, secure=False, **kwargs):
        if not secure and has_request_context() and request.is_secure:
            secure = True
        super().set_cookie(key, *args, secure=secure, **kwargs)


def add_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if not _is_static() and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "no-store"
    return response


def _is_static():
    endpoint = request.endpoint or ""
    return endpoint == "static" or endpoint.endswith(".static")


def init_app(app):
    app.response_class = SecureCookieResponse
    app.after_request(add_headers)
    proxies = int(app.config.get("PROXY_FIX") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies,
                                x_port=proxies)
