// nimbus's Lambda runtime for Java: a Runtime API (2018-06-01) client loop.
//
// nimbus compiles this file once with the host's javac and starts it as
//   java <Lambda's JVM flags> -cp <its classes>:/var/task:/var/task/*:/var/task/lib/* NimbusBootstrap
// with Lambda's environment. It loads the handler `pkg.Class::method` or
// `pkg.Class` (method handleRequest) and serves invocations until the
// sandbox is killed. JDK standard library only: the JSON codec is its own,
// and a user's aws-lambda-java-core Context is implemented by a dynamic
// proxy, so nothing of AWS's needs to be on the host.

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Proxy;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Path;
import java.time.temporal.TemporalAccessor;
import java.time.temporal.TemporalAmount;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.Date;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

public final class NimbusBootstrap {
    private static final String API_VERSION = "2018-06-01";
    private static final String CONTEXT_CLASS = "com.amazonaws.services.lambda.runtime.Context";

    private NimbusBootstrap() {}

    public static void main(String[] args) {
        RuntimeClient client = new RuntimeClient(System.getenv("AWS_LAMBDA_RUNTIME_API"));
        Handler handler;
        try {
            handler = Handler.load(getenv("_HANDLER", ""));
        } catch (InitFailure f) {
            logError(f.doc);
            try {
                client.postError("/runtime/init/error", f.doc);
            } catch (IOException e) {
                System.err.println("[ERROR] report init error: " + e);
            }
            System.exit(1);
            return;
        }
        try {
            serve(client, handler);
        } catch (IOException e) {
            System.err.println("[ERROR] runtime API: " + e);
            System.exit(1);
        }
    }

    private static String getenv(String key, String fallback) {
        String v = System.getenv(key);
        return v == null ? fallback : v;
    }

    private static void serve(RuntimeClient client, Handler handler) throws IOException {
        while (true) {
            Response next = client.request("GET", "/runtime/invocation/next", null, null);
            if (next.status != 200) {
                throw new IOException("/next answered " + next.status + ": " + next.text());
            }
            String requestId = next.header("lambda-runtime-aws-request-id");
            String traceId = next.header("lambda-runtime-trace-id");
            if (traceId != null) {
                System.setProperty("com.amazonaws.xray.traceHeader", traceId);
            } else {
                System.clearProperty("com.amazonaws.xray.traceHeader");
            }
            Invocation inv = new Invocation(next, requestId);
            byte[] payload;
            try {
                payload = handler.invoke(next.body, inv);
            } catch (Throwable t) {
                Map<String, Object> doc = errorDocument(t);
                logError(doc);
                client.postError("/runtime/invocation/" + requestId + "/error", doc);
                if (t instanceof VirtualMachineError) {
                    // Out of memory or stack, the JVM may be broken: end
                    // it so the sandbox is not used again, as Lambda does.
                    System.exit(1);
                }
                continue;
            }
            Response res = client.request("POST", "/runtime/invocation/" + requestId + "/response", payload, null);
            if (res.status == 413) {
                System.err.println("[ERROR] response too large for request " + requestId);
            } else if (res.status != 202) {
                throw new IOException("/response answered " + res.status + ": " + res.text());
            }
        }
    }

