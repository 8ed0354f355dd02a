package query

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"testing"
	"unicode/utf8"

	"github.com/nimbus-dev/nimbus/internal/awserr"
	"github.com/nimbus-dev/nimbus/internal/awsmodel"
	"github.com/nimbus-dev/nimbus/internal/protocol/wire"
)

// FuzzDecode checks two things: no form, however malformed, makes Resolve or
// Decode panic or fail with anything but an *awserr.Error; and a well-formed
// AssumeRole request is rejected exactly when its values break the model's
// constraints, and otherwise decodes to the values sent.
func FuzzDecode(f *testing.F) {
	codecs := []wire.Codec{New(awsmodel.MustLoad("sts")), New(awsmodel.MustLoad("iam")), New(awsmodel.MustLoad("ec2"))}
	f.Add(uint8(0), "Action=AssumeRole&RoleArn=a&RoleSessionName=s&Tags.member.1.Key=k&Tags.member.1.Value=v", "session", int64(3600))
	f.Add(uint8(1), "Action=CreateUser&UserName=u&Tags=", "x", int64(900))
	f.Add(uint8(2), "Action=RunInstances&MinCount=1&MaxCount=1&BlockDeviceMapping.1.Ebs.VolumeSize=8&TagSpecification.1.Tag.1.Key=a", "日本語", int64(43200))
	f.Add(uint8(2), "Action=DescribeInstances&Filter.1.Name=n&Filter.1.Value.1=v&Filter.1.Value.2=w", "a", int64(899))
	f.Add(uint8(2), "Action=DescribeSpotPriceHistory&StartTime=2024-01-01T00:00:00Z&InstanceType.1=m5.large", "\xff\xfe", int64(-1))
	f.Fuzz(func(t *testing.T, which uint8, form, session string, seconds int64) {
		c := codecs[int(which)%len(codecs)]
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		if op, err := c.Resolve(r, []byte(form)); err == nil {
			_, err = c.Decode(r, []byte(form), op)
			assertAPIError(t, err)
		} else {
			assertAPIError(t, err)
		}

		sts := codecs[0]
		valid := url.Values{
			"Action": {"AssumeRole"}, "Version": {"2011-06-15"}, "RoleArn": {"arn:aws:iam::000000000000:role/r"},
			"RoleSessionName": {session}, "DurationSeconds": {strconv.FormatInt(seconds, 10)},
		}.Encode()
		op, err := sts.Resolve(r, []byte(valid))
		if err != nil {
			t.Fatalf("resolve %q: %v", valid, err)
		}
		doc, err := sts.Decode(r, []byte(valid), op)
		n := utf8.RuneCountInString(session)
		inRange := n >= 2 && n <= 64 && seconds >= 900 && seconds <= 43200
		if inRange && err != nil {
			t.Fatalf("valid request %q rejected: %v", valid, err)
		}
		if !inRange && err == nil {
			t.Fatalf("request %q outside the model's constraints accepted", valid)
		}
		if err == nil && (doc["RoleSessionName"] != session || doc["DurationSeconds"] != seconds) {
			t.Fatalf("decoded %v from %q", doc, valid)
		}
	})
}

func assertAPIError(t *testing.T, err error) {
	t.Helper()
	var ae *awserr.Error
	if err != nil && !errors.As(err, &ae) {
		t.Fatalf("error %v is not an *awserr.Error", err)
	}
}
