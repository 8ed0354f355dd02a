"""nimbus's Lambda runtime for Python: a Runtime API (2018-06-01) client loop.

Started as `python3 -u bootstrap.py` with Lambda's environment; it imports
the handler `module.function` from LAMBDA_TASK_ROOT and serves invocations
until the sandbox is killed. Standard library only.
"""

import importlib
import json
import os
import socket
import sys
import time

API_VERSION = "2018-06-01"


class RuntimeClient:
    """Talks HTTP/1.1 to the Runtime API over one kept-alive socket.

    A few lines over a socket rather than http.client, whose imports (email
    and friends) would add tens of milliseconds to every cold start.
    """

    def __init__(self, address):
        host, _, port = address.rpartition(":")
        self.addr = (host, int(port))
        self.sock = None
        self.rfile = None

    def _close(self):
        if self.sock is not None:
            self.rfile.close()
            self.sock.close()
        self.sock = None
        self.rfile = None

    def _request(self, method, path, body=b"", headers=None):
        head = [
            "%s /%s%s HTTP/1.1" % (method, API_VERSION, path),
            "Host: %s:%d" % self.addr,
            "Content-Length: %d" % len(body),
        ]
        head.extend("%s: %s" % kv for kv in (headers or {}).items())
        data = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        for attempt in (1, 2):
            if self.sock is None:
                self.sock = socket.create_connection(self.addr)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.rfile = self.sock.makefile("rb")
            try:
                self.sock.sendall(data)
                return self._read_response()
            except (ConnectionError, EOFError):
                # A kept-alive connection the server closed: reconnect once.
                self._close()
                if attempt == 2:
                    raise

    def _read_response(self):
        status_line = self.rfile.readline()
        if not status_line:
            raise EOFError("runtime API closed the connection")
        status = int(status_line.split()[1])
        headers = {}
        while True:
            line = self.rfile.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("utf-8", "replace").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers: none the runtime needs
                    break
                chunks.append(self._read_exactly(size))
                self.rfile.readline()
            body = b"".join(chunks)
        else:
            body = self._read_exactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self._close()
        return status, headers, body

    def _read_exactly(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise EOFError("runtime API response cut short")
        return data

    def next(self):
        status, headers, body = self._request("GET", "/runtime/invocation/next")
        if status != 200:
            raise RuntimeError("runtime API /next answered %d: %r" % (status, body[:200]))
        return headers, body

    def respond(self, request_id, payload):
        status, _, body = self._request(
            "POST", "/runtime/invocation/%s/response" % request_id, payload, {"Content-Type": "application/json"}
        )
        if status == 413:
            # The API turned it into Function.ResponseSizeTooLarge already.
            print("[ERROR] response too large for request %s" % request_id, file=sys.stderr)
        elif status != 202:
            raise RuntimeError("runtime API /response answered %d: %r" % (status, body[:200]))

    def fail(self, request_id, error):
        self._post_error("/runtime/invocation/%s/error" % request_id, error)

    def init_error(self, error):
        self._post_error("/runtime/init/error", error)

    def _post_error(self, path, error):
        payload = json.dumps(error).encode()
        status, _, body = self._request(
            "POST",
            path,
            payload,
            {"Content-Type": "application/json", "Lambda-Runtime-Function-Error-Type": error["errorType"]},
        )
        if status != 202:
            raise RuntimeError("runtime API %s answered %d: %r" % (path, status, body[:200]))


class LambdaContext:
    """The context object Lambda passes to Python handlers."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, identity, tenant_id):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.client_context = client_context
        self.identity = identity
        self.tenant_id = tenant_id
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


class CognitoIdentity:
    """context.identity: the caller's Amazon Cognito identity, when it has one."""

    def __init__(self, values):
        self.cognito_identity_id = values.get("cognitoIdentityId")
        self.cognito_identity_pool_id = values.get("cognitoIdentityPoolId")


class Client:
    """context.client_context.client: the mobile app that invoked the function."""

    def __init__(self, values):
        self.installation_id = values.get("installation_id")
        self.app_title = values.get("app_title")
        self.app_version_name = values.get("app_version_name")
        self.app_version_code = values.get("app_version_code")
        self.app_package_name = values.get("app_package_name")


class ClientContext:
    """context.client_context: what the invoking client sent as its context."""

    def __init__(self, values):
        client = values.get("client")
        self.client = Client(client) if isinstance(client, dict) else None
        self.custom = values.get("custom")
        self.env = values.get("env")


def _stack(tb):
    import traceback  # only errors need it: kept out of the cold start

    return [line for line in traceback.format_list(traceback.extract_tb(tb))]


def error_document(exc, error_type=None, message=None, tb=None):
    return {
        "errorMessage": message if message is not None else str(exc),
        "errorType": error_type or type(exc).__name__,
        "requestId": "",
        "stackTrace": _stack(tb if tb is not None else exc.__traceback__),
    }


def log_error(doc):
    """Logs an error as Lambda's Python runtime does: type, message, then the traceback."""
    lines = ["[ERROR] %s: %s" % (doc["errorType"], doc["errorMessage"])]
    if doc["stackTrace"]:
        lines.append("Traceback (most recent call last):")
        lines.extend(frame.rstrip("\n") for frame in doc["stackTrace"])
    print("\n".join(lines), file=sys.stderr, flush=True)


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


def decode_json_header(headers, name, kind):
    value = headers.get(name)
    if not value:
        return None
    try:
        values = json.loads(value)
    except ValueError:
        return None
    return kind(values) if isinstance(values, dict) else None


def serve(client, handler):
    while True:
        headers, body = client.next()
        request_id = headers.get("lambda-runtime-aws-request-id")
        trace_id = headers.get("lambda-runtime-trace-id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        context = LambdaContext(
            request_id,
            int(headers.get("lambda-runtime-deadline-ms") or 0),
            headers.get("lambda-runtime-invoked-function-arn"),
            decode_json_header(headers, "lambda-runtime-client-context", ClientContext),
            decode_json_header(headers, "lambda-runtime-cognito-identity", CognitoIdentity),
            headers.get("lambda-runtime-aws-tenant-id"),
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


def await_claim(control):
    """Waits, as a warm spare, for a function, then takes its environment.

    A spare starts before it knows its function: the interpreter is up and
    the modules above imported when it blocks on the gate. Once claimed it
    takes the function's environment from start.json and goes on as if
    started with it. EOF on the gate without a line means the spare was
    dropped unclaimed.
    """
    with open(os.path.join(control, "gate"), "rb") as gate:
        if not gate.read():
            sys.exit(0)
    with open(os.path.join(control, "start.json"), "rb") as f:
        start = json.load(f)
    os.environ.clear()
    os.environ.update(start["env"])


def main():
    control = os.environ.get("NIMBUS_SPARE_CONTROL")
    if control:
        await_claim(control)
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