    // errorDocument is the Java runtime's error shape: the exception's class
    // name as errorType, its frames down to the handler's as stackTrace,
    // and its cause, if any, likewise.
    static Map<String, Object> errorDocument(Throwable t) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("errorMessage", t.getMessage());
        doc.put("errorType", t.getClass().getName());
        List<String> frames = new ArrayList<>();
        for (StackTraceElement e : t.getStackTrace()) {
            String cls = e.getClassName();
            // The reflective call into the handler and this file's frames
            // are the runtime's, never the user's.
            if (cls.startsWith("NimbusBootstrap") || cls.startsWith("jdk.internal.reflect.")
                    || cls.equals("java.lang.reflect.Method")) {
                break;
            }
            frames.add(e.toString());
        }
        doc.put("stackTrace", frames);
        if (t.getCause() != null && t.getCause() != t) {
            doc.put("cause", errorDocument(t.getCause()));
        }
        return doc;
    }

    static Map<String, Object> errorDocument(String type, String message) {
        Map<String, Object> doc = new LinkedHashMap<>();
        doc.put("errorMessage", message);
        doc.put("errorType", type);
        doc.put("stackTrace", new ArrayList<String>());
        return doc;
    }

    static void logError(Map<String, Object> doc) {
        System.err.println(Json.write(doc));
    }

    // The values of one invocation the Context answers with.
    static final class Invocation {
        final String requestId;
        final String functionArn;
        final long deadlineMs;
        final String traceId;
        final String tenantId;
        final String identity; // the Cognito identity JSON; null for none
        final String clientContext; // the client context JSON; null for none

        Invocation(Response next, String requestId) {
            this.requestId = requestId;
            this.functionArn = next.header("lambda-runtime-invoked-function-arn");
            this.traceId = next.header("lambda-runtime-trace-id");
            this.tenantId = next.header("lambda-runtime-aws-tenant-id");
            this.identity = next.header("lambda-runtime-cognito-identity");
            this.clientContext = next.header("lambda-runtime-client-context");
            long deadline = 0;
            try {
                deadline = Long.parseLong(next.header("lambda-runtime-deadline-ms"));
            } catch (NumberFormatException | NullPointerException e) {
                // no deadline: the remaining time reads as 0
            }
            this.deadlineMs = deadline;
        }

        int remainingMillis() {
            return (int) Math.max(0, Math.min(Integer.MAX_VALUE, deadlineMs - System.currentTimeMillis()));
        }
    }

    // A handler that could not be loaded, with the error document to post.
    static final class InitFailure extends Exception {
        private static final long serialVersionUID = 1L;
        final transient Map<String, Object> doc;

        InitFailure(Map<String, Object> doc) {
            super(String.valueOf(doc.get("errorMessage")));
            this.doc = doc;
        }
    }

    // Handler is the user's method and how to call it.
    static final class Handler {
        private final Object target; // null for a static method
        private final Method method;
        private final boolean streaming; // (InputStream, OutputStream[, Context])
        private final Type inputType; // POJO style: the event's type; null when it takes none
        private final Class<?> contextType; // the Context parameter's type; null when it takes none

        private Handler(Object target, Method method, boolean streaming, Type inputType, Class<?> contextType) {
            this.target = target;
            this.method = method;
            this.streaming = streaming;
            this.inputType = inputType;
            this.contextType = contextType;
        }

        static Handler load(String spec) throws InitFailure {
            String className = spec;
            String methodName = "handleRequest";
            int sep = spec.indexOf("::");
            if (sep >= 0) {
                className = spec.substring(0, sep);
                methodName = spec.substring(sep + 2);
            }
            if (className.isEmpty() || methodName.isEmpty()) {
                throw new InitFailure(errorDocument("java.lang.IllegalArgumentException",
                        "Invalid handler '" + spec + "': want package.Class::method or package.Class"));
            }
            Class<?> cls;
            try {
                cls = Class.forName(className, true, ClassLoader.getSystemClassLoader());
            } catch (ClassNotFoundException | NoClassDefFoundError e) {
                throw new InitFailure(errorDocument("java.lang.ClassNotFoundException", "Class not found: " + className));
            } catch (ExceptionInInitializerError e) {
                throw new InitFailure(errorDocument(e.getCause() != null ? e.getCause() : e));
            } catch (Throwable t) {
                throw new InitFailure(errorDocument(t));
            }
            Method method = pick(cls, methodName);
            if (method == null) {
                throw new InitFailure(errorDocument("java.lang.NoSuchMethodException", "No public method named "
                        + methodName + " with appropriate method signature found on class " + cls.getName()));
            }
            Object target = null;
            if (!Modifier.isStatic(method.getModifiers())) {
                try {
                    Constructor<?> ctor = cls.getDeclaredConstructor();
                    ctor.setAccessible(true);
                    target = ctor.newInstance();
                } catch (NoSuchMethodException e) {
                    throw new InitFailure(errorDocument("java.lang.NoSuchMethodException",
                            "Class " + cls.getName() + " has no public zero-argument constructor"));
                } catch (InvocationTargetException e) {
                    throw new InitFailure(errorDocument(e.getCause()));
                } catch (ReflectiveOperationException e) {
                    throw new InitFailure(errorDocument(e));
                }
            }
            method.setAccessible(true);
            Class<?>[] params = method.getParameterTypes();
            Type[] generic = method.getGenericParameterTypes();
            boolean streaming = params.length >= 2 && params[0] == InputStream.class && params[1] == OutputStream.class;
            if (streaming) {
                return new Handler(target, method, true, null, params.length == 3 ? params[2] : null);
            }
            return new Handler(target, method, false, params.length >= 1 ? generic[0] : null,
                    params.length == 2 ? params[1] : null);
        }

        // pick chooses among the public methods named name: a streaming
        // method first, then the one taking the most of (event, context),
        // never a compiler's bridge method (whose types are erased).
        private static Method pick(Class<?> cls, String name) {
            Method best = null;
            int bestScore = -1;
            for (Method m : cls.getMethods()) {
                if (!m.getName().equals(name) || m.isBridge() || m.isSynthetic()) {
                    continue;
                }
                Class<?>[] p = m.getParameterTypes();
                int score;
                if (p.length >= 2 && p[0] == InputStream.class && p[1] == OutputStream.class && p.length <= 3) {
                    score = 10 + p.length;
                } else if (p.length <= 2) {
                    score = p.length;
                } else {
                    continue;
                }
                if (score > bestScore) {
                    best = m;
                    bestScore = score;
                }
            }
            if (best == null) {
                for (Method m : cls.getMethods()) { // only a bridge method: take it
                    if (m.getName().equals(name) && m.getParameterCount() <= 2) {
                        return m;
                    }
                }
            }
            return best;
        }

        byte[] invoke(byte[] event, Invocation inv) throws Throwable {
            Object ctx = contextType == null ? null : Contexts.make(contextType, inv);
            try {
                if (streaming) {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    InputStream in = new ByteArrayInputStream(event);
                    if (contextType != null) {
                        method.invoke(target, in, out, ctx);
                    } else {
                        method.invoke(target, in, out);
                    }
                    return out.toByteArray();
                }
                Object result;
                if (inputType == null) {
                    result = method.invoke(target);
                } else {
                    Object input = decodeEvent(event);
                    result = contextType == null ? method.invoke(target, input) : method.invoke(target, input, ctx);
                }
                return Json.write(result).getBytes(StandardCharsets.UTF_8);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        }

        private Object decodeEvent(byte[] event) {
            try {
                Object tree = event.length == 0 ? null : Json.parse(new String(event, StandardCharsets.UTF_8));
                return Json.convert(tree, inputType);
            } catch (RuntimeException e) {
                throw new RuntimeException("An error occurred during JSON parsing", e);
            }
        }
    }

    // Contexts makes the Context a handler takes: a proxy of the user's
    // com.amazonaws.services.lambda.runtime.Context interface, or null
    // where the parameter is of another type (Object, say).
    static final class Contexts {
        static Object make(Class<?> type, Invocation inv) {
            if (!type.isInterface() || !type.getName().equals(CONTEXT_CLASS)) {
                return null;
            }
            return Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, new ContextHandler(inv));
        }
    }

    static final class ContextHandler implements InvocationHandler {
        private final Invocation inv;

        ContextHandler(Invocation inv) {
            this.inv = inv;
        }

        @Override
        public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
            switch (m.getName()) {
                case "getAwsRequestId":
                    return inv.requestId;
                case "getLogGroupName":
                    return System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
                case "getLogStreamName":
                    return System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
                case "getFunctionName":
                    return System.getenv("AWS_LAMBDA_FUNCTION_NAME");
                case "getFunctionVersion":
                    return System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
                case "getInvokedFunctionArn":
                    return inv.functionArn;
                case "getRemainingTimeInMillis":
                    return inv.remainingMillis();
                case "getMemoryLimitInMB":
                    try {
                        return Integer.parseInt(getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "0"));
                    } catch (NumberFormatException e) {
                        return 0;
                    }
                case "getTenantId":
                    return inv.tenantId;
                case "getXrayTraceId":
                    return inv.traceId;
                case "getIdentity":
                    return ValueProxy.of(m.getReturnType(), inv.identity);
                case "getClientContext":
                    return ValueProxy.of(m.getReturnType(), inv.clientContext);
                case "getLogger":
                    return Proxy.newProxyInstance(m.getReturnType().getClassLoader(),
                            new Class<?>[] {m.getReturnType()}, new LoggerHandler());
                case "toString":
                    return "LambdaContext[requestId=" + inv.requestId + "]";
                case "hashCode":
                    return System.identityHashCode(proxy);
                case "equals":
                    return proxy == args[0];
                default:
                    if (m.isDefault()) {
                        return InvocationHandler.invokeDefault(proxy, m, args);
                    }
                    return zero(m.getReturnType());
            }
        }
    }

    // ValueProxy implements one of aws-lambda-java-core's value interfaces
    // (CognitoIdentity, ClientContext, Client) over the JSON Lambda sent:
    // getX reads key x, x_snake_case or cognitoX (getIdentityId ->
    // cognitoIdentityId, getAppTitle -> app_title, getEnvironment -> env).
    static final class ValueProxy implements InvocationHandler {
        private final Map<?, ?> values;

        private ValueProxy(Map<?, ?> values) {
            this.values = values;
        }

        static Object of(Class<?> type, String json) {
            if (json == null || json.isEmpty() || !type.isInterface()) {
                return null;
            }
            Object tree;
            try {
                tree = Json.parse(json);
            } catch (IllegalArgumentException e) {
                return null;
            }
            return proxy(type, tree);
        }

        private static Object proxy(Class<?> type, Object tree) {
            if (!(tree instanceof Map)) {
                return null;
            }
            return Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, new ValueProxy((Map<?, ?>) tree));
        }

        @Override
        public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
            String name = m.getName();
            switch (name) {
                case "toString":
                    return Json.write(values);
                case "hashCode":
                    return System.identityHashCode(proxy);
                case "equals":
                    return proxy == args[0];
                default:
                    break;
            }
            if (!name.startsWith("get") || name.length() == 3) {
                return m.isDefault() ? InvocationHandler.invokeDefault(proxy, m, args) : zero(m.getReturnType());
            }
            String prop = Character.toLowerCase(name.charAt(3)) + name.substring(4);
            Object v = null;
            for (String key : new String[] {prop, snake(prop), "cognito" + name.substring(3),
                    prop.equals("environment") ? "env" : prop}) {
                if (values.containsKey(key)) {
                    v = values.get(key);
                    break;
                }
            }
            Class<?> rt = m.getReturnType();
            if (v == null || rt == Object.class || rt.isInstance(v)) {
                return v == null ? zero(rt) : v;
            }
            if (rt.isInterface() && !Map.class.isAssignableFrom(rt)) {
                return proxy(rt, v);
            }
            return Json.convert(v, m.getGenericReturnType());
        }

        private static String snake(String camel) {
            StringBuilder b = new StringBuilder();
            for (char c : camel.toCharArray()) {
                if (Character.isUpperCase(c)) {
                    b.append('_').append(Character.toLowerCase(c));
                } else {
                    b.append(c);
                }
            }
            return b.toString();
        }
    }

    // LoggerHandler is LambdaLogger's log(String) and log(byte[]) (and their
    // log-level overloads): lines to stdout, as Lambda's logger writes them.
    // A class rather than a method reference: the first lambda of a JVM
    // costs tens of milliseconds of invokedynamic bootstrapping.
    static final class LoggerHandler implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method m, Object[] args) {
            return log(proxy, m, args);
        }
    }

    private static Object log(Object proxy, Method m, Object[] args) {
        switch (m.getName()) {
            case "log":
                if (args != null && args.length > 0) {
                    Object msg = args[0];
                    if (msg instanceof byte[]) {
                        System.out.print(new String((byte[]) msg, StandardCharsets.UTF_8));
                    } else {
                        System.out.print(msg);
                    }
                    System.out.flush();
                }
                return null;
            case "toString":
                return "LambdaLogger";
            case "hashCode":
                return System.identityHashCode(proxy);
            case "equals":
                return proxy == args[0];
            default:
                return zero(m.getReturnType());
        }
    }

    private static Object zero(Class<?> type) {
        if (!type.isPrimitive() || type == void.class) {
            return null;
        }
        if (type == boolean.class) {
            return false;
        }
        if (type == char.class) {
            return '\0';
        }
        return Json.convert(0L, type);
    }

    // Response is one Runtime API answer.
    static final class Response {
        final int status;
        final Map<String, String> headers;
        final byte[] body;

        Response(int status, Map<String, String> headers, byte[] body) {
            this.status = status;
            this.headers = headers;
            this.body = body;
        }

        String header(String name) {
            return headers.get(name);
        }

        String text() {
            return new String(body, 0, Math.min(body.length, 200), StandardCharsets.UTF_8);
        }
    }

    // RuntimeClient talks HTTP/1.1 to the Runtime API over one kept-alive
    // socket: a few lines rather than java.net.http, whose classes would add
    // a good part of a second to every cold start with the JIT held at C1.
    static final class RuntimeClient {
        private final String host;
        private final int port;
        private Socket socket;
        private InputStream in;
        private OutputStream out;

        RuntimeClient(String address) {
            int colon = address.lastIndexOf(':');
            this.host = address.substring(0, colon);
            this.port = Integer.parseInt(address.substring(colon + 1));
        }

        void postError(String path, Map<String, Object> doc) throws IOException {
            Map<String, String> headers = new HashMap<>();
            headers.put("Lambda-Runtime-Function-Error-Type", String.valueOf(doc.get("errorType")));
            Response res = request("POST", path, Json.write(doc).getBytes(StandardCharsets.UTF_8), headers);
            if (res.status != 202) {
                throw new IOException(path + " answered " + res.status + ": " + res.text());
            }
        }

        Response request(String method, String path, byte[] body, Map<String, String> headers) throws IOException {
            StringBuilder head = new StringBuilder();
            head.append(method).append(" /").append(API_VERSION).append(path).append(" HTTP/1.1\r\n");
            head.append("Host: ").append(host).append(':').append(port).append("\r\n");
            head.append("Content-Length: ").append(body == null ? 0 : body.length).append("\r\n");
            if (body != null) {
                head.append("Content-Type: application/json\r\n");
            }
            if (headers != null) {
                for (Map.Entry<String, String> h : headers.entrySet()) {
                    head.append(h.getKey()).append(": ").append(h.getValue()).append("\r\n");
                }
            }
            head.append("\r\n");
            byte[] headBytes = head.toString().getBytes(StandardCharsets.UTF_8);
            for (int attempt = 1; ; attempt++) {
                try {
                    if (socket == null) {
                        socket = new Socket(host, port);
                        socket.setTcpNoDelay(true);
                        in = new BufferedInputStream(socket.getInputStream(), 65536);
                        out = socket.getOutputStream();
                    }
                    out.write(headBytes);
                    if (body != null) {
                        out.write(body);
                    }
                    out.flush();
                    return readResponse();
                } catch (IOException e) {
                    // A kept-alive connection the server closed: reconnect once.
                    close();
                    if (attempt == 2) {
                        throw e;
                    }
                }
            }
        }

        private void close() {
            if (socket != null) {
                try {
                    socket.close();
                } catch (IOException e) {
                    // closing a broken socket: nothing to do
                }
            }
            socket = null;
        }

        private Response readResponse() throws IOException {
            String statusLine = readLine();
            if (statusLine == null) {
                throw new IOException("runtime API closed the connection");
            }
            String[] parts = statusLine.split(" ", 3);
            int status = Integer.parseInt(parts[1]);
            Map<String, String> headers = new HashMap<>();
            for (String line = readLine(); line != null && !line.isEmpty(); line = readLine()) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    headers.put(line.substring(0, colon).trim().toLowerCase(Locale.ROOT), line.substring(colon + 1).trim());
                }
            }
            byte[] body;
            if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
                ByteArrayOutputStream buf = new ByteArrayOutputStream();
                while (true) {
                    String sizeLine = readLine();
                    int size = Integer.parseInt(sizeLine.split(";")[0].trim(), 16);
                    if (size == 0) {
                        for (String t = readLine(); t != null && !t.isEmpty(); t = readLine()) {
                            // trailers: none the runtime needs
                        }
                        break;
                    }
                    buf.write(readExactly(size));
                    readLine();
                }
                body = buf.toByteArray();
            } else {
                String length = headers.get("content-length");
                body = readExactly(length == null ? 0 : Integer.parseInt(length));
            }
            if ("close".equalsIgnoreCase(headers.get("connection"))) {
                close();
            }
            return new Response(status, headers, body);
        }

        private String readLine() throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream(128);
            int c;
            while ((c = in.read()) != -1) {
                if (c == '\n') {
                    byte[] b = line.toByteArray();
                    int n = b.length > 0 && b[b.length - 1] == '\r' ? b.length - 1 : b.length;
                    return new String(b, 0, n, StandardCharsets.ISO_8859_1);
                }
                line.write(c);
            }
            return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
        }

        private byte[] readExactly(int n) throws IOException {
            byte[] b = in.readNBytes(n);
            if (b.length != n) {
                throw new IOException("runtime API response cut short");
            }
            return b;
        }
    }

    // Json is a small JSON codec: parse to Map/List/String/Long/Double/
    // Boolean/null, convert such a tree to a handler's parameter type, and
    // write any value (maps, collections, arrays, records, beans) as JSON.
    static final class Json {
        private final String s;
        private int i;

        private Json(String s) {
            this.s = s;
        }

        static Object parse(String text) {
            Json p = new Json(text);
            p.space();
            Object v = p.value();
            p.space();
            if (p.i != p.s.length()) {
                throw p.error("trailing characters");
            }
            return v;
        }

        private IllegalArgumentException error(String what) {
            return new IllegalArgumentException("invalid JSON at offset " + i + ": " + what);
        }

        private void space() {
            while (i < s.length() && " \t\r\n".indexOf(s.charAt(i)) >= 0) {
                i++;
            }
        }

        private Object value() {
            if (i >= s.length()) {
                throw error("unexpected end");
            }
            char c = s.charAt(i);
            switch (c) {
                case '{':
                    return object();
                case '[':
                    return array();
                case '"':
                    return string();
                case 't':
                    return literal("true", Boolean.TRUE);
                case 'f':
                    return literal("false", Boolean.FALSE);
                case 'n':
                    return literal("null", null);
                default:
                    if (c == '-' || (c >= '0' && c <= '9')) {
                        return number();
                    }
                    throw error("unexpected '" + c + "'");
            }
        }

        private Object literal(String word, Object v) {
            if (!s.startsWith(word, i)) {
                throw error("expected " + word);
            }
            i += word.length();
            return v;
        }

        private Map<String, Object> object() {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            space();
            if (i < s.length() && s.charAt(i) == '}') {
                i++;
                return m;
            }
            while (true) {
                space();
                if (i >= s.length() || s.charAt(i) != '"') {
                    throw error("expected a key");
                }
                String k = string();
                space();
                if (i >= s.length() || s.charAt(i) != ':') {
                    throw error("expected ':'");
                }
                i++;
                space();
                m.put(k, value());
                space();
                if (i < s.length() && s.charAt(i) == ',') {
                    i++;
                } else if (i < s.length() && s.charAt(i) == '}') {
                    i++;
                    return m;
                } else {
                    throw error("expected ',' or '}'");
                }
            }
        }

        private List<Object> array() {
            List<Object> l = new ArrayList<>();
            i++;
            space();
            if (i < s.length() && s.charAt(i) == ']') {
                i++;
                return l;
            }
            while (true) {
                space();
                l.add(value());
                space();
                if (i < s.length() && s.charAt(i) == ',') {
                    i++;
                } else if (i < s.length() && s.charAt(i) == ']') {
                    i++;
                    return l;
                } else {
                    throw error("expected ',' or ']'");
                }
            }
        }

        private String string() {
            StringBuilder b = new StringBuilder();
            i++; // the opening quote
            while (i < s.length()) {
                char c = s.charAt(i++);
                if (c == '"') {
                    return b.toString();
                }
                if (c != '\\') {
                    b.append(c);
                    continue;
                }
                if (i >= s.length()) {
                    break;
                }
                char e = s.charAt(i++);
                switch (e) {
                    case 'n': b.append('\n'); break;
                    case 't': b.append('\t'); break;
                    case 'r': b.append('\r'); break;
                    case 'b': b.append('\b'); break;
                    case 'f': b.append('\f'); break;
                    case 'u':
                        if (i + 4 > s.length()) {
                            throw error("short \\u escape");
                        }
                        b.append((char) Integer.parseInt(s.substring(i, i + 4), 16));
                        i += 4;
                        break;
                    default: b.append(e); // \" \\ \/
                }
            }
            throw error("unterminated string");
        }

        private Object number() {
            int start = i;
            boolean integral = true;
            while (i < s.length()) {
                char c = s.charAt(i);
                if (c == '.' || c == 'e' || c == 'E') {
                    integral = false;
                } else if (!(c == '-' || c == '+' || (c >= '0' && c <= '9'))) {
                    break;
                }
                i++;
            }
            String n = s.substring(start, i);
            try {
                if (integral) {
                    try {
                        return Long.parseLong(n);
                    } catch (NumberFormatException e) {
                        return new BigInteger(n);
                    }
                }
                return Double.parseDouble(n);
            } catch (NumberFormatException e) {
                throw error("bad number " + n);
            }
        }

        // convert turns a parsed tree into a value of type t.
        @SuppressWarnings({"unchecked", "rawtypes"})
        static Object convert(Object v, Type t) {
            Class<?> raw = rawClass(t);
            if (raw == Object.class) {
                return v;
            }
            if (v == null) {
                return raw.isPrimitive() ? zero(raw) : null;
            }
            if (raw == String.class || raw == CharSequence.class) {
                if (v instanceof String) {
                    return v;
                }
                throw new IllegalArgumentException("cannot read " + write(v) + " as a String");
            }
            if (raw == boolean.class || raw == Boolean.class) {
                if (v instanceof Boolean) {
                    return v;
                }
                if (v instanceof String) {
                    return Boolean.parseBoolean((String) v);
                }
                throw new IllegalArgumentException("cannot read " + write(v) + " as a boolean");
            }
            if (raw == char.class || raw == Character.class) {
                String str = String.valueOf(v);
                return str.isEmpty() ? '\0' : str.charAt(0);
            }
            if (raw.isPrimitive() || Number.class.isAssignableFrom(raw)) {
                return number(v, raw);
            }
            if (raw.isEnum()) {
                return Enum.valueOf((Class<Enum>) raw, String.valueOf(v));
            }
            if (raw == byte[].class && v instanceof String) {
                return Base64.getDecoder().decode((String) v); // as Jackson reads bytes
            }
            if (raw.isArray()) {
                List<?> l = asList(v, t);
                Type elem = t instanceof GenericArrayType ? ((GenericArrayType) t).getGenericComponentType()
                        : raw.getComponentType();
                Object arr = Array.newInstance(raw.getComponentType(), l.size());
                for (int k = 0; k < l.size(); k++) {
                    Array.set(arr, k, convert(l.get(k), elem));
                }
                return arr;
            }
            if (Map.class.isAssignableFrom(raw)) {
                if (!(v instanceof Map)) {
                    throw new IllegalArgumentException("cannot read " + write(v) + " as a " + raw.getSimpleName());
                }
                Type valueType = typeArg(t, 1);
                Map<String, Object> out = new LinkedHashMap<>();
                for (Map.Entry<String, Object> e : ((Map<String, Object>) v).entrySet()) {
                    out.put(e.getKey(), convert(e.getValue(), valueType));
                }
                return out;
            }
            if (Collection.class.isAssignableFrom(raw)) {
                Type elem = typeArg(t, 0);
                Collection<Object> out = Set.class.isAssignableFrom(raw) ? new LinkedHashSet<>() : new ArrayList<>();
                for (Object e : asList(v, t)) {
                    out.add(convert(e, elem));
                }
                return out;
            }
            if (v instanceof String) {
                Object parsed = fromString((String) v, raw);
                if (parsed != null) {
                    return parsed;
                }
            }
            if (!(v instanceof Map)) {
                throw new IllegalArgumentException("cannot read " + write(v) + " as a " + raw.getName());
            }
            return bean((Map<String, Object>) v, raw);
        }

        // fromString reads a value type from its text the way the type
        // offers: parse(CharSequence) (java.time), fromString (UUID),
        // valueOf(String) or a String constructor (URI); null when none.
        private static Object fromString(String v, Class<?> raw) {
            String[][] factories = {{"parse", "java.lang.CharSequence"}, {"fromString", "java.lang.String"},
                {"valueOf", "java.lang.String"}};
            for (String[] f : factories) {
                try {
                    Method m = raw.getMethod(f[0], f[1].equals("java.lang.String") ? String.class : CharSequence.class);
                    if (Modifier.isStatic(m.getModifiers()) && raw.isAssignableFrom(m.getReturnType())) {
                        return m.invoke(null, v);
                    }
                } catch (NoSuchMethodException e) {
                    // try the next way
                } catch (InvocationTargetException e) {
                    throw new IllegalArgumentException("cannot read \"" + v + "\" as a " + raw.getName() + ": "
                            + e.getCause(), e.getCause());
                } catch (IllegalAccessException e) {
                    return null;
                }
            }
            try {
                return raw.getConstructor(String.class).newInstance(v);
            } catch (InvocationTargetException e) {
                throw new IllegalArgumentException("cannot read \"" + v + "\" as a " + raw.getName() + ": "
                        + e.getCause(), e.getCause());
            } catch (ReflectiveOperationException e) {
                return null;
            }
        }

        private static List<?> asList(Object v, Type t) {
            if (v instanceof List) {
                return (List<?>) v;
            }
            throw new IllegalArgumentException("cannot read " + write(v) + " as a " + t.getTypeName());
        }

        private static Object number(Object v, Class<?> raw) {
            BigDecimal d;
            if (v instanceof Number) {
                d = v instanceof Double ? BigDecimal.valueOf((Double) v) : new BigDecimal(v.toString());
            } else if (v instanceof String) {
                d = new BigDecimal((String) v);
            } else {
                throw new IllegalArgumentException("cannot read " + write(v) + " as a number");
            }
            if (raw == int.class || raw == Integer.class) {
                return d.intValue();
            }
            if (raw == long.class || raw == Long.class) {
                return d.longValue();
            }
            if (raw == double.class || raw == Double.class) {
                return d.doubleValue();
            }
            if (raw == float.class || raw == Float.class) {
                return d.floatValue();
            }
            if (raw == short.class || raw == Short.class) {
                return d.shortValue();
            }
            if (raw == byte.class || raw == Byte.class) {
                return d.byteValue();
            }
            if (raw == BigInteger.class) {
                return d.toBigInteger();
            }
            if (raw == BigDecimal.class || raw == Number.class) {
                return d;
            }
            throw new IllegalArgumentException("cannot read a number as a " + raw.getName());
        }

        // bean builds a record from its components, or an object with a
        // zero-argument constructor from its setters and public fields;
        // keys it has no property for are ignored.
        private static Object bean(Map<String, Object> m, Class<?> raw) {
            try {
                if (raw.isRecord()) {
                    RecordComponent[] comps = raw.getRecordComponents();
                    Class<?>[] types = new Class<?>[comps.length];
                    Object[] args = new Object[comps.length];
                    for (int k = 0; k < comps.length; k++) {
                        types[k] = comps[k].getType();
                        args[k] = convert(m.get(comps[k].getName()), comps[k].getGenericType());
                    }
                    Constructor<?> ctor = raw.getDeclaredConstructor(types);
                    ctor.setAccessible(true);
                    return ctor.newInstance(args);
                }
                Constructor<?> ctor = raw.getDeclaredConstructor();
                ctor.setAccessible(true);
                Object o = ctor.newInstance();
                Map<String, Method> setters = new HashMap<>();
                for (Method sm : raw.getMethods()) {
                    if (sm.getName().startsWith("set") && sm.getName().length() > 3 && sm.getParameterCount() == 1
                            && !Modifier.isStatic(sm.getModifiers())) {
                        setters.put(sm.getName().substring(3).toLowerCase(Locale.ROOT), sm);
                    }
                }
                for (Map.Entry<String, Object> e : m.entrySet()) {
                    Method setter = setters.get(e.getKey().toLowerCase(Locale.ROOT));
                    if (setter != null) {
                        setter.invoke(o, convert(e.getValue(), setter.getGenericParameterTypes()[0]));
                        continue;
                    }
                    Field f = publicField(raw, e.getKey());
                    if (f != null) {
                        f.set(o, convert(e.getValue(), f.getGenericType()));
                    }
                }
                return o;
            } catch (InvocationTargetException e) {
                throw new IllegalArgumentException("build " + raw.getName() + ": " + e.getCause(), e.getCause());
            } catch (ReflectiveOperationException e) {
                throw new IllegalArgumentException("build " + raw.getName() + ": " + e, e);
            }
        }

        private static Field publicField(Class<?> raw, String name) {
            try {
                Field f = raw.getField(name);
                return Modifier.isStatic(f.getModifiers()) || Modifier.isFinal(f.getModifiers()) ? null : f;
            } catch (NoSuchFieldException e) {
                return null;
            }
        }

        static Class<?> rawClass(Type t) {
            if (t instanceof Class) {
                return (Class<?>) t;
            }
            if (t instanceof ParameterizedType) {
                return rawClass(((ParameterizedType) t).getRawType());
            }
            if (t instanceof GenericArrayType) {
                return Array.newInstance(rawClass(((GenericArrayType) t).getGenericComponentType()), 0).getClass();
            }
            return Object.class; // a type variable or wildcard: take the tree as it is
        }

        private static Type typeArg(Type t, int k) {
            if (t instanceof ParameterizedType) {
                Type[] args = ((ParameterizedType) t).getActualTypeArguments();
                if (k < args.length) {
                    return args[k];
                }
            }
            return Object.class;
        }

        static String write(Object v) {
            StringBuilder b = new StringBuilder();
            write(b, v, 0);
            return b.toString();
        }

        private static void write(StringBuilder b, Object v, int depth) {
            if (depth > 100) {
                throw new IllegalArgumentException("value nested too deeply (a cycle?)");
            }
            if (v == null) {
                b.append("null");
            } else if (v instanceof CharSequence || v instanceof Character || v instanceof Enum) {
                quote(b, v instanceof Enum ? ((Enum<?>) v).name() : v.toString());
            } else if (v instanceof Double || v instanceof Float) {
                double d = ((Number) v).doubleValue();
                if (Double.isNaN(d) || Double.isInfinite(d)) {
                    b.append("null");
                } else if (d == Math.rint(d) && Math.abs(d) < 1e15) {
                    b.append((long) d).append(".0");
                } else {
                    b.append(d);
                }
            } else if (v instanceof byte[]) {
                quote(b, Base64.getEncoder().encodeToString((byte[]) v)); // as Jackson writes bytes
            } else if (v instanceof Optional) {
                write(b, ((Optional<?>) v).orElse(null), depth + 1);
            } else if (v instanceof Date) {
                b.append(((Date) v).getTime()); // epoch milliseconds, as Jackson writes a Date
            } else if (v instanceof TemporalAccessor || v instanceof TemporalAmount || v instanceof UUID
                    || v instanceof URI || v instanceof Path) {
                quote(b, v.toString()); // ISO-8601 for java.time; a Path is no list of names
            } else if (v instanceof Number || v instanceof Boolean) {
                b.append(v);
            } else if (v instanceof Map) {
                b.append('{');
                boolean first = true;
                for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                    if (!first) {
                        b.append(',');
                    }
                    first = false;
                    quote(b, String.valueOf(e.getKey()));
                    b.append(':');
                    write(b, e.getValue(), depth + 1);
                }
                b.append('}');
            } else if (v instanceof Iterable) {
                b.append('[');
                Iterator<?> it = ((Iterable<?>) v).iterator();
                for (boolean first = true; it.hasNext(); first = false) {
                    if (!first) {
                        b.append(',');
                    }
                    write(b, it.next(), depth + 1);
                }
                b.append(']');
            } else if (v.getClass().isArray()) {
                b.append('[');
                for (int k = 0; k < Array.getLength(v); k++) {
                    if (k > 0) {
                        b.append(',');
                    }
                    write(b, Array.get(v, k), depth + 1);
                }
                b.append(']');
            } else {
                write(b, properties(v), depth + 1);
            }
        }

        // properties are an object's JSON fields: a record's components, or
        // a bean's getters and public fields.
        private static Map<String, Object> properties(Object v) {
            Map<String, Object> m = new LinkedHashMap<>();
            Class<?> c = v.getClass();
            try {
                if (c.isRecord()) {
                    for (RecordComponent rc : c.getRecordComponents()) {
                        Method acc = rc.getAccessor();
                        acc.setAccessible(true);
                        m.put(rc.getName(), acc.invoke(v));
                    }
                    return m;
                }
                for (Field f : c.getFields()) {
                    if (!Modifier.isStatic(f.getModifiers())) {
                        m.put(f.getName(), f.get(v));
                    }
                }
                for (Method g : c.getMethods()) {
                    String n = g.getName();
                    if (g.getParameterCount() != 0 || Modifier.isStatic(g.getModifiers())
                            || g.getDeclaringClass() == Object.class || g.getReturnType() == void.class) {
                        continue;
                    }
                    String prop = null;
                    if (n.startsWith("get") && n.length() > 3) {
                        prop = n.substring(3);
                    } else if (n.startsWith("is") && n.length() > 2
                            && (g.getReturnType() == boolean.class || g.getReturnType() == Boolean.class)) {
                        prop = n.substring(2);
                    }
                    if (prop != null) {
                        g.setAccessible(true);
                        m.put(decapitalize(prop), g.invoke(v));
                    }
                }
            } catch (ReflectiveOperationException e) {
                throw new IllegalArgumentException("serialize " + c.getName() + ": " + e, e);
            }
            return m;
        }

        private static String decapitalize(String s) {
            if (s.length() > 1 && Character.isUpperCase(s.charAt(0)) && Character.isUpperCase(s.charAt(1))) {
                return s; // getURL -> URL, as JavaBeans names it
            }
            return Character.toLowerCase(s.charAt(0)) + s.substring(1);
        }

        private static void quote(StringBuilder b, String s) {
            b.append('"');
            for (int k = 0; k < s.length(); k++) {
                char c = s.charAt(k);
                switch (c) {
                    case '"': b.append("\\\""); break;
                    case '\\': b.append("\\\\"); break;
                    case '\n': b.append("\\n"); break;
                    case '\r': b.append("\\r"); break;
                    case '\t': b.append("\\t"); break;
                    default:
                        if (c < 0x20) {
                            b.append(String.format("\\u%04x", (int) c));
                        } else {
                            b.append(c);
                        }
                }
            }
            b.append('"');
        }
    }
}
