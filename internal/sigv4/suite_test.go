package sigv4

import (
	"bufio"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sigV4SuiteCases are vectors of AWS's Signature Version 4 test suite
// (aws-sig-v4-test-suite, as kept in awslabs/aws-c-auth): the request as
// sent, the headers it signs and the signature AWS computes, for access key
// AKIDEXAMPLE at 20150830T123600Z in us-east-1/service. The "-unnormalized"
// cases are signatures of the path as sent, which Verify also accepts
// because aws-sdk-go-v2 does not normalise paths.
var sigV4SuiteCases = []struct {
	name, request, signedHeaders, signature string
}{
	{"get-vanilla", "GET / HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-header-key-duplicate", "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value2\nMy-Header1:value2\nMy-Header1:value1\n", "host;my-header1;x-amz-date", "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
	{"get-header-value-multiline", "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\n  value2\n     value3\n", "host;my-header1;x-amz-date", "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd"},
	{"get-header-value-order", "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value4\nMy-Header1:value1\nMy-Header1:value3\nMy-Header1:value2\n", "host;my-header1;x-amz-date", "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
	{"get-header-value-trim", "GET / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1: value1\nMy-Header2: \"a   b   c\"\n", "host;my-header1;my-header2;x-amz-date", "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
	{"get-relative-normalized", "GET /example/.. HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-relative-relative-normalized", "GET /example1/example2/../.. HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-relative-unnormalized", "GET /example/.. HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "eca7ead57bb5aa5c8e28007acd4ff04e1ff9a0ff3b237ec1554a184887ff9282"},
	{"get-slash-dot-slash-normalized", "GET /./ HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-slash-normalized", "GET // HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
	{"get-slash-unnormalized", "GET // HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "c88bcd3d312d75078c0cd961d6deae3f4c754924b01669efcfcb439fd5e5b76e"},
	{"get-slash-pointless-dot-normalized", "GET /./example HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
	{"get-slashes-normalized", "GET //example// HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
	{"get-slashes-unnormalized", "GET //example// HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"},
	{"get-unreserved", "GET /-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
	{"get-utf8", "GET /ሴ HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
	{"get-vanilla-empty-query-key", "GET /?Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
	{"get-vanilla-query-order-encoded", "GET /?Param-3=Value3&Param=Value2&%E1%88%B4=Value1 HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
	{"get-vanilla-query-order-key-case", "GET /?Param2=value2&Param1=value1 HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
	{"get-vanilla-query-unreserved", "GET /?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz=-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
	{"get-vanilla-utf8-query", "GET /?ሴ=bar HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
	{"get-vanilla-with-session-token", "GET / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Security-Token:6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267\n", "host;x-amz-date;x-amz-security-token", "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
	{"post-header-key-case", "POST / HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	{"post-header-key-sort", "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:value1\n", "host;my-header1;x-amz-date", "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
	{"post-header-value-case", "POST / HTTP/1.1\nHost:example.amazonaws.com\nMy-Header1:VALUE1\n", "host;my-header1;x-amz-date", "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
	{"post-vanilla", "POST / HTTP/1.1\nHost:example.amazonaws.com\n", "host;x-amz-date", "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
	{"post-sts-header-before", "POST / HTTP/1.1\nHost:example.amazonaws.com\nX-Amz-Security-Token:AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==\n", "host;x-amz-date;x-amz-security-token", "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
}

const (
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteDate   = "20150830T123600Z"
)

func TestSigV4Suite(t *testing.T) {
	v := &Verifier{Now: func() time.Time { return time.Date(2015, 8, 30, 12, 40, 0, 0, time.UTC) }}
	for _, tc := range sigV4SuiteCases {
		for _, tampered := range []bool{false, true} {
			name := tc.name
			sig := tc.signature
			if tampered {
				name += "/flipped-signature"
				last := sig[len(sig)-1]
				sig = sig[:len(sig)-1] + map[bool]string{true: "0", false: "1"}[last != '0']
			}
			t.Run(name, func(t *testing.T) {
				raw := strings.ReplaceAll(tc.request, "\n", "\r\n") +
					"X-Amz-Date: " + suiteDate + "\r\n" +
					"Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=" +
					tc.signedHeaders + ", Signature=" + sig + "\r\n\r\n"
				r, err := readRequest(raw)
				if err != nil {
					t.Fatalf("read request: %v", err)
				}
				a, err := Parse(r)
				if err != nil {
					t.Fatalf("Parse: %v", err)
				}
				err = v.Verify(r, a, suiteSecret, nil)
				if tampered {
					if !errors.Is(err, ErrSignatureMismatch) {
						t.Fatalf("Verify of a flipped signature = %v, want a mismatch", err)
					}
					return
				}
				if err != nil {
					var e *Error
					if errors.As(err, &e) {
						t.Logf("canonical request:\n%s", e.CanonicalRequest)
					}
					t.Fatalf("Verify: %v", err)
				}
			})
		}
	}
}

func readRequest(raw string) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
}
