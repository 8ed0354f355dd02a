package rest

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// segment is one piece of a requestUri path: a literal, a {Label} that
// captures one path segment, or a {Label+} that captures the rest.
type segment struct {
	literal string
	label   string
	greedy  bool
}

// queryLiteral is a query key (and value, when the model gives one) that a
// requestUri such as S3's "/{Bucket}?list-type=2" demands.
type queryLiteral struct {
	key, value string
	hasValue   bool
}

// route is one operation's HTTP binding, compiled once per service.
type route struct {
	op       *awsmodel.Operation
	method   string
	segments []segment
	query    []queryLiteral
	literals int // literal path segments, the first measure of specificity
	// requiredQuery and requiredHeaders are the wire names of required
	// input members bound to the query string and to headers. S3 puts
	// several operations on one method and path (PutObject, CopyObject,
	// UploadPart, UploadPartCopy) and tells them apart only by these.
	requiredQuery   []string
	requiredHeaders []string
	shadowed        bool
}

// shadowedOperations share a method, path and query with an operation that
// clients mean when they send that request: the deprecated S3 lifecycle and
// notification calls, and ListDirectoryBuckets, which only S3 Express
// zonal endpoints answer.
var shadowedOperations = map[string]bool{
	"GetBucketLifecycle":    true,
	"PutBucketLifecycle":    true,
	"GetBucketNotification": true,
	"PutBucketNotification": true,
	"ListDirectoryBuckets":  true,
}

// router resolves requests to operations by method, path and query.
type router struct {
	byMethod map[string][]*route
	byOp     map[string]*route
}

func newRouter(svc *awsmodel.Service) *router {
	rt := &router{byMethod: map[string][]*route{}, byOp: map[string]*route{}}
	for _, name := range svc.OperationNames() {
		op := svc.Operations[name]
		if op.HTTP.Method == "" {
			continue
		}
		r := compileRoute(op)
		rt.byMethod[r.method] = append(rt.byMethod[r.method], r)
		rt.byOp[op.Name] = r
	}
	return rt
}

func compileRoute(op *awsmodel.Operation) *route {
	r := &route{op: op, method: strings.ToUpper(op.HTTP.Method), shadowed: shadowedOperations[op.Name]}
	path, rawQuery, _ := strings.Cut(op.HTTP.RequestURI, "?")
	for _, part := range splitPath(path) {
		switch {
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "+}"):
			r.segments = append(r.segments, segment{label: part[1 : len(part)-2], greedy: true})
		case strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}"):
			r.segments = append(r.segments, segment{label: part[1 : len(part)-1]})
		default:
			r.segments = append(r.segments, segment{literal: part})
			r.literals++
		}
	}
	if rawQuery != "" {
		for _, kv := range strings.Split(rawQuery, "&") {
			k, v, has := strings.Cut(kv, "=")
			r.query = append(r.query, queryLiteral{key: k, value: v, hasValue: has})
		}
	}
	if op.Input != nil && op.Input.Shape != nil {
		in := op.Input.Shape
		for _, m := range in.MemberOrder {
			ref := in.Members[m]
			if !in.IsRequired(m) {
				continue
			}
			switch ref.Location {
			case "querystring":
				r.requiredQuery = append(r.requiredQuery, wireName(m, ref))
			case "header":
				r.requiredHeaders = append(r.requiredHeaders, wireName(m, ref))
			}
		}
	}
	return r
}

