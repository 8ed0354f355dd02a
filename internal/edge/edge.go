// Package edge is nimbus's one HTTP listener: it routes every request to an
// AWS service, verifies its SigV4 signature, decodes it with the service's
// protocol codec, calls the operation's handler and encodes the answer or the
// error in the protocol's exact shape. nimbus's own endpoints live under
// /_nimbus/ and /metrics.
package edge

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/credentials"
	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/metrics"
	"github.com/nimbus-dev/nimbus/internal/protocol"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/service"
	"github.com/nimbus-dev/nimbus/internal/sigv4"
)

// MaxBody bounds a buffered request body: Lambda's 50 MB zip, base64-encoded,
// is the largest body an API takes in one piece.
const MaxBody = 80 << 20

// Authorizer decides whether a principal may call an operation (IAM). A nil
// Authorizer allows everything; the root principal is never asked.
type Authorizer interface {
	Authorize(ctx context.Context, svc *awsmodel.Service, op *awsmodel.Operation, in map[string]any) error
}

// Options configure a Server.
type Options struct {
	Services    []*service.Service
	Credentials credentials.Source
	AnyAuth     bool   // --auth any: every key is the root of Account
	Account     string // root account ID
	Regions     *region.Catalog
	Region      string // default region for unsigned requests
	Authorizer  Authorizer
	Logger      *slog.Logger
	Metrics     *metrics.Registry
	Internal    http.Handler // serves /_nimbus/, /metrics and emulator-compatible paths
	// Hosts serve requests by their Host header before any API routing:
	// Lambda function URLs (ID.lambda-url.REGION.localhost) are plain HTTP,
	// signed only when the URL's AuthType asks for it.
	Hosts []HostRoute
}

// HostRoute sends the requests whose Host matches to a handler of its own.
type HostRoute struct {
	Match   func(host string) bool
	Handler http.Handler
}

type entry struct {
	svc    *service.Service
	name   string // signing name
	family awserr.Family
	once   sync.Once
	codec  wire.Codec
	err    error
}

// getCodec builds the service's codec on first use: it needs the parsed model.
func (e *entry) getCodec() (wire.Codec, error) {
	e.once.Do(func() { e.codec, e.err = protocol.New(e.svc.Model()) })
	return e.codec, e.err
}

// Server routes and serves AWS API requests.
type Server struct {
	opts      Options
	bySigning map[string]*entry
	byTarget  map[string]*entry // json protocol X-Amz-Target prefix
	byVersion map[string]*entry // query protocols' Version parameter
	verifier  *sigv4.Verifier
	log       *slog.Logger
}

// New builds a server over the given services.
func New(opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Metrics == nil {
		opts.Metrics = metrics.New()
	}
	s := &Server{
		opts:      opts,
		bySigning: map[string]*entry{},
		byTarget:  map[string]*entry{},
		byVersion: map[string]*entry{},
		verifier:  &sigv4.Verifier{},
		log:       opts.Logger,
	}
	for _, svc := range opts.Services {
		md := svc.Metadata()
		e := &entry{svc: svc, name: md.Signing(), family: wire.FamilyOf(md.Protocol)}
		s.bySigning[e.name] = e
		if md.TargetPrefix != "" {
			s.byTarget[md.TargetPrefix] = e
		}
		if md.Protocol == "query" || md.Protocol == "ec2" {
			s.byVersion[md.APIVersion] = e
		}
	}
	return s, nil
}

