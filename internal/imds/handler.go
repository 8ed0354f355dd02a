// Package imds serves the EC2 instance metadata service to code inside
// instances: the meta-data tree, user data, the dynamic identity document,
// role credentials, and IMDSv2 session tokens.
//
// The network layer (network.MetadataServer) delivers requests for
// 169.254.169.254 and names the calling sandbox in the request context; the
// Handler asks its Lookup which instance that sandbox is and answers from
// that Instance alone, so one sandbox never sees another's metadata.
package imds

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/network"
)

// Header names of IMDSv2.
const (
	HeaderToken    = "X-aws-ec2-metadata-token"
	HeaderTokenTTL = "X-aws-ec2-metadata-token-ttl-seconds"
)

const serverName = "EC2ws"

// Versions are the dated API versions listed at /, oldest first, each an
// alias of latest (nimbus serves one tree; EC2's older versions only lack
// newer categories).
var Versions = []string{
	"1.0", "2007-01-19", "2007-03-01", "2007-08-29", "2007-10-10", "2007-12-15",
	"2008-02-01", "2008-09-01", "2009-04-04", "2011-01-01", "2011-05-01",
	"2012-01-12", "2014-02-25", "2014-11-05", "2015-10-20", "2016-04-19",
	"2016-06-30", "2016-09-02", "2018-03-28", "2018-08-17", "2018-09-24",
	"2019-10-01", "2020-10-27", "2021-01-03", "2021-03-23", "2021-07-15",
	"2022-09-24", "2024-04-11",
}

// Handler is the metadata service. It holds no per-instance state: tokens
// are self-verifying and every answer is built from the Lookup's Instance.
type Handler struct {
	lookup   Lookup
	tokens   tokenSigner
	now      func() time.Time
	log      *slog.Logger
	versions map[string]bool
	rootList []byte
	sandbox  func(ctx context.Context) (string, bool)
}

// Option configures a Handler.
type Option func(*Handler)

// WithClock replaces time.Now, for tests of token expiry.
func WithClock(now func() time.Time) Option { return func(h *Handler) { h.now = now } }

// WithSecret sets the token signing key. By default each Handler draws a
// random one, so tokens die with the process; replicas behind one address
// would share a secret.
func WithSecret(secret []byte) Option {
	return func(h *Handler) { h.tokens.secret = append([]byte(nil), secret...) }
}

// WithLogger sets where lookup and credential failures are logged.
func WithLogger(l *slog.Logger) Option { return func(h *Handler) { h.log = l } }

// WithCaller replaces how the calling sandbox is found in a request; by
// default network.SandboxFromContext. Tests use it to call the handler
// without the network layer.
func WithCaller(f func(ctx context.Context) (sandboxID string, ok bool)) Option {
	return func(h *Handler) { h.sandbox = f }
}

// New makes a Handler answering for the instances lookup knows.
func New(lookup Lookup, opts ...Option) *Handler {
	h := &Handler{
		lookup:   lookup,
		now:      time.Now,
		log:      slog.Default(),
		versions: make(map[string]bool, len(Versions)+1),
		sandbox:  sandboxFromNetwork,
	}
	for _, v := range Versions {
		h.versions[v] = true
	}
	h.versions["latest"] = true
	h.rootList = []byte(strings.Join(append(append([]string(nil), Versions...), "latest"), "\n"))
	for _, o := range opts {
		o(h)
	}
	if h.tokens.secret == nil {
		h.tokens.secret = make([]byte, 32)
		if _, err := rand.Read(h.tokens.secret); err != nil {
			// crypto/rand does not fail on Linux; a fixed key would make
			// tokens forgeable, so refuse to run without one.
			panic("imds: no randomness for the token secret: " + err.Error())
		}
	}
	return h
}

func sandboxFromNetwork(ctx context.Context) (string, bool) {
	c, ok := network.SandboxFromContext(ctx)
	return c.SandboxID, ok
}

