package s3

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestAWSCLIHighLevelCommands drives Debian's AWS CLI v2 through `aws s3
// cp` of a tree holding a file large enough for a multipart upload, `ls`
// (ListObjectsV2 with encoding-type url) and `cp` back (ranged parallel
// GETs). Each command costs seconds of CLI start-up, so the test runs
// three.
func TestAWSCLIHighLevelCommands(t *testing.T) {
	cli := "/usr/bin/aws" // Debian's CLI v2; a pip-installed v1 may shadow it on PATH
	if _, err := os.Stat(cli); err != nil {
		t.Skip("the AWS CLI v2 is not installed at /usr/bin/aws (Debian package awscli)")
	}
	if testing.Short() {
		t.Skip("the AWS CLI takes seconds per command; skipped with -short")
	}
	f := newFixture(t)
	home := t.TempDir()
	aws := func(args ...string) string {
		t.Helper()
		// CLI 2.9 predates AWS_ENDPOINT_URL.
		cmd := exec.Command(cli, append([]string{"--endpoint-url", f.url}, args...)...)
		cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_CONFIG_FILE=/dev/null",
			"AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1"}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	src := t.TempDir()
	files := map[string][]byte{
		"big.bin":         randomBytes(20<<20 + 3),
		"a/b.txt":         []byte("bee"),
		"a/deeper/c.json": []byte(`{"c":1}`),
		"with space.txt":  []byte("spaced out"),
	}
	for name, data := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	createBucket(t, f.client("test"), "cli-bucket")
	aws("s3", "cp", "--recursive", "--only-show-errors", src, "s3://cli-bucket/tree/")

	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(aws("s3", "ls", "--recursive", "s3://cli-bucket/")), "\n") {
		fields := strings.Fields(line) // date time size key...
		if len(fields) < 4 {
			t.Fatalf("ls line %q", line)
		}
		listed = append(listed, strings.Join(fields[3:], " ")+"="+fields[2])
	}
	var want []string
	for name, data := range files {
		want = append(want, "tree/"+name+"="+fmtSize(int64(len(data))))
	}
	sort.Strings(want)
	if strings.Join(listed, ",") != strings.Join(want, ",") {
		t.Errorf("aws s3 ls --recursive:\n got %q\nwant %q", listed, want)
	}

	dst := t.TempDir()
	aws("s3", "cp", "--recursive", "--only-show-errors", "s3://cli-bucket/tree/", dst)
	for name, data := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("downloaded %s: %d bytes, %v", name, len(got), err)
		}
	}
	big, err := f.client("test").HeadObject(ctx, &s3.HeadObjectInput{Bucket: awssdk.String("cli-bucket"), Key: awssdk.String("tree/big.bin")})
	if err != nil || !strings.HasSuffix(awssdk.ToString(big.ETag), `-3"`) {
		t.Errorf("the CLI's 20 MiB upload was not a three-part multipart upload: %+v %v", big, err)
	}
}
