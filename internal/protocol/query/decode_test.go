package query

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
)

func formRequest(body string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// TestDecodeForms covers what SDK requests do not: hand-written forms, GET
// query strings, and each validation failure.
func TestDecodeForms(t *testing.T) {
	cases := []struct {
		name     string
		service  string
		method   string // GET puts the form in the query string
		form     string
		want     map[string]any
		wantKind awserr.Kind
		wantMsg  string
	}{
		{name: "GET query string", service: "sts", method: http.MethodGet, form: "Action=GetCallerIdentity&Version=2011-06-15", want: map[string]any{}},
		{name: "escaped values", service: "iam", form: "Action=CreateUser&Version=2010-05-08&UserName=a%2Bb&Path=%2Fx+y%2F",
			want: map[string]any{"UserName": "a+b", "Path": "/x y/"}},
		{name: "list positions out of order", service: "sts", form: "Action=AssumeRole&RoleArn=arn:aws:iam::1:role/r&RoleSessionName=ab&TransitiveTagKeys.member.2=b&TransitiveTagKeys.member.1=a",
			want: map[string]any{"RoleArn": "arn:aws:iam::1:role/r", "RoleSessionName": "ab", "TransitiveTagKeys": []any{"a", "b"}}},
		{name: "query missing required", service: "iam", form: "Action=CreateUser&Version=2010-05-08",
			wantKind: awserr.MissingParameter, wantMsg: "Value null at 'userName' failed to satisfy constraint: Member must not be null"},
		{name: "query missing required nested", service: "sts", form: "Action=AssumeRole&RoleArn=arn:aws:iam::1:role/r&RoleSessionName=ab&Tags.member.1.Key=k",
			wantKind: awserr.MissingParameter, wantMsg: "'tags.member.1.value'"},
		{name: "ec2 missing required", service: "ec2", form: "Action=RunInstances&Version=2016-11-15&ImageId=ami-1&MinCount=1",
			wantKind: awserr.MissingParameter, wantMsg: "The request must contain the parameter MaxCount"},
		{name: "integer not a number", service: "ec2", form: "Action=RunInstances&MinCount=1&MaxCount=lots",
			wantKind: awserr.Validation, wantMsg: "Invalid value 'lots' for MaxCount"},
		{name: "nested integer not a number", service: "ec2", form: "Action=RunInstances&MinCount=1&MaxCount=1&BlockDeviceMapping.1.Ebs.VolumeSize=big",
			wantKind: awserr.Validation, wantMsg: "BlockDeviceMapping.1.Ebs.VolumeSize"},
		{name: "boolean not a boolean", service: "ec2", form: "Action=DescribeInstances&DryRun=maybe",
			wantKind: awserr.Validation, wantMsg: "DryRun"},
		{name: "enum outside its set", service: "ec2", form: "Action=RunInstances&MinCount=1&MaxCount=1&InstanceType=t9.colossal",
			wantKind: awserr.Validation, wantMsg: "Member must satisfy enum value set"},
		{name: "integer below min", service: "sts", form: "Action=AssumeRole&RoleArn=arn:aws:iam::1:role/r&RoleSessionName=ab&DurationSeconds=60",
			wantKind: awserr.Validation, wantMsg: "Value '60' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900"},
		{name: "string too short", service: "sts", form: "Action=AssumeRole&RoleArn=arn:aws:iam::1:role/r&RoleSessionName=a",
			wantKind: awserr.Validation, wantMsg: "Member must have length greater than or equal to 2"},
		{name: "list too long", service: "sts", form: "Action=AssumeRole&RoleArn=arn:aws:iam::1:role/r&RoleSessionName=ab" + numbered("&TransitiveTagKeys.member.%d=k", 51),
			wantKind: awserr.Validation, wantMsg: "Member must have length less than or equal to 50"},
		{name: "list position not a number", service: "ec2", form: "Action=DescribeInstances&InstanceId.x=i-1",
			wantKind: awserr.Validation, wantMsg: "InstanceId.x"},
		{name: "list position with a leading zero", service: "ec2", form: "Action=DescribeInstances&InstanceId.1=i-1&InstanceId.01=i-2",
			wantKind: awserr.Validation, wantMsg: "InstanceId.01"},
		{name: "bad escape", service: "ec2", form: "Action=DescribeInstances&InstanceId.1=%zz",
			wantKind: awserr.Validation, wantMsg: "not a valid form"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			svc := awsmodel.MustLoad(tc.service)
			c := New(svc)
			form := tc.form
			var r *http.Request
			var body []byte
			if tc.method == http.MethodGet {
				r = httptest.NewRequest(http.MethodGet, "/?"+form, nil)
			} else {
				r, body = formRequest(form), []byte(form)
			}
			op, err := c.Resolve(r, body)
			if err != nil {
				t.Fatalf("resolve: %v", err)
			}
			got, err := c.Decode(r, body, op)
			if tc.want != nil {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
				return
			}
			var ae *awserr.Error
			if !errors.As(err, &ae) || ae.Kind != tc.wantKind || !strings.Contains(ae.Message, tc.wantMsg) {
				t.Fatalf("got %v (%#v), want kind %v with %q", err, got, tc.wantKind, tc.wantMsg)
			}
		})
	}
}

// numbered repeats a form fragment n times, with list positions 1..n.
func numbered(format string, n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, format, i)
	}
	return b.String()
}

func TestResolve(t *testing.T) {
	cases := []struct {
		service, form string
		wantOp        string
		wantCode      string // after awserr.Resolve
		wantMsg       string
	}{
		{service: "sts", form: "Action=GetCallerIdentity&Version=2011-06-15", wantOp: "GetCallerIdentity"},
		{service: "ec2", form: "Version=2016-11-15&Action=DescribeRegions", wantOp: "DescribeRegions"},
		{service: "ec2", form: "Action=LaunchRocket&Version=2016-11-15", wantCode: "InvalidAction", wantMsg: "The action LaunchRocket is not valid for this web service."},
		{service: "iam", form: "Action=CreateRocket", wantCode: "InvalidAction", wantMsg: "Could not find operation CreateRocket for version 2010-05-08"},
		{service: "iam", form: "Version=2010-05-08", wantCode: "MissingAction"},
	}
	for _, tc := range cases {
		c := New(awsmodel.MustLoad(tc.service))
		op, err := c.Resolve(formRequest(tc.form), []byte(tc.form))
		if tc.wantOp != "" {
			if err != nil || op.Name != tc.wantOp {
				t.Errorf("%s %q: got %v, %v", tc.service, tc.form, op, err)
			}
			continue
		}
		ae := awserr.As(err)
		if ae.Kind != awserr.UnknownOperation {
			t.Errorf("%s %q: kind %v", tc.service, tc.form, ae.Kind)
		}
		if got := awserr.Resolve(c.Family(), ae); got.Code != tc.wantCode || !strings.Contains(got.Message, tc.wantMsg) || got.Status != 400 {
			t.Errorf("%s %q: got %s %q %d", tc.service, tc.form, got.Code, got.Message, got.Status)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts.UTC()
}
