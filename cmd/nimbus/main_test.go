package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestCommandLine(t *testing.T) {
	cases := []struct {
		args     []string
		code     int
		contains string
	}{
		{[]string{"--help"}, 0, "nimbus doctor"},
		{[]string{"help"}, 0, "nimbus image ..."},
		{[]string{"help", "serve"}, 0, "-account-id"},
		{[]string{"serve", "--help"}, 0, "NIMBUS_LISTEN"},
		{[]string{"version"}, 0, "nimbus "},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"serve", "--auth", "maybe"}, 2, "strict or any"},
		{[]string{"serve", "--no-such-flag"}, 2, "flag provided but not defined"},
	}
	for _, tc := range cases {
		var out, errOut bytes.Buffer
		code := run(tc.args, &out, &errOut)
		all := out.String() + errOut.String()
		if code != tc.code || !strings.Contains(all, tc.contains) {
			t.Errorf("nimbus %v: exit %d, want %d; output lacks %q:\n%s", tc.args, code, tc.code, tc.contains, all)
		}
	}
}