// NewRequestID returns an AWS-style request ID (a random UUID).
func NewRequestID() string {
	var b [16]byte
	a, c := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		b[i] = byte(a >> (8 * i))
		b[8+i] = byte(c >> (8 * i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A function URL owns every path, /_nimbus/ and /metrics included.
	for _, hr := range s.opts.Hosts {
		if hr.Match(r.Host) {
			hr.Handler.ServeHTTP(w, r)
			return
		}
	}
	if s.opts.Internal != nil && isInternalPath(r.URL.Path) {
		s.opts.Internal.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	// One allocation for both: each escapes (into the context, and to the
	// codec as the ResponseWriter).
	st := &requestState{
		call: identity.Call{RequestID: NewRequestID(), SourceIP: sourceIP(r), Secure: r.TLS != nil},
		rec:  statusRecorder{ResponseWriter: w, status: http.StatusOK},
	}
	call, rec := &st.call, &st.rec
	e, op, err := s.serve(rec, r, call)
	svcName, opName := "unknown", "unknown"
	if e != nil {
		svcName = e.name
	}
	if op != nil {
		opName = op.Name
	}
	if err != nil {
		s.writeError(rec, r, e, op, call, err)
	}
	d := time.Since(start)
	s.opts.Metrics.Observe(svcName, opName, rec.status, d)
	level := slog.LevelDebug
	if rec.status >= 500 {
		level = slog.LevelError
	} else if rec.status >= 400 {
		level = slog.LevelInfo
	}
	if s.log.Enabled(r.Context(), level) {
		s.log.Log(r.Context(), level, "request", "request_id", call.RequestID, "service", svcName,
			"operation", opName, "status", rec.status, "duration_ms", float64(d.Microseconds())/1000,
			"region", call.Region, "source", call.SourceIP)
	}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, call *identity.Call) (*entry, *awsmodel.Operation, error) {
	auth, authErr := sigv4.Parse(r)
	if authErr != nil && !errors.Is(authErr, sigv4.ErrNoAuth) {
		return s.routeUnsigned(r), nil, authErr
	}
	var e *entry
	if auth != nil {
		e = s.bySigning[auth.Service]
		if e == nil {
			return nil, nil, &awserr.Error{Kind: awserr.UnknownOperation, Code: "UnknownService",
				Message: fmt.Sprintf("nimbus does not serve the service %q named by the request's credential scope", auth.Service), Status: http.StatusBadRequest}
		}
		call.Region = auth.Region
	} else {
		e = s.routeUnsigned(r)
		if e == nil {
			return nil, nil, &awserr.Error{Kind: awserr.UnknownOperation, Code: "UnknownService",
				Message: "the request is not signed and names no service nimbus serves", Status: http.StatusBadRequest}
		}
		call.Region = s.opts.Region
	}
	call.Service = e.name
	codec, err := e.getCodec()
	if err != nil {
		return e, nil, awserr.Internalf(err, "codec for %s", e.name)
	}

	var body []byte
	var op *awsmodel.Operation
	rest := strings.HasPrefix(e.svc.Metadata().Protocol, "rest-")
	if rest {
		if op, err = codec.Resolve(r, nil); err != nil {
			if auth == nil {
				// An unsigned request that names no operation (S3 is the
				// fallback for those) is refused for its lack of a
				// signature, as AWS refuses anonymous requests.
				return e, nil, authErr
			}
			return e, nil, err
		}
	}
	streaming := op != nil && op.StreamingInput()
	if !streaming {
		if body, err = readBody(r); err != nil {
			return e, op, err
		}
	}
	if !rest {
		if op, err = codec.Resolve(r, body); err != nil {
			return e, nil, err
		}
	}
	call.Operation = op.Name

	// Authenticate.
	switch {
	case auth == nil:
		return e, op, authErr
	case s.opts.AnyAuth:
		call.Principal = rootPrincipal(s.opts.Account, auth.AccessKey)
	default:
		cred, err := s.opts.Credentials.Lookup(r.Context(), auth.AccessKey)
		if err != nil {
			if errors.Is(err, credentials.ErrExpiredToken) {
				return e, op, sigv4.ErrExpiredToken
			}
			if errors.Is(err, credentials.ErrUnknownKey) || errors.Is(err, credentials.ErrInactiveKey) {
				return e, op, sigv4.ErrUnknownAccessKey
			}
			return e, op, awserr.Internalf(err, "look up access key")
		}
		var verifyBody []byte
		if !streaming {
			verifyBody = body
			if verifyBody == nil {
				verifyBody = []byte{}
			}
		}
		if err := s.verifier.Verify(r, auth, cred.Secret, verifyBody); err != nil {
			return e, op, err
		}
		if streaming {
			if r.Body, err = s.verifier.Body(r, auth, cred.Secret); err != nil {
				return e, op, err
			}
		}
		if cred.SessionToken != "" && cred.SessionToken != auth.SessionToken {
			return e, op, sigv4.ErrInvalidToken
		}
		call.Principal = cred.Principal
	}
	if s.opts.Regions != nil && !s.opts.Regions.Allowed(call.Region) {
		return e, op, &awserr.Error{Kind: awserr.Validation, Code: "InvalidRegion",
			Message: fmt.Sprintf("The region '%s' is not enabled for this nimbus (see --regions)", call.Region)}
	}

	ctx := identity.With(r.Context(), call)
	handler, ok := e.svc.Handler(op.Name)
	if !ok {
		return e, op, &awserr.Error{Kind: awserr.NotImplemented,
			Message: fmt.Sprintf("nimbus does not implement %s %s yet", e.svc.Metadata().ServiceID, op.Name)}
	}
	in, err := codec.Decode(r, body, op)
	if err != nil {
		return e, op, err
	}
	if s.opts.Authorizer != nil && !call.Principal.IsRoot() {
		if err := s.opts.Authorizer.Authorize(ctx, e.svc.Model(), op, in); err != nil {
			return e, op, err
		}
	}
	out, err := handler(ctx, in)
	if err != nil {
		return e, op, err
	}
	doc, err := service.ToDocument(out)
	if err != nil {
		return e, op, awserr.Internalf(err, "encode %s output", op.Name)
	}
	if err := codec.Encode(w, op, doc, call.RequestID); err != nil {
		// Headers may be gone; all we can do is log.
		s.log.Error("encode response", "request_id", call.RequestID, "operation", op.Name, "error", err)
	}
	return e, op, nil
}

func (s *Server) writeError(w *statusRecorder, r *http.Request, e *entry, op *awsmodel.Operation, call *identity.Call, err error) {
	family := awserr.FamilyJSON
	if e != nil {
		family = e.family
	}
	ae := sigv4.AWSError(err, family)
	resolved := awserr.Resolve(family, ae)
	if resolved.Kind == awserr.Internal {
		// The client sees only a generic message; the log gets the cause.
		cause := err
		if ie := (*awserr.Error)(nil); errors.As(err, &ie) && ie.Err != nil {
			cause = ie.Err
		}
		s.log.Error("internal error", "request_id", call.RequestID, "service", call.Service,
			"operation", call.Operation, "error", err, "cause", cause)
	}
	var codec wire.Codec
	if e != nil {
		codec, _ = e.getCodec()
	}
	if codec == nil {
		writeGenericError(w, r, resolved, call.RequestID)
		return
	}
	codec.EncodeError(w, op, resolved, call.RequestID)
}

// writeGenericError answers a request nimbus could not route to a service:
// a JSON error, which every SDK can at least read a code from.
func writeGenericError(w http.ResponseWriter, r *http.Request, e awserr.Error, requestID string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	w.Header().Set("x-amzn-RequestId", requestID)
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		fmt.Fprintf(w, `{"__type":%q,"message":%q}`, e.Code, e.Message)
	}
}

// routeUnsigned finds the service of a request without a credential scope.
func (s *Server) routeUnsigned(r *http.Request) *entry {
	if t := r.Header.Get("X-Amz-Target"); t != "" {
		if i := strings.IndexByte(t, '.'); i > 0 {
			if e := s.byTarget[t[:i]]; e != nil {
				return e
			}
		}
	}
	if v := r.URL.Query().Get("Version"); v != "" {
		return s.byVersion[v]
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") && r.Body != nil {
		// The Version is in the form body; peek without consuming it.
		body, err := readBody(r)
		if err == nil {
			r.Body = io.NopCloser(strings.NewReader(string(body)))
			for _, kv := range strings.Split(string(body), "&") {
				if v, ok := strings.CutPrefix(kv, "Version="); ok {
					return s.byVersion[v]
				}
			}
		}
	}
	if e := s.bySigning["s3"]; e != nil {
		return e
	}
	return nil
}

func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > MaxBody {
		return nil, &awserr.Error{Kind: awserr.Validation, Code: "RequestEntityTooLarge",
			Message: fmt.Sprintf("Request must be smaller than %d bytes", MaxBody), Status: http.StatusRequestEntityTooLarge}
	}
	if r.ContentLength >= 0 {
		// The length is known (and within MaxBody): read exactly that many
		// bytes into one buffer rather than growing one through io.ReadAll.
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, &awserr.Error{Kind: awserr.Validation, Message: "could not read the request body: " + err.Error()}
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, &awserr.Error{Kind: awserr.Validation, Message: "could not read the request body: " + err.Error()}
	}
	if len(b) > MaxBody {
		return nil, &awserr.Error{Kind: awserr.Validation, Code: "RequestEntityTooLarge",
			Message: fmt.Sprintf("Request must be smaller than %d bytes", MaxBody), Status: http.StatusRequestEntityTooLarge}
	}
	return b, nil
}

func rootPrincipal(account, key string) *identity.Principal {
	return &identity.Principal{Type: identity.Root, Account: account, ARN: identity.RootARN(account),
		UserID: account, Name: "root", AccessKey: key}
}

func sourceIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func isInternalPath(p string) bool {
	return strings.HasPrefix(p, "/_nimbus/") || p == "/metrics" ||
		strings.HasPrefix(p, "/_localstack/") || strings.HasPrefix(p, "/moto-api/")
}

// requestState is what ServeHTTP keeps for one request.
type requestState struct {
	call identity.Call
	rec  statusRecorder
}

type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wroteHeader {
		s.status = code
		s.wroteHeader = true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wroteHeader = true
	return s.ResponseWriter.Write(b)
}

// Flush lets streaming responses reach the client.
func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
