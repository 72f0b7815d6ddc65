"""Web-facing protections: response headers, cookies over HTTPS, the proxy in front."""
