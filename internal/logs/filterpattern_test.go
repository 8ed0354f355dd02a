package logs

import "testing"

func TestFilterPatternMatch(t *testing.T) {
	cases := []struct {
		pattern string
		msg     string
		want    bool
	}{
		{"", "anything", true},
		{"ERROR", "[ERROR] disk full", true},
		{"ERROR", "error: disk full", false}, // case-sensitive
		{"ERROR disk", "ERROR: the disk is full", true},
		{"ERROR disk", "ERROR: the network is down", false},
		{`"disk full"`, "ERROR: disk full", true},
		{`"disk full"`, "ERROR: disk is full", false},
		{`"say \"hi\""`, `they say "hi" twice`, true},
		{"?ERROR ?WARN", "WARN: slow", true},
		{"?ERROR ?WARN", "INFO: fine", false},
		{"ERROR -Exiting", "ERROR: retrying", true},
		{"ERROR -Exiting", "ERROR: Exiting now", false},
		{`-"health check"`, "GET /health-check", true},
		{`-"health check"`, "health check ok", false},
		{"?ERROR ?WARN -timeout", "WARN: timeout", false},
		{`{ $.level = "error" }`, `{"level":"error","msg":"x"}`, true},
		{`{ $.level = "error" }`, `{"level":"info"}`, false},
		{`{ $.level = error }`, `{"level":"error"}`, true},
		{`{ $.level = "err*" }`, `{"level":"error"}`, true},
		{`{ $.level = "*or" }`, `{"level":"error"}`, true},
		{`{ $.level = "e*x" }`, `{"level":"error"}`, false},
		{`{ $.level != "error" }`, `{"level":"info"}`, true},
		{`{ $.level != "error" }`, `{"other":1}`, false},
		{`{ $.latency > 100 }`, `{"latency": 250}`, true},
		{`{ $.latency > 100 }`, `{"latency": 50}`, false},
		{`{ $.latency >= 100 }`, `{"latency": 100}`, true},
		{`{ $.latency < 1.5 }`, `{"latency": 1.25}`, true},
		{`{ $.latency <= -1 }`, `{"latency": -1}`, true},
		{`{ $.latency = 100 }`, `{"latency": 100.0}`, true},
		{`{ $.latency != 100 }`, `{"latency": 7}`, true},
		{`{ $.latency > 100 }`, `{"latency": "250"}`, false},
		{`{ $.user.id = 42 }`, `{"user":{"id":42}}`, true},
		{`{ $.items[1].name = "b" }`, `{"items":[{"name":"a"},{"name":"b"}]}`, true},
		{`{ $.items[5].name = "b" }`, `{"items":[{"name":"a"}]}`, false},
		{`{ $.level = "error" && $.latency > 100 }`, `{"level":"error","latency":250}`, true},
		{`{ $.level = "error" && $.latency > 100 }`, `{"level":"error","latency":5}`, false},
		{`{ $.level = "error" || $.latency > 100 }`, `{"level":"info","latency":500}`, true},
		{`{ ($.a = 1 || $.b = 2) && $.c = 3 }`, `{"b":2,"c":3}`, true},
		{`{ ($.a = 1 || $.b = 2) && $.c = 3 }`, `{"b":2,"c":4}`, false},
		{`{ $.a = 1 || $.b = 2 && $.c = 3 }`, `{"a":1,"c":4}`, true}, // && binds tighter
		{`{ $.ok IS TRUE }`, `{"ok":true}`, true},
		{`{ $.ok IS FALSE }`, `{"ok":true}`, false},
		{`{ $.err IS NULL }`, `{"err":null}`, true},
		{`{ $.err NOT EXISTS }`, `{"ok":1}`, true},
		{`{ $.err NOT EXISTS }`, `{"err":1}`, false},
		{`{ $.level = "error" }`, `not json at all`, false},
		{`{ $.b = "x" }`, `{"a":{"c":"}{][\"","d":[1,{"e":null}]},"b":"x"}`, true},
		{`{ $.msg = "say \"hi\"" }`, `{"msg":"say \"hi\""}`, true},
		{`{ $.k = 1 }`, `{"\u006b":1}`, true},
		{`{ $.a.b = 2 }`, `{"a":[1],"b":2}`, false},
		{`{ $.a = 2 }`, `  {"a" : 2 }`, true},
		{`{ $.a = "2" }`, `{"a":2}`, true},
		{`{ $.obj = "x" }`, `{"obj":{"x":1}}`, false},
		{`{ $.level = "error" }`, `["level","error"]`, false},
	}
	for _, c := range cases {
		m, err := parseFilterPattern(c.pattern)
		if err != nil {
			t.Errorf("parse %q: %v", c.pattern, err)
			continue
		}
		got := m == nil || m.match([]byte(c.msg))
		if got != c.want {
			t.Errorf("%q matches %q = %v, want %v", c.pattern, c.msg, got, c.want)
		}
	}
}

func TestFilterPatternErrors(t *testing.T) {
	for _, p := range []string{
		`"unterminated`,
		`{ $.a = 1`,
		`{ a = 1 }`,
		`{ $.a ~ 1 }`,
		`{ $.a > "x" }`,
		`{ $.a = }`,
		`{ ($.a = 1 }`,
		`{ $.a IS MAYBE }`,
		`{ $. = 1 }`,
		`{ $.a[x] = 1 }`,
		`[ip, user]`,
		`%regex%`,
		`{ $.a = 1 } trailing`,
	} {
		if _, err := parseFilterPattern(p); err == nil {
			t.Errorf("parse %q: no error", p)
		}
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"abc", "abc", true},
		{"abc", "abcd", false},
		{"a*", "abc", true},
		{"*c", "abc", true},
		{"a*c", "abbbc", true},
		{"a*c", "acb", false},
		{"*", "", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXcYb", false},
		{"ab*ab", "ab", false},
	}
	for _, c := range cases {
		if got := wildcardMatch(c.pattern, c.s); got != c.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", c.pattern, c.s, got, c.want)
		}
	}
}
