package ec2

import (
	"context"
	"testing"

	"github.com/nimbus-dev/nimbus/internal/identity"
	"github.com/nimbus-dev/nimbus/internal/region"
	"github.com/nimbus-dev/nimbus/internal/store/sqlitestore"
)

func TestHandlersNameModelOperations(t *testing.T) {
	regions, _ := region.NewCatalog(nil, false)
	svc, err := New(Options{Store: sqlitestore.OpenTemp(t), Regions: regions})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestFilters(t *testing.T) {
	tags := []Tag{{"Name", "web"}, {"env", "prod"}}
	f := func(name string) ([]string, bool) {
		if name == "key-name" {
			return []string{"alpha"}, true
		}
		return nil, false
	}
	cases := []struct {
		filters []Filter
		want    bool
		err     bool
	}{
		{nil, true, false},
		{[]Filter{{"key-name", []string{"alpha"}}}, true, false},
		{[]Filter{{"key-name", []string{"al*"}}}, true, false},
		{[]Filter{{"key-name", []string{"?lpha"}}}, true, false},
		{[]Filter{{"key-name", []string{"beta", "alpha"}}}, true, false},
		{[]Filter{{"key-name", []string{"beta"}}}, false, false},
		{[]Filter{{"tag:Name", []string{"web"}}, {"tag-key", []string{"env"}}}, true, false},
		{[]Filter{{"tag:Name", []string{"db"}}}, false, false},
		{[]Filter{{"tag-value", []string{"pro*"}}}, true, false},
		{[]Filter{{"no-such-filter", []string{"x"}}}, false, true},
	}
	for i, tc := range cases {
		got, err := matchFilters(tc.filters, f, tags)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("case %d: got %v, %v; want %v, err %v", i, got, err, tc.want, tc.err)
		}
	}
}

func TestKeyPairLifecycle(t *testing.T) {
	st := sqlitestore.OpenTemp(t)
	regions, _ := region.NewCatalog(nil, false)
	e := &EC2{store: st, regions: regions}
	ctx := identity.With(context.Background(), &identity.Call{Region: "us-east-1",
		Principal: &identity.Principal{Type: identity.Root, Account: "000000000000"}})
	other := identity.With(context.Background(), &identity.Call{Region: "eu-west-1",
		Principal: &identity.Principal{Type: identity.Root, Account: "000000000000"}})

	rsaOut, err := e.createKeyPair(ctx, &createKeyPairInput{KeyName: "rsa-key"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rsaOut.KeyFingerprint) != 59 || rsaOut.KeyMaterial[:31] != "-----BEGIN RSA PRIVATE KEY-----" {
		t.Errorf("rsa key: fingerprint %q material %q", rsaOut.KeyFingerprint, rsaOut.KeyMaterial[:40])
	}
	edOut, err := e.createKeyPair(ctx, &createKeyPairInput{KeyName: "ed-key", KeyType: "ed25519"})
	if err != nil {
		t.Fatal(err)
	}
	if edOut.KeyMaterial[:35] != "-----BEGIN OPENSSH PRIVATE KEY-----" {
		t.Errorf("ed25519 material %q", edOut.KeyMaterial[:40])
	}
	if _, err := e.createKeyPair(ctx, &createKeyPairInput{KeyName: "ed-key"}); err == nil {
		t.Error("duplicate key name accepted")
	}
	// The same name in another region is another key.
	if _, err := e.createKeyPair(other, &createKeyPairInput{KeyName: "ed-key"}); err != nil {
		t.Errorf("same name in another region: %v", err)
	}
	pub, err := PublicKeyOf(ctx, st, "000000000000", "us-east-1", "ed-key")
	if err != nil || pub[:11] != "ssh-ed25519" {
		t.Errorf("PublicKeyOf = %q, %v", pub, err)
	}
	desc, err := e.describeKeyPairs(ctx, &describeKeyPairsInput{Filters: []Filter{{"key-type", []string{"ed25519"}}}, IncludePublicKey: true})
	if err != nil || len(desc.KeyPairs) != 1 || desc.KeyPairs[0].PublicKey != pub {
		t.Errorf("describe by type: %+v %v", desc, err)
	}
	if _, err := e.deleteKeyPair(ctx, &deleteKeyPairInput{KeyPairId: edOut.KeyPairId}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.describeKeyPairs(ctx, &describeKeyPairsInput{KeyNames: []string{"ed-key"}}); err == nil {
		t.Error("deleted key still described")
	}
	// Deleting a name that does not exist succeeds, as on AWS.
	if out, err := e.deleteKeyPair(ctx, &deleteKeyPairInput{KeyName: "never"}); err != nil || !out.Return {
		t.Errorf("delete missing name: %+v %v", out, err)
	}
	if _, err := e.importKeyPair(ctx, &importKeyPairInput{KeyName: "bad", PublicKeyMaterial: []byte("not a key")}); err == nil {
		t.Error("garbage public key accepted")
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"172.31.*", "172.31.16.0/20", true},
		{"*/20", "172.31.16.0/20", true},
		{"172.31.?.0/20", "172.31.0.0/20", true},
		{"172.31.?.0/20", "172.31.16.0/20", false},
		{"us-*-1", "us-east-1", true},
		{"us-*-1", "us-east-2", false},
		{"*", "", true},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{`a\*`, "a*", true},
		{`a\*`, "ab", false},
		{"t3.*", "t3.micro", true},
		{"?", "ab", false},
	}
	for _, tc := range cases {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}
