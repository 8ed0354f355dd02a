// Package lambdart is the Lambda Runtime API (2018-06-01) that a function's
// runtime talks to from inside its sandbox, and the runtime bootstraps
// nimbus ships for Python, Node.js, Ruby and Java.
//
// One Session serves one runtime process: it is an http.Handler for the
// four runtime endpoints, and on the nimbus side Invoke hands it one
// invocation at a time and waits for the runtime's answer. A Session's
// lifecycle is an explicit state machine (states.go) that refuses every
// transition it does not name, as the Runtime Interface Emulator does.
//
// Two ways to reach a Session:
//   - ListenLoopback serves one Session on its own 127.0.0.1 port, which
//     suits host-process sandboxes (AWS_LAMBDA_RUNTIME_API=Addr()).
//   - Mux serves many Sessions on one listener (the bridge gateway) and
//     picks the Session from the calling sandbox that the network layer puts
//     in the request context (network.SandboxFromContext), so a runtime can
//     never reach another sandbox's invocations.
//
// A per-sandbox Session rather than one server-wide state keeps every
// sandbox's state machine, limits and failure apart; the Mux is only a map.
package lambdart
