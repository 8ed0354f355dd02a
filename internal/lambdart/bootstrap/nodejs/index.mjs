// nimbus's Lambda runtime for Node.js: a Runtime API (2018-06-01) client
// loop. Started as `node index.mjs` with Lambda's environment; it loads the
// handler `file.export` from LAMBDA_TASK_ROOT (CommonJS or ES module) and
// serves invocations until the sandbox is killed. Node's built-ins only.

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { format } from "node:util";

// warmHTTP makes one HTTP request over the sandbox's loopback, so that
// node's lazily loaded HTTP client (and the JSON a request carries) is
// ready before a spare is claimed rather than on its first Runtime API call.
async function warmHTTP() {
  try {
    const server = http.createServer((req, res) => req.resume().on("end", () => res.end("{}")));
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    const warmAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    await new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port: server.address().port, method: "POST", path: "/", agent: warmAgent, headers: { "Content-Type": "application/json" } },
        (res) => {
          const chunks = [];
          res.on("data", (c) => chunks.push(c));
          res.on("end", () => resolve(JSON.parse(Buffer.concat(chunks).toString())));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ warm: true }));
    });
    warmAgent.destroy();
    server.close();
  } catch {
    // Only a head start: the runtime works without it.
  }
}

// warmLoaders loads one CommonJS file (warm.cjs, beside this one) and one
// ES module, so that both module loaders are set up before a spare is
// claimed rather than when it loads the handler.
async function warmLoaders() {
  try {
    createRequire(import.meta.url)("./warm.cjs");
    await import("data:text/javascript,export default 1");
  } catch {
    // Only a head start: the runtime works without it.
  }
}

// A warm spare (NIMBUS_SPARE_CONTROL names its control directory) starts
// before it knows its function: node is up and the modules above loaded
// when it blocks on the gate. Once claimed it takes the function's
// environment from start.json and goes on as if started with it. EOF on the
// gate without a line means the spare was dropped unclaimed.
if (process.env.NIMBUS_SPARE_CONTROL) {
  const control = process.env.NIMBUS_SPARE_CONTROL;
  await warmHTTP();
  await warmLoaders();
  if (fs.readFileSync(path.join(control, "gate"), "utf8") === "") process.exit(0);
  const start = JSON.parse(fs.readFileSync(path.join(control, "start.json"), "utf8"));
  for (const k of Object.keys(process.env)) delete process.env[k];
  Object.assign(process.env, start.env);
  process.chdir(process.env.LAMBDA_TASK_ROOT || "/var/task");
}

const API = process.env.AWS_LAMBDA_RUNTIME_API;
const [API_HOST, API_PORT] = [API.slice(0, API.lastIndexOf(":")), Number(API.slice(API.lastIndexOf(":") + 1))];
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || "/var/task";

function request(method, urlPath, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: API_HOST, port: API_PORT, method, path: "/2018-06-01" + urlPath, agent, headers: headers || {} },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

// errorDocument formats an error the way Lambda's Node.js runtime does.
function errorDocument(err, type) {
  if (err instanceof Error) {
    return {
      errorType: type || err.name || "Error",
      errorMessage: err.message,
      trace: String(err.stack || "").split("\n"),
    };
  }
  return { errorType: type || typeof err, errorMessage: typeof err === "string" ? err : format(err), trace: [] };
}

async function postError(urlPath, doc) {
  const res = await request("POST", urlPath, JSON.stringify(doc), {
    "Content-Type": "application/json",
    "Lambda-Runtime-Function-Error-Type": doc.errorType,
  });
  if (res.status !== 202) throw new Error(`runtime API ${urlPath} answered ${res.status}: ${res.body}`);
}

