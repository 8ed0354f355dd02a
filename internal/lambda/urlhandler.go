package lambda

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nimbus-dev/nimbus/internal/lambda/runner"
	"github.com/nimbus-dev/nimbus/internal/store"
)

// IsFunctionURLHost reports whether a Host header names a function URL:
// URLID.lambda-url.REGION.DOMAIN[:PORT], with a 32-character URL ID. The
// edge sends such requests to URLHandler instead of the AWS APIs.
func IsFunctionURLHost(host string) bool {
	_, _, ok := parseURLHost(host)
	return ok
}

// parseURLHost takes the URL ID and region out of a function URL host.
func parseURLHost(host string) (id, region string, ok bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	labels := strings.Split(strings.ToLower(host), ".")
	if len(labels) < 4 || labels[1] != "lambda-url" || len(labels[0]) != 32 {
		return "", "", false
	}
	for _, c := range labels[0] {
		if !strings.ContainsRune(urlIDAlphabet, c) {
			return "", "", false
		}
	}
	return labels[0], labels[2], true
}

// URLHandler serves requests to function URLs: it invokes the function with
// the payload format 2.0 event and turns its answer into the HTTP response.
func (a *API) URLHandler() http.Handler { return http.HandlerFunc(a.serveURL) }

// urlTargetOf finds the function and qualifier a URL ID belongs to.
func (a *API) urlTargetOf(ctx context.Context, id string) (store.Key, *functionRecord, string, error) {
	var key store.Key
	var f *functionRecord
	err := a.store.View(ctx, func(tx store.Tx) error {
		return tx.List(store.Query{Kind: kindFunction, AllAccounts: true, AllRegions: true, Index: urlIDIndex, IndexValue: id},
			func(o store.Object) error {
				f = new(functionRecord)
				key = o.Key
				return o.Decode(f)
			})
	})
	if err != nil || f == nil {
		return key, nil, "", err
	}
	for q, u := range f.URLs {
		if u.URLID == id {
			return key, f, q, nil
		}
	}
	return key, nil, "", nil
}

func writeURLError(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	raw, _ := json.Marshal(map[string]string{"Message": message})
	w.Write(raw)
}

