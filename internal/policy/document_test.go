package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestParseRefusesMalformed(t *testing.T) {
	cases := []struct {
		name, doc string
		kind      Kind
		reason    string
	}{
		{"not json", `{`, Identity, "Syntax errors in policy."},
		{"trailing", `{"Statement":[]} x`, Identity, "Syntax errors in policy."},
		{"bad version", `{"Version":"2020-01-01","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Identity, "legacy parsing"},
		{"no statement", `{"Version":"2012-10-17"}`, Identity, "Syntax errors"},
		{"empty statement list", `{"Version":"2012-10-17","Statement":[]}`, Identity, "Syntax errors"},
		{"unknown top field", `{"Version":"2012-10-17","Foo":1,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Identity, "Syntax errors"},
		{"unknown statement field", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Bogus":1}}`, Identity, "Syntax errors"},
		{"bad effect", `{"Statement":{"Effect":"Maybe","Action":"*","Resource":"*"}}`, Identity, "Syntax errors"},
		{"no action", `{"Statement":{"Effect":"Allow","Resource":"*"}}`, Identity, "must contain actions"},
		{"action and notaction", `{"Statement":{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}}`, Identity, "Syntax errors"},
		{"action without vendor", `{"Statement":{"Effect":"Allow","Action":"RunInstances","Resource":"*"}}`, Identity, "prefaced by a vendor"},
		{"wildcard vendor", `{"Statement":{"Effect":"Allow","Action":"e*:Run","Resource":"*"}}`, Identity, "Vendor"},
		{"no resource", `{"Statement":{"Effect":"Allow","Action":"*"}}`, Identity, "must contain resources"},
		{"bad resource", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"bucket"}}`, Identity, "ARN format"},
		{"principal in identity", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}}`, Identity, "should not specify a principal"},
		{"trust without principal", `{"Statement":{"Effect":"Allow","Action":"sts:AssumeRole"}}`, Trust, "Missing required field Principal"},
		{"trust with resource", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Resource":"*"}}`, Trust, "prohibited field Resource"},
		{"bad principal kind", `{"Statement":{"Effect":"Allow","Principal":{"Bogus":"x"},"Action":"sts:AssumeRole"}}`, Trust, "Invalid principal"},
		{"bad AWS principal", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"alice"},"Action":"sts:AssumeRole"}}`, Trust, "Invalid principal"},
		{"bad condition operator", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringSorta":{"aws:username":"a"}}}}`, Identity, "Invalid Condition type"},
		{"bad numeric", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"aws:x":"abc"}}}}`, Identity, "Invalid Condition value"},
		{"bad cidr", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/99"}}}}`, Identity, "Invalid Condition value"},
		{"bad date", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"yesterday"}}}}`, Identity, "Invalid Condition value"},
		{"condition key without vendor", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"username":"a"}}}}`, Identity, "prefaced by a vendor"},
		{"duplicate sid", `{"Statement":[{"Sid":"a","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"a","Effect":"Allow","Action":"*","Resource":"*"}]}`, Identity, "must be unique"},
		{"Null with IfExists", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"aws:x":"true"}}}}`, Identity, "Invalid Condition type"},
		{"empty action list", `{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}`, Identity, "Syntax errors"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.doc, tc.kind)
			var me *MalformedError
			if !errors.As(err, &me) {
				t.Fatalf("Parse = %v, want a MalformedError", err)
			}
			if !strings.Contains(me.Reason, tc.reason) {
				t.Errorf("reason %q, want it to mention %q", me.Reason, tc.reason)
			}
		})
	}
}

func TestParseAcceptsValidShapes(t *testing.T) {
	docs := []struct {
		doc  string
		kind Kind
		n    int
	}{
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`, Identity, 1},
		{`{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A","Effect":"Allow","Action":["ec2:*","s3:Get*"],"Resource":["*"]},{"Effect":"Deny","NotAction":"iam:*","NotResource":"arn:aws:iam::*:*"}]}`, Identity, 2},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com","lambda.amazonaws.com"]},"Action":"sts:AssumeRole"}}`, Trust, 1},
		{`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["123456789012","arn:aws:iam::123456789012:root"]},"Action":"sts:AssumeRole","Condition":{"Bool":{"aws:MultiFactorAuthPresent":true}}}}`, Trust, 1},
		{`{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`, Resource, 1},
	}
	for _, d := range docs {
		p, err := Parse(d.doc, d.kind)
		if err != nil {
			t.Errorf("Parse(%s): %v", d.doc, err)
			continue
		}
		if len(p.Statements) != d.n {
			t.Errorf("Parse(%s): %d statements, want %d", d.doc, len(p.Statements), d.n)
		}
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"*", "abc", true}, {"a*c", "abbbc", true}, {"a*c", "abcd", false},
		{"a?c", "abc", true}, {"a?c", "ac", false}, {"*a*b*", "xxaxxbxx", true}, {"*a*b", "ba", false},
		{"abc", "ABC", false}, {"", "", true}, {"", "a", false}, {"**", "a", true},
	}
	for _, tc := range cases {
		if got := Glob(tc.p, tc.s); got != tc.want {
			t.Errorf("Glob(%q, %q) = %v", tc.p, tc.s, got)
		}
	}
	if !GlobFold("EC2:Run*", "ec2:runinstances") {
		t.Error("GlobFold is case-sensitive")
	}
}