// Console lines carry the timestamp, request ID and level, as in Lambda.
let currentRequestId = undefined;
for (const [method, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"], ["debug", "DEBUG"], ["trace", "TRACE"]]) {
  const stream = level === "INFO" || level === "DEBUG" ? process.stdout : process.stderr;
  console[method] = (...args) => {
    stream.write(`${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${format(...args)}\n`);
  };
}

class InitError extends Error {
  constructor(type, message, cause) {
    super(message);
    this.name = type;
    if (cause && cause.stack) this.stack = `${type}: ${message}\n${cause.stack}`;
  }
}

function isESModule(file) {
  if (file.endsWith(".mjs")) return true;
  if (file.endsWith(".cjs")) return false;
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    const pkg = path.join(dir, "package.json");
    if (fs.existsSync(pkg)) {
      try {
        return JSON.parse(fs.readFileSync(pkg, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    if (dir === path.dirname(dir) || dir === path.dirname(TASK_ROOT)) return false;
  }
}

// loadHandler resolves "dir/file.export.path" the way Lambda does: the
// module is everything up to the first dot after the last slash.
async function loadHandler(spec) {
  const slash = spec.lastIndexOf("/");
  const dot = spec.indexOf(".", slash + 1);
  if (dot < 0) throw new InitError("Runtime.MalformedHandlerName", `Bad handler ${spec}`);
  const modulePath = spec.slice(0, dot);
  const exportPath = spec.slice(dot + 1).split(".");
  const base = path.resolve(TASK_ROOT, modulePath);
  const file = [".js", ".mjs", ".cjs"].map((ext) => base + ext).find((f) => fs.existsSync(f));
  if (!file) {
    throw new InitError("Runtime.ImportModuleError", `Error: Cannot find module '${modulePath}'`);
  }
  let mod;
  try {
    if (isESModule(file)) {
      mod = await import(pathToFileURL(file).href);
    } else {
      mod = createRequire(file)(file);
    }
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new InitError("Runtime.UserCodeSyntaxError", `${err.name}: ${err.message}`, err);
    }
    if (err && err.code === "MODULE_NOT_FOUND") {
      throw new InitError("Runtime.ImportModuleError", `Error: ${err.message}`, err);
    }
    throw err;
  }
  let handler = mod;
  for (const key of exportPath) handler = handler == null ? undefined : handler[key];
  if (typeof handler !== "function") {
    throw new InitError("Runtime.HandlerNotFound", `${modulePath}.${exportPath.join(".")} is undefined or not exported`);
  }
  return handler;
}

function makeContext(headers) {
  const deadline = Number(headers["lambda-runtime-deadline-ms"]);
  const json = (v) => {
    try {
      return v ? JSON.parse(v) : undefined;
    } catch {
      return undefined;
    }
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: headers["lambda-runtime-invoked-function-arn"],
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: headers["lambda-runtime-aws-request-id"],
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: json(headers["lambda-runtime-client-context"]),
    identity: json(headers["lambda-runtime-cognito-identity"]),
    getRemainingTimeInMillis: () => Math.max(deadline - Date.now(), 0),
  };
}

// runHandler settles with the handler's result whichever style it uses: a
// returned promise, or the callback (also reachable as context.done,
// succeed and fail).
function runHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.done = callback;
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err ?? "handled");
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (err) {
      callback(err);
      return;
    }
    if (returned && typeof returned.then === "function") {
      returned.then((r) => callback(null, r), (e) => callback(e ?? new Error("rejected")));
    } else if (handler.length < 3) {
      // A plain function without a callback answers with what it returned;
      // a context.succeed in the same tick still wins.
      setImmediate(() => callback(null, returned));
    }
  });
}

let inFlight = undefined;

async function serve(handler) {
  for (;;) {
    const next = await request("GET", "/runtime/invocation/next");
    if (next.status !== 200) throw new Error(`runtime API /next answered ${next.status}: ${next.body}`);
    const headers = next.headers;
    const requestId = headers["lambda-runtime-aws-request-id"];
    currentRequestId = requestId;
    inFlight = requestId;
    if (headers["lambda-runtime-trace-id"]) process.env._X_AMZN_TRACE_ID = headers["lambda-runtime-trace-id"];
    else delete process.env._X_AMZN_TRACE_ID;
    let event;
    try {
      event = next.body.length ? JSON.parse(next.body.toString("utf8")) : null;
    } catch (err) {
      await postError(`/runtime/invocation/${requestId}/error`, errorDocument(err, "Runtime.UnmarshalError"));
      continue;
    }
    const context = makeContext(headers);
    let payload;
    try {
      const result = await runHandler(handler, event, context);
      payload = JSON.stringify(result === undefined ? null : result);
    } catch (err) {
      const doc = errorDocument(err);
      console.error("Invoke Error", JSON.stringify(doc));
      inFlight = undefined;
      await postError(`/runtime/invocation/${requestId}/error`, doc);
      continue;
    }
    inFlight = undefined;
    const res = await request("POST", `/runtime/invocation/${requestId}/response`, payload, {
      "Content-Type": "application/json",
    });
    if (res.status !== 202 && res.status !== 413) {
      throw new Error(`runtime API /response answered ${res.status}: ${res.body}`);
    }
  }
}

// Errors that escape the handler's promise still belong to the invocation.
async function crash(err, kind) {
  const doc = errorDocument(err);
  console.error(kind, JSON.stringify(doc));
  if (inFlight) {
    try {
      await postError(`/runtime/invocation/${inFlight}/error`, doc);
    } catch {
      // The runtime is exiting either way.
    }
  }
  process.exit(129);
}
process.on("uncaughtException", (err) => crash(err, "Runtime.UncaughtException"));
process.on("unhandledRejection", (err) => crash(err, "Runtime.UnhandledPromiseRejection"));

let handler;
try {
  handler = await loadHandler(process.env._HANDLER || "");
} catch (err) {
  const doc = errorDocument(err);
  console.error(JSON.stringify(doc));
  await postError("/runtime/init/error", doc);
  process.exit(1);
}
await serve(handler);
