package query

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

// TestDecodeMemberlessInput covers the shortcut for operations without input
// members: a well-formed form decodes to an empty document, a malformed one
// fails as the full parse fails.
func TestDecodeMemberlessInput(t *testing.T) {
	c := New(awsmodel.MustLoad("sts"))
	cases := []struct {
		name    string
		body    string
		query   string
		wantMsg string // "" for success
	}{
		{name: "plain", body: "Action=GetCallerIdentity&Version=2011-06-15"},
		{name: "escaped and unknown members", body: "Action=GetCallerIdentity&Version=2011-06-15&X%2Fy=a+b%20c"},
		{name: "bad escape in body", body: "Action=GetCallerIdentity&Version=2011-06-15&X=%zz", wantMsg: "The request body is not a valid form"},
		{name: "truncated escape in body", body: "Action=GetCallerIdentity&Version=2011-06-15&X=%4", wantMsg: "The request body is not a valid form"},
		{name: "bad escape in query string", body: "Action=GetCallerIdentity&Version=2011-06-15", query: "X=%", wantMsg: "The query string is not valid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
			r.URL.RawQuery = tc.query
			body := []byte(tc.body)
			op, err := c.Resolve(r, body)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			got, err := c.Decode(r, body, op)
			if tc.wantMsg == "" {
				if err != nil || got == nil || len(got) != 0 {
					t.Fatalf("got %#v, %v; want an empty document", got, err)
				}
				return
			}
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.Kind != awserr.Validation || !strings.Contains(ae.Message, tc.wantMsg) {
				t.Fatalf("got %#v, %v; want a validation error with %q", got, err, tc.wantMsg)
			}
		})
	}
}

// TestEscapesValidAgreesWithQueryUnescape pins escapesValid to the rule it
// stands in for.
func TestEscapesValidAgreesWithQueryUnescape(t *testing.T) {
	for _, s := range []string{"", "a", "%", "%4", "%41", "%4g", "%G1", "a%41b%2f", "a+b", "%%41", "x%4", "%41%", "%aF%Fa"} {
		_, err := url.QueryUnescape(s)
		if got := escapesValid([]byte(s)); got != (err == nil) {
			t.Errorf("escapesValid(%q) = %v, url.QueryUnescape error %v", s, got, err)
		}
	}
}

// TestResolveActionSpellings covers the Action values Resolve looks up
// without copying and those it must unescape first.
func TestResolveActionSpellings(t *testing.T) {
	c := New(awsmodel.MustLoad("sts"))
	cases := []struct {
		form, query string
		wantOp      string // "" for an error
	}{
		{form: "Action=GetCallerIdentity", wantOp: "GetCallerIdentity"},
		{form: "Action=Get%43allerIdentity", wantOp: "GetCallerIdentity"},
		{form: "Version=2011-06-15", query: "Action=GetSessionToken", wantOp: "GetSessionToken"},
		{form: "Action=", wantOp: ""},
		{form: "Action=%zz", wantOp: ""},
		{form: "Action=%zz", query: "Action=GetCallerIdentity", wantOp: "GetCallerIdentity"},
		{form: "Action=Nope", query: "Action=GetCallerIdentity", wantOp: ""},
	}
	for _, tc := range cases {
		r := formRequest(tc.form)
		r.URL.RawQuery = tc.query
		op, err := c.Resolve(r, []byte(tc.form))
		if tc.wantOp != "" {
			if err != nil || op.Name != tc.wantOp {
				t.Errorf("%q ? %q: got %v, %v; want %s", tc.form, tc.query, op, err, tc.wantOp)
			}
			continue
		}
		if op != nil || err == nil {
			t.Errorf("%q ? %q: got %v, %v; want an error", tc.form, tc.query, op, err)
		}
	}
}