func (a *API) serveURL(w http.ResponseWriter, r *http.Request) {
	id, _, ok := parseURLHost(r.Host)
	if !ok {
		writeURLError(w, http.StatusNotFound, "Not Found")
		return
	}
	key, f, q, err := a.urlTargetOf(r.Context(), id)
	switch {
	case err != nil:
		a.log.Error("lambda url: look up", "url_id", id, "err", err)
		writeURLError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	case f == nil:
		writeURLError(w, http.StatusForbidden, "Forbidden")
		return
	}
	u := f.URLs[q]
	arn := qualifiedARN(key.Account, key.Region, f.Name, q)
	// As Lambda's, a URL of AuthType NONE answers only when the resource
	// policy lets everyone call lambda:InvokeFunctionUrl.
	if u.AuthType == "NONE" && !allowsPublicURL(f.Policies[q]) {
		writeURLError(w, http.StatusForbidden, "Forbidden")
		return
	}
	if u.AuthType == "AWS_IAM" {
		if a.urlAuthorizer == nil || a.urlAuthorizer(r, key.Account, arn) != nil {
			writeURLError(w, http.StatusForbidden, "Forbidden")
			return
		}
	}
	if u.Cors != nil && r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		writePreflight(w, r, u.Cors)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxSyncPayload+1))
	if err != nil {
		writeURLError(w, http.StatusBadRequest, "Bad Request")
		return
	}
	if len(body) > maxSyncPayload {
		writeURLError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	requestID := newRevisionID()
	event, err := json.Marshal(urlEvent(r, body, key.Account, id, requestID, a.now()))
	if err != nil {
		writeURLError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	if len(event) > maxSyncPayload {
		writeURLError(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
		return
	}
	t, err := a.resolveTarget(r.Context(), key.Account, key.Region, functionRef{Name: f.Name, Qualifier: q}, randomWeight)
	if err == nil {
		err = a.checkInvocable(t)
	}
	if err != nil {
		writeURLError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	w.Header().Set("x-amzn-RequestId", requestID)
	if u.Cors != nil {
		corsHeaders(w.Header(), r, u.Cors)
	}
	res, err := a.invoker.Invoke(r.Context(), a.runnerFunction(t), &runner.Request{RequestID: requestID, Payload: event, InvokedARN: arn, TraceID: newTraceID(a.now())})
	var te *runner.ThrottleError
	switch {
	case errors.As(err, &te):
		writeURLError(w, http.StatusTooManyRequests, "Rate Exceeded.")
		return
	case err != nil:
		a.log.Error("lambda url: invoke", "function", f.Name, "request_id", requestID, "err", err)
		writeURLError(w, http.StatusInternalServerError, "Internal Server Error")
		return
	case res.FunctionError != "":
		writeURLError(w, http.StatusBadGateway, "Internal Server Error")
		return
	}
	writeURLResponse(w, res.Payload)
}

// urlEventContext is requestContext of the payload format 2.0 event.
type urlEventContext struct {
	AccountID    string `json:"accountId"`
	APIID        string `json:"apiId"`
	DomainName   string `json:"domainName"`
	DomainPrefix string `json:"domainPrefix"`
	HTTP         struct {
		Method    string `json:"method"`
		Path      string `json:"path"`
		Protocol  string `json:"protocol"`
		SourceIP  string `json:"sourceIp"`
		UserAgent string `json:"userAgent"`
	} `json:"http"`
	RequestID string `json:"requestId"`
	RouteKey  string `json:"routeKey"`
	Stage     string `json:"stage"`
	Time      string `json:"time"`
	TimeEpoch int64  `json:"timeEpoch"`
}

// urlEventPayload is the payload format 2.0 event function URLs send.
type urlEventPayload struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	RequestContext        urlEventContext   `json:"requestContext"`
	Body                  *string           `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

// urlEvent maps a plain HTTP request to the event: headers lower-cased
// with repeated values joined by commas, cookies apart, and a body that is
// not text base64-encoded.
func urlEvent(r *http.Request, body []byte, account, id, requestID string, now time.Time) *urlEventPayload {
	ev := &urlEventPayload{Version: "2.0", RouteKey: "$default", RawPath: r.URL.EscapedPath(), RawQueryString: r.URL.RawQuery,
		Headers: map[string]string{}}
	if ev.RawPath == "" {
		ev.RawPath = "/"
	}
	for name, values := range r.Header {
		lower := strings.ToLower(name)
		if lower == "cookie" {
			for _, v := range values {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		ev.Headers[lower] = strings.Join(values, ",")
	}
	ev.Headers["host"] = r.Host
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		var s string
		if isTextContent(r.Header.Get("Content-Type")) {
			s = string(body)
		} else {
			s = base64.StdEncoding.EncodeToString(body)
			ev.IsBase64Encoded = true
		}
		ev.Body = &s
	}
	c := &ev.RequestContext
	c.AccountID, c.APIID, c.DomainName, c.DomainPrefix = account, id, hostOnly(r.Host), id
	c.HTTP.Method, c.HTTP.Path, c.HTTP.Protocol = r.Method, r.URL.Path, r.Proto
	c.HTTP.SourceIP, c.HTTP.UserAgent = hostOnly(r.RemoteAddr), r.UserAgent()
	if c.HTTP.Path == "" {
		c.HTTP.Path = "/"
	}
	c.RequestID, c.RouteKey, c.Stage = requestID, "$default", "$default"
	c.Time = now.UTC().Format("02/Jan/2006:15:04:05 -0700")
	c.TimeEpoch = now.UnixMilli()
	return ev
}

func hostOnly(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// isTextContent says whether Lambda passes a body of this type as text.
func isTextContent(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return contentType == ""
	}
	switch {
	case strings.HasPrefix(mt, "text/"), strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript", "application/x-www-form-urlencoded", "application/graphql":
		return true
	}
	return false
}

// urlResponse is what a function may answer a URL request with.
type urlResponse struct {
	StatusCode      *int              `json:"statusCode"`
	Headers         map[string]string `json:"headers"`
	Body            *string           `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
	Cookies         []string          `json:"cookies"`
}

// writeURLResponse maps the function's answer to HTTP: an object with a
// statusCode gives the status, headers, cookies and body; any other JSON
// is the body of a 200 application/json response.
func writeURLResponse(w http.ResponseWriter, payload []byte) {
	var resp urlResponse
	trimmed := bytes.TrimSpace(payload)
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &resp) != nil || resp.StatusCode == nil {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.WriteHeader(http.StatusOK)
		w.Write(payload)
		return
	}
	h := w.Header()
	names := make([]string, 0, len(resp.Headers))
	for k := range resp.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		h.Set(k, resp.Headers[k])
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	var body []byte
	if resp.Body != nil {
		body = []byte(*resp.Body)
		if resp.IsBase64Encoded {
			if d, err := base64.StdEncoding.DecodeString(*resp.Body); err == nil {
				body = d
			}
		}
	}
	if h.Get("Content-Type") == "" && len(body) > 0 {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(*resp.StatusCode)
	w.Write(body)
}

// corsOrigin is the Access-Control-Allow-Origin for a request's Origin.
func corsOrigin(r *http.Request, c *corsConfig) string {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return ""
	}
	for _, o := range c.AllowOrigins {
		if o == "*" {
			return "*"
		}
		if strings.EqualFold(o, origin) {
			return origin
		}
	}
	return ""
}

func corsHeaders(h http.Header, r *http.Request, c *corsConfig) {
	origin := corsOrigin(r, c)
	if origin == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if c.AllowCredentials != nil && *c.AllowCredentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if len(c.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposeHeaders, ","))
	}
}

func writePreflight(w http.ResponseWriter, r *http.Request, c *corsConfig) {
	h := w.Header()
	corsHeaders(h, r, c)
	if len(c.AllowMethods) > 0 {
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowMethods, ","))
	}
	if len(c.AllowHeaders) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(c.AllowHeaders, ","))
	}
	if c.MaxAge != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(*c.MaxAge))
	}
	w.WriteHeader(http.StatusOK)
}
