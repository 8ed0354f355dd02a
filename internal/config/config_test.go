package config

import (
	"flag"
	"strings"
	"testing"
)

func parse(t *testing.T, env map[string]string, args ...string) (*Config, error) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	var c Config
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	c.Bind(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &c, c.Finish()
}

func TestFinish(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
		check   func(*Config) string
	}{
		{name: "defaults", check: func(c *Config) string {
			if c.Listen != "127.0.0.1:4566" || c.RootAccessKey != "test" || c.AccountID != "000000000000" || c.Auth != AuthStrict {
				return "bad defaults"
			}
			return ""
		}},
		{name: "env", env: map[string]string{"NIMBUS_LISTEN": "127.0.0.1:5000", "NIMBUS_ACCOUNT_ID": "123456789012", "NIMBUS_AUTH": "any", "NIMBUS_REGIONS": "us-east-1, eu-west-1"},
			check: func(c *Config) string {
				if c.Listen != "127.0.0.1:5000" || c.AccountID != "123456789012" || c.Auth != AuthAny || strings.Join(c.Regions, ",") != "us-east-1,eu-west-1" {
					return "env not applied"
				}
				return ""
			}},
		{name: "flag beats env", env: map[string]string{"NIMBUS_LISTEN": "127.0.0.1:5000"}, args: []string{"--listen", "127.0.0.1:6000"},
			check: func(c *Config) string {
				if c.Listen != "127.0.0.1:6000" {
					return "flag did not win"
				}
				return ""
			}},
		{name: "public address with default keys", args: []string{"--listen", "0.0.0.0:4566"}, wantErr: "default credentials"},
		{name: "public address with keys", args: []string{"--listen", "0.0.0.0:4566", "--root-access-key-id", "AK", "--root-secret-access-key", "SK"},
			check: func(c *Config) string {
				if c.RootAccessKey != "AK" {
					return "keys not used"
				}
				return ""
			}},
		{name: "any on public", args: []string{"--listen", "0.0.0.0:4566", "--auth", "any", "--root-access-key-id", "AK", "--root-secret-access-key", "SK"}, wantErr: "loopback"},
		{name: "half keys", args: []string{"--root-access-key-id", "AK"}, wantErr: "both"},
		{name: "bad account", args: []string{"--account-id", "12345"}, wantErr: "12 digits"},
		{name: "bad auth", args: []string{"--auth", "maybe"}, wantErr: "strict or any"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, wantErr: "text or json"},
		{name: "ipv6 loopback", args: []string{"--listen", "[::1]:4566"}},
		{name: "localhost", args: []string{"--listen", "localhost:4566", "--auth", "any"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parse(t, tc.env, tc.args...)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				if msg := tc.check(c); msg != "" {
					t.Error(msg)
				}
			}
		})
	}
}