// ServeHTTP answers one metadata request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sandboxID, ok := h.sandbox(r.Context())
	if !ok {
		writeError(w, http.StatusForbidden)
		return
	}
	in, err := h.lookup.InstanceForSandbox(r.Context(), sandboxID)
	if err != nil {
		if !errors.Is(err, ErrNotFound) {
			h.log.ErrorContext(r.Context(), "imds: instance lookup", "sandbox", sandboxID, "err", err)
			writeError(w, http.StatusInternalServerError)
			return
		}
		writeError(w, http.StatusNotFound)
		return
	}
	// A disabled endpoint refuses everything, tokens included; SDKs read
	// 403 as "IMDS turned off" and stop trying.
	if in.Options.disabled() {
		writeError(w, http.StatusForbidden)
		return
	}
	path := r.URL.Path
	if path == "/latest/api/token" || path == "/latest/api/token/" {
		if r.Method != http.MethodPut {
			writeMethodNotAllowed(w, "PUT")
			return
		}
		h.serveToken(w, r, in)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeMethodNotAllowed(w, "GET, HEAD")
		return
	}
	ttl, status := h.authorize(r, in)
	if status != 0 {
		writeError(w, status)
		return
	}
	if ttl > 0 {
		// EC2 tells token users how long their token has left.
		w.Header().Set(HeaderTokenTTL, strconv.Itoa(int(ttl/time.Second)))
	}
	h.serveTree(w, r, in)
}

// authorize checks the session token, if any, and returns its remaining
// lifetime, or the status to refuse with.
func (h *Handler) authorize(r *http.Request, in *Instance) (time.Duration, int) {
	token := r.Header.Get(HeaderToken)
	if token == "" {
		if in.Options.tokensRequired() {
			return 0, http.StatusUnauthorized
		}
		return 0, 0
	}
	// A bad token is refused even where tokens are optional: EC2 does not
	// fall back to IMDSv1 for a request that tried v2.
	left, err := h.tokens.verify(token, in.InstanceID, h.now())
	if err != nil {
		return 0, http.StatusUnauthorized
	}
	return left, 0
}

func (h *Handler) serveToken(w http.ResponseWriter, r *http.Request, in *Instance) {
	// A proxy that forwards the PUT adds X-Forwarded-For; EC2 refuses such
	// requests so an open proxy on the instance cannot hand out tokens.
	if len(r.Header.Values("X-Forwarded-For")) > 0 {
		writeError(w, http.StatusForbidden)
		return
	}
	ttl, ok := parseTTL(r.Header.Get(HeaderTokenTTL))
	if !ok {
		writeError(w, http.StatusBadRequest)
		return
	}
	token := h.tokens.mint(in.InstanceID, h.now().Add(time.Duration(ttl)*time.Second))
	writeTokenResponse(w, token, ttl, in.Options.hopLimit())
}

func (h *Handler) serveTree(w http.ResponseWriter, r *http.Request, in *Instance) {
	segments := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(segments) == 1 && segments[0] == "" {
		writeText(w, h.rootList)
		return
	}
	if !h.versions[segments[0]] {
		writeError(w, http.StatusNotFound)
		return
	}
	rest := segments[1:]
	if len(rest) == 0 || (len(rest) == 1 && rest[0] == "") {
		entries := "dynamic\nmeta-data"
		if in.UserData != nil {
			entries += "\nuser-data"
		}
		writeText(w, []byte(entries))
		return
	}
	var tree *node
	switch rest[0] {
	case "meta-data":
		tree = metaDataTree(in)
	case "dynamic":
		tree = dynamicTree(in)
	case "user-data":
		if in.UserData == nil || len(rest) > 1 && strings.Join(rest[1:], "") != "" {
			writeError(w, http.StatusNotFound)
			return
		}
		writeBody(w, "application/octet-stream", in.UserData)
		return
	default:
		writeError(w, http.StatusNotFound)
		return
	}
	n := tree.walk(rest[1:])
	if n == nil {
		writeError(w, http.StatusNotFound)
		return
	}
	if n.isDir() {
		writeText(w, n.list())
		return
	}
	body, err := n.read(r.Context())
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			writeError(w, http.StatusNotFound)
			return
		}
		h.log.ErrorContext(r.Context(), "imds: metadata value", "instance", in.InstanceID, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError)
		return
	}
	ct := n.contentType
	if ct == "" {
		ct = "text/plain"
	}
	writeBody(w, ct, body)
}

func writeText(w http.ResponseWriter, body []byte) { writeBody(w, "text/plain", body) }

func writeBody(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Server", serverName)
	h.Set("Accept-Ranges", "none")
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}
