package ec2

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func sp(s string) *string { return &s }

func TestTagsAcrossResourceTypes(t *testing.T) {
	e := imagesEC2(t)
	ctx := callIn("us-east-1")
	sg, err := e.createSecurityGroup(ctx, &createSecurityGroupInput{GroupName: "web", Description: "w"})
	if err != nil {
		t.Fatal(err)
	}
	kp, err := e.createKeyPair(ctx, &createKeyPairInput{KeyName: "k", KeyType: "ed25519"})
	if err != nil {
		t.Fatal(err)
	}
	ami, err := e.registerImage(ctx, &registerImageInput{Name: "app", ImageLocation: "nimbus:busybox:latest"})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{sg.GroupId, kp.KeyPairId, ami.ImageId}
	if _, err := e.createTags(ctx, &createTagsInput{Resources: ids, Tags: []Tag{{"env", "prod"}, {"Name", "x"}}}); err != nil {
		t.Fatal(err)
	}
	// Setting a key again replaces its value.
	if _, err := e.createTags(ctx, &createTagsInput{Resources: []string{sg.GroupId}, Tags: []Tag{{"Name", "web"}}}); err != nil {
		t.Fatal(err)
	}

	describe := func(filters ...Filter) []string {
		t.Helper()
		out, err := e.describeTags(ctx, &describeTagsInput{Filters: filters})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, d := range out.Tags {
			got = append(got, d.ResourceType+" "+d.Key+"="+d.Value)
		}
		slices.Sort(got)
		return got
	}
	cases := []struct {
		name    string
		filters []Filter
		want    []string
	}{
		{"all", nil, []string{"image Name=x", "image env=prod", "key-pair Name=x", "key-pair env=prod", "security-group Name=web", "security-group env=prod"}},
		{"resource-type", []Filter{{"resource-type", []string{"key-pair"}}}, []string{"key-pair Name=x", "key-pair env=prod"}},
		{"resource-id", []Filter{{"resource-id", []string{sg.GroupId}}}, []string{"security-group Name=web", "security-group env=prod"}},
		{"key and value", []Filter{{"key", []string{"Name"}}, {"value", []string{"w*"}}}, []string{"security-group Name=web"}},
		{"tag:", []Filter{{"tag:Name", []string{"x"}}}, []string{"image Name=x", "key-pair Name=x"}},
	}
	for _, tc := range cases {
		if got := describe(tc.filters...); !slices.Equal(got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// The tags are the resources' own: DescribeSecurityGroups and DescribeKeyPairs show them.
	g, _ := e.describeSecurityGroups(ctx, &describeSecurityGroupsInput{GroupIds: []string{sg.GroupId}})
	if len(g.SecurityGroups[0].Tags) != 2 {
		t.Errorf("group tags %+v", g.SecurityGroups[0].Tags)
	}
	k, _ := e.describeKeyPairs(ctx, &describeKeyPairsInput{KeyNames: []string{"k"}})
	if len(k.KeyPairs[0].Tags) != 2 {
		t.Errorf("key pair tags %+v", k.KeyPairs[0].Tags)
	}

	// DeleteTags: a value that does not match keeps the tag; a key alone
	// removes it; an empty value removes only an empty one; no tags removes all.
	steps := []struct {
		tags []deleteTag
		want []string
	}{
		{[]deleteTag{{Key: "Name", Value: sp("other")}}, []string{"Name=web", "env=prod"}},
		{[]deleteTag{{Key: "Name", Value: sp("")}}, []string{"Name=web", "env=prod"}},
		{[]deleteTag{{Key: "Name"}}, []string{"env=prod"}},
		{nil, nil},
	}
	for i, st := range steps {
		if _, err := e.deleteTags(ctx, &deleteTagsInput{Resources: []string{sg.GroupId}, Tags: st.tags}); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		var got []string
		for _, d := range describe(Filter{"resource-id", []string{sg.GroupId}}) {
			got = append(got, strings.TrimPrefix(d, "security-group "))
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("delete step %d: got %v, want %v", i, got, st.want)
		}
	}

	many := make([]Tag, 50)
	for i := range many {
		many[i] = Tag{Key: fmt.Sprintf("k%02d", i), Value: "v"}
	}
	errs := []struct {
		name string
		in   createTagsInput
		code string
	}{
		{"unknown prefix", createTagsInput{Resources: []string{"xyz-123"}, Tags: []Tag{{"a", "b"}}}, "InvalidID"},
		{"missing group", createTagsInput{Resources: []string{"sg-0123456789abcdef0"}, Tags: []Tag{{"a", "b"}}}, "InvalidGroup.NotFound"},
		{"missing key pair", createTagsInput{Resources: []string{"key-0123456789abcdef0"}, Tags: []Tag{{"a", "b"}}}, "InvalidKeyPair.NotFound"},
		{"missing image", createTagsInput{Resources: []string{"ami-0123456789abcdef0"}, Tags: []Tag{{"a", "b"}}}, "InvalidAMIID.NotFound"},
		{"aws: prefix", createTagsInput{Resources: ids, Tags: []Tag{{"aws:cloudformation", "b"}}}, "InvalidParameterValue"},
		{"long key", createTagsInput{Resources: ids, Tags: []Tag{{strings.Repeat("k", 129), "b"}}}, "InvalidParameterValue"},
		{"long value", createTagsInput{Resources: ids, Tags: []Tag{{"k", strings.Repeat("v", 257)}}}, "InvalidParameterValue"},
		{"51 in one call", createTagsInput{Resources: ids, Tags: append(slices.Clone(many), Tag{"one", "more"})}, "TagLimitExceeded"},
		{"no tags", createTagsInput{Resources: ids}, "MissingParameter"},
		{"dry run", createTagsInput{Resources: ids, Tags: []Tag{{"a", "b"}}, DryRun: true}, "DryRunOperation"},
	}
	for _, tc := range errs {
		_, err := e.createTags(ctx, &tc.in)
		wantCode(t, tc.name, err, tc.code)
	}
	// 50 is the limit per resource, counting the tags it already has.
	if _, err := e.createTags(ctx, &createTagsInput{Resources: []string{sg.GroupId}, Tags: many}); err != nil {
		t.Fatalf("50 tags: %v", err)
	}
	_, err = e.createTags(ctx, &createTagsInput{Resources: []string{sg.GroupId}, Tags: []Tag{{"fifty-one", "x"}}})
	wantCode(t, "51st tag", err, "TagLimitExceeded")
	if _, err := e.createTags(ctx, &createTagsInput{Resources: []string{sg.GroupId}, Tags: []Tag{{"k00", "new"}}}); err != nil {
		t.Errorf("replacing a value at the limit: %v", err)
	}

	// Pages of DescribeTags cover every tag once.
	seen := map[string]bool{}
	token := ""
	for {
		out, err := e.describeTags(ctx, &describeTagsInput{MaxResults: 7, NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range out.Tags {
			k := d.ResourceId + "/" + d.Key
			if seen[k] {
				t.Fatalf("%s twice", k)
			}
			seen[k] = true
		}
		if token = out.NextToken; token == "" {
			break
		}
	}
	if len(seen) != 54 { // 50 on the group, 2 on the key pair, 2 on the AMI
		t.Errorf("pages gave %d tags, want 54", len(seen))
	}
}
