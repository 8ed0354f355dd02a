"""nimbus's Lambda runtime for Python: a Runtime API (2018-06-01) client loop.

Started as `python3 -u bootstrap.py` with Lambda's environment; it imports
the handler `module.function` from LAMBDA_TASK_ROOT and serves invocations
until the sandbox is killed. Standard library only.
"""

import http.client
import importlib
import json
import os
import sys
import time
import traceback

API_VERSION = "2018-06-01"


class RuntimeClient:
    """Talks to the Runtime API over one kept-alive connection."""

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.host = host
        self.port = int(port)
        self.conn = None

    def _request(self, method, path, body=None, headers=None):
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port)
            try:
                self.conn.request(method, "/" + API_VERSION + path, body=body, headers=headers or {})
                resp = self.conn.getresponse()
                return resp, resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # A kept-alive connection the server closed: reconnect once.
                self.conn.close()
                self.conn = None
                if attempt == 2:
                    raise

    def next(self):
        resp, body = self._request("GET", "/runtime/invocation/next")
        if resp.status != 200:
            raise RuntimeError("runtime API /next answered %d: %r" % (resp.status, body[:200]))
        return resp.headers, body

    def respond(self, request_id, payload):
        resp, body = self._request(
            "POST", "/runtime/invocation/%s/response" % request_id, payload, {"Content-Type": "application/json"}
        )
        if resp.status == 413:
            # The API turned it into Function.ResponseSizeTooLarge already.
            print("[ERROR] response too large for request %s" % request_id, file=sys.stderr)
        elif resp.status != 202:
            raise RuntimeError("runtime API /response answered %d: %r" % (resp.status, body[:200]))

    def fail(self, request_id, error):
        self._post_error("/runtime/invocation/%s/error" % request_id, error)

    def init_error(self, error):
        self._post_error("/runtime/init/error", error)

    def _post_error(self, path, error):
        payload = json.dumps(error).encode()
        resp, body = self._request(
            "POST",
            path,
            payload,
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error["errorType"]},
        )
        if resp.status != 202:
            raise RuntimeError("runtime API %s answered %d: %r" % (path, resp.status, body[:200]))


class LambdaContext:
    """The context object Lambda passes to Python handlers."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, identity):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = client_context
        self.identity = identity
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def __repr__(self):
        return "LambdaContext([aws_request_id=%s,function_name=%s,function_version=%s,invoked_function_arn=%s])" % (
            self.aws_request_id,
            self.function_name,
            self.function_version,
            self.invoked_function_arn,
        )


class _Attrs:
    """Attribute access over a decoded JSON object, for client_context and identity."""

    def __init__(self, values):
        for key, value in (values or {}).items():
            setattr(self, key, value)


def _stack(tb):
    return [line for line in traceback.format_list(traceback.extract_tb(tb))]


def error_document(exc, error_type=None, message=None, tb=None):
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": _stack(tb if tb is not None else exc.__traceback__),
    }


def log_error(doc):
    print("[ERROR] %s: %s" % (doc["errorType"], doc["errorMessage"]), file=sys.stderr, flush=True)


def load_handler(spec):
    """Imports `module.function` (the module may be a path, a/b/mod.func)."""
    try:
        module_path, function_name = spec.rsplit(".", 1)
    except ValueError as exc:
        return None, error_document(exc, "Runtime.MalformedHandlerName", "Bad handler '%s': %s" % (spec, exc), tb=None)
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except SyntaxError as exc:
        return None, error_document(
            exc, "Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_name, exc)
        )
    except ImportError as exc:
        return None, error_document(
            exc, "Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, exc)
        )
    except Exception as exc:  # anything the module raised while loading
        doc = error_document(exc)
        doc["errorMessage"] = str(exc)
        return None, doc
    handler = getattr(module, function_name, None)
    if handler is None:
        return None, {
            "errorMessage": "Handler '%s' missing on module '%s'" % (function_name, module_name),
            "errorType": "Runtime.HandlerNotFound",
            "requestId": "",
            "stackTrace": [],
        }
    return handler, None


def decode_json_header(headers, name):
    value = headers.get(name)
    if not value:
        return None
    try:
        return _Attrs(json.loads(value))
    except ValueError:
        return None


def serve(client, handler):
    while True:
        headers, body = client.next()
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        trace_id = headers.get("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        context = LambdaContext(
            request_id,
            int(headers.get("Lambda-Runtime-Deadline-Ms") or 0),
            headers.get("Lambda-Runtime-Invoked-Function-Arn"),
            decode_json_header(headers, "Lambda-Runtime-Client-Context"),
            decode_json_header(headers, "Lambda-Runtime-Cognito-Identity"),
        )
        try:
            event = json.loads(body) if body else None
        except ValueError as exc:
            doc = error_document(exc, "Runtime.UnmarshalError", "Unable to unmarshal input: %s" % exc)
            log_error(doc)
            client.fail(request_id, doc)
            continue
        try:
            result = handler(event, context)
        except Exception as exc:
            doc = error_document(exc)
            doc["requestId"] = request_id
            # Drop the bootstrap's own frame: users see their code only.
            doc["stackTrace"] = doc["stackTrace"][1:]
            log_error(doc)
            client.fail(request_id, doc)
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            doc = error_document(exc, "Runtime.MarshalError", "Unable to marshal response: %s" % exc)
            doc["requestId"] = request_id
            log_error(doc)
            client.fail(request_id, doc)
            continue
        client.respond(request_id, payload)


def main():
    client = RuntimeClient(os.environ["AWS_LAMBDA_RUNTIME_API"])
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    sys.path.insert(0, task_root)
    if os.path.isdir("/opt/python"):
        sys.path.insert(1, "/opt/python")
    os.chdir(task_root)
    handler, init_error = load_handler(os.environ.get("_HANDLER", ""))
    if init_error is not None:
        log_error(init_error)
        client.init_error(init_error)
        sys.exit(1)
    serve(client, handler)


if __name__ == "__main__":
    main()