// splitPath splits a path into segments, dropping the leading slash and one
// trailing slash: "/2015-03-31/functions/" and "/2015-03-31/functions" are
// the same resource to Lambda, and "/bucket/" is the bucket to S3.
func splitPath(p string) []string {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// match reports whether the escaped path fits r, returning the decoded
// labels. Labels are gathered in a small array first so that the routes
// that do not match cost no map.
func (r *route) match(escapedPath string) (map[string]string, bool) {
	rest := strings.TrimPrefix(escapedPath, "/")
	var found [8][2]string
	labels := found[:0]
	for i, seg := range r.segments {
		if seg.greedy {
			// The greedy label takes everything left, slashes and a
			// trailing slash included: "dir/" is an S3 key of its own.
			if i != len(r.segments)-1 || rest == "" {
				return nil, false
			}
			v, err := url.PathUnescape(rest)
			if err != nil {
				return nil, false
			}
			labels = append(labels, [2]string{seg.label, v})
			rest = ""
			break
		}
		part, tail, _ := strings.Cut(rest, "/")
		if part == "" {
			return nil, false
		}
		if seg.label == "" {
			if part != seg.literal {
				// Literals in AWS request URIs need no escaping, so
				// compare escaped text first and decode only on a miss.
				v, err := url.PathUnescape(part)
				if err != nil || v != seg.literal {
					return nil, false
				}
			}
		} else {
			v, err := url.PathUnescape(part)
			if err != nil {
				return nil, false
			}
			labels = append(labels, [2]string{seg.label, v})
		}
		rest = tail
	}
	if rest != "" {
		return nil, false
	}
	out := make(map[string]string, len(labels))
	for _, l := range labels {
		out[l[0]] = l[1]
	}
	return out, true
}

// score ranks a matching route: more literal path segments, then more
// literal query keys, then more of its required query and header members
// present, then fewer of them missing. Higher wins.
func (r *route) score(q url.Values, h http.Header) [4]int {
	present, missing := 0, 0
	for _, k := range r.requiredQuery {
		if _, ok := q[k]; ok {
			present++
		} else {
			missing++
		}
	}
	for _, k := range r.requiredHeaders {
		if h.Get(k) != "" {
			present++
		} else {
			missing++
		}
	}
	return [4]int{r.literals, len(r.query), present, -missing}
}

func (r *route) queryMatches(q url.Values) bool {
	for _, ql := range r.query {
		vs, ok := q[ql.key]
		if !ok {
			return false
		}
		if ql.hasValue && (len(vs) == 0 || vs[0] != ql.value) {
			return false
		}
	}
	return true
}

// resolve picks the most specific route for method, path and query.
func (rt *router) resolve(method, escapedPath string, q url.Values, h http.Header) (*route, map[string]string) {
	var best *route
	var bestLabels map[string]string
	var bestScore [4]int
	// The AWS SDKs for Go and Java name the operation in an x-id query
	// parameter on S3 calls whose path alone is ambiguous.
	xid := q.Get("x-id")
	for _, r := range rt.byMethod[method] {
		if !r.queryMatches(q) {
			continue
		}
		labels, ok := r.match(escapedPath)
		if !ok {
			continue
		}
		s := r.score(q, h)
		if best == nil || better(r, s, best, bestScore, xid) {
			best, bestLabels, bestScore = r, labels, s
		}
	}
	return best, bestLabels
}

func better(r *route, s [4]int, best *route, bestScore [4]int, xid string) bool {
	for i := 0; i < 2; i++ { // path and query literals outrank everything
		if s[i] != bestScore[i] {
			return s[i] > bestScore[i]
		}
	}
	if xid != "" && (r.op.Name == xid) != (best.op.Name == xid) {
		return r.op.Name == xid
	}
	for i := 2; i < len(s); i++ {
		if s[i] != bestScore[i] {
			return s[i] > bestScore[i]
		}
	}
	if r.shadowed != best.shadowed {
		return !r.shadowed
	}
	return false
}

// noRoute is the error for a request no operation matches, in the words
// the service uses: S3 answers an unknown method with 405 MethodNotAllowed
// and a known method on an unsupported resource with 501 NotImplemented;
// the rest-json services answer UnknownOperationException.
func (c *codec) noRoute(method, path string, hasBucket bool) *awserr.Error {
	if !c.xml {
		return &awserr.Error{Kind: awserr.UnknownOperation, Status: http.StatusNotFound,
			Message: "Unknown operation " + method + " " + path}
	}
	if _, ok := c.routes.byMethod[method]; !ok {
		resource := "SERVICE"
		if hasBucket {
			resource = "BUCKET"
		}
		return &awserr.Error{Kind: awserr.UnknownOperation, Code: "MethodNotAllowed", Status: http.StatusMethodNotAllowed,
			Message: "The specified method is not allowed against this resource.",
			Fields:  map[string]string{"Method": method, "ResourceType": resource}}
	}
	return &awserr.Error{Kind: awserr.UnknownOperation, Code: "NotImplemented", Status: http.StatusNotImplemented,
		Message: "A header you provided implies functionality that is not implemented"}
}
