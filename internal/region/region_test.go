package region

import "testing"

func TestShortAndZones(t *testing.T) {
	cases := map[string]string{"us-east-1": "use1", "ap-southeast-2": "apse2", "eu-central-1": "euc1",
		"ap-northeast-1": "apne1", "sa-east-1": "sae1", "us-west-2": "usw2", "eu-north-1": "eun1"}
	for in, want := range cases {
		if got := Short(in); got != want {
			t.Errorf("Short(%s) = %s, want %s", in, got, want)
		}
	}
	z := Zones("eu-west-1")
	if len(z) != 3 || z[0].Name != "eu-west-1a" || z[2].ID != "euw1-az3" {
		t.Errorf("Zones = %+v", z)
	}
	if r, ok := ZoneRegion("us-west-2b"); !ok || r != "us-west-2" {
		t.Errorf("ZoneRegion = %s %v", r, ok)
	}
	if _, ok := ZoneRegion("us-west-2z"); ok {
		t.Error("zone z accepted")
	}
}

func TestCatalog(t *testing.T) {
	c, err := NewCatalog([]string{"us-east-1", "eu-west-1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Allowed("ap-south-2") || c.Listed("ap-south-2") {
		t.Error("non-strict catalog should allow but not list unknown regions")
	}
	if c.Allowed("not a region") || c.Allowed("us-east") {
		t.Error("malformed region allowed")
	}
	s, _ := NewCatalog([]string{"us-east-1"}, true)
	if s.Allowed("eu-west-1") || !s.Allowed("us-east-1") {
		t.Error("strict catalog wrong")
	}
	if _, err := NewCatalog([]string{"bogus"}, false); err == nil {
		t.Error("bogus region accepted")
	}
}
