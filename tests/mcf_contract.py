"""Amazon's Fulfillment Outbound model (Swagger 2.0) as a checker of HTTP traffic.

Swagger 2.0 schemas are JSON Schema draft 4 with `#/definitions/...` references, so each
schema is checked by a draft-4 validator whose root holds the model's definitions. A
`requests.Session` response hook checks every call: the operation exists, its required
path/query parameters are there, the body fits the body parameter's schema, the call
carries `x-amz-access-token`, and the answer fits the operation's schema for its status.
"""
import functools
import json
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
import requests

SPECS = Path(os.environ.get("FULFIL_SPECS_DIR",
                           Path(__file__).resolve().parents[2] / "shared" / "marketplaces" / "specs"))
SPEC_FILE = "amazon-fulfillment-outbound-2020-07-01.json"
LWA_PATH = "/auth/o2/token"


@functools.cache
def spec():
    path = SPECS / SPEC_FILE
    if not path.is_file():
        pytest.fail(f"Amazon's model is not at {path} (set FULFIL_SPECS_DIR)")
    return json.loads(path.read_text(encoding="utf-8"))


@functools.cache
def operations():
    found = []
    for path, item in spec()["paths"].items():
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$")
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                found.append((path.count("{"), method.upper(), pattern, operation))
    return [(m, p, o) for _, m, p, o in sorted(found, key=lambda f: f[0])]


def operation_for(method, path):
    for op_method, pattern, operation in operations():
        if op_method == method and pattern.match(path):
            return operation
    return None


def schema_errors(schema, instance):
    root = {**schema, "definitions": spec()["definitions"]}
    validator = jsonschema.Draft4Validator(root, format_checker=jsonschema.FormatChecker())
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance)]


def definition(name):
    return {"$ref": f"#/definitions/{name}"}


def check_exchange(response):
    """Everything wrong with one request and its answer, as a list of strings."""
    request = response.request
    url = urlsplit(request.url)
    if url.path == LWA_PATH:
        return _check_lwa(response)
    problems = []
    operation = operation_for(request.method, url.path)
    if operation is None:
        return [f"{request.method} {url.path} is not in Amazon's model"]
    name = operation["operationId"]
    if not request.headers.get("x-amz-access-token"):
        problems.append(f"{name}: no x-amz-access-token header")
    query = parse_qs(url.query)
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query" and parameter.get("required") and parameter["name"] not in query:
            problems.append(f"{name}: required query parameter {parameter['name']} missing")
        if parameter["in"] == "body":
            try:
                body = json.loads(request.body or b"null")
            except ValueError:
                problems.append(f"{name}: request body is not JSON")
                continue
            problems += [f"{name} request {p}" for p in schema_errors(parameter["schema"], body)]
    known = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
    problems += [f"{name}: query parameter {q} is not in the model" for q in set(query) - known]
    answer = operation["responses"].get(str(response.status_code))
    if answer is None:
        problems.append(f"{name}: status {response.status_code} is not in the model")
    elif response.content:
        try:
            body = response.json()
        except ValueError:
            return problems + [f"{name}: answer is not JSON"]
        problems += [f"{name} answer {response.status_code} {p}" for p in schema_errors(answer["schema"], body)]
    return problems


def _check_lwa(response):
    """Login with Amazon is outside the model; its documented shape is checked here."""
    form = parse_qs(response.request.body if isinstance(response.request.body, str)
                    else (response.request.body or b"").decode())
    problems = [f"LWA: form field {f} missing" for f in ("grant_type", "refresh_token", "client_id",
                                                         "client_secret") if f not in form]
    if response.ok:
        body = response.json()
        problems += [f"LWA answer: {f} missing" for f in ("access_token", "token_type", "expires_in")
                     if f not in body]
    return problems


class ContractSession(requests.Session):
    """A session that records every contract breach of the traffic it carries."""

    def __init__(self):
        super().__init__()
        self.problems, self.calls = [], []
        self.hooks["response"].append(self._check)

    def _check(self, response, *args, **kwargs):
        self.calls.append((response.request.method, urlsplit(response.request.url).path, response.status_code))
        self.problems += check_exchange(response)
        return response
